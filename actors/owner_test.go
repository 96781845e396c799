package actors_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/grpcactor/grpcactor/actors"
	"github.com/grpcactor/grpcactor/channel"
)

// Many actors stop at once while their quick calls keep ending and being
// replaced: each one's held calls are all cancelled (the calls in
// progress are tracked per actor, and calls ending while their actor
// stops are not lost or cancelled twice), and the channel goes on.
func TestStoppedActorsCancelTheirCallsWhileOthersEnd(t *testing.T) {
	const actorsN, heldPer, quickPer = 20, 25, 4
	srv, addr := startTestServer(t)
	ch := newChannel(t, addr)
	unary := actors.Unary[*simpleReq, *simpleResp](ch, unaryCall)
	sys := quietSystem()
	pids := make([]*actor.PID, actorsN)
	for i := range pids {
		pids[i] = sys.Root.Spawn(actor.PropsFromFunc(func(ctx actor.Context) {
			switch m := ctx.Message().(type) {
			case *actor.Started:
				for range heldPer {
					unary.Send(ctx, &simpleReq{FillUsername: true})
				}
				for range quickPer {
					unary.Send(ctx, &simpleReq{})
				}
			case *actors.Reply[*simpleResp]:
				if m.Err == nil {
					unary.Send(ctx, &simpleReq{}) // the next quick call
				}
			}
		}))
	}
	for range actorsN * heldPer {
		<-srv.held
	}
	var wg sync.WaitGroup
	for _, pid := range pids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = sys.Root.StopFuture(pid).Wait()
		}()
	}
	wg.Wait()
	deadline := time.Now().Add(30 * time.Second) // a failure bound only
	for srv.cancelled.Load() < actorsN*heldPer {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d held calls of the stopped actors reached the server as cancelled", srv.cancelled.Load(), actorsN*heldPer)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, err := channel.UnaryUnary[*simpleReq, *simpleResp](ch, unaryCall).Call(context.Background(), &simpleReq{ResponseSize: 1}); err != nil {
		t.Fatalf("a call after the actors stopped: %v", err)
	}
}
