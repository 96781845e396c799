package peers

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// StartupTimeout bounds how long [StartPython] and [StartNode] wait for a
// peer to print its LISTENING line. It is generous because CI machines are
// small and the race detector slows the test binary down.
const StartupTimeout = 60 * time.Second

// StartPython runs a Python peer server script with the interpreter that
// [RequirePython] returns (the test is skipped, or fails in CI, if it is
// missing), waits for the script to print "LISTENING <port>" as its first
// line on stdout, and returns "127.0.0.1:<port>". The script must bind
// 127.0.0.1 with port 0. A relative script path is taken from the test's
// working directory, which is its package's directory.
//
// The process is killed and waited for when the test ends. Its stdin is a
// pipe that closes then, and GRPCACTOR_PEER_EXIT_ON_STDIN_EOF=1 is set in its
// environment, so a script can also exit by itself if the test binary dies.
// What it writes to stderr is logged if the test fails.
func StartPython(t testing.TB, script string, args ...string) (addr string) {
	t.Helper()
	py := RequirePython(t)
	return startPeer(t, "python", py, append([]string{"-u", script}, args...), nil)
}

// StartNode runs a Node peer server script with the node that [RequireNode]
// returns (the test is skipped, or fails in CI, if node or the npm packages
// in system_test/node are missing), with NODE_PATH set to
// system_test/node/node_modules so that require('@grpc/grpc-js') works from
// any directory. Otherwise it behaves as [StartPython].
func StartNode(t testing.TB, script string, args ...string) (addr string) {
	t.Helper()
	node := RequireNode(t)
	nodePath := NodeModules(t)
	if prev := os.Getenv("NODE_PATH"); prev != "" {
		nodePath += string(os.PathListSeparator) + prev
	}
	return startPeer(t, "node", node, append([]string{script}, args...), []string{"NODE_PATH=" + nodePath})
}

// syncBuffer is a bytes buffer safe for one writer and concurrent readers,
// holding at most the last maxKept bytes.
type syncBuffer struct {
	mu  sync.Mutex
	buf []byte
}

const maxKept = 64 << 10

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - maxKept; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
	}
	return len(p), nil
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}

// startPeer starts name's process and waits for its LISTENING line.
func startPeer(t testing.TB, name, bin string, args, env []string) string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "GRPCACTOR_PEER_EXIT_ON_STDIN_EOF=1")
	cmd.Env = append(cmd.Env, env...)
	setPeerSysProcAttr(cmd)
	cmd.WaitDelay = 5 * time.Second
	var output syncBuffer // stderr, and stdout after the first line
	cmd.Stderr = &output
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatalf("peers: %s: %v", name, err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatalf("peers: %s: %v", name, err)
	}
	desc := fmt.Sprintf("%s peer (%s %s)", name, filepath.Base(bin), strings.Join(args, " "))
	if err := cmd.Start(); err != nil {
		t.Fatalf("peers: starting %s: %v", desc, err)
	}

	// The reader goroutine reads the first line, then copies the rest of
	// stdout into output until the pipe closes (when the process has exited
	// and Wait closes it).
	type result struct {
		line string
		err  error
	}
	first := make(chan result, 1)
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		r := bufio.NewReader(stdout)
		line, err := r.ReadString('\n')
		first <- result{strings.TrimSpace(line), err}
		io.Copy(&output, r)
	}()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	var stopOnce sync.Once
	var waitErr error
	shown := false // whether the output is already in a failure message
	stop := func() {
		stopOnce.Do(func() {
			stdin.Close()
			cmd.Process.Kill()
			waitErr = <-exited
			<-readerDone
		})
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() && !shown {
			if out := strings.TrimSpace(output.String()); out != "" {
				t.Logf("peers: output of %s:\n%s", desc, out)
			}
		}
	})
	fail := func(format string, a ...any) {
		t.Helper()
		stop()
		msg := fmt.Sprintf(format, a...)
		shown = true
		if out := strings.TrimSpace(output.String()); out != "" {
			msg += "\n--- its output ---\n" + out
		}
		t.Fatalf("peers: %s: %s", desc, msg)
	}

	ctx, cancel := context.WithTimeout(context.Background(), StartupTimeout)
	defer cancel()
	var res result
	select {
	case res = <-first:
	case <-ctx.Done():
		fail("no LISTENING line within %v", StartupTimeout)
	}
	if res.err != nil && res.line == "" {
		// Stdout ended before a line: the process exited. Report how.
		stop()
		fail("exited before printing LISTENING <port> (%v)", waitErr)
	}
	portText, ok := strings.CutPrefix(res.line, "LISTENING ")
	port, err := strconv.Atoi(strings.TrimSpace(portText))
	if !ok || err != nil || port <= 0 || port > 65535 {
		fail("first line of stdout is %q, want \"LISTENING <port>\"", res.line)
	}
	return "127.0.0.1:" + strconv.Itoa(port)
}
