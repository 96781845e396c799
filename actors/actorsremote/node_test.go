package actorsremote_test

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/remote"
	"github.com/grpcactor/grpcactor/actors/actorsremote"
	"github.com/grpcactor/grpcactor/channel"
	"github.com/grpcactor/grpcactor/internal/actorsys"
	"github.com/grpcactor/grpcactor/internal/actortest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/interop"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"
)

const (
	unaryCall           = "/grpc.testing.TestService/UnaryCall"
	emptyCall           = "/grpc.testing.TestService/EmptyCall"
	streamingOutputCall = "/grpc.testing.TestService/StreamingOutputCall"
	streamingInputCall  = "/grpc.testing.TestService/StreamingInputCall"
	fullDuplexCall      = "/grpc.testing.TestService/FullDuplexCall"
)

type (
	simpleReq  = testgrpc.SimpleRequest
	simpleResp = testgrpc.SimpleResponse
	outReq     = testgrpc.StreamingOutputCallRequest
	outResp    = testgrpc.StreamingOutputCallResponse
	inReq      = testgrpc.StreamingInputCallRequest
	inResp     = testgrpc.StreamingInputCallResponse
)

// node is an actor system with protoactor's remote layer on its own
// loopback port.
type node struct {
	sys    *actor.ActorSystem
	remote *remote.Remote
	once   sync.Once
	dead   atomic.Bool // killed
}

// kill shuts the node's remote layer down at once and stops its actor
// system, as if its process had died: its peers lose the endpoint.
// remote.Shutdown(true) is not used: it writes fields that the remote
// layer's stream goroutines read without synchronization (a data race
// under -race). Shutdown(false) stops the gRPC server (its incoming
// streams end); stopping the endpoint supervisor closes the outgoing
// connections; nothing is left running.
func (n *node) kill() {
	n.once.Do(func() {
		n.dead.Store(true)
		n.sys.Shutdown() // first: nothing of ours sends from a stopped system
		n.remote.Shutdown(false)
		for _, name := range []string{"EndpointSupervisor", "activator"} {
			_ = n.sys.Root.StopFuture(n.sys.NewLocalPID(name)).Wait()
		}
	})
}

func (n *node) address() string { return n.sys.Address() }

// The tests' nodes are started before any test runs, from a pool:
// remote.Start sets grpc-go's global logger (grpclog.SetLoggerV2), which
// races with any grpc-go goroutine already running, so no node may start
// once the tests have started gRPC servers and connections. Between two
// starts, the handshake below makes the previous node's server goroutine
// (which reads the logger when it starts serving) happen before the next
// write, for the race detector: it reads the server's first bytes on a raw
// connection (a socket write there, a socket read here), and after the
// last start writes to each connection before closing it.
const poolSize = 24

var pool struct {
	mu     sync.Mutex
	all    []*node
	free   []*node
	shared [2]*node // the gateway and caller nodes most tests share
}

// poolM starts the pool before the tests and shuts it down after them,
// before the leak check.
type poolM struct{ m *testing.M }

func (p poolM) Run() int {
	var conns []net.Conn
	for range poolSize {
		sys := actorsys.NewQuiet()
		// protoactor's endpoint writer tries a connection MaxRetryCount
		// times but closes only the last try's grpc-go ClientConn: a
		// writer to a node a test killed left the earlier tries'
		// connections reconnecting for ever, and the leak check failed
		// (CallbackSerializer.run, addrConn.resetTransportAndUnlock).
		// One try leaves nothing behind.
		// Stop waits for the node's endpoint readers (gRPC handlers):
		// kill stops the endpoint supervisor next, and a reader still
		// handing on a Terminated from a peer would ask that stopped
		// supervisor for an endpoint and panic in protoactor
		// (endpointLazy.connect: interface {} is nil).
		rc := remote.Configure("127.0.0.1", 0, remote.WithServerOptions(grpc.WaitForHandlers(true)))
		rc.MaxRetryCount = 1
		r := remote.NewRemote(sys, rc)
		r.Start()
		n := &node{sys: sys, remote: r}
		pool.all = append(pool.all, n)
		c, err := net.Dial("tcp", n.address())
		if err != nil {
			panic(err)
		}
		if _, err := c.Read(make([]byte, 1)); err != nil {
			panic(fmt.Sprintf("handshake with node %s: %v", n.address(), err))
		}
		conns = append(conns, c)
	}
	for _, c := range conns {
		_, _ = c.Write([]byte("bye"))
		c.Close()
	}
	pool.shared = [2]*node{pool.all[0], pool.all[1]}
	pool.free = append(pool.free, pool.all[2:]...)
	code := p.m.Run()
	for _, n := range pool.all {
		n.kill()
	}
	return code
}

// takeNode returns a node of the test's own, which it may kill.
func takeNode(t testing.TB) *node {
	t.Helper()
	pool.mu.Lock()
	defer pool.mu.Unlock()
	if len(pool.free) == 0 {
		t.Fatalf("the pool of %d nodes is used up: raise poolSize", poolSize)
	}
	n := pool.free[0]
	pool.free = pool.free[1:]
	return n
}

// testServer is grpc-go's interop TestService with test behaviours (a
// UnaryCall with metadata x-echo-content-type answers with its
// content-type in header x-content-type, with x-echo-authorization its
// authorization in x-authorization): a
// UnaryCall with FillUsername is held until its context ends (held gets
// whether the call has a deadline when it is held, ended the context's
// error after); a
// StreamingOutputCall whose payload body is "bulk:N:SIZE" sends N messages
// of SIZE bytes, the first four bytes the index, counting them in sent.
type testServer struct {
	testgrpc.TestServiceServer
	held  chan bool
	ended chan error
	sent  atomic.Int64
}

