package actorsremote_test

import (
	"os/exec"
	"strings"
	"testing"
)

// Packages actors, channel and this one never pull in grpc-go, nor
// protoactor's remote and cluster layers: only the tests, package
// actorscluster and programs that start protoactor's remote layer do.
func TestNoGRPCGoDependency(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command:", err)
	}
	pkgs := []string{
		"github.com/grpcactor/grpcactor/actors",
		"github.com/grpcactor/grpcactor/channel",
		"github.com/grpcactor/grpcactor/actors/actorsremote",
	}
	out, err := exec.Command(gobin, append([]string{"list", "-deps"}, pkgs...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	for _, p := range strings.Fields(string(out)) {
		if p == "google.golang.org/grpc" || strings.HasPrefix(p, "google.golang.org/grpc/") || strings.HasPrefix(p, "github.com/asynkron/protoactor-go/remote") || strings.HasPrefix(p, "github.com/asynkron/protoactor-go/cluster") {
			t.Errorf("%s is a dependency of %v", p, pkgs)
		}
	}
}
