package futures_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/grpcactor/grpcactor/futures"
)

func TestThen(t *testing.T) {
	itoa := func(v int) (string, error) { return strconv.Itoa(v), nil }
	tests := []struct {
		name      string
		settle    func(p *futures.Promise[int])
		fn        func(int) (string, error)
		want      string
		wantErr   error
		cancelled bool
		fnCalled  bool
	}{
		{name: "success", settle: func(p *futures.Promise[int]) { p.Complete(42, nil) }, fn: itoa, want: "42", fnCalled: true},
		{name: "fn fails", settle: func(p *futures.Promise[int]) { p.Complete(1, nil) },
			fn: func(int) (string, error) { return "partial", errBoom }, want: "partial", wantErr: errBoom, fnCalled: true},
		{name: "parent fails", settle: func(p *futures.Promise[int]) { p.Complete(3, errBoom) }, fn: itoa, wantErr: errBoom},
		{name: "parent cancelled", settle: func(p *futures.Promise[int]) { p.Cancel() }, fn: itoa, wantErr: futures.ErrCancelled, cancelled: true},
		{name: "fn panics", settle: func(p *futures.Promise[int]) { p.Complete(1, nil) },
			fn: func(int) (string, error) { panic("in fn") }, wantErr: errAny, fnCalled: true},
	}
	for _, tc := range tests {
		for _, doneFirst := range []bool{false, true} {
			name := tc.name + "/then before completion"
			if doneFirst {
				name = tc.name + "/then after completion"
			}
			t.Run(name, func(t *testing.T) {
				p := futures.New[int](nil)
				if doneFirst {
					tc.settle(p)
				}
				caller := goid()
				var called bool
				var fnGoroutine uint64
				out := futures.Then(p, func(v int) (string, error) {
					called = true
					fnGoroutine = goid()
					return tc.fn(v)
				})
				if !doneFirst {
					tc.settle(p)
				}
				got, err := out.Result(context.Background())
				if got != tc.want {
					t.Errorf("Result() value = %q, want %q", got, tc.want)
				}
				switch {
				case tc.wantErr == errAny:
					if err == nil {
						t.Error("Result() error = nil, want one")
					}
				case tc.wantErr == nil:
					if err != nil {
						t.Errorf("Result() error = %v, want nil", err)
					}
				case !errors.Is(err, tc.wantErr):
					t.Errorf("Result() error = %v, want %v", err, tc.wantErr)
				}
				if out.Cancelled() != tc.cancelled {
					t.Errorf("Cancelled() = %v, want %v", out.Cancelled(), tc.cancelled)
				}
				if called != tc.fnCalled {
					t.Errorf("fn called = %v, want %v", called, tc.fnCalled)
				}
				if called && fnGoroutine == caller {
					t.Error("fn ran on the goroutine that called Then or completed the future")
				}
			})
		}
	}
}

// errAny marks a test case that wants some error, whatever it is.
var errAny = errors.New("any error")

func TestThenCancelPropagatesToParent(t *testing.T) {
	p := futures.New[int](nil)
	hook := 0
	p.OnCancel(func() { hook++ })
	called := false
	out := futures.Then(p, func(int) (int, error) { called = true; return 0, nil })
	if !out.Cancel() {
		t.Fatal("Cancel() on the chained future returned false")
	}
	if !p.Cancelled() || hook != 1 {
		t.Errorf("parent Cancelled() = %v and its hook ran %d times, want true and 1", p.Cancelled(), hook)
	}
	if _, err := out.Result(context.Background()); !errors.Is(err, futures.ErrCancelled) {
		t.Errorf("chained Result() error = %v, want ErrCancelled", err)
	}
	// The parent's cancellation reaches the (already cancelled) chained
	// future's callback, which must not call fn.
	done := make(chan struct{})
	p.AddDoneCallback(func(futures.Future[int]) { close(done) })
	<-done
	if called {
		t.Error("fn ran although the chained future was cancelled")
	}
}