func (s *testServer) UnaryCall(ctx context.Context, req *testgrpc.SimpleRequest) (*testgrpc.SimpleResponse, error) {
	if req.GetFillUsername() {
		_, hasDeadline := ctx.Deadline()
		s.held <- hasDeadline
		<-ctx.Done()
		s.ended <- ctx.Err()
		return nil, ctx.Err()
	}
	md, _ := metadata.FromIncomingContext(ctx)
	if len(md.Get("x-echo-bin")) > 0 {
		_ = grpc.SetHeader(ctx, metadata.Pairs("x-echo-bin", md.Get("x-echo-bin")[0]))
	}
	if len(md.Get("x-echo-authorization")) > 0 {
		_ = grpc.SetHeader(ctx, metadata.Pairs("x-authorization", strings.Join(md.Get("authorization"), ",")))
	}
	if len(md.Get("x-echo-content-type")) > 0 {
		_ = grpc.SetHeader(ctx, metadata.Pairs("x-content-type", strings.Join(md.Get("content-type"), ",")))
	}
	return s.TestServiceServer.UnaryCall(ctx, req)
}

func (s *testServer) StreamingOutputCall(req *testgrpc.StreamingOutputCallRequest, stream testgrpc.TestService_StreamingOutputCallServer) error {
	parts := strings.Split(string(req.GetPayload().GetBody()), ":")
	if len(parts) != 3 || parts[0] != "bulk" {
		return s.TestServiceServer.StreamingOutputCall(req, stream)
	}
	n, _ := strconv.Atoi(parts[1])
	size, _ := strconv.Atoi(parts[2])
	for i := range n {
		body := make([]byte, size)
		body[0], body[1], body[2], body[3] = byte(i>>24), byte(i>>16), byte(i>>8), byte(i)
		if err := stream.Send(&testgrpc.StreamingOutputCallResponse{Payload: &testgrpc.Payload{Body: body}}); err != nil {
			return err
		}
		s.sent.Add(1)
	}
	return nil
}

func bulk(n, size int) *outReq {
	return &outReq{Payload: &testgrpc.Payload{Body: fmt.Appendf(nil, "bulk:%d:%d", n, size)}}
}

func indexOf(b []byte) int { return int(b[0])<<24 | int(b[1])<<16 | int(b[2])<<8 | int(b[3]) }

// startTestServer runs testServer on loopback with fixed 64 KiB windows.
func startTestServer(t testing.TB) (*testServer, string) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{TestServiceServer: interop.NewTestServer(), held: make(chan bool, 100), ended: make(chan error, 100)}
	s := grpc.NewServer(grpc.InitialWindowSize(65535), grpc.InitialConnWindowSize(65535))
	testgrpc.RegisterTestServiceServer(s, ts)
	go s.Serve(lis)
	t.Cleanup(s.Stop)
	return ts, lis.Addr().String()
}

// exampleServer runs testServer for an example.
func exampleServer() (addr string, stop func()) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	s := grpc.NewServer()
	testgrpc.RegisterTestServiceServer(s, &testServer{TestServiceServer: interop.NewTestServer()})
	go s.Serve(lis)
	return lis.Addr().String(), s.Stop
}

// setup is a gRPC server, a gateway node serving a channel to it under
// a name of its own (allowing the TestService) and a caller node with a handle on
// it.
type setup struct {
	srv      *testServer
	srvAddr  string
	gw, cl   *node
	gateway  *actor.PID
	remoteCh *actorsremote.Channel
}

func newSetup(t testing.TB, opts ...actorsremote.GatewayOption) *setup {
	t.Helper()
	return newSetupOn(t, nil, nil, opts...)
}

// gateways numbers the tests' gateways, whose names must differ.
var gateways atomic.Int64

// newSetupOn is newSetup with the gateway on gw and the caller on cl (nil:
// the shared nodes).
func newSetupOn(t testing.TB, gw, cl *node, opts ...actorsremote.GatewayOption) *setup {
	t.Helper()
	srv, addr := startTestServer(t)
	// BDP estimation off: the stream window stays at 4 MiB, which the
	// demand test's bound counts on (with it on, the window grows with
	// what the link carries, up to 16 MiB).
	ch, err := channel.Insecure(addr, channel.WithBDPProbe(false))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ch.Close() })
	s := &setup{srv: srv, srvAddr: addr, gw: pool.shared[0], cl: pool.shared[1]}
	if gw != nil {
		s.gw = gw
	}
	if cl != nil {
		s.cl = cl
	}
	if opts == nil {
		opts = []actorsremote.GatewayOption{actorsremote.Allow("/grpc.testing.TestService/*")}
	}
	name := fmt.Sprintf("grpc-%d", gateways.Add(1))
	if s.gateway, err = actorsremote.Serve(s.gw.sys, ch, name, opts...); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if !s.gw.dead.Load() {
			_ = s.gw.sys.Root.StopFuture(s.gateway).Wait()
		}
	})
	s.remoteCh = actorsremote.Remote(s.cl.sys, s.gw.address(), name)
	t.Cleanup(func() {
		// A killed node's actors are left as they are: stopping one that a
		// live node watches would make protoactor notify it through the
		// node's stopped remote layer (which panics inside protoactor).
		if !s.cl.dead.Load() {
			s.remoteCh.Close()
		}
	})
	return s
}

// collector gathers what a test's actors report, for the test goroutine.
type collector struct {
	actortest.Errors
}

func mustMarshal(m proto.Message) []byte {
	b, err := proto.Marshal(m)
	if err != nil {
		panic(err)
	}
	return b
}
