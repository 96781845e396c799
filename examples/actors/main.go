// Command actors shows grpcactor from protoactor actors (package actors):
// calls made by message, with their outcome arriving in the caller's
// mailbox and no goroutine per call. Against grpc-go's interop TestService,
// started in process, it runs
//
//  1. a producer actor feeding 1,000 items to 8 worker actors, each of
//     which calls the server by message (actors.Unary ... Send) and
//     handles the *actors.Reply in its mailbox;
//  2. a middleware actor on the channel's path (actors.Interceptor) that
//     adds "authorization: Bearer ..." to every call, counted by the
//     server;
//  3. a monitor actor that owns the channel (actors.Spawn with
//     actors.WatchConnectivity) and prints its connectivity while the
//     server is stopped and restarted on the same port;
//  4. a slow consumer of a server stream held back by demand
//     (actors.Demand, ref.Request): the messages delivered but not yet
//     processed never exceed the demand.
//
// Run it from the module root:
//
//	go run ./examples/actors
//
// The output is deterministic: no addresses, ports or timings.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/grpcactor/grpcactor/actors"
	"github.com/grpcactor/grpcactor/channel"
	"github.com/grpcactor/grpcactor/metadata"
	"google.golang.org/grpc"
	"google.golang.org/grpc/interop"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	grpcmd "google.golang.org/grpc/metadata"
)

const (
	token     = "Bearer demo-token"
	items     = 1000
	workers   = 8
	demand    = 10
	streamLen = 100
	unaryCall = "/grpc.testing.TestService/UnaryCall"
	streamOut = "/grpc.testing.TestService/StreamingOutputCall"
)

type (
	simpleReq  = testgrpc.SimpleRequest
	simpleResp = testgrpc.SimpleResponse
	streamReq  = testgrpc.StreamingOutputCallRequest
	streamResp = testgrpc.StreamingOutputCallResponse
)

func main() {
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "actors:", err)
		os.Exit(1)
	}
}

// server is the interop TestService on a fixed loopback address, which
// can be stopped and started again; it counts the calls that carry the
// middleware's token, across restarts.
type server struct {
	addr            string
	authorized, all atomic.Int64
	srv             *grpc.Server
	served          chan struct{}
}

func (s *server) count(ctx context.Context) {
	s.all.Add(1)
	if md, _ := grpcmd.FromIncomingContext(ctx); len(md["authorization"]) == 1 && md["authorization"][0] == token {
		s.authorized.Add(1)
	}
}

func (s *server) start() error {
	lis, err := net.Listen("tcp", s.addr)
	if err != nil {
		return err
	}
	s.addr = lis.Addr().String() // the port the kernel chose, kept for restarts
	s.srv = grpc.NewServer(
		grpc.UnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			s.count(ctx)
			return h(ctx, req)
		}),
		grpc.StreamInterceptor(func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			s.count(ss.Context())
			return h(srv, ss)
		}))
	testgrpc.RegisterTestServiceServer(s.srv, interop.NewTestServer())
	s.served = make(chan struct{})
	go func(srv *grpc.Server, served chan struct{}) {
		defer close(served)
		_ = srv.Serve(lis)
	}(s.srv, s.served)
	return nil
}

func (s *server) stop() { s.srv.Stop(); <-s.served }

// syncWriter lets actors and run print to one writer.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) printf(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fmt.Fprintf(s.w, format, args...)
}

