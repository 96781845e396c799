// Package peers starts the real gRPC servers that grpcactor's system tests
// talk to, each one written by others:
//
//   - grpc-go's interop TestService server, in this process
//     ([StartGoInterop], [StartGoInteropOpts], [StartGoInteropUnix]);
//   - a Python grpcio server ([StartPythonInterop], [StartPythonInteropTLS],
//     or [StartPython] with a script of the test's own), run by Debian's
//     /usr/bin/python3 with the python3-grpcio and python3-protobuf packages;
//   - a Node server on @grpc/grpc-js ([StartNodeInterop],
//     [StartNodeInteropTLS], or [StartNode]), with the npm packages installed
//     in system_test/node.
//
// Beside them it has two stand-ins that tests script: [StartHeld], a server
// that holds calls until released, and [StartConnectProxy], an HTTP CONNECT
// proxy.
//
// The bundled Python and Node servers serve the interop service
// grpc.testing.TestService (EmptyCall, UnaryCall, StreamingOutputCall,
// StreamingInputCall, FullDuplexCall) as grpc-go's interop server does, so a
// test can run the same checks against all three peers.
//
// A test that needs the Python or Node peer and finds it missing is skipped,
// with the command that installs it, on a developer's machine, and fails when
// the environment variable CI is set: .ci/run installs both peers, and in CI
// a missing peer is a broken setup, never a silent skip.
//
// Every helper ties the peer's lifetime to the test: the server is stopped,
// or its process killed and waited for, by t.Cleanup.
package peers

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// ModulePath is the module whose root the helpers look for to find
// system_test/node and the bundled peer scripts.
const ModulePath = "github.com/grpcactor/grpcactor"

// PythonInterpreter is the interpreter the Python peer runs on: Debian's
// python3, which sees the python3-grpcio and python3-protobuf packages (the
// python3 first on PATH may be another interpreter that cannot import grpc).
// The environment variable GRPCACTOR_PYTHON overrides it.
const PythonInterpreter = "/usr/bin/python3"

// Install hints, printed when a peer is missing.
const (
	pythonInstall = "apt-get install python3-grpcio python3-protobuf"
	nodeInstall   = "cd system_test/node && npm install"
)

// InCI reports whether the tests run in CI, that is whether the environment
// variable CI is set to a value other than "", "0" or "false". In CI a
// missing peer fails the test instead of skipping it.
func InCI() bool {
	switch strings.ToLower(os.Getenv("CI")) {
	case "", "0", "false":
		return false
	}
	return true
}

// missing skips the test, with how to install what is missing, or fails it
// in CI.
func missing(t testing.TB, what, install string) {
	t.Helper()
	if InCI() {
		t.Fatalf("peers: %s (CI is set, so this fails instead of skipping; .ci/run installs it with: %s)", what, install)
	}
	t.Skipf("peers: %s; install it with: %s", what, install)
}

var moduleRoot = sync.OnceValues(findModuleRoot)

// ModuleRoot returns the directory of grpcactor's go.mod, found by walking up
// from the working directory (a test's working directory is its package's
// directory) or else by asking `go env GOMOD`. It fails the test if neither
// finds it.
func ModuleRoot(t testing.TB) string {
	t.Helper()
	root, err := moduleRoot()
	if err != nil {
		t.Fatalf("peers: %v", err)
	}
	return root
}

func findModuleRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("finding the module root: %w", err)
	}
	for dir := wd; ; {
		if isModuleRoot(dir) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if gomod := strings.TrimSpace(string(out)); err == nil && gomod != "" && gomod != os.DevNull {
		if dir := filepath.Dir(gomod); isModuleRoot(dir) {
			return dir, nil
		}
	}
	return "", fmt.Errorf("cannot find the root of module %s from %s", ModulePath, wd)
}

func isModuleRoot(dir string) bool {
	data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return false
	}
	for line := range strings.Lines(string(data)) {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "module" && strings.Trim(f[1], `"`) == ModulePath {
			return true
		}
	}
	return false
}

// probe is the outcome of checking for one peer's runtime, cached for the
// test binary's lifetime.
type probe struct {
	path    string // interpreter
	err     error  // what is missing
	install string // how to install it, if not the usual command
}

var pythonProbe = sync.OnceValue(func() probe {
	py := PythonInterpreter
	if env := os.Getenv("GRPCACTOR_PYTHON"); env != "" {
		py = env
	}
	if _, err := os.Stat(py); err != nil {
		return probe{err: fmt.Errorf("no Python interpreter at %s", py)}
	}
	cmd := exec.Command(py, "-c", "import grpc, google.protobuf")
	out, err := runBounded(cmd, 30*time.Second)
	if err != nil {
		return probe{err: fmt.Errorf("%s cannot import grpc and google.protobuf (%v): %s", py, err, lastLine(out))}
	}
	return probe{path: py}
})

