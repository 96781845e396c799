package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
)

// TestProtoc runs the plugin as the README says, under a real protoc
// (skipped when none is on PATH): its output is the golden file's but for
// the protoc version line.
func TestProtoc(t *testing.T) {
	protoc, err := exec.LookPath("protoc")
	if err != nil {
		t.Skip("no protoc on PATH")
	}
	if testing.Short() {
		t.Skip("builds the plugin: not in -short")
	}
	dir := t.TempDir()
	plugin := filepath.Join(dir, "protoc-gen-go-grpcactor")
	if out, err := exec.Command("go", "build", "-o", plugin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, tt := range []struct{ opt, golden string }{
		{"", "internal/testpb/greeter/greeter_grpcactor.pb.go"},
		{"package_suffix=actor", "internal/testpb/greeter/greeteractor/greeter_grpcactor.pb.go"},
	} {
		out := filepath.Join(dir, "out"+tt.opt)
		if err := os.Mkdir(out, 0o755); err != nil {
			t.Fatal(err)
		}
		args := []string{"-Itestdata", "--plugin=protoc-gen-go-grpcactor=" + plugin,
			"--go-grpcactor_out=" + out, "--go-grpcactor_opt=module=" + module + "cmd/protoc-gen-go-grpcactor"}
		if tt.opt != "" {
			args = append(args, "--go-grpcactor_opt="+tt.opt)
		}
		if b, err := exec.Command(protoc, append(args, "greeter.proto")...).CombinedOutput(); err != nil {
			t.Fatalf("protoc %q: %v\n%s", args, err, b)
		}
		got, err := os.ReadFile(filepath.Join(out, filepath.FromSlash(tt.golden)))
		if err != nil {
			t.Fatal(err)
		}
		want, err := os.ReadFile(filepath.FromSlash(tt.golden))
		if err != nil {
			t.Fatal(err)
		}
		version := regexp.MustCompile(`(?m)^// - protoc {18}\S+$`)
		if g := version.ReplaceAllString(string(got), "// - protoc                  (unknown)"); g != string(want) {
			t.Errorf("protoc %q: %s differs from the golden file:\n%s", args, tt.golden, firstDiff(string(want), g))
		}
	}
}