// run is the whole example; main prints to stdout, the test to a buffer.
func run(w io.Writer) error {
	out := &syncWriter{w: w}
	srv := &server{addr: "127.0.0.1:0"}
	if err := srv.start(); err != nil {
		return fmt.Errorf("starting the server: %w", err)
	}
	defer func() { srv.stop() }()
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(slog.DiscardHandler)
	}))

	// The monitor owns the channel: it spawns it as its child and hears of
	// every connectivity change.
	states := make(chan channel.Connectivity, 64)
	chans := make(chan opened, 1)
	monitor := sys.Root.Spawn(actor.PropsFromFunc(monitorActor(srv.addr, out, chans, states)))
	defer func() { _ = sys.Root.StopFuture(monitor).Wait() }() // stops the channel too
	o := <-chans
	if o.err != nil {
		return fmt.Errorf("the monitor could not open the channel: %w", o.err)
	}
	base := o.ch
	defer base.Close()

	// 2. The middleware actor puts its token on every call.
	var intercepted atomic.Int64
	mw := sys.Root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
		if m, ok := c.Message().(*actors.Intercept); ok {
			intercepted.Add(1)
			if m.Details.Metadata == nil {
				m.Details.Metadata = metadata.MD{}
			}
			m.Details.Metadata.Set("authorization", token)
			c.Respond(&actors.Proceed{Details: m.Details})
		}
	}))
	defer func() { _ = sys.Root.StopFuture(mw).Wait() }()
	ch, err := channel.Intercept(base, actors.Interceptor(mw))
	if err != nil {
		return err
	}

	// 1. Producer and workers.
	out.printf("1. a producer feeds %d items to %d workers, each calling the server by message\n", items, workers)
	summary := make(chan string, 1)
	producer := sys.Root.Spawn(actor.PropsFromFunc(producerActor(ch, summary)))
	out.printf("   %s\n", <-summary)
	_ = sys.Root.StopFuture(producer).Wait() // its workers stop with it

	out.printf("\n2. a middleware actor adds %q to every call\n", "authorization: "+token)
	out.printf("   it answered %d Intercepts; the server saw the token on %d of %d calls\n",
		intercepted.Load(), srv.authorized.Load(), srv.all.Load())

	// 3. Stop the server and start it again on the same port.
	out.printf("\n3. the monitor prints the channel's connectivity while the server restarts\n")
	waitFor := func(want func(channel.Connectivity) bool) error {
		timeout := time.After(time.Minute) // a bound for failures only
		for {
			select {
			case s := <-states:
				if want(s) {
					return nil
				}
			case <-timeout:
				return fmt.Errorf("the channel's state did not change as expected")
			}
		}
	}
	sys.Root.Send(monitor, "arm") // print from now on
	out.printf("   stopping the server\n")
	srv.stop()
	if err := waitFor(func(s channel.Connectivity) bool { return s != channel.Ready }); err != nil {
		return err
	}
	base.State(true) // try to connect while the server is down
	if err := waitFor(func(s channel.Connectivity) bool { return s == channel.TransientFailure }); err != nil {
		return err
	}
	out.printf("   starting the server again on the same port\n")
	if err := srv.start(); err != nil {
		return fmt.Errorf("restarting the server: %w", err)
	}
	base.State(true)
	if err := waitFor(func(s channel.Connectivity) bool { return s == channel.Ready }); err != nil {
		return err
	}
	sys.Root.Send(monitor, "disarm")

	// 4. A slow consumer of a server stream.
	out.printf("\n4. a slow consumer reads a stream of %d messages with demand %d\n", streamLen, demand)
	report := make(chan string, 1)
	consumer := sys.Root.Spawn(actor.PropsFromFunc(consumerActor(ch, out, report)))
	out.printf("   %s\n", <-report)
	_ = sys.Root.StopFuture(consumer).Wait()
	return nil
}

// opened is the monitor's channel, or why it could not open it.
type opened struct {
	ch  *channel.Channel
	err error
}

// monitorActor spawns the channel with WatchConnectivity and, while armed,
// prints each state once per outage (the channel may go through CONNECTING
// and TRANSIENT_FAILURE several times while it backs off; those repeats
// depend on timing and are left out). Every state also goes to states.
func monitorActor(addr string, out *syncWriter, chans chan<- opened, states chan<- channel.Connectivity) actor.ReceiveFunc {
	armed := false
	printed := map[channel.Connectivity]bool{}
	return func(c actor.Context) {
		switch m := c.Message().(type) {
		case *actor.Started:
			ch, err := actors.Spawn(c, addr, actors.WatchConnectivity(),
				channel.WithConnectBackoff(100*time.Millisecond, time.Second, 20*time.Second))
			chans <- opened{ch, err}
		case string:
			armed = m == "arm"
		case *channel.ConnectivityChanged:
			if armed && !printed[m.State] {
				printed[m.State] = true
				out.printf("   monitor: %v\n", m.State)
				if m.State == channel.Ready {
					clear(printed)
				}
			}
			if armed {
				select { // never block in Receive
				case states <- m.State:
				default:
				}
			}
		}
	}
}

// work is one item for a worker; result its outcome, sent to the producer.
type work struct{ n int }
type result struct{ err error }

