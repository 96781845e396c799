package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/types/pluginpb"
)

// TestPluginProtocol runs main as protoc runs the plugin: a serialized
// CodeGeneratorRequest on stdin, the response on stdout.
func TestPluginProtocol(t *testing.T) {
	fd := compile(t, "greeter.proto")
	req := &pluginpb.CodeGeneratorRequest{
		FileToGenerate:  []string{fd.Path()},
		Parameter:       proto.String("package_suffix=actor"),
		CompilerVersion: &pluginpb.Version{Major: proto.Int32(5), Minor: proto.Int32(27), Patch: proto.Int32(1)},
	}
	for i := 0; i < fd.Imports().Len(); i++ {
		req.ProtoFile = append(req.ProtoFile, protodesc.ToFileDescriptorProto(fd.Imports().Get(i).FileDescriptor))
	}
	req.ProtoFile = append(req.ProtoFile, protodesc.ToFileDescriptorProto(fd))
	in, err := proto.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	stdin, stdout := filepath.Join(dir, "in"), filepath.Join(dir, "out")
	if err := os.WriteFile(stdin, in, 0o600); err != nil {
		t.Fatal(err)
	}
	inF, err := os.Open(stdin)
	if err != nil {
		t.Fatal(err)
	}
	defer inF.Close()
	outF, err := os.Create(stdout)
	if err != nil {
		t.Fatal(err)
	}
	defer outF.Close()
	oldIn, oldOut, oldArgs := os.Stdin, os.Stdout, os.Args
	os.Stdin, os.Stdout, os.Args = inF, outF, []string{"protoc-gen-go-grpcactor"}
	func() {
		defer func() { os.Stdin, os.Stdout, os.Args = oldIn, oldOut, oldArgs }()
		main()
	}()
	out, err := os.ReadFile(stdout)
	if err != nil {
		t.Fatal(err)
	}
	var resp pluginpb.CodeGeneratorResponse
	if err := proto.Unmarshal(out, &resp); err != nil {
		t.Fatal(err)
	}
	if resp.Error != nil || len(resp.File) != 1 {
		t.Fatalf("response: error %q, %d files", resp.GetError(), len(resp.File))
	}
	f := resp.File[0]
	if f.GetName() != module+"cmd/protoc-gen-go-grpcactor/internal/testpb/greeter/greeteractor/greeter_grpcactor.pb.go" {
		t.Errorf("file name %s", f.GetName())
	}
	want, err := os.ReadFile(repoPath(t, f.GetName(), nil))
	if err != nil {
		t.Fatal(err)
	}
	// The same as the golden file but for the protoc version line.
	const golden, sent = "// - protoc                  (unknown)\n", "// - protoc                  v5.27.1\n"
	if got := string(want); replaceOnce(got, golden, sent) != f.GetContent() {
		t.Errorf("generated through main differs from %s:\n%s", repoPath(t, f.GetName(), nil), firstDiff(replaceOnce(got, golden, sent), f.GetContent()))
	}
	if resp.GetSupportedFeatures()&uint64(pluginpb.CodeGeneratorResponse_FEATURE_SUPPORTS_EDITIONS) == 0 {
		t.Error("editions support not announced")
	}
}

func replaceOnce(s, old, new string) string {
	if i := strings.Index(s, old); i >= 0 {
		return s[:i] + new + s[i+len(old):]
	}
	return s
}
