package channel_test

import (
	"context"
	"iter"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/grpcactor/grpcactor/channel"
	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/interceptors"
	"github.com/grpcactor/grpcactor/internal/leakcheck"
	"github.com/grpcactor/grpcactor/metadata"
	"github.com/grpcactor/grpcactor/status"
	"github.com/grpcactor/grpcactor/system_test/peers"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
)

// gate is an interceptor of every kind, blocking and StartInterceptor: it
// adds metadata, and counts the ends its hook sees. answer decides how a
// started call is answered (nil: proceed at once).
type gate struct {
	passThrough
	answer func(h *channel.Handoff, proceed func())
	ends   atomic.Int64
	errs   chan error // each end's error, if set
}

func (g *gate) InterceptStart(ctx context.Context, h *channel.Handoff) {
	proceed := func() {
		d := h.Details()
		d.Metadata = metadata.Join(d.Metadata, metadata.Pairs("x-grpc-test-echo-initial", "from-"+h.Kind().String()))
		h.Proceed(d, func(err error) {
			g.ends.Add(1)
			if g.errs != nil {
				g.errs <- err
			}
		})
	}
	if g.answer == nil {
		proceed()
		return
	}
	g.answer(h, proceed)
}

// passThrough is a blocking interceptor of every kind that passes every
// call on.
type passThrough struct{}

func (passThrough) InterceptUnaryUnary(ctx context.Context, d *interceptors.ClientCallDetails, req any, next interceptors.UnaryInvoker) (any, interceptors.Call, error) {
	return next(ctx, d, req)
}
func (passThrough) InterceptUnaryStream(ctx context.Context, d *interceptors.ClientCallDetails, req any, next interceptors.UnaryStreamInvoker) (interceptors.ClientStream, error) {
	return next(ctx, d, req)
}
func (passThrough) InterceptStreamUnary(ctx context.Context, d *interceptors.ClientCallDetails, reqs iter.Seq[any], next interceptors.StreamUnaryInvoker) (any, interceptors.Call, error) {
	return next(ctx, d, reqs)
}
func (passThrough) InterceptStreamStream(ctx context.Context, d *interceptors.ClientCallDetails, reqs iter.Seq[any], next interceptors.StreamStreamInvoker) (interceptors.ClientStream, error) {
	return next(ctx, d, reqs)
}

