package actorsremote_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/grpcactor/grpcactor/actors"
	"github.com/grpcactor/grpcactor/actors/actorspb"
	"github.com/grpcactor/grpcactor/actors/actorsremote"
	"github.com/grpcactor/grpcactor/channel"
	"github.com/grpcactor/grpcactor/codes"
	"google.golang.org/protobuf/types/known/durationpb"
)

// replyCatcher spawns, on n, an actor that runs start when it starts and
// forwards every *actors.Reply[*simpleResp] and *actors.End to the
// returned channel.
func replyCatcher(t *testing.T, n *node, start func(ctx actor.Context)) (*actor.PID, chan any) {
	t.Helper()
	out := make(chan any, 16)
	pid := n.sys.Root.Spawn(actor.PropsFromFunc(func(ctx actor.Context) {
		switch m := ctx.Message().(type) {
		case *actor.Started:
			start(ctx)
		case *actors.Reply[*simpleResp], *actors.End, *actorspb.UnaryResponse:
			out <- m
		}
	}))
	t.Cleanup(func() {
		if !n.dead.Load() {
			_ = n.sys.Root.StopFuture(pid).Wait()
		}
	})
	return pid, out
}

func wantCode(t *testing.T, what string, got, want codes.Code, details string, contains string) {
	t.Helper()
	if got != want || !strings.Contains(details, contains) {
		t.Errorf("%s ended %v %q, want %v with %q", what, got, details, want, contains)
	}
}

// A call's timeout travels with it: a held call sent as a bare
// UnaryRequest (no deadline of the caller's own) reaches the server with
// a deadline and ends DEADLINE_EXCEEDED from the gateway; the typed form
// does too.
func TestDeadlineTravels(t *testing.T) {
	s := newSetup(t)
	unary := actorsremote.Unary[*simpleReq, *simpleResp](s.remoteCh, unaryCall)
	_, out := replyCatcher(t, s.cl, func(ctx actor.Context) {
		unary.Send(ctx, &simpleReq{}) // connects everything first
		ctx.Request(s.gateway, &actorspb.UnaryRequest{Id: 1, Method: unaryCall, Request: mustMarshal(&simpleReq{FillUsername: true}), Timeout: durationpb.New(2 * time.Second)})
		unary.Send(ctx, &simpleReq{FillUsername: true}, channel.Timeout(2*time.Second))
	})
	for range 3 {
		switch m := (<-out).(type) {
		case *actors.Reply[*simpleResp]:
			if m.Err != nil {
				wantCode(t, "typed call with a 2s timeout", m.Code, codes.DeadlineExceeded, m.Details, "")
			}
		case *actorspb.UnaryResponse:
			wantCode(t, "UnaryRequest with a 2s timeout", codes.Code(m.GetCode()), codes.DeadlineExceeded, m.GetDetails(), "")
		}
	}
	// Both held calls reached the server with a deadline (unless the
	// machine was so slow that one expired on its way).
	for range 2 {
		select {
		case hasDeadline := <-s.srv.held:
			if !hasDeadline {
				t.Error("the server's call had no deadline")
			}
			<-s.srv.ended
		case <-time.After(10 * time.Second):
			t.Log("a held call did not reach the server before its deadline")
		}
	}
}

// Ref.Cancel on the caller node ends the call CANCELLED at once and
// reaches the gRPC server as a cancellation (RST_STREAM(CANCEL): its
// context ends Canceled, not DeadlineExceeded).
func TestCancelReachesServer(t *testing.T) {
	s := newSetup(t)
	unary := actorsremote.Unary[*simpleReq, *simpleResp](s.remoteCh, unaryCall)
	refs := make(chan *actors.Ref, 1)
	_, out := replyCatcher(t, s.cl, func(ctx actor.Context) {
		refs <- unary.Send(ctx, &simpleReq{FillUsername: true}, channel.Timeout(time.Minute))
	})
	ref := <-refs
	<-s.srv.held
	ref.Cancel()
	m := (<-out).(*actors.Reply[*simpleResp])
	wantCode(t, "cancelled call", m.Code, codes.Canceled, m.Details, "cancelled")
	if err := <-s.srv.ended; err != context.Canceled {
		t.Errorf("the server's context ended with %v, want %v", err, context.Canceled)
	}
}

// When the calling actor stops, its remote calls are cancelled on the
// server, as local ones are.
func TestCallerActorStopCancels(t *testing.T) {
	s := newSetup(t)
	stream := actorsremote.ServerStream[*outReq, *outResp](s.remoteCh, streamingOutputCall)
	unary := actorsremote.Unary[*simpleReq, *simpleResp](s.remoteCh, unaryCall)
	pid := s.cl.sys.Root.Spawn(actor.PropsFromFunc(func(ctx actor.Context) {
		if _, ok := ctx.Message().(*actor.Started); ok {
			unary.Send(ctx, &simpleReq{FillUsername: true})
			stream.Send(ctx, bulk(1000, 1000), actors.Demand(1))
		}
	}))
	<-s.srv.held
	_ = s.cl.sys.Root.StopFuture(pid).Wait()
	if err := <-s.srv.ended; err != context.Canceled {
		t.Errorf("the server's context ended with %v, want %v", err, context.Canceled)
	}
}

