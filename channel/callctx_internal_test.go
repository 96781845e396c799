package channel

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/status"
)

// testCallCtx is a call state with its context over parent, as
// newCallState makes them.
func testCallCtx(parent context.Context) (*callState, context.Context) {
	cs := &callState{}
	cs.parent = parent
	return cs, cs.ctx()
}

// finishCtx ends the call's context as finish does (release, then done).
func finishCtx(cs *callState) {
	cs.endCtx(nil)
	cs.closeDone()
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

type ctxKey struct{}

func TestCallCtx(t *testing.T) {
	closed := status.New(codes.Unavailable, "channel closed")
	deadline := status.New(codes.DeadlineExceeded, "deadline exceeded")
	tests := []struct {
		name        string
		cancellable bool          // the caller's context can end
		callerEnds  bool          // and it ends, with cause deadline
		cause       *status.Error // the call is cancelled with it
		doneFirst   bool          // Done is asked for before the end
		wantErr     error         // errors.Is of Err after the end
		wantSt      *status.Error // status.FromContext after the end, if not only a code
		wantCode    codes.Code
	}{
		{name: "never ends, call cancelled", cause: closed, wantErr: context.Canceled, wantSt: closed},
		{name: "never ends, own deadline", cause: deadline, wantErr: context.DeadlineExceeded, wantSt: deadline},
		{name: "never ends, call finished", wantErr: context.Canceled, wantCode: codes.Canceled},
		{name: "cancellable, call cancelled, Done first", cancellable: true, cause: closed, doneFirst: true, wantErr: context.Canceled, wantSt: closed},
		{name: "cancellable, call cancelled, Done after", cancellable: true, cause: closed, wantErr: context.Canceled, wantSt: closed},
		{name: "cancellable, call finished, Done first", cancellable: true, doneFirst: true, wantErr: context.Canceled, wantCode: codes.Canceled},
		{name: "cancellable, call finished, Done after", cancellable: true, wantErr: context.Canceled, wantCode: codes.Canceled},
		{name: "caller's ends, Done first", cancellable: true, callerEnds: true, doneFirst: true, wantErr: context.Canceled, wantSt: deadline},
		{name: "caller's ends, Done after", cancellable: true, callerEnds: true, wantErr: context.Canceled, wantSt: deadline},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parent := context.WithValue(context.Background(), ctxKey{}, "v")
			var cancelParent context.CancelCauseFunc
			if tt.cancellable {
				parent, cancelParent = context.WithCancelCause(parent)
				defer cancelParent(nil)
			}
			cs, ctx := testCallCtx(parent)
			if ctx.Value(ctxKey{}) != "v" {
				t.Errorf("Value = %v, want the caller's value", ctx.Value(ctxKey{}))
			}
			var done <-chan struct{}
			if tt.doneFirst {
				done = ctx.Done()
				if done == nil || isClosed(done) {
					t.Fatalf("Done before the end is nil or closed")
				}
			}
			if err := ctx.Err(); err != nil {
				t.Fatalf("Err before the end = %v", err)
			}
			switch {
			case tt.callerEnds:
				cancelParent(deadline)
			case tt.cause != nil:
				cs.endCtx(tt.cause)
			}
			finishCtx(cs)
			if done == nil {
				done = ctx.Done()
			}
			if !isClosed(done) {
				t.Errorf("Done not closed after the end")
			}
			if err := ctx.Err(); !errors.Is(err, tt.wantErr) {
				t.Errorf("Err = %v, want %v", err, tt.wantErr)
			}
			st := status.FromContext(ctx)
			if tt.wantSt != nil && st != tt.wantSt {
				t.Errorf("status.FromContext = %v, want %v", st, tt.wantSt)
			}
			if tt.wantSt == nil && st.Code() != tt.wantCode {
				t.Errorf("status.FromContext = %v, want code %v", st, tt.wantCode)
			}
			// A later cause does not replace the first.
			cs.endCtx(status.New(codes.Internal, "later"))
			if st2 := status.FromContext(ctx); st2.Code() != st.Code() || st2.Details() != st.Details() {
				t.Errorf("after a later cause: %v, want %v", st2, st)
			}
		})
	}
}

// Done and the end racing: whichever comes first, the channel Done
// returns is closed once the call's context has ended.
func TestCallCtxDoneRacesEnd(t *testing.T) {
	parent, cancel := context.WithCancel(context.Background())
	defer cancel()
	for range 200 {
		cs, ctx := testCallCtx(parent)
		got := make(chan (<-chan struct{}), 1)
		go func() { got <- ctx.Done() }()
		cs.endCtx(status.New(codes.Canceled, "cancelled"))
		if d := <-got; !isClosed(d) {
			t.Fatal("Done asked for while the call ended is not closed")
		}
	}
}

// A call's context costs no allocation until someone waits on it (a
// caller's context that can never end gives it the call's done).
func TestCallCtxAllocations(t *testing.T) {
	allocs := testing.AllocsPerRun(100, func() {
		cs, ctx := testCallCtx(context.Background())
		if ctx.Done() != cs.doneCh() || ctx.Err() != nil {
			t.Fatal("Done is not the call's done")
		}
	})
	if allocs > 2 {
		t.Errorf("%v allocations per call context, want at most 2 (the call state and done)", allocs)
	}
	parent, cancel := context.WithCancel(context.Background())
	defer cancel()
	_ = parent.Done()
	allocs = testing.AllocsPerRun(100, func() {
		cs, ctx := testCallCtx(parent)
		_ = ctx.Err()
		_, _ = ctx.Deadline()
		cs.endCtx(nil)
	})
	if allocs > 2 {
		t.Errorf("%v allocations per call context under a cancellable caller's context, want at most 2 (the call state and done)", allocs)
	}
}

// A context derived from a call's costs no goroutine (the context package
// follows a context type it does not know with one, unless it has an
// AfterFunc method), and ends when the call's does.
func TestCallCtxDerivedNoGoroutine(t *testing.T) {
	for _, cancellable := range []bool{false, true} {
		parent := context.Background()
		if cancellable {
			var cancel context.CancelFunc
			parent, cancel = context.WithCancel(parent)
			defer cancel()
		}
		const n = 100
		g0 := runtime.NumGoroutine()
		var css []*callState
		var derived []context.Context
		for range n {
			cs, ctx := testCallCtx(parent)
			d, cancel := context.WithCancel(ctx)
			defer cancel()
			css, derived = append(css, cs), append(derived, d)
		}
		if g := runtime.NumGoroutine() - g0; g >= n/2 {
			t.Errorf("cancellable=%v: %d contexts derived from calls' added %d goroutines", cancellable, n, g)
		}
		for i, cs := range css {
			cs.endCtx(status.New(codes.Canceled, "cancelled"))
			select { // AfterFunc runs its function on a goroutine of its own
			case <-derived[i].Done():
			case <-time.After(10 * time.Second): // a failure bound only
				t.Fatalf("cancellable=%v: a derived context is not done once the call's context ended", cancellable)
			}
			cs.closeDone()
		}
	}
}