// 1,000 started calls on an intercepted channel whose interceptor is a
// StartInterceptor, in flight against a server that holds them, add no
// goroutine per call: the count stays flat however many are in flight.
func TestStartInterceptedHoldsNoGoroutine(t *testing.T) {
	const calls = 1000
	srv := peers.StartHeld(t)
	base, err := channel.Insecure(srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer base.Close()
	g := &gate{}
	ch, err := channel.Intercept(base, g)
	if err != nil {
		t.Fatal(err)
	}
	uu := channel.UnaryUnary[*testgrpc.SimpleRequest, *testgrpc.SimpleResponse](ch, unaryMethod)

	// Connect, and let the runtime start what it keeps running.
	srv.Release()
	if _, err := uu.Call(context.Background(), &testgrpc.SimpleRequest{}); err != nil {
		t.Fatal(err)
	}
	srv.Hold()
	before := runtime.NumGoroutine()

	var wg sync.WaitGroup
	var failed atomic.Int64
	wg.Add(calls)
	for range calls {
		uu.Start(context.Background(), &testgrpc.SimpleRequest{}, func(_ *testgrpc.SimpleResponse, c *channel.Call, err error) {
			if err != nil || c.Method() != unaryMethod {
				failed.Add(1)
			}
			wg.Done()
		}, channel.Timeout(time.Minute))
	}
	srv.WaitCalls(calls + 1)
	during := leakcheck.SettledGoroutines(before+100, 10*time.Second)
	if during-before >= 100 {
		t.Errorf("%d started intercepted calls in flight: %d goroutines, %d before (want fewer than 100 more)", calls, during, before)
	}
	t.Logf("%d started intercepted calls in flight: %d goroutines (%d before)", calls, during, before)
	srv.Release()
	wg.Wait()
	if n := failed.Load(); n > 0 {
		t.Fatalf("%d of %d calls failed", n, calls)
	}
	if n := g.ends.Load(); n != calls {
		t.Fatalf("the interceptor's end hook ran %d times, want %d", n, calls)
	}
}

const unaryMethod = "/grpc.testing.TestService/UnaryCall"

// A StartInterceptor's answer, on every kind of started call: its
// metadata reaches the server, its hook sees the end, a rejection, a
// panic, a cancel or a deadline while it has not answered end the call
// with the right status and a later answer is ignored.
func TestStartInterceptorHandoff(t *testing.T) {
	addr := peers.StartGoInterop(t)
	base, err := channel.Insecure(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer base.Close()
	ctx := context.Background()

	t.Run("every kind proceeds, with its metadata and end hook", func(t *testing.T) {
		g := &gate{errs: make(chan error, 4)}
		ch, err := channel.Intercept(base, g)
		if err != nil {
			t.Fatal(err)
		}
		type end struct {
			err error
			md  metadata.MD
		}
		out := make(chan end, 4)
		onEnd := func(c *channel.Call, err error) { out <- end{err, c.InitialMetadata()} }
		channel.UnaryUnary[*testgrpc.SimpleRequest, *testgrpc.SimpleResponse](ch, svc+"UnaryCall").
			Start(ctx, &testgrpc.SimpleRequest{ResponseSize: 3}, func(_ *testgrpc.SimpleResponse, c *channel.Call, err error) { onEnd(c, err) })
		channel.UnaryStream[*testgrpc.StreamingOutputCallRequest, *testgrpc.StreamingOutputCallResponse](ch, svc+"StreamingOutputCall").
			Start(ctx, &testgrpc.StreamingOutputCallRequest{ResponseParameters: []*testgrpc.ResponseParameters{{Size: 1}, {Size: 2}}},
				channel.StreamHandler[*testgrpc.StreamingOutputCallResponse]{OnMessage: func(*testgrpc.StreamingOutputCallResponse) {}, OnEnd: onEnd})
		su := channel.StreamUnary[*testgrpc.StreamingInputCallRequest, *testgrpc.StreamingInputCallResponse](ch, svc+"StreamingInputCall").
			Start(ctx, channel.StreamHandler[*testgrpc.StreamingInputCallResponse]{OnMessage: func(*testgrpc.StreamingInputCallResponse) {}, OnEnd: onEnd})
		su.CloseSend() // at once, before any credit
		ss := channel.StreamStream[*testgrpc.StreamingOutputCallRequest, *testgrpc.StreamingOutputCallResponse](ch, svc+"FullDuplexCall").
			Start(ctx, channel.StreamHandler[*testgrpc.StreamingOutputCallResponse]{OnMessage: func(*testgrpc.StreamingOutputCallResponse) {}, OnEnd: onEnd})
		ss.CloseSend()
		seen := map[string]bool{}
		for range 4 {
			e := <-out
			if e.err != nil {
				t.Fatalf("a started call failed: %v", e.err)
			}
			seen[strings.Join(e.md.Get("x-grpc-test-echo-initial"), ",")] = true
			if err := <-g.errs; err != nil {
				t.Fatalf("the end hook saw %v, want nil", err)
			}
		}
		// The interop server echoes the metadata on UnaryCall and
		// FullDuplexCall only.
		for _, k := range []string{"UnaryUnary", "StreamStream"} {
			if !seen["from-"+k] {
				t.Errorf("the server never echoed the metadata added for %s (saw %v)", k, seen)
			}
		}
	})

	unary := func(t *testing.T, g *gate, opts ...channel.CallOption) (*channel.Call, chan error) {
		ch, err := channel.Intercept(base, g)
		if err != nil {
			t.Fatal(err)
		}
		out := make(chan error, 1)
		c := channel.UnaryUnary[*testgrpc.SimpleRequest, *testgrpc.SimpleResponse](ch, svc+"UnaryCall").
			Start(ctx, &testgrpc.SimpleRequest{}, func(_ *testgrpc.SimpleResponse, _ *channel.Call, err error) { out <- err }, opts...)
		return c, out
	}

	t.Run("proceed later from another goroutine", func(t *testing.T) {
		_, out := unary(t, &gate{answer: func(h *channel.Handoff, proceed func()) { time.AfterFunc(time.Millisecond, proceed) }})
		if err := <-out; err != nil {
			t.Fatal(err)
		}
	})
	t.Run("reject", func(t *testing.T) {
		c, out := unary(t, &gate{answer: func(h *channel.Handoff, _ func()) {
			h.Reject(status.New(codes.PermissionDenied, "not you"))
		}})
		if err := <-out; status.Code(err) != codes.PermissionDenied || c.Code() != codes.PermissionDenied || c.Details() != "not you" {
			t.Fatalf("rejected call: %v (%v %q), want PERMISSION_DENIED \"not you\"", err, c.Code(), c.Details())
		}
	})
	t.Run("panic", func(t *testing.T) {
		_, out := unary(t, &gate{answer: func(*channel.Handoff, func()) { panic("boom") }})
		if err := <-out; status.Code(err) != codes.Internal || !strings.Contains(err.Error(), "boom") {
			t.Fatalf("panicking interceptor: %v, want INTERNAL naming the panic", err)
		}
	})
	t.Run("cancel while held", func(t *testing.T) {
		held := make(chan func(), 1)
		g := &gate{answer: func(_ *channel.Handoff, proceed func()) { held <- proceed }, errs: make(chan error, 1)}
		c, out := unary(t, g)
		proceed := <-held
		if rem, ok := c.TimeRemaining(); ok {
			t.Fatalf("TimeRemaining %v on a call without a deadline", rem)
		}
		if !c.Cancel() {
			t.Fatal("Cancel of a held call: false")
		}
		if err := <-out; status.Code(err) != codes.Canceled || c.IsActive() {
			t.Fatalf("cancelled held call: %v, want CANCELLED", err)
		}
		proceed() // too late: ignored, its hook told of the end
		if err := <-g.errs; status.Code(err) != codes.Canceled {
			t.Fatalf("the late proceeder's hook saw %v, want CANCELLED", err)
		}
		if c.Cancel() {
			t.Fatal("a second Cancel: true")
		}
	})
	t.Run("deadline while held", func(t *testing.T) {
		g := &gate{answer: func(*channel.Handoff, func()) {}}
		_, out := unary(t, g, channel.Timeout(time.Millisecond))
		if err := <-out; status.Code(err) != codes.DeadlineExceeded {
			t.Fatalf("held past its timeout: %v, want DEADLINE_EXCEEDED", err)
		}
	})
	t.Run("context ends while held", func(t *testing.T) {
		ch, err := channel.Intercept(base, &gate{answer: func(*channel.Handoff, func()) {}})
		if err != nil {
			t.Fatal(err)
		}
		cctx, cancel := context.WithCancel(ctx)
		out := make(chan error, 1)
		channel.StreamStream[*testgrpc.StreamingOutputCallRequest, *testgrpc.StreamingOutputCallResponse](ch, svc+"FullDuplexCall").
			Start(cctx, channel.StreamHandler[*testgrpc.StreamingOutputCallResponse]{OnEnd: func(_ *channel.Call, err error) { out <- err }})
		cancel()
		if err := <-out; status.Code(err) != codes.Canceled {
			t.Fatalf("context cancelled while held: %v, want CANCELLED", err)
		}
	})
	t.Run("a blocking interceptor beside it: the chain runs as before", func(t *testing.T) {
		seen := make(chan string, 1)
		ch, err := channel.Intercept(base, &gate{}, passAll{seen})
		if err != nil {
			t.Fatal(err)
		}
		out := make(chan error, 1)
		channel.UnaryUnary[*testgrpc.SimpleRequest, *testgrpc.SimpleResponse](ch, svc+"UnaryCall").
			Start(ctx, &testgrpc.SimpleRequest{}, func(_ *testgrpc.SimpleResponse, _ *channel.Call, err error) { out <- err })
		if err := <-out; err != nil || <-seen != "uu" {
			t.Fatalf("mixed chain: %v", err)
		}
	})
}

// Start with a nil done callback runs the call; the returned Call tells
// its outcome, also when the call cannot start.
func TestStartNilDone(t *testing.T) {
	addr := peers.StartGoInterop(t)
	ch, err := channel.Insecure(addr)
	if err != nil {
		t.Fatal(err)
	}
	icd, err := channel.Intercept(ch, passAll{make(chan string, 4)})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []*channel.Channel{ch, icd} {
		call := channel.UnaryUnary[*testgrpc.SimpleRequest, *testgrpc.SimpleResponse](c, svc+"UnaryCall").
			Start(context.Background(), &testgrpc.SimpleRequest{}, nil)
		<-call.Done()
		if err := call.Err(); err != nil {
			t.Fatalf("nil done: %v", err)
		}
	}
	ch.Close()
	for _, c := range []*channel.Channel{ch, icd} {
		call := channel.UnaryUnary[*testgrpc.SimpleRequest, *testgrpc.SimpleResponse](c, svc+"UnaryCall").
			Start(context.Background(), &testgrpc.SimpleRequest{}, nil)
		<-call.Done()
		if call.Code() == codes.OK {
			t.Fatal("nil done on a closed channel: OK, want an error")
		}
	}
}
