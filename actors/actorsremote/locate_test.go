package actorsremote_test

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/grpcactor/grpcactor/actors"
	"github.com/grpcactor/grpcactor/actors/actorsremote"
	"github.com/grpcactor/grpcactor/channel"
	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/status"
)

// A handle made by Locate: calls made while locate runs wait for it (one
// cancelled meanwhile ends CANCELLED at once and never reaches the
// gateway); when the gateway is lost, the calls in progress end
// UNAVAILABLE and the next call runs locate again, which finds the new
// gateway.
func TestLocate(t *testing.T) {
	s := newSetup(t)
	gate := make(chan struct{})
	var located atomic.Int32
	pids := make(chan *actor.PID, 2)
	pids <- s.gateway
	ch := actorsremote.Locate(s.cl.sys, "test gateway", func() (*actor.PID, error) {
		located.Add(1)
		<-gate
		return <-pids, nil
	})
	t.Cleanup(ch.Close)
	unary := actorsremote.Unary[*simpleReq, *simpleResp](ch, unaryCall)
	refs := make(chan *actors.Ref, 4)
	_, out := replyCatcher(t, s.cl, func(ctx actor.Context) {
		refs <- unary.Send(ctx, &simpleReq{ResponseSize: 1}, channel.Timeout(time.Minute))
		refs <- unary.Send(ctx, &simpleReq{FillUsername: true}, channel.Timeout(time.Minute))
	})
	<-refs
	cancelled := <-refs
	cancelled.Cancel()
	r := (<-out).(*actors.Reply[*simpleResp])
	wantCode(t, "call cancelled while locating", r.Code, codes.Canceled, r.Details, "cancelled")
	close(gate)
	r = (<-out).(*actors.Reply[*simpleResp])
	wantCode(t, "call after locating", r.Code, codes.OK, r.Details, "")
	select {
	case <-s.srv.held:
		t.Error("the call cancelled while locating reached the server")
	default:
	}

	// A held call, then the gateway stops: UNAVAILABLE; the next call
	// locates the gateway again and reaches a new one.
	_, out2 := replyCatcher(t, s.cl, func(ctx actor.Context) {
		unary.Send(ctx, &simpleReq{FillUsername: true}, channel.Timeout(time.Minute))
	})
	<-s.srv.held
	_ = s.gw.sys.Root.StopFuture(s.gateway).Wait()
	<-s.srv.ended
	r = (<-out2).(*actors.Reply[*simpleResp])
	// From the gateway as it stops, or from the handle when it learns.
	wantCode(t, "call in progress when the gateway stopped", r.Code, codes.Unavailable, r.Details, "")
	gw2, err := actorsremote.Serve(s.gw.sys, channelTo(t, s.srvAddr), fmt.Sprintf("grpc-%d", gateways.Add(1)), actorsremote.Allow("/grpc.testing.TestService/*"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.gw.sys.Root.StopFuture(gw2).Wait() })
	pids <- gw2
	// A call made before the handle learns of the loss (protoactor's
	// Terminated) goes to the old gateway and ends UNAVAILABLE too; the
	// tries are bounded.
	for try := 1; ; try++ {
		_, out3 := replyCatcher(t, s.cl, func(ctx actor.Context) {
			unary.Send(ctx, &simpleReq{ResponseSize: 1}, channel.Timeout(time.Minute))
		})
		r = (<-out3).(*actors.Reply[*simpleResp])
		if r.Code == codes.OK || try == 5 {
			break
		}
		wantCode(t, "call sent as the gateway was lost", r.Code, codes.Unavailable, r.Details, "")
	}
	wantCode(t, "call after the gateway was lost", r.Code, codes.OK, r.Details, "")
	if n := located.Load(); n != 2 {
		t.Errorf("locate ran %d times, want 2", n)
	}
}

// A locate that fails ends the calls waiting for it with its status, and
// the next call tries again.
func TestLocateFails(t *testing.T) {
	var tries atomic.Int32
	ch := actorsremote.Locate(pool.shared[1].sys, "nowhere", func() (*actor.PID, error) {
		if tries.Add(1) == 1 {
			return nil, status.New(codes.NotFound, "no such gateway")
		}
		return nil, fmt.Errorf("lookup broke")
	})
	t.Cleanup(ch.Close)
	unary := actorsremote.Unary[*simpleReq, *simpleResp](ch, unaryCall)
	for _, want := range []struct {
		code codes.Code
		with string
	}{{codes.NotFound, "no such gateway"}, {codes.Unavailable, "gateway nowhere not found: lookup broke"}} {
		_, out := replyCatcher(t, pool.shared[1], func(ctx actor.Context) {
			unary.Send(ctx, &simpleReq{})
		})
		r := (<-out).(*actors.Reply[*simpleResp])
		wantCode(t, "call whose locate failed", r.Code, want.code, r.Details, want.with)
	}
}

func channelTo(t *testing.T, addr string) *channel.Channel {
	t.Helper()
	ch, err := channel.Insecure(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ch.Close() })
	return ch
}
