package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"google.golang.org/grpc"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
)

// serveEnv, set to 1 in the environment of a re-executed copy of this
// program (or of its test binary), makes it the benchmark's server instead of
// the benchmark. The -serve first argument does the same for the program.
const serveEnv = "GRPCACTOR_BENCH_SERVE"

// serveAddrEnv, if set for the server process, is the address its gRPC
// server listens on (the soak restarts the server on the same port);
// otherwise the kernel chooses a port.
const serveAddrEnv = "GRPCACTOR_BENCH_ADDR"

// maxMessageSize is the server's send and receive limit (64 MiB), so that no
// workload is limited by the server.
const maxMessageSize = 64 << 20

// serveRequested reports whether this process is the benchmark's server.
func serveRequested() bool {
	return os.Getenv(serveEnv) == "1" || (len(os.Args) > 1 && (os.Args[1] == "-serve" || os.Args[1] == "--serve"))
}

// serve runs grpc-go's interop TestService on 127.0.0.1 (port chosen by the
// kernel) and a TCP echo listener for the loopback floor, prints
// "LISTENING <grpc port> <echo port>" on stdout and serves until stdin
// closes (the parent closes it, or dies). The parent normally kills it.
func serve(stdout io.Writer, stdin io.Reader) error {
	addr := os.Getenv(serveAddrEnv)
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	lis, err := listenRetry(addr, 10*time.Second)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	echo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listen (echo): %w", err)
	}
	srv := grpc.NewServer(grpc.MaxRecvMsgSize(maxMessageSize), grpc.MaxSendMsgSize(maxMessageSize))
	testgrpc.RegisterTestServiceServer(srv, newBenchServer()) // the interop TestService, with the held calls of inflight.go
	go srv.Serve(lis)
	go serveEcho(echo)
	fmt.Fprintf(stdout, "LISTENING %d %d\n", lis.Addr().(*net.TCPAddr).Port, echo.Addr().(*net.TCPAddr).Port)
	io.Copy(io.Discard, stdin)
	echo.Close()
	srv.Stop()
	return nil
}

// serveEcho echoes every byte it reads on each accepted connection.
func serveEcho(lis net.Listener) {
	for {
		c, err := lis.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			c.(*net.TCPConn).SetNoDelay(true)
			buf := make([]byte, 64)
			for {
				n, err := c.Read(buf)
				if err != nil {
					return
				}
				if _, err := c.Write(buf[:n]); err != nil {
					return
				}
			}
		}()
	}
}

// serverProc is the server process started by startServer.
type serverProc struct {
	cmd      *exec.Cmd
	stdin    io.WriteCloser
	addr     string // gRPC server, 127.0.0.1:port
	echoAddr string // TCP echo, 127.0.0.1:port
	stopOnce sync.Once
}

// lastServerPID is the pid of the last server process started: serverCPU
// reads its CPU time, and a test checks it is gone after a run.
var lastServerPID int

// listenRetry listens on addr, retrying while the port is still in use
// (a killed predecessor's port is free again a moment later).
func listenRetry(addr string, limit time.Duration) (net.Listener, error) {
	deadline := time.Now().Add(limit)
	for {
		lis, err := net.Listen("tcp", addr)
		if err == nil || !errors.Is(err, syscall.EADDRINUSE) || time.Now().After(deadline) {
			return lis, err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// startServer re-executes this program (os.Executable) as the server and
// waits for its LISTENING line.
func startServer(stderr io.Writer) (*serverProc, error) {
	return startServerAt(stderr, "")
}

// startServerAt is startServer with the gRPC server on addr ("" for a port
// chosen by the kernel).
func startServerAt(stderr io.Writer, addr string) (*serverProc, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("server: finding this program's executable: %w", err)
	}
	cmd := exec.Command(exe, "-serve")
	cmd.Env = append(os.Environ(), serveEnv+"=1", serveAddrEnv+"="+addr)
	cmd.Stderr = stderr
	setServerSysProcAttr(cmd)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("server: starting %s -serve: %w", exe, err)
	}
	lastServerPID = cmd.Process.Pid
	s := &serverProc{cmd: cmd, stdin: stdin}
	line := make(chan string, 1)
	go func() {
		r := bufio.NewReader(stdout)
		l, _ := r.ReadString('\n')
		line <- l
		io.Copy(io.Discard, r)
	}()
	select {
	case l := <-line:
		var port, echoPort int
		if _, err := fmt.Sscanf(strings.TrimSpace(l), "LISTENING %d %d", &port, &echoPort); err != nil {
			s.stop()
			return nil, fmt.Errorf("server: unexpected first line %q: %v", l, err)
		}
		s.addr = fmt.Sprintf("127.0.0.1:%d", port)
		s.echoAddr = fmt.Sprintf("127.0.0.1:%d", echoPort)
		return s, nil
	case <-time.After(60 * time.Second):
		s.stop()
		return nil, errors.New("server: no LISTENING line within 60s")
	}
}

// pid returns the server's process id.
func (s *serverProc) pid() int { return s.cmd.Process.Pid }

// stop kills the server process and waits for it.
func (s *serverProc) stop() {
	s.stopOnce.Do(func() {
		s.stdin.Close()
		s.cmd.Process.Kill()
		s.cmd.Wait()
	})
}