// producerActor spawns the workers and keeps each of them busy with one
// item at a time until all items are done, then reports.
func producerActor(ch *channel.Channel, summary chan<- string) actor.ReceiveFunc {
	next, done, ok := 0, 0, 0
	failed := map[string]int{}
	feed := func(c actor.Context, pid *actor.PID) {
		if next < items {
			c.Send(pid, &work{next})
			next++
		}
	}
	return func(c actor.Context) {
		switch m := c.Message().(type) {
		case *actor.Started:
			for range workers {
				feed(c, c.Spawn(actor.PropsFromFunc(workerActor(ch, c.Self()))))
			}
		case *result:
			done++
			if m.err == nil {
				ok++
			} else {
				failed[fmt.Sprint(m.err)]++
			}
			feed(c, c.Sender())
			if done == items {
				s := fmt.Sprintf("%d calls: %d OK, %d failed", done, ok, done-ok)
				for _, e := range slices.Sorted(maps.Keys(failed)) {
					s += fmt.Sprintf("\n   %d x %s", failed[e], e)
				}
				summary <- s
			}
		}
	}
}

// workerActor calls the server for each item by message. Every 100th item
// asks the server for a NOT_FOUND status, to show failures.
func workerActor(ch *channel.Channel, producer *actor.PID) actor.ReceiveFunc {
	unary := actors.Unary[*simpleReq, *simpleResp](ch, unaryCall)
	return func(c actor.Context) {
		switch m := c.Message().(type) {
		case *work:
			req := &simpleReq{ResponseSize: 8}
			if m.n%100 == 99 {
				req.ResponseStatus = &testgrpc.EchoStatus{Code: 5, Message: "no such item"}
			}
			unary.Send(c, req, channel.Timeout(30*time.Second)) // returns at once
		case *actors.Reply[*simpleResp]:
			c.Request(producer, &result{m.Err}) // Request: the producer sees the sender
		}
	}
}

// tick is the consumer's timer: it processes one message per tick.
type tick struct{}

// later sends the actor a tick in a millisecond (a timer is a message:
// nothing sleeps in Receive).
func later(c actor.Context) {
	self, root := c.Self(), c.ActorSystem().Root
	time.AfterFunc(time.Millisecond, func() { root.Send(self, &tick{}) })
}

// consumerActor starts a server stream with Demand(demand) and processes
// one message per millisecond, granting 5 more after every 5 processed.
// Its backlog (delivered, not yet processed) never exceeds the demand.
func consumerActor(ch *channel.Channel, out *syncWriter, report chan<- string) actor.ReceiveFunc {
	stream := actors.ServerStream[*streamReq, *streamResp](ch, streamOut)
	var backlog []*streamResp
	maxBacklog, processed, inOrder, ended := 0, 0, true, false
	var end *actors.End
	var ref *actors.Ref
	finish := func() {
		if end.Err != nil {
			report <- fmt.Sprintf("stream failed: %v", end.Err)
			return
		}
		bound := fmt.Sprintf("never more than %d (the demand)", demand)
		if maxBacklog > demand {
			bound = fmt.Sprintf("%d, MORE than the demand", maxBacklog)
		}
		report <- fmt.Sprintf("delivered but not yet processed: %s\n   processed %d messages, in order: %v; end: %v", bound, processed, inOrder, end.Code)
	}
	return func(c actor.Context) {
		switch m := c.Message().(type) {
		case *actor.Started:
			req := &streamReq{}
			for i := range streamLen {
				req.ResponseParameters = append(req.ResponseParameters, &testgrpc.ResponseParameters{Size: int32(i + 1)})
			}
			ref = stream.Send(c, req, actors.Demand(demand), channel.Timeout(30*time.Second))
			out.printf("   granted %d at the start, 5 more after every 5 processed\n", demand)
		case *actors.Message[*streamResp]:
			if len(backlog) == 0 {
				later(c)
			}
			backlog = append(backlog, m.Value)
			maxBacklog = max(maxBacklog, len(backlog))
		case *tick:
			processed++
			inOrder = inOrder && len(backlog[0].GetPayload().GetBody()) == processed
			backlog = backlog[1:]
			if processed%5 == 0 {
				ref.Request(5) // five handled: five more
			}
			if len(backlog) > 0 {
				later(c)
			} else if ended {
				finish()
			}
		case *actors.End:
			end, ended = m, true
			if len(backlog) == 0 {
				finish()
			}
		}
	}
}
