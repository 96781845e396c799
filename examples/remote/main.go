// Command remote shows a channel used from another node of a protoactor
// actor system (package actors/actorsremote), with two OS processes on
// loopback:
//
//	go run ./examples/remote
//
// The program starts a gRPC server (grpc-go's interop TestService) and
// re-executes itself as the gateway process: a protoactor node holding a
// channel to the server and serving it under the name "grpc". The first
// process is the caller node: its actor calls the server by message
// through the gateway. Then the example kills the gateway process while a
// server stream is in flight (the stream ends UNAVAILABLE on the caller's
// node), starts it again on the same port, and calls again.
package main

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/remote"
	"github.com/grpcactor/grpcactor/actors"
	"github.com/grpcactor/grpcactor/actors/actorsremote"
	"github.com/grpcactor/grpcactor/channel"
	"google.golang.org/grpc"
	"google.golang.org/grpc/interop"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
)

// gatewayEnv, set to "port server-address", makes the program the
// gateway process.
const gatewayEnv = "GRPCACTOR_REMOTE_EXAMPLE_GATEWAY"

func main() {
	if spec := os.Getenv(gatewayEnv); spec != "" {
		if err := gateway(spec); err != nil {
			fmt.Fprintln(os.Stderr, "gateway:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(os.Stdout, os.Args[0]); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func quietSystem() *actor.ActorSystem {
	return actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(slog.DiscardHandler)
	}))
}

// gateway runs the gateway node until its standard input closes (or the
// process is killed).
func gateway(spec string) error {
	portStr, server, _ := strings.Cut(spec, " ")
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return err
	}
	sys := quietSystem()
	r := remote.NewRemote(sys, remote.Configure("127.0.0.1", port))
	r.Start()
	ch, err := channel.Insecure(server)
	if err != nil {
		return err
	}
	defer ch.Close()
	if _, err := actorsremote.Serve(sys, ch, "grpc", actorsremote.Allow("/grpc.testing.TestService/*")); err != nil {
		return err
	}
	fmt.Println("ready")
	_, _ = io.Copy(io.Discard, os.Stdin)
	r.Shutdown(false)
	return nil
}

// gatewayProcess is a running gateway process.
type gatewayProcess struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
}

// startGateway starts self as the gateway on port and waits until it
// serves.
func startGateway(self string, port int, server string) (*gatewayProcess, error) {
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%d %s", gatewayEnv, port, server))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "ready\n" {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, fmt.Errorf("the gateway process did not start: %q, %v", line, err)
	}
	return &gatewayProcess{cmd: cmd, stdin: stdin}, nil
}

// kill kills the process (no goodbye to its peers) and reaps it.
func (g *gatewayProcess) kill() {
	_ = g.cmd.Process.Kill()
	_ = g.cmd.Wait()
}

// stop ends the process cleanly.
func (g *gatewayProcess) stop() {
	g.stdin.Close()
	_ = g.cmd.Wait()
}

// run is the caller's side; self is the program to start as the gateway.
func run(w io.Writer, self string) error {
	// The caller node first: protoactor's remote layer sets grpc-go's
	// global logger when it starts, before any gRPC server may run.
	sys := quietSystem()
	// Stop waits for the node's endpoint readers, which the deferred
	// stop of the endpoint supervisor below must come after (a reader
	// still at work would ask the stopped supervisor for an endpoint: a
	// panic in protoactor).
	r := remote.NewRemote(sys, remote.Configure("127.0.0.1", 0, remote.WithServerOptions(grpc.WaitForHandlers(true))))
	r.Start()
	defer func() {
		r.Shutdown(false) // Shutdown(true) races on protoactor's own fields
		_ = sys.Root.StopFuture(sys.NewLocalPID("EndpointSupervisor")).Wait()
		_ = sys.Root.StopFuture(sys.NewLocalPID("activator")).Wait()
	}()

	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := grpc.NewServer()
	testgrpc.RegisterTestServiceServer(srv, interop.NewTestServer())
	go srv.Serve(lis)
	defer srv.Stop()

	port, err := freePort()
	if err != nil {
		return err
	}
	gw, err := startGateway(self, port, lis.Addr().String())
	if err != nil {
		return err
	}
	gwAddr := fmt.Sprintf("127.0.0.1:%d", port)
	fmt.Fprintf(w, "1. the gateway process serves a channel to the gRPC server as %q\n", "grpc")

	remoteCh := actorsremote.Remote(sys, gwAddr, "grpc")
	defer remoteCh.Close()
	unary := actorsremote.Unary[*testgrpc.SimpleRequest, *testgrpc.SimpleResponse](remoteCh, "/grpc.testing.TestService/UnaryCall")
	stream := actorsremote.ServerStream[*testgrpc.StreamingOutputCallRequest, *testgrpc.StreamingOutputCallResponse](remoteCh, "/grpc.testing.TestService/StreamingOutputCall")

	// The caller's actor: on *call it makes n unary calls, on *slowStream
	// it starts a stream of messages 100 ms apart; it reports what
	// arrives on events.
	events := make(chan string, 100)
	type call struct{ n int }
	type slowStream struct{}
	pid := sys.Root.Spawn(actor.PropsFromFunc(func(ctx actor.Context) {
		switch m := ctx.Message().(type) {
		case *call:
			for i := range m.n {
				unary.Send(ctx, &testgrpc.SimpleRequest{ResponseSize: int32(i + 1)}, channel.Timeout(30*time.Second))
			}
		case *slowStream:
			params := make([]*testgrpc.ResponseParameters, 100)
			for i := range params {
				params[i] = &testgrpc.ResponseParameters{Size: 1, IntervalUs: 100_000}
			}
			stream.Send(ctx, &testgrpc.StreamingOutputCallRequest{ResponseParameters: params}, actors.Demand(1))
		case *actors.Reply[*testgrpc.SimpleResponse]:
			if m.Err != nil {
				events <- fmt.Sprintf("reply: %v", m.Code)
			} else {
				events <- fmt.Sprintf("reply: OK, %d bytes", len(m.Value.GetPayload().GetBody()))
			}
		case *actors.Message[*testgrpc.StreamingOutputCallResponse]:
			events <- "stream message"
			m.Ref.Request(1)
		case *actors.End:
			events <- fmt.Sprintf("stream end: %v (%s)", m.Code, strings.SplitN(m.Details, " (", 2)[0])
		}
	}))
	defer func() { _ = sys.Root.StopFuture(pid).Wait() }()

	fmt.Fprintln(w, "2. the caller node's actor makes 3 unary calls by message through it")
	sys.Root.Send(pid, &call{n: 3})
	replies := make([]string, 0, 3)
	for range 3 {
		replies = append(replies, <-events)
	}
	slices.Sort(replies)
	for _, r := range replies {
		fmt.Fprintln(w, "  ", r)
	}

	fmt.Fprintln(w, "3. a server stream is in flight when the gateway process is killed")
	sys.Root.Send(pid, &slowStream{})
	fmt.Fprintln(w, "  ", <-events)
	gw.kill()
	for {
		e := <-events
		if e != "stream message" {
			fmt.Fprintln(w, "  ", e)
			break
		}
	}

	fmt.Fprintln(w, "4. the gateway process starts again on the same port; the next call goes through")
	if gw, err = startGateway(self, port, lis.Addr().String()); err != nil {
		return err
	}
	defer gw.stop()
	sys.Root.Send(pid, &call{n: 1})
	fmt.Fprintln(w, "  ", <-events)
	return nil
}

// freePort returns a loopback port nobody listens on (now).
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
