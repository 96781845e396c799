package chaos

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/interop"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/keepalive"
	grpcmd "google.golang.org/grpc/metadata"
	grpcstatus "google.golang.org/grpc/status"
)

// ServeEnv is the environment variable that makes a re-executed test binary
// the child server: its value is the address to listen on.
const ServeEnv = "GRPCACTOR_CHAOS_SERVE"

// HoldKey is the metadata key that makes the child server hold a call: it
// reports the call's arrival (see [Server.WaitHeld]) and then waits for the
// client to cancel it or for the process to die.
const HoldKey = "x-chaos-hold"

// StartupTimeout bounds how long [Server.Start] waits for the child to
// listen. It is generous: the test binary is large and, under -race, slow to
// start on a loaded machine.
const StartupTimeout = 60 * time.Second

// maxMessageSize is the child's send and receive limit (64 MiB), so that the
// client under test, not the server, limits message sizes.
const maxMessageSize = 64 << 20

// ServeIfChild makes this process the child server if [ServeEnv] is set: it
// serves grpc-go's interop TestService on the address ServeEnv names until
// its stdin closes, then exits. Otherwise it returns at once. Call it first
// thing in TestMain.
func ServeIfChild() {
	addr := os.Getenv(ServeEnv)
	if addr == "" {
		return
	}
	if err := serveChild(addr, os.Stdout, os.Stdin); err != nil {
		fmt.Fprintln(os.Stderr, "chaos child server:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// serveChild is the child server: it listens on addr, prints "LISTENING
// <addr>" and then "HELD" for every held call, and serves until stdin ends.
func serveChild(addr string, stdout io.Writer, stdin io.Reader) error {
	lis, err := listenRetry(addr, 10*time.Second)
	if err != nil {
		return err
	}
	var outMu sync.Mutex
	say := func(line string) {
		outMu.Lock()
		defer outMu.Unlock()
		fmt.Fprintln(stdout, line)
	}
	hold := func(ctx context.Context) error {
		md, _ := grpcmd.FromIncomingContext(ctx)
		if len(md.Get(HoldKey)) == 0 {
			return nil
		}
		say("HELD")
		<-ctx.Done()
		return grpcstatus.FromContextError(ctx.Err()).Err()
	}
	srv := grpc.NewServer(
		grpc.MaxRecvMsgSize(maxMessageSize),
		grpc.MaxSendMsgSize(maxMessageSize),
		// The tests' clients ping as often as they like.
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: time.Millisecond, PermitWithoutStream: true}),
		grpc.UnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			if err := hold(ctx); err != nil {
				return nil, err
			}
			return h(ctx, req)
		}),
		grpc.StreamInterceptor(func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			if err := hold(ss.Context()); err != nil {
				return err
			}
			return h(srv, ss)
		}),
	)
	testgrpc.RegisterTestServiceServer(srv, interop.NewTestServer())
	go srv.Serve(lis)
	say("LISTENING " + lis.Addr().String())
	io.Copy(io.Discard, stdin)
	srv.Stop()
	return nil
}

// Server is grpc-go's interop TestService server in a child process (the
// test binary re-executed with [ServeEnv]) on a fixed loopback port. Kill
// ends the process with SIGKILL, as a crash or an OOM kill would: the
// kernel closes its sockets and the client sees its connections die without
// a GOAWAY. Start runs a fresh process on the same port.
//
// Calls carrying [HoldKey] metadata are held by the server until the client
// cancels them; [Server.WaitHeld] waits for them to arrive.
type Server struct {
	t    testing.TB
	addr string

	mu     sync.Mutex
	proc   *process // nil when not running
	starts int
}

// process is one incarnation of the child.
type process struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	exited chan struct{} // closed once Wait returned and stdout is drained
	output *tailBuffer   // stderr

	mu   sync.Mutex
	held int
	wake chan struct{} // closed and replaced on every HELD line
}

// StartServer starts a child server on a loopback port chosen by the
// kernel. The package's TestMain must call [ServeIfChild]. The process is
// killed when the test ends.
func StartServer(t testing.TB) *Server {
	t.Helper()
	s := &Server{t: t, addr: "127.0.0.1:0"}
	t.Cleanup(func() {
		if p := s.take(); p != nil {
			p.kill()
			if t.Failed() {
				if out := strings.TrimSpace(p.output.String()); out != "" {
					t.Logf("chaos: child server %s stderr:\n%s", s.addr, out)
				}
			}
		}
	})
	s.Start()
	return s
}

