package system_test

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"runtime"
	"slices"
	"testing"

	"github.com/grpcactor/grpcactor/channel"
	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/futures"
	"github.com/grpcactor/grpcactor/interceptors"
)

// A Future's Cancel on a channel whose interceptors block (not
// StartInterceptors): decided as grpcio's cancel() is, refused once the
// call has ended on its own, whether or not the chain has returned.
func TestInterceptFutureCancel(t *testing.T) {
	ps := startProbeServer(t)
	base := dial(t, ps.Addr())
	okReq := &simpleReq{ResponseSize: 10}

	// afterCall makes the call, then reports ended and waits for release
	// before it returns what the call returned.
	afterCall := func(ended, release chan struct{}) (interceptors.UnaryUnaryFunc, interceptors.StreamUnaryFunc) {
		uu := func(ctx context.Context, d *interceptors.ClientCallDetails, req any, next interceptors.UnaryInvoker) (any, interceptors.Call, error) {
			resp, call, err := next(ctx, d, req)
			ended <- struct{}{}
			<-release
			return resp, call, err
		}
		su := func(ctx context.Context, d *interceptors.ClientCallDetails, reqs iter.Seq[any], next interceptors.StreamUnaryInvoker) (any, interceptors.Call, error) {
			resp, call, err := next(ctx, d, reqs)
			ended <- struct{}{}
			<-release
			return resp, call, err
		}
		return uu, su
	}

	t.Run("RefusedOnceTheCallHasEnded", func(t *testing.T) {
		ended, release := make(chan struct{}, 1), make(chan struct{})
		uu, su := afterCall(ended, release)
		ich := intercept(t, base, uu, su)
		uf := channel.UnaryUnary[*simpleReq, *simpleResp](ich, mUnaryCall).Future(tctx(t), okReq)
		recvWithin(t, "the unary call's end", ended)
		if uf.Cancel() {
			t.Fatal("unary: Cancel returned true after the chain's call had ended OK")
		}
		sf := channel.StreamUnary[*inReq, *inResp](ich, mStreamingInput).Future(tctx(t), slices.Values([]*inReq{{Payload: zeros(7)}}))
		recvWithin(t, "the client-streaming call's end", ended)
		if sf.Cancel() {
			t.Fatal("client-streaming: Cancel returned true after the chain's call had ended OK")
		}
		close(release)
		resp, err := uf.Result(tctx(t))
		if err != nil || uf.Cancelled() {
			t.Fatalf("unary: Result after a refused Cancel: %v (cancelled %v), want the response", err, uf.Cancelled())
		}
		checkPayload(t, "unary", resp.GetPayload(), 10)
		in, err := sf.Result(tctx(t))
		if err != nil || sf.Cancelled() || in.GetAggregatedPayloadSize() != 7 {
			t.Fatalf("client-streaming: Result after a refused Cancel: %v, %v (cancelled %v), want 7 bytes aggregated", in, err, sf.Cancelled())
		}
	})

	t.Run("AcceptedBeforeTheFirstCall", func(t *testing.T) {
		entered := make(chan struct{}, 1)
		wait := interceptors.UnaryUnaryFunc(func(ctx context.Context, d *interceptors.ClientCallDetails, req any, next interceptors.UnaryInvoker) (any, interceptors.Call, error) {
			entered <- struct{}{}
			<-ctx.Done()
			return next(ctx, d, req) // fails at once: the context is cancelled
		})
		f := channel.UnaryUnary[*simpleReq, *simpleResp](intercept(t, base, wait), mUnaryCall).Future(tctx(t), okReq)
		recvWithin(t, "the interceptor's start", entered)
		if !f.Cancel() {
			t.Fatal("Cancel returned false while the interceptor waited")
		}
		if _, err := f.Result(tctx(t)); !errors.Is(err, futures.ErrCancelled) {
			t.Fatalf("Result after Cancel: %v, want futures.ErrCancelled", err)
		}
		if c := f.Call().Code(); c != codes.Canceled {
			t.Fatalf("the chain's call after Cancel: %v, want CANCELLED", c)
		}
	})

	t.Run("AcceptedWhileTheCallRuns", func(t *testing.T) {
		pass := interceptors.UnaryUnaryFunc(func(ctx context.Context, d *interceptors.ClientCallDetails, req any, next interceptors.UnaryInvoker) (any, interceptors.Call, error) {
			return next(ctx, d, req)
		})
		f := channel.UnaryUnary[*simpleReq, *simpleResp](intercept(t, base, pass), mUnaryCall).Future(tctx(t), okReq, held())
		recvWithin(t, "the held call at the server", ps.arrived)
		if !f.Cancel() {
			t.Fatal("Cancel returned false for a call the server holds")
		}
		if _, err := f.Result(tctx(t)); !errors.Is(err, futures.ErrCancelled) {
			t.Fatalf("Result after Cancel: %v, want futures.ErrCancelled", err)
		}
		call := f.Call()
		waitFor(t, "the chain's call end", call.Done(), localBound)
		if c := call.Code(); c != codes.Canceled {
			t.Fatalf("the chain's call after Cancel: %v, want CANCELLED", c)
		}
	})

	// Cancel while the response arrives and the chain returns: whatever
	// Cancel returns, the future and the chain's call agree.
	t.Run("RacesResponse", func(t *testing.T) {
		pass := interceptors.UnaryUnaryFunc(func(ctx context.Context, d *interceptors.ClientCallDetails, req any, next interceptors.UnaryInvoker) (any, interceptors.Call, error) {
			return next(ctx, d, req)
		})
		unary := channel.UnaryUnary[*simpleReq, *simpleResp](intercept(t, base, pass), mUnaryCall)
		for i := range 1000 {
			f := unary.Future(tctx(t), &simpleReq{})
			for range (i % 40) * 25 { // from at once to past the response
				runtime.Gosched()
			}
			cancelled := f.Cancel()
			_, err := f.Result(tctx(t))
			call := f.Call()
			waitFor(t, fmt.Sprintf("iteration %d: call end", i), call.Done(), localBound)
			code := call.Code()
			switch {
			case cancelled && (!errors.Is(err, futures.ErrCancelled) || code != codes.Canceled):
				t.Fatalf("iteration %d: Cancel returned true; Result %v, the chain's call %v; want futures.ErrCancelled and CANCELLED", i, err, code)
			case !cancelled && (err != nil || code != codes.OK || f.Cancelled()):
				t.Fatalf("iteration %d: Cancel returned false; Result %v, the chain's call %v, Cancelled %v; want the response", i, err, code, f.Cancelled())
			}
		}
	})
}
