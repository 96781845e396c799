package actors_test

import (
	"context"
	"errors"
	"runtime"
	"testing"

	"github.com/asynkron/protoactor-go/actor"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"

	"github.com/grpcactor/grpcactor/actors"
	"github.com/grpcactor/grpcactor/channel"
	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/futures"
	"github.com/grpcactor/grpcactor/status"
)

// Messages of the awaiting actor.
type (
	awaitThis struct {
		name string
		f    futures.Future[int]
	}
	awaitPing  struct{}
	awaitState struct{} // answered with the actor's log
)

// awaiter is an actor that awaits the futures it is sent and records, in
// state only its own mailbox touches (the race detector checks that), what
// each continuation saw.
func awaiter(results chan<- string) actor.ReceiveFunc {
	var log []string
	pings := 0
	return func(c actor.Context) {
		switch m := c.Message().(type) {
		case awaitThis:
			actors.Await(c, m.f, func(v int, err error) {
				// ctx.Message() is the message that started the wait.
				started, _ := c.Message().(awaitThis)
				entry := m.name + ":" + started.name
				switch {
				case err != nil:
					entry += ":" + status.Code(err).String()
				default:
					entry += ":" + string(rune('0'+v))
				}
				log = append(log, entry)
				results <- entry
			})
		case awaitPing:
			pings++
			c.Respond(pings)
		case awaitState:
			c.Respond(append([]string(nil), log...))
		}
	}
}

func TestAwait(t *testing.T) {
	sys := quietSystem()
	results := make(chan string, 16)
	pid := mwSpawn(t, sys, awaiter(results))

	pending := futures.New[int](sys)
	sys.Root.Send(pid, awaitThis{"pending", pending})
	// The actor goes on with other messages while the future is pending.
	for want := 1; want <= 3; want++ {
		v, err := sys.Root.RequestFuture(pid, awaitPing{}, mwBound).Result()
		if err != nil || v != want {
			t.Fatalf("ping %d while awaiting: %v, %v", want, v, err)
		}
	}
	select {
	case r := <-results:
		t.Fatalf("continuation ran before the future completed: %s", r)
	default:
	}
	pending.Complete(7, nil)
	if r := <-results; r != "pending:pending:7" {
		t.Errorf("continuation saw %q, want pending:pending:7", r)
	}

	// Done already, failed, cancelled, and completed elsewhere later.
	sys.Root.Send(pid, awaitThis{"done", futures.Completed(5, nil)})
	if r := <-results; r != "done:done:5" {
		t.Errorf("got %q", r)
	}
	sys.Root.Send(pid, awaitThis{"failed", futures.Completed(0, status.New(codes.NotFound, "x"))})
	if r := <-results; r != "failed:failed:NOT_FOUND" {
		t.Errorf("got %q", r)
	}
	c := futures.New[int](nil)
	sys.Root.Send(pid, awaitThis{"cancelled", c})
	if _, err := sys.Root.RequestFuture(pid, awaitPing{}, mwBound).Result(); err != nil {
		t.Fatal(err)
	}
	c.Cancel()
	if r := <-results; r != "cancelled:cancelled:CANCELLED" {
		t.Errorf("got %q", r)
	}
	v, err := sys.Root.RequestFuture(pid, awaitState{}, mwBound).Result()
	if err != nil || len(v.([]string)) != 4 {
		t.Errorf("actor's log %v, %v; want 4 entries", v, err)
	}
}

// TestAwaitNoGoroutines: a thousand pending awaits hold no goroutine.
func TestAwaitNoGoroutines(t *testing.T) {
	const n = 1000
	sys := quietSystem()
	results := make(chan string, n)
	pid := mwSpawn(t, sys, awaiter(results))
	base := runtime.NumGoroutine()
	ps := make([]*futures.Promise[int], n)
	for i := range ps {
		ps[i] = futures.New[int](sys)
		sys.Root.Send(pid, awaitThis{"p", ps[i]})
	}
	if _, err := sys.Root.RequestFuture(pid, awaitPing{}, mwBound).Result(); err != nil {
		t.Fatal(err)
	}
	if now := runtime.NumGoroutine(); now > base+20 {
		t.Errorf("%d goroutines with %d awaits pending (%d before), want about as many as before", now, n, base)
	}
	for _, p := range ps {
		p.Complete(1, nil)
	}
	for range n {
		if r := <-results; r != "p:p:1" {
			t.Fatalf("got %q", r)
		}
	}
}

// TestAwaitCall awaits a real call's future inside the actor.
func TestAwaitCall(t *testing.T) {
	sys := quietSystem()
	srv := startMWServer(t, nil)
	ch, err := channel.Insecure(srv.addr, channel.WithActorSystem(sys))
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	unary := channel.UnaryUnary[*testgrpc.SimpleRequest, *testgrpc.SimpleResponse](ch, mwSvc+"UnaryCall")
	got := make(chan error, 1)
	pid := mwSpawn(t, sys, func() actor.ReceiveFunc {
		size := 0 // actor state, set by the continuation
		return func(c actor.Context) {
			switch c.Message().(type) {
			case string:
				actors.Await(c, unary.Future(context.Background(), &testgrpc.SimpleRequest{ResponseSize: 5}), func(r *testgrpc.SimpleResponse, err error) {
					size = len(r.GetPayload().GetBody())
					if err == nil && size != 5 {
						err = errors.New("wrong size")
					}
					got <- err
				})
			case awaitPing:
				c.Respond(size)
			}
		}
	}())
	sys.Root.Send(pid, "go")
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	if v, err := sys.Root.RequestFuture(pid, awaitPing{}, mwBound).Result(); err != nil || v != 5 {
		t.Errorf("actor state after the continuation: %v, %v; want 5", v, err)
	}
}

func TestAwaitNilPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("Await(nil, ...) did not panic")
		}
	}()
	actors.Await[int](nil, futures.Completed(1, nil), func(int, error) {})
}