func TestThenChain(t *testing.T) {
	p := futures.New[int](nil)
	f := futures.Then(futures.Then(futures.Then(p,
		func(v int) (int, error) { return v + 1, nil }),
		func(v int) (int, error) { return v * 10, nil }),
		func(v int) (string, error) { return "n=" + strconv.Itoa(v), nil })
	p.Complete(4, nil)
	if v, err := f.Result(context.Background()); v != "n=50" || err != nil {
		t.Errorf("Result() = (%q, %v), want (\"n=50\", nil)", v, err)
	}
}

func TestThenCompletingUnderLock(t *testing.T) {
	// As with done callbacks, fn must not run on the completing goroutine.
	var mu sync.Mutex
	p := futures.New[int](nil)
	var completer uint64
	out := futures.Then(p, func(v int) (bool, error) {
		if goid() == completer {
			return false, errors.New("fn ran on the completing goroutine")
		}
		mu.Lock()
		defer mu.Unlock()
		return true, nil
	})
	mu.Lock()
	completer = goid()
	p.Complete(1, nil)
	mu.Unlock()
	if ok, err := out.Result(context.Background()); !ok || err != nil {
		t.Errorf("Result() = (%v, %v)", ok, err)
	}
}

// foreign is a Future implemented outside the package: it delegates to a
// Promise but hides it, so Then takes its generic path.
type foreign[T any] struct{ p *futures.Promise[T] }

func (f foreign[T]) Result(ctx context.Context) (T, error) { return f.p.Result(ctx) }
func (f foreign[T]) Done() <-chan struct{}                 { return f.p.Done() }
func (f foreign[T]) Cancel() bool                          { return f.p.Cancel() }
func (f foreign[T]) Cancelled() bool                       { return f.p.Cancelled() }
func (f foreign[T]) Running() bool                         { return f.p.Running() }
func (f foreign[T]) PipeTo(pid *actor.PID, opts ...futures.PipeOption) {
	f.p.PipeTo(pid, opts...)
}
func (f foreign[T]) AddDoneCallback(fn func(futures.Future[T])) {
	f.p.AddDoneCallback(func(futures.Future[T]) { fn(f) })
}

func TestThenForeignFuture(t *testing.T) {
	for _, doneFirst := range []bool{false, true} {
		p := futures.New[int](nil)
		if doneFirst {
			p.Complete(2, nil)
		}
		caller := goid()
		var fnGoroutine uint64
		out := futures.Then[int](foreign[int]{p}, func(v int) (int, error) {
			fnGoroutine = goid()
			return v * v, nil
		})
		if !doneFirst {
			p.Complete(2, nil)
		}
		if v, err := out.Result(context.Background()); v != 4 || err != nil {
			t.Errorf("doneFirst=%v: Result() = (%v, %v), want (4, nil)", doneFirst, v, err)
		}
		if fnGoroutine == caller {
			t.Errorf("doneFirst=%v: fn ran on the caller's goroutine", doneFirst)
		}
	}
	// Cancelling the chained future cancels the foreign parent.
	p := futures.New[int](nil)
	out := futures.Then[int](foreign[int]{p}, func(v int) (int, error) { return v, nil })
	out.Cancel()
	if !p.Cancelled() {
		t.Error("cancelling the chained future did not cancel the foreign parent")
	}
}

// TestThenCancelledBeforeFnRuns cancels the chained future after the parent
// has completed but before fn's turn comes: fn must not run.
func TestThenCancelledBeforeFnRuns(t *testing.T) {
	p := futures.New[int](nil)
	started, release := make(chan struct{}), make(chan struct{})
	p.AddDoneCallback(func(futures.Future[int]) { close(started); <-release })
	called := false
	out := futures.Then(p, func(v int) (int, error) { called = true; return v, nil })
	after := make(chan struct{})
	p.AddDoneCallback(func(futures.Future[int]) { close(after) })

	p.Complete(1, nil)
	<-started // the callback goroutine is busy; fn has not run yet
	if !out.Cancel() {
		t.Fatal("Cancel() on the chained future returned false")
	}
	close(release)
	<-after
	if called {
		t.Error("fn ran although the chained future was cancelled first")
	}
	if p.Cancelled() {
		t.Error("the completed parent became cancelled")
	}
}
