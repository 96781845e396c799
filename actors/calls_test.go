package actors_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/grpcactor/grpcactor/actors"
	"github.com/grpcactor/grpcactor/channel"
	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/internal/actortest"
	"github.com/grpcactor/grpcactor/status"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
)

type (
	simpleReq  = testgrpc.SimpleRequest
	simpleResp = testgrpc.SimpleResponse
)

// collector gathers what a test's actors report, for the test goroutine.
type collector struct {
	actortest.Errors
	wg sync.WaitGroup
}

func newChannel(t *testing.T, addr string) *channel.Channel {
	t.Helper()
	ch, err := channel.Insecure(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ch.Close() })
	return ch
}

// 100 actors make 100 unary calls each by message: every Reply arrives
// exactly once, at the actor that made the call, with its value. With
// mixed, a quarter of the calls is cancelled and a quarter times out
// (both held by the server until then): they end CANCELLED and
// DEADLINE_EXCEEDED.
func TestUnaryManyActors(t *testing.T) {
	for _, mixed := range []bool{false, true} {
		t.Run(fmt.Sprint("mixed=", mixed), func(t *testing.T) {
			const actorsN, perActor = 100, 100
			srv, addr := startTestServer(t)
			ch := newChannel(t, addr)
			unary := actors.Unary[*simpleReq, *simpleResp](ch, unaryCall)
			sys := quietSystem()
			var c collector
			c.wg.Add(actorsN * perActor)
			pids := make([]*actor.PID, actorsN)
			for i := range pids {
				want := map[*actors.Ref]codes.Code{}
				size := map[*actors.Ref]int{}
				pids[i] = sys.Root.Spawn(actor.PropsFromFunc(func(ctx actor.Context) {
					switch m := ctx.Message().(type) {
					case *actor.Started:
						for j := range perActor {
							n := i*perActor + j + 1
							switch {
							case mixed && j%4 == 0:
								ref := unary.Send(ctx, &simpleReq{FillUsername: true})
								want[ref] = codes.Canceled
								ref.Cancel()
							case mixed && j%4 == 1:
								ref := unary.Send(ctx, &simpleReq{FillUsername: true}, channel.Timeout(100*time.Millisecond))
								want[ref] = codes.DeadlineExceeded
							default:
								ref := unary.Send(ctx, &simpleReq{ResponseSize: int32(n)}, channel.Timeout(time.Hour)) // a deadline, never reached even on a loaded machine
								want[ref], size[ref] = codes.OK, n
							}
						}
					case *actors.Reply[*simpleResp]:
						defer c.wg.Done()
						code, ok := want[m.Ref]
						if !ok {
							c.Errorf("actor %d: a Reply for a call it did not make or a second one (%v)", i, m.Err)
							return
						}
						delete(want, m.Ref)
						if m.Code != code || status.Code(m.Err) != code {
							c.Errorf("actor %d: Reply code %v (err %v), want %v", i, m.Code, m.Err, code)
							return
						}
						if code == codes.OK {
							if got := len(m.Value.GetPayload().GetBody()); got != size[m.Ref] {
								c.Errorf("actor %d: response of %d bytes, want %d", i, got, size[m.Ref])
							}
						} else if m.Err == nil {
							c.Errorf("actor %d: code %v without Err", i, code)
						}
					}
				}))
			}
			c.wg.Wait()
			for _, pid := range pids {
				_ = sys.Root.StopFuture(pid).Wait()
			}
			c.Check(t)
			_ = srv
		})
	}
}

// An actor that stops has its calls cancelled.
func TestStoppedActorCancelsItsCalls(t *testing.T) {
	srv, addr := startTestServer(t)
	ch := newChannel(t, addr)
	unary := actors.Unary[*simpleReq, *simpleResp](ch, unaryCall)
	sys := quietSystem()
	const n = 10
	pid := sys.Root.Spawn(actor.PropsFromFunc(func(ctx actor.Context) {
		if _, ok := ctx.Message().(*actor.Started); ok {
			for range n {
				unary.Send(ctx, &simpleReq{FillUsername: true})
			}
		}
	}))
	for range n {
		<-srv.held
	}
	_ = sys.Root.StopFuture(pid).Wait()
	deadline := time.Now().Add(20 * time.Second)
	for srv.cancelled.Load() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d calls of the stopped actor reached the server as cancelled", srv.cancelled.Load(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// The root context (no Self) sends with ReplyTo; Demand and ReplyTo go
// in one list with the channel's options.
func TestReplyTo(t *testing.T) {
	_, addr := startTestServer(t)
	ch := newChannel(t, addr)
	sys := quietSystem()
	got := make(chan *actors.Reply[*simpleResp], 1)
	pid := sys.Root.Spawn(actor.PropsFromFunc(func(ctx actor.Context) {
		if m, ok := ctx.Message().(*actors.Reply[*simpleResp]); ok {
			got <- m
		}
	}))
	defer func() { _ = sys.Root.StopFuture(pid).Wait() }()
	ref := actors.Unary[*simpleReq, *simpleResp](ch, unaryCall).Send(sys.Root, &simpleReq{ResponseSize: 3}, actors.ReplyTo(pid), channel.Timeout(time.Minute), actors.Demand(5))
	r := <-got
	if r.Ref != ref || r.Err != nil || len(r.Value.GetPayload().GetBody()) != 3 {
		t.Fatalf("Reply %+v, want the call's, OK, 3 bytes", r)
	}
	defer func() {
		if recover() == nil {
			t.Error("Send from the root context without ReplyTo did not panic")
		}
	}()
	actors.Unary[*simpleReq, *simpleResp](ch, unaryCall).Send(sys.Root, &simpleReq{})
}
