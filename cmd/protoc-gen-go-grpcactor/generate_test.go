package main

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/bufbuild/protocompile"
	"github.com/grpcactor/grpcactor/internal/leakcheck"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/protobuf/cmd/protoc-gen-go/internal_gengo"
	"google.golang.org/protobuf/compiler/protogen"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/pluginpb"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func TestMain(m *testing.M) { leakcheck.VerifyTestMain(m) }

const module = "github.com/grpcactor/grpcactor/"

// golden is one generation checked against files in the repository: the
// .proto files come from testdata (compiled here, comments included, so
// no protoc is needed) or are compiled into the test binary.
type golden struct {
	name     string
	files    []protoreflect.FileDescriptor // to generate; their imports are added
	param    string
	messages bool              // also generate the messages (protoc-gen-go's generator)
	paths    map[string]string // generated name prefix -> repository directory
}

// interopM gives the Go package of grpc-go's interop .proto files, whose
// compiled-in descriptors have no go_package option.
const interopM = "Mgrpc/testing/test.proto=google.golang.org/grpc/interop/grpc_testing," +
	"Mgrpc/testing/empty.proto=google.golang.org/grpc/interop/grpc_testing," +
	"Mgrpc/testing/messages.proto=google.golang.org/grpc/interop/grpc_testing"

func TestGolden(t *testing.T) {
	greeter := compile(t, "greeter.proto")
	editions := compile(t, "editions.proto")
	interop := testgrpc.File_grpc_testing_test_proto
	tests := []golden{
		{name: "greeter", files: []protoreflect.FileDescriptor{greeter}, messages: true},
		{name: "greeter with package_suffix", files: []protoreflect.FileDescriptor{greeter}, param: "package_suffix=actor"},
		{name: "editions", files: []protoreflect.FileDescriptor{editions}, messages: true},
		{name: "interop test.proto", files: []protoreflect.FileDescriptor{interop}, param: "package_suffix=actor," + interopM,
			paths: map[string]string{"google.golang.org/grpc/interop/grpc_testing/": "examples/helloworld/"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := run(t, tt.files, tt.param, tt.messages)
			if resp.Error != nil {
				t.Fatalf("plugin error: %s", resp.GetError())
			}
			if len(resp.File) == 0 {
				t.Fatal("no files generated")
			}
			for _, f := range resp.File {
				path := repoPath(t, f.GetName(), tt.paths)
				if *update {
					if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(path, []byte(f.GetContent()), 0o644); err != nil {
						t.Fatal(err)
					}
					continue
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (run go test -update to create it)", err)
				}
				if string(want) != f.GetContent() {
					t.Errorf("%s differs from what the plugin generates now (run go test -update and review the diff):\n%s", path, firstDiff(string(want), f.GetContent()))
				}
			}
		})
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		file  string
		param string
		want  string
	}{
		{"collide.proto", "", "the Go method GetFuture of RPC GetFuture is also that of RPC Get"},
		{"greeter.proto", "package_suffix=a-b", `package_suffix="a-b"`},
		{"greeter.proto", "no_such_option=1", "no_such_option"},
		{"collide_actor.proto", "", "the Go name GreeterActorStub of service GreeterActor is also one of service Greeter"},
		{"greeter.proto", "actors=maybe", `actors="maybe": want true or false`},
	}
	for _, tt := range tests {
		resp := run(t, []protoreflect.FileDescriptor{compile(t, tt.file)}, tt.param, false)
		if !strings.Contains(resp.GetError(), tt.want) {
			t.Errorf("%s %s: error %q, want it to contain %q", tt.file, tt.param, resp.GetError(), tt.want)
		}
	}
}

// TestNoActors checks that actors=false leaves the actor stubs out (and
// with them the imports of protoactor and package actors), and that it
// resolves the collision TestErrors shows.
func TestNoActors(t *testing.T) {
	for _, file := range []string{"greeter.proto", "collide_actor.proto"} {
		resp := run(t, []protoreflect.FileDescriptor{compile(t, file)}, "actors=false", false)
		if resp.Error != nil || len(resp.File) != 1 {
			t.Fatalf("%s: error %q, %d files", file, resp.GetError(), len(resp.File))
		}
		out := resp.File[0].GetContent()
		for _, bad := range []string{"returns an actor stub", "grpcactor/actors", "protoactor-go"} {
			if strings.Contains(out, bad) {
				t.Errorf("%s with actors=false: the output has %q", file, bad)
			}
		}
		if !strings.Contains(out, "Stub struct") {
			t.Errorf("%s with actors=false: no stub generated", file)
		}
	}
}

// compile compiles testdata/name with its source info (comments).
func compile(t *testing.T, name string) protoreflect.FileDescriptor {
	t.Helper()
	c := protocompile.Compiler{
		Resolver:       protocompile.WithStandardImports(&protocompile.SourceResolver{ImportPaths: []string{"testdata"}}),
		SourceInfoMode: protocompile.SourceInfoStandard,
	}
	files, err := c.Compile(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return files[0]
}

// run builds the CodeGeneratorRequest protoc would send and runs the
// plugin (and, with messages, protoc-gen-go's generator) on it.
func run(t *testing.T, files []protoreflect.FileDescriptor, param string, messages bool) *pluginpb.CodeGeneratorResponse {
	t.Helper()
	req := &pluginpb.CodeGeneratorRequest{Parameter: proto.String(param)}
	seen := map[string]bool{}
	var add func(fd protoreflect.FileDescriptor)
	add = func(fd protoreflect.FileDescriptor) {
		if seen[fd.Path()] {
			return
		}
		seen[fd.Path()] = true
		for i := 0; i < fd.Imports().Len(); i++ {
			add(fd.Imports().Get(i).FileDescriptor)
		}
		req.ProtoFile = append(req.ProtoFile, protodesc.ToFileDescriptorProto(fd))
	}
	for _, fd := range files {
		add(fd)
		req.FileToGenerate = append(req.FileToGenerate, fd.Path())
	}
	var flags flag.FlagSet
	var cfg config
	cfg.register(&flags)
	gen, err := protogen.Options{ParamFunc: flags.Set}.New(req)
	if err != nil {
		return &pluginpb.CodeGeneratorResponse{Error: proto.String(err.Error())}
	}
	if messages {
		for _, f := range gen.Files {
			if f.Generate {
				internal_gengo.GenerateFile(gen, f)
			}
		}
	}
	if err := generate(gen, cfg); err != nil {
		gen.Error(err)
	}
	resp := gen.Response()
	if messages {
		resp.SupportedFeatures = proto.Uint64(internal_gengo.SupportedFeatures)
	}
	return resp
}

// repoPath maps a generated file's name (paths=import) to its place in
// the repository, from the module root.
func repoPath(t *testing.T, name string, paths map[string]string) string {
	t.Helper()
	root := filepath.Join("..", "..")
	if rest, ok := strings.CutPrefix(name, module); ok {
		return filepath.Join(root, filepath.FromSlash(rest))
	}
	for prefix, dir := range paths {
		if rest, ok := strings.CutPrefix(name, prefix); ok {
			return filepath.Join(root, filepath.FromSlash(dir+rest))
		}
	}
	t.Fatalf("generated %s: no place for it in the repository", name)
	return ""
}

// firstDiff shows the first line where two texts differ.
func firstDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var a, b string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if a != b {
			return "line " + strconv.Itoa(i+1) + ":\n  checked in: " + a + "\n  generated:  " + b
		}
	}
	return ""
}
