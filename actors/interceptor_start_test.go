package actors_test

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/grpcactor/grpcactor/actors"
	"github.com/grpcactor/grpcactor/channel"
	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/status"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
)

// startUnary starts a unary call on ch and returns where its outcome
// arrives.
func startUnary(ch *channel.Channel, opts ...channel.CallOption) <-chan error {
	out := make(chan error, 1)
	channel.UnaryUnary[*testgrpc.SimpleRequest, *testgrpc.SimpleResponse](ch, mwSvc+"UnaryCall").
		Start(context.Background(), &testgrpc.SimpleRequest{ResponseSize: 3}, func(_ *testgrpc.SimpleResponse, _ *channel.Call, err error) { out <- err }, opts...)
	return out
}

// Calls started with Start (the calls made by message) go through a
// middleware actor by callbacks: proceed with changed metadata (the server
// sees it) and CallDone, reject, a silent actor past the answer timeout,
// a stopped actor.
func TestMiddlewareStartedCalls(t *testing.T) {
	sys := quietSystem()
	srv := startMWServer(t, nil)

	done := make(chan *actors.CallDone, 1)
	refresher := mwTokenRefresher()
	pid := mwSpawn(t, sys, func(c actor.Context) {
		switch m := c.Message().(type) {
		case *actors.Intercept:
			refresher(c)
		case *actors.CallDone:
			done <- m
		}
	})
	ch := mwChannel(t, sys, srv.addr, actors.Interceptor(pid))
	if err := <-startUnary(ch); err != nil {
		t.Fatalf("started call through the token refresher: %v", err)
	}
	if seen := srv.seen("UnaryCall"); len(seen) != 1 || seen[0] != "Bearer token-1" {
		t.Errorf("server saw authorization %q, want the token the middleware added", seen)
	}

	rejecter := mwSpawn(t, sys, func(c actor.Context) {
		switch c.Message().(type) {
		case *actors.Intercept:
			c.Respond(&actors.Reject{Status: status.New(codes.PermissionDenied, "no entry")})
		}
	})
	err := <-startUnary(mwChannel(t, sys, srv.addr, actors.Interceptor(rejecter)))
	if st, _ := status.FromError(err); st == nil || st.Code() != codes.PermissionDenied || st.Details() != "no entry" {
		t.Errorf("rejected started call: %v, want PERMISSION_DENIED no entry", err)
	}

	notify := mwSpawn(t, sys, func(c actor.Context) {
		switch m := c.Message().(type) {
		case *actors.Intercept:
			c.Respond(&actors.Proceed{NotifyDone: true})
		case *actors.CallDone:
			done <- m
		}
	})
	if err := <-startUnary(mwChannel(t, sys, srv.addr, actors.Interceptor(notify))); err != nil {
		t.Fatalf("started call with NotifyDone: %v", err)
	}
	if d := <-done; d.Code != codes.OK || d.Method != mwSvc+"UnaryCall" || d.Unanswered {
		t.Errorf("CallDone %+v, want OK for UnaryCall", d)
	}

	silent := mwSpawn(t, sys, func(c actor.Context) {})
	err = <-startUnary(mwChannel(t, sys, srv.addr, actors.Interceptor(silent, actors.AnswerTimeout(20*time.Millisecond))))
	wantMW(t, "silent actor, started call", err, codes.DeadlineExceeded, silent, "answer timeout")

	gone := mwSpawn(t, sys, func(c actor.Context) {})
	goneCh := mwChannel(t, sys, srv.addr, actors.Interceptor(gone))
	if err := sys.Root.StopFuture(gone).Wait(); err != nil {
		t.Fatal(err)
	}
	err = <-startUnary(goneCh)
	wantMW(t, "stopped actor, started call", err, codes.Unavailable, gone, "")
	if n, _ := srv.counts(); n != 2 {
		t.Errorf("server saw %d calls, want the 2 that proceeded", n)
	}
}

// 1,000 started calls waiting for a middleware actor that holds them add
// no goroutine; when it stops they all end UNAVAILABLE.
func TestMiddlewareStartedCallsHoldNoGoroutine(t *testing.T) {
	sys := quietSystem()
	srv := startMWServer(t, nil)
	const n = 1000
	held := make(chan struct{}, n)
	holder := mwSpawn(t, sys, func(c actor.Context) {
		if _, ok := c.Message().(*actors.Intercept); ok {
			held <- struct{}{}
		}
	})
	ch := mwChannel(t, sys, srv.addr, actors.Interceptor(holder, actors.AnswerTimeout(0)))
	runtime.GC()
	g0 := runtime.NumGoroutine()
	outs := make([]<-chan error, n)
	for i := range outs {
		outs[i] = startUnary(ch)
	}
	for range n {
		<-held
	}
	g1 := runtime.NumGoroutine()
	if g1-g0 >= 100 {
		t.Errorf("%d started calls waiting for the middleware actor added %d goroutines, want fewer than 100", n, g1-g0)
	}
	t.Logf("%d started calls waiting: %d goroutines added", n, g1-g0)
	if err := sys.Root.StopFuture(holder).Wait(); err != nil {
		t.Fatal(err)
	}
	for i, out := range outs {
		if err := <-out; status.Code(err) != codes.Unavailable {
			t.Fatalf("call %d after the holder stopped: %v, want UNAVAILABLE", i, err)
		}
	}
}