// The gateway refuses a method its allow-list does not name,
// PERMISSION_DENIED naming the method, for every call kind; allowed
// methods go through.
func TestAllowListRefuses(t *testing.T) {
	s := newSetup(t, actorsremote.Allow(unaryCall, "/grpc.testing.OtherService/*"))
	allowed := actorsremote.Unary[*simpleReq, *simpleResp](s.remoteCh, unaryCall)
	refused := actorsremote.Unary[*simpleReq, *simpleResp](s.remoteCh, emptyCall)
	refusedStream := actorsremote.ServerStream[*outReq, *outResp](s.remoteCh, streamingOutputCall)
	refusedBidi := actorsremote.BidiStream[*outReq, *outResp](s.remoteCh, fullDuplexCall)
	_, out := replyCatcher(t, s.cl, func(ctx actor.Context) {
		allowed.Send(ctx, &simpleReq{})
	})
	if m := (<-out).(*actors.Reply[*simpleResp]); m.Err != nil {
		t.Errorf("allowed method: %v", m.Err)
	}
	for _, c := range []struct {
		method string
		start  func(ctx actor.Context)
	}{
		{emptyCall, func(ctx actor.Context) { refused.Send(ctx, &simpleReq{}) }},
		{streamingOutputCall, func(ctx actor.Context) { refusedStream.Send(ctx, &outReq{}) }},
		{fullDuplexCall, func(ctx actor.Context) { refusedBidi.Open(ctx) }},
	} {
		_, out := replyCatcher(t, s.cl, c.start)
		switch m := (<-out).(type) {
		case *actors.Reply[*simpleResp]:
			wantCode(t, c.method, m.Code, codes.PermissionDenied, m.Details, c.method)
		case *actors.End:
			wantCode(t, c.method, m.Code, codes.PermissionDenied, m.Details, c.method)
		}
	}
}

// A caller node that dies (its remote layer and actor system stop) has
// its calls cancelled on the gateway node: the server sees the held call
// cancelled.
func TestCallerNodeLostCancelsCalls(t *testing.T) {
	cl := takeNode(t)
	s := newSetupOn(t, nil, cl)
	unary := actorsremote.Unary[*simpleReq, *simpleResp](s.remoteCh, unaryCall)
	// A first call connects the gateway node to the caller node (a node
	// lost while protoactor is still connecting to it is reported only
	// after its connection attempts, about 10 s).
	_, out := replyCatcher(t, cl, func(ctx actor.Context) {
		unary.Send(ctx, &simpleReq{})
		unary.Send(ctx, &simpleReq{FillUsername: true})
	})
	if m := (<-out).(*actors.Reply[*simpleResp]); m.Err != nil {
		t.Fatal(m.Err)
	}
	<-s.srv.held
	cl.kill()
	if err := <-s.srv.ended; err != context.Canceled {
		t.Errorf("the server's context ended with %v, want %v", err, context.Canceled)
	}
}

// A gateway node that dies ends the calls in progress on the caller node
// UNAVAILABLE, naming the gateway; a gateway stopped on a live node does
// too.
func TestGatewayLostEndsCallsUnavailable(t *testing.T) {
	for _, kill := range []bool{true, false} {
		gw := pool.shared[0]
		if kill {
			gw = takeNode(t)
		}
		s := newSetupOn(t, gw, nil)
		unary := actorsremote.Unary[*simpleReq, *simpleResp](s.remoteCh, unaryCall)
		stream := actorsremote.ServerStream[*outReq, *outResp](s.remoteCh, streamingOutputCall)
		_, out := replyCatcher(t, s.cl, func(ctx actor.Context) {
			unary.Send(ctx, &simpleReq{FillUsername: true})
			stream.Send(ctx, bulk(1000, 1000), actors.Demand(1))
		})
		<-s.srv.held
		if kill {
			gw.kill()
		} else {
			_ = gw.sys.Root.StopFuture(s.gateway).Wait()
		}
		for range 2 {
			switch m := (<-out).(type) {
			case *actors.Reply[*simpleResp]:
				wantCode(t, "unary call", m.Code, codes.Unavailable, m.Details, "gateway")
			case *actors.End:
				wantCode(t, "server stream", m.Code, codes.Unavailable, m.Details, "gateway")
			}
		}
	}
}
