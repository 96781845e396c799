package actors_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/grpc"
	"google.golang.org/grpc/interop"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"

	"github.com/grpcactor/grpcactor/actors"
	"github.com/grpcactor/grpcactor/channel"
	"github.com/grpcactor/grpcactor/futures"
	"github.com/grpcactor/grpcactor/metadata"
)

// mwExampleServer starts grpc-go's interop server on a local port; it
// echoes the x-grpc-test-echo-initial header back.
func mwExampleServer() (addr string, stop func()) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	srv := grpc.NewServer()
	testgrpc.RegisterTestServiceServer(srv, interop.NewTestServer())
	go srv.Serve(lis)
	return lis.Addr().String(), srv.Stop
}

// A middleware actor on a channel's path: it adds its token to every call
// (the server sees it, and this one echoes it back) and asks to hear how
// each call ended.
func ExampleInterceptor() {
	addr, stop := mwExampleServer()
	defer stop()
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(slog.DiscardHandler)
	}))

	ended := make(chan *actors.CallDone, 1)
	token := "token-1" // the actor's state
	mw := sys.Root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
		switch m := c.Message().(type) {
		case *actors.Intercept:
			if m.Details.Metadata == nil {
				m.Details.Metadata = metadata.MD{}
			}
			m.Details.Metadata.Set("x-grpc-test-echo-initial", token)
			c.Respond(&actors.Proceed{Details: m.Details, NotifyDone: true})
		case *actors.CallDone:
			ended <- m
		}
	}))
	defer func() { _ = sys.Root.StopFuture(mw).Wait() }()

	base, err := channel.Insecure(addr, channel.WithActorSystem(sys))
	if err != nil {
		panic(err)
	}
	defer base.Close()
	ch, err := channel.Intercept(base, actors.Interceptor(mw))
	if err != nil {
		panic(err)
	}
	unary := channel.UnaryUnary[*testgrpc.SimpleRequest, *testgrpc.SimpleResponse](ch, "/grpc.testing.TestService/UnaryCall")
	_, call, err := unary.WithCall(context.Background(), &testgrpc.SimpleRequest{})
	fmt.Println("echoed:", call.InitialMetadata().Get("x-grpc-test-echo-initial"), err)
	done := <-ended
	fmt.Println("done:", done.Method, done.Code)
	// Output:
	// echoed: [token-1] <nil>
	// done: /grpc.testing.TestService/UnaryCall OK
}

// Await runs the continuation inside the actor's mailbox, so it may update
// the actor's state.
func ExampleAwait() {
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(slog.DiscardHandler)
	}))
	out := make(chan string)
	total := 0 // the actor's state
	pid := sys.Root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
		if f, ok := c.Message().(futures.Future[int]); ok {
			actors.Await(c, f, func(v int, err error) {
				total += v
				out <- fmt.Sprintf("got %d (err %v), total %d", v, err, total)
			})
		}
	}))
	defer func() { _ = sys.Root.StopFuture(pid).Wait() }()

	p := futures.New[int](sys)
	sys.Root.Send(pid, futures.Future[int](p))
	sys.Root.Send(pid, futures.Completed(2, nil))
	fmt.Println(<-out)
	p.Complete(40, nil)
	fmt.Println(<-out)
	// Output:
	// got 2 (err <nil>), total 2
	// got 40 (err <nil>), total 42
}

// A channel spawned by an actor is its child: it reports its connectivity
// to the actor and stops when the actor stops.
func ExampleSpawn() {
	addr, stop := mwExampleServer()
	defer stop()
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(slog.DiscardHandler)
	}))
	states := make(chan channel.Connectivity, 8)
	chans := make(chan *channel.Channel, 1)
	parent := sys.Root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
		switch m := c.Message().(type) {
		case *actor.Started:
			ch, err := actors.Spawn(c, addr, actors.WatchConnectivity())
			if err != nil {
				panic(err)
			}
			chans <- ch
		case *channel.ConnectivityChanged:
			states <- m.State
		}
	}))
	ch := <-chans
	ch.State(true) // connect
	for s := range states {
		fmt.Println(s)
		if s == channel.Ready {
			break
		}
	}
	_ = sys.Root.StopFuture(parent).Wait()
	ch.Close() // waits for the channel's shutdown, which the parent's stop began
	fmt.Println("after the parent stopped:", ch.State(false))
	// Output:
	// IDLE
	// CONNECTING
	// READY
	// after the parent stopped: SHUTDOWN
}