// RequirePython returns the path of the Python interpreter that runs the
// Python peer ([PythonInterpreter]) once it has checked that it can import
// grpc and google.protobuf. If it cannot, the test is skipped with the
// command that installs them, or fails when CI is set.
func RequirePython(t testing.TB) string {
	t.Helper()
	p := pythonProbe()
	if p.err != nil {
		missing(t, "the Python peer is not available: "+p.err.Error(), pythonInstall)
	}
	return p.path
}

var nodeProbe = sync.OnceValue(func() probe {
	node, err := exec.LookPath("node")
	if err != nil {
		return probe{
			err:     errors.New("node is not on PATH"),
			install: "apt-get install nodejs npm && " + nodeInstall,
		}
	}
	root, err := moduleRoot()
	if err != nil {
		return probe{err: err}
	}
	modules := filepath.Join(root, "system_test", "node", "node_modules")
	for _, pkg := range []string{"@grpc/grpc-js", "@grpc/proto-loader"} {
		if _, err := os.Stat(filepath.Join(modules, pkg, "package.json")); err != nil {
			return probe{err: fmt.Errorf("%s is not installed in %s", pkg, modules)}
		}
	}
	return probe{path: node}
})

// RequireNode returns the path of the node binary that runs the Node peer
// once it has checked that @grpc/grpc-js and @grpc/proto-loader are installed
// in system_test/node/node_modules. If they are not, the test is skipped with
// the command that installs them, or fails when CI is set.
func RequireNode(t testing.TB) string {
	t.Helper()
	p := nodeProbe()
	if p.err != nil {
		install := nodeInstall
		if p.install != "" {
			install = p.install
		}
		missing(t, "the Node peer is not available: "+p.err.Error(), install)
	}
	return p.path
}

// NodeModules returns system_test/node/node_modules, where the Node peer's
// npm packages are installed; [StartNode] puts it on NODE_PATH.
func NodeModules(t testing.TB) string {
	t.Helper()
	return filepath.Join(ModuleRoot(t), "system_test", "node", "node_modules")
}

// PythonInteropScript returns the absolute path of the bundled Python
// interop server, system_test/peers/testdata/python_server.py.
func PythonInteropScript(t testing.TB) string {
	t.Helper()
	return filepath.Join(ModuleRoot(t), "system_test", "peers", "testdata", "python_server.py")
}

// NodeInteropScript returns the absolute path of the bundled Node interop
// server, system_test/peers/testdata/node_server.js.
func NodeInteropScript(t testing.TB) string {
	t.Helper()
	return filepath.Join(ModuleRoot(t), "system_test", "peers", "testdata", "node_server.js")
}

// StartPythonInterop starts the bundled Python grpcio interop server
// ([PythonInteropScript]) and returns its address, "127.0.0.1:<port>".
func StartPythonInterop(t testing.TB) (addr string) {
	t.Helper()
	return StartPython(t, PythonInteropScript(t))
}

// StartNodeInterop starts the bundled Node @grpc/grpc-js interop server
// ([NodeInteropScript]) and returns its address, "127.0.0.1:<port>".
func StartNodeInterop(t testing.TB) (addr string) {
	t.Helper()
	return StartNode(t, NodeInteropScript(t))
}

// StartPythonInteropTLS starts the bundled Python grpcio interop server
// serving TLS with the PEM certificate chain in certFile and the private key
// in keyFile, and returns its address, "127.0.0.1:<port>".
func StartPythonInteropTLS(t testing.TB, certFile, keyFile string) (addr string) {
	t.Helper()
	return StartPython(t, PythonInteropScript(t), "--tls-cert", certFile, "--tls-key", keyFile)
}

// StartNodeInteropTLS starts the bundled Node @grpc/grpc-js interop server
// serving TLS with the PEM certificate chain in certFile and the private key
// in keyFile, and returns its address, "127.0.0.1:<port>".
func StartNodeInteropTLS(t testing.TB, certFile, keyFile string) (addr string) {
	t.Helper()
	return StartNode(t, NodeInteropScript(t), "--tls-cert", certFile, "--tls-key", keyFile)
}

// runBounded runs cmd to completion, killing it after limit, and returns its
// combined output.
func runBounded(cmd *exec.Cmd, limit time.Duration) ([]byte, error) {
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = time.Second
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	timer := time.AfterFunc(limit, func() { cmd.Process.Kill() })
	err := cmd.Wait()
	timer.Stop()
	return out.Bytes(), err
}

func lastLine(b []byte) string {
	s := strings.TrimSpace(string(b))
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return s
}