// Addr returns the server's address, "127.0.0.1:<port>"; it stays the same
// across restarts.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Starts returns how many processes were started.
func (s *Server) Starts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.starts
}

// Running reports whether a server process is running.
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.proc != nil
}

// take detaches the running process.
func (s *Server) take() *process {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.proc
	s.proc = nil
	return p
}

// Start starts a server process on the server's address and waits until it
// listens. It fails the test if one is running already or if the child
// does not listen within [StartupTimeout].
func (s *Server) Start() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil {
		s.t.Fatalf("chaos: server %s: already running", s.addr)
	}
	p, addr, err := startProcess(s.addr)
	if err != nil {
		s.t.Fatalf("chaos: server %s: %v", s.addr, err)
	}
	s.proc, s.addr = p, addr
	s.starts++
}

// Kill kills the server process with SIGKILL and waits for it to exit. It
// does nothing if none is running.
func (s *Server) Kill() {
	if p := s.take(); p != nil {
		p.kill()
	}
}

// Restart is Kill followed by Start.
func (s *Server) Restart() {
	s.t.Helper()
	s.Kill()
	s.Start()
}

// Held returns how many held calls the running process has received.
func (s *Server) Held() int {
	s.mu.Lock()
	p := s.proc
	s.mu.Unlock()
	if p == nil {
		return 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.held
}

// WaitHeld waits until the running process holds at least n calls (calls
// with [HoldKey] metadata), failing the test after d.
func (s *Server) WaitHeld(t testing.TB, n int, d time.Duration) {
	t.Helper()
	s.mu.Lock()
	p := s.proc
	s.mu.Unlock()
	if p == nil {
		t.Fatalf("chaos: server %s: WaitHeld while not running", s.addr)
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		p.mu.Lock()
		held, wake := p.held, p.wake
		p.mu.Unlock()
		if held >= n {
			return
		}
		select {
		case <-wake:
		case <-p.exited:
			t.Fatalf("chaos: server %s exited holding %d calls, want %d", s.addr, held, n)
		case <-timer.C:
			t.Fatalf("chaos: server %s: %d calls held within %v, want %d", s.addr, held, d, n)
		}
	}
}

// startProcess re-executes the test binary as the child server on addr and
// waits for its LISTENING line; it returns the address it listens on.
func startProcess(addr string) (*process, string, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, "", fmt.Errorf("finding the test binary: %w", err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), ServeEnv+"="+addr)
	setChildSysProcAttr(cmd)
	cmd.WaitDelay = 5 * time.Second
	p := &process{cmd: cmd, exited: make(chan struct{}), output: &tailBuffer{}, wake: make(chan struct{})}
	cmd.Stderr = p.output
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, "", err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, "", err
	}
	if err := cmd.Start(); err != nil {
		return nil, "", fmt.Errorf("starting %s as the child server: %w", exe, err)
	}
	listening := make(chan string, 1)
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		sc := bufio.NewScanner(stdout)
		first := true
		for sc.Scan() {
			line := sc.Text()
			if first {
				listening <- line
				first = false
				continue
			}
			if line == "HELD" {
				p.mu.Lock()
				p.held++
				close(p.wake)
				p.wake = make(chan struct{})
				p.mu.Unlock()
			}
		}
		if first {
			close(listening)
		}
	}()
	go func() {
		<-readerDone
		cmd.Wait()
		close(p.exited)
	}()
	timer := time.NewTimer(StartupTimeout)
	defer timer.Stop()
	select {
	case line, ok := <-listening:
		got, found := strings.CutPrefix(line, "LISTENING ")
		if !ok || !found {
			p.kill()
			return nil, "", fmt.Errorf("child server exited or printed %q instead of LISTENING <addr>; stderr: %s", line, strings.TrimSpace(p.output.String()))
		}
		if _, _, err := net.SplitHostPort(got); err != nil {
			p.kill()
			return nil, "", fmt.Errorf("child server printed a bad address %q", got)
		}
		return p, got, nil
	case <-timer.C:
		p.kill()
		return nil, "", fmt.Errorf("child server did not listen within %v; stderr: %s", StartupTimeout, strings.TrimSpace(p.output.String()))
	}
}

// kill ends the process with SIGKILL and waits for it.
func (p *process) kill() {
	p.cmd.Process.Kill()
	p.stdin.Close()
	<-p.exited
}

// tailBuffer keeps the last 64 KiB written to it; safe for concurrent use.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - 64<<10; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}
