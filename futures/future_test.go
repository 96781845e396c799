package futures_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/grpcactor/grpcactor/futures"
)

var errBoom = errors.New("boom")

// states builds a promise in each state a caller can observe.
var states = []struct {
	name  string
	setup func(p *futures.Promise[int])

	running, cancelled bool
	value              int
	err                error // matched with errors.Is; nil means no error
}{
	{name: "pending", setup: func(*futures.Promise[int]) {}, running: true},
	{name: "completed", setup: func(p *futures.Promise[int]) { p.Complete(42, nil) }, value: 42},
	{name: "completed zero", setup: func(p *futures.Promise[int]) { p.Complete(0, nil) }},
	{name: "completed with value and error", setup: func(p *futures.Promise[int]) { p.Complete(5, errBoom) }, value: 5, err: errBoom},
	{name: "failed", setup: func(p *futures.Promise[int]) { p.Fail(errBoom) }, err: errBoom},
	{name: "failed nil", setup: func(p *futures.Promise[int]) { p.Fail(nil) }},
	{name: "cancelled", setup: func(p *futures.Promise[int]) { p.Cancel() }, cancelled: true, err: futures.ErrCancelled},
	{name: "cancelled with hook", setup: func(p *futures.Promise[int]) { p.OnCancel(func() {}); p.Cancel() }, cancelled: true, err: futures.ErrCancelled},
}

func TestPromiseStates(t *testing.T) {
	for _, tc := range states {
		t.Run(tc.name, func(t *testing.T) {
			p := futures.New[int](nil)
			tc.setup(p)

			if got := p.Running(); got != tc.running {
				t.Errorf("Running() = %v, want %v", got, tc.running)
			}
			if got := p.Cancelled(); got != tc.cancelled {
				t.Errorf("Cancelled() = %v, want %v", got, tc.cancelled)
			}
			if got := isClosed(p.Done()); got == tc.running {
				t.Errorf("Done() closed = %v, want %v", got, !tc.running)
			}
			v, err, done := p.Value()
			if done != !tc.running {
				t.Errorf("Value() done = %v, want %v", done, !tc.running)
			}
			if tc.running {
				if v != 0 || err != nil {
					t.Errorf("Value() of a running promise = (%v, %v), want zero", v, err)
				}
			} else if v != tc.value || !errors.Is(err, tc.err) || (tc.err == nil && err != nil) {
				t.Errorf("Value() = (%v, %v), want (%v, %v)", v, err, tc.value, tc.err)
			}

			// Result with a context that has already ended: a done
			// promise still returns its result.
			v, err = p.Result(endedCtx())
			if tc.running {
				if !errors.Is(err, futures.ErrTimeout) || !errors.Is(err, context.Canceled) {
					t.Errorf("Result(ended ctx) error = %v, want ErrTimeout and context.Canceled", err)
				}
				if errors.Is(err, futures.ErrCancelled) {
					t.Errorf("Result(ended ctx) error = %v, must not match ErrCancelled", err)
				}
			} else {
				if v != tc.value || !errors.Is(err, tc.err) || (tc.err == nil && err != nil) {
					t.Errorf("Result(ended ctx) = (%v, %v), want (%v, %v)", v, err, tc.value, tc.err)
				}
				v2, err2 := p.Result(context.Background())
				if v2 != v || err2 != err {
					t.Errorf("Result(background) = (%v, %v), want (%v, %v)", v2, err2, v, err)
				}
			}
		})
	}
}

// TestPromiseTransitions applies each settling operation to each state: only
// a pending promise changes, and the operation reports whether it won.
func TestPromiseTransitions(t *testing.T) {
	ops := []struct {
		name      string
		apply     func(p *futures.Promise[int]) bool
		value     int
		err       error
		cancelled bool
	}{
		{name: "Complete", apply: func(p *futures.Promise[int]) bool { return p.Complete(7, nil) }, value: 7},
		{name: "Fail", apply: func(p *futures.Promise[int]) bool { return p.Fail(errBoom) }, err: errBoom},
		{name: "Cancel", apply: func(p *futures.Promise[int]) bool { return p.Cancel() }, err: futures.ErrCancelled, cancelled: true},
	}
	for _, st := range states {
		for _, op := range ops {
			t.Run(st.name+"/"+op.name, func(t *testing.T) {
				p := futures.New[int](nil)
				hooks := 0
				p.OnCancel(func() { hooks++ })
				st.setup(p)
				hooksBefore := hooks

				won := op.apply(p)
				if won != st.running {
					t.Fatalf("%s on %s returned %v, want %v", op.name, st.name, won, st.running)
				}
				wantValue, wantErr, wantCancelled := st.value, st.err, st.cancelled
				if st.running {
					wantValue, wantErr, wantCancelled = op.value, op.err, op.cancelled
				}
				v, err := p.Result(context.Background())
				if v != wantValue || !errors.Is(err, wantErr) || (wantErr == nil && err != nil) {
					t.Errorf("Result() = (%v, %v), want (%v, %v)", v, err, wantValue, wantErr)
				}
				if p.Cancelled() != wantCancelled || p.Running() {
					t.Errorf("Cancelled() = %v, Running() = %v, want %v, false", p.Cancelled(), p.Running(), wantCancelled)
				}
				wantHooks := hooksBefore
				if st.running && op.cancelled {
					wantHooks++
				}
				if hooks != wantHooks || hooks > 1 {
					t.Errorf("cancel hook ran %d times, want %d", hooks, wantHooks)
				}
			})
		}
	}
}

func TestCompleted(t *testing.T) {
	f := futures.Completed("v", errBoom)
	if f.Running() || f.Cancelled() || !isClosed(f.Done()) {
		t.Errorf("Completed: Running=%v Cancelled=%v Done closed=%v", f.Running(), f.Cancelled(), isClosed(f.Done()))
	}
	if f.Cancel() {
		t.Error("Cancel() on a completed future returned true")
	}
	v, err := f.Result(endedCtx())
	if v != "v" || err != errBoom {
		t.Errorf("Result() = (%q, %v), want (\"v\", boom)", v, err)
	}
	ran := false
	f.AddDoneCallback(func(g futures.Future[string]) { ran = g == f })
	if !ran {
		t.Error("AddDoneCallback on a completed future did not run fn immediately with the future")
	}
}

func TestManyWaitersAllWake(t *testing.T) {
	const n = 200
	p := futures.New[string](nil)
	var wg sync.WaitGroup
	results := make(chan string, 2*n)
	ready := make(chan struct{}, 2*n)
	for range n {
		wg.Go(func() {
			ready <- struct{}{}
			v, err := p.Result(context.Background())
			if err != nil {
				t.Errorf("Result() error = %v", err)
			}
			results <- v
		})
		wg.Go(func() {
			ch := p.Done()
			ready <- struct{}{}
			<-ch
			v, _, done := p.Value()
			if !done {
				t.Error("Value() not done after Done() closed")
			}
			results <- v
		})
	}
	for range 2 * n {
		<-ready
	}
	p.Complete("all", nil)
	wg.Wait()
	close(results)
	count := 0
	for v := range results {
		if v != "all" {
			t.Errorf("waiter got %q, want \"all\"", v)
		}
		count++
	}
	if count != 2*n {
		t.Errorf("%d waiters woke, want %d", count, 2*n)
	}
}

func TestDoneChannelIsStable(t *testing.T) {
	p := futures.New[int](nil)
	a, b := p.Done(), p.Done()
	if a != b {
		t.Error("Done() returned different channels before completion")
	}
	p.Complete(1, nil)
	if c := p.Done(); c != a || !isClosed(c) {
		t.Error("Done() after completion is not the same, closed channel")
	}
}

func TestResultContextEndsWhileWaiting(t *testing.T) {
	p := futures.New[int](nil)
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan error, 1)
	go func() {
		_, err := p.Result(ctx)
		got <- err
	}()
	// Whether Result is already waiting or not, it must return ErrTimeout.
	cancel()
	err := <-got
	if !errors.Is(err, futures.ErrTimeout) || !errors.Is(err, context.Canceled) || !errors.Is(err, ctx.Err()) {
		t.Errorf("Result() error = %v, want ErrTimeout and context.Canceled", err)
	}
	if !p.Running() {
		t.Error("a Result timeout completed the promise")
	}
	// The promise still completes normally afterwards.
	if !p.Complete(3, nil) {
		t.Error("Complete after a Result timeout returned false")
	}
}

func TestResultDeadlineExceeded(t *testing.T) {
	p := futures.New[int](nil)
	ctx, cancel := context.WithDeadline(context.Background(), time.Unix(0, 0))
	defer cancel()
	_, err := p.Result(ctx)
	if !errors.Is(err, futures.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Result() error = %v, want ErrTimeout and context.DeadlineExceeded", err)
	}
}

func TestResultContextCause(t *testing.T) {
	p := futures.New[int](nil)
	errWhy := errors.New("shutting down")
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(errWhy)
	_, err := p.Result(ctx)
	for _, want := range []error{futures.ErrTimeout, context.Canceled, errWhy} {
		if !errors.Is(err, want) {
			t.Errorf("Result() error = %v, want it to match %v", err, want)
		}
	}
}

func TestResultNilContextWaits(t *testing.T) {
	p := futures.New[int](nil)
	go p.Complete(9, nil)
	//lint:ignore SA1012 a nil context is part of Result's contract: wait without limit.
	v, err := p.Result(nil)
	if v != 9 || err != nil {
		t.Errorf("Result(nil) = (%v, %v), want (9, nil)", v, err)
	}
}

func TestResultAfterCancel(t *testing.T) {
	p := futures.New[int](nil)
	got := make(chan error, 1)
	go func() {
		_, err := p.Result(context.Background())
		got <- err
	}()
	if !p.Cancel() {
		t.Fatal("Cancel() on a pending promise returned false")
	}
	if err := <-got; !errors.Is(err, futures.ErrCancelled) || errors.Is(err, futures.ErrTimeout) {
		t.Errorf("Result() error = %v, want ErrCancelled only", err)
	}
}

func TestCancelHook(t *testing.T) {
	t.Run("runs once on the canceller before waiters wake", func(t *testing.T) {
		p := futures.New[int](nil)
		var calls int
		var hookGoroutine uint64
		p.OnCancel(func() {
			calls++
			hookGoroutine = goid()
			if isClosed(p.Done()) || !p.Running() || p.Cancelled() {
				t.Error("the promise was done while its cancel hook ran")
			}
			if p.Complete(1, nil) || p.Cancel() {
				t.Error("Complete or Cancel won while the cancel hook ran")
			}
		})
		if !p.Cancel() {
			t.Fatal("Cancel() returned false")
		}
		if p.Cancel() {
			t.Error("second Cancel() returned true")
		}
		if calls != 1 {
			t.Errorf("hook ran %d times, want 1", calls)
		}
		if hookGoroutine != goid() {
			t.Error("hook did not run on the cancelling goroutine")
		}
	})
	t.Run("hooks run in order", func(t *testing.T) {
		p := futures.New[int](nil)
		var order []int
		for i := range 3 {
			p.OnCancel(func() { order = append(order, i) })
		}
		p.Cancel()
		if len(order) != 3 || order[0] != 0 || order[1] != 1 || order[2] != 2 {
			t.Errorf("hooks ran in order %v, want [0 1 2]", order)
		}
	})
	t.Run("not run after completion", func(t *testing.T) {
		p := futures.New[int](nil)
		ran := false
		p.OnCancel(func() { ran = true })
		p.Complete(1, nil)
		if p.Cancel() {
			t.Error("Cancel() after Complete returned true")
		}
		p.OnCancel(func() { ran = true }) // set after completion: ignored
		p.Cancel()
		if ran {
			t.Error("cancel hook ran after completion")
		}
	})
	t.Run("panicking hook still cancels", func(t *testing.T) {
		p := futures.New[int](nil)
		p.OnCancel(func() { panic("hook") })
		func() {
			defer func() {
				if r := recover(); r != "hook" {
					t.Errorf("recovered %v, want the hook's panic", r)
				}
			}()
			p.Cancel()
		}()
		if !p.Cancelled() {
			t.Error("promise not cancelled after its hook panicked")
		}
	})
	t.Run("concurrent Cancel runs the hook once", func(t *testing.T) {
		p := futures.New[int](nil)
		var mu sync.Mutex
		calls := 0
		p.OnCancel(func() { mu.Lock(); calls++; mu.Unlock() })
		var wg sync.WaitGroup
		var wins sync.Map
		for i := range 50 {
			wg.Go(func() {
				if p.Cancel() {
					wins.Store(i, true)
				}
			})
		}
		wg.Wait()
		n := 0
		wins.Range(func(any, any) bool { n++; return true })
		if n != 1 || calls != 1 {
			t.Errorf("%d Cancel calls won and the hook ran %d times, want 1 and 1", n, calls)
		}
	})
}

func TestAddDoneCallbackOrderAndOnce(t *testing.T) {
	const n = 100
	p := futures.New[int](nil)
	var counts [n + 1]int // written by the callback goroutine only
	order := make(chan int, 2*n)
	for i := range n {
		p.AddDoneCallback(func(f futures.Future[int]) {
			if f != futures.Future[int](p) {
				t.Error("callback got a different future")
			}
			counts[i]++
			order <- i
		})
	}
	if !p.Complete(1, nil) {
		t.Fatal("Complete() returned false")
	}
	p.Complete(2, nil)
	p.Cancel()
	for want := range n {
		if got := <-order; got != want {
			t.Fatalf("callback %d ran at position %d", got, want)
		}
	}
	// A callback added now runs after all the earlier ones, and none of
	// them runs again.
	last := make(chan struct{})
	p.AddDoneCallback(func(futures.Future[int]) { counts[n]++; close(last) })
	<-last
	for i, c := range counts {
		if c != 1 {
			t.Errorf("callback %d ran %d times, want 1", i, c)
		}
	}
	if len(order) != 0 {
		t.Errorf("%d extra callback runs", len(order))
	}
}

// TestCallbackNotOnCompletingGoroutine completes the promise while holding
// a lock that the callback takes. A callback run inside Complete would
// deadlock; the goroutine marker turns that into a test failure instead.
func TestCallbackNotOnCompletingGoroutine(t *testing.T) {
	var mu sync.Mutex
	p := futures.New[int](nil)
	var completer uint64
	var completeReturned bool // guarded by mu
	result := make(chan string, 1)
	p.AddDoneCallback(func(futures.Future[int]) {
		if goid() == completer {
			result <- "callback ran on the completing goroutine"
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if !completeReturned {
			result <- "callback ran before Complete returned"
			return
		}
		result <- ""
	})

	mu.Lock()
	completer = goid()
	p.Complete(1, nil)
	completeReturned = true
	mu.Unlock()

	if msg := <-result; msg != "" {
		t.Error(msg)
	}
}

func TestCallbackOnDoneFutureRunsOnCaller(t *testing.T) {
	p := futures.New[int](nil)
	p.Complete(1, nil)
	var on uint64
	p.AddDoneCallback(func(futures.Future[int]) { on = goid() })
	if on != goid() {
		t.Error("callback on a done future did not run immediately on the caller's goroutine")
	}
}

// TestCallbackAddedWhileDraining adds a callback after completion while the
// callback goroutine is still busy: it must wait its turn, not run at once.
func TestCallbackAddedWhileDraining(t *testing.T) {
	p := futures.New[int](nil)
	started, release := make(chan struct{}), make(chan struct{})
	var order []string // written by callbacks, which run one at a time
	p.AddDoneCallback(func(futures.Future[int]) {
		close(started)
		<-release
		order = append(order, "first")
	})
	p.Complete(1, nil)
	<-started
	second := make(chan struct{})
	p.AddDoneCallback(func(futures.Future[int]) {
		order = append(order, "second")
		close(second)
	})
	if isClosed(second) {
		t.Fatal("callback added while the first was running ran immediately")
	}
	close(release)
	<-second
	if len(order) != 2 || order[0] != "first" || order[1] != "second" {
		t.Errorf("callbacks ran in order %v, want [first second]", order)
	}
}

func TestPanickingCallbackDoesNotStopOthers(t *testing.T) {
	p := futures.New[int](nil)
	ran := make(chan int, 3)
	p.AddDoneCallback(func(futures.Future[int]) { ran <- 1 })
	p.AddDoneCallback(func(futures.Future[int]) { panic("callback") })
	p.AddDoneCallback(func(futures.Future[int]) { ran <- 3 })
	p.Complete(0, nil)
	if a, b := <-ran, <-ran; a != 1 || b != 3 {
		t.Errorf("callbacks ran %d, %d; want 1, 3", a, b)
	}
	// On a done future the panic is recovered on the caller's goroutine too.
	p.AddDoneCallback(func(futures.Future[int]) { panic("late") })
}

// TestCancelIf is a table test of a Cancel that asks first (CancelIf):
// what the promise ends with, what Cancel and a Complete made while it
// decides return, and whether the OnCancel hooks run.
func TestCancelIf(t *testing.T) {
	for _, tc := range []struct {
		name     string
		goAhead  bool
		complete bool // Complete(7, errBoom) while the function decides
		after    bool // Complete(8, nil) after Cancel returns

		wantCancel    bool // Cancel's result
		wantComplete  bool // the Complete's result while deciding
		wantHook      bool
		wantCancelled bool
		wantValue     int
		wantErr       error
		wantRunning   bool // still running after Cancel (and before after)
	}{
		{name: "goes ahead", goAhead: true, wantCancel: true, wantHook: true, wantCancelled: true, wantErr: futures.ErrCancelled},
		{name: "goes ahead over a Complete", goAhead: true, complete: true, wantCancel: true, wantHook: true, wantCancelled: true, wantErr: futures.ErrCancelled},
		{name: "refused, then completed", after: true, wantRunning: true, wantValue: 8},
		{name: "refused over a Complete", complete: true, wantValue: 7, wantErr: errBoom},
		{name: "refused over a Complete, later one ignored", complete: true, after: true, wantValue: 7, wantErr: errBoom},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := futures.New[int](nil)
			hook := false
			p.OnCancel(func() { hook = true })
			var completed bool
			p.CancelIf(func() bool {
				if !p.Running() || isClosed(p.Done()) {
					t.Error("the promise was done while CancelIf's function ran")
				}
				if p.Cancel() {
					t.Error("a second Cancel won while the first decided")
				}
				if tc.complete {
					completed = p.Complete(7, errBoom)
				}
				return tc.goAhead
			})
			if got := p.Cancel(); got != tc.wantCancel {
				t.Errorf("Cancel() = %v, want %v", got, tc.wantCancel)
			}
			if completed != tc.wantComplete {
				t.Errorf("Complete while deciding = %v, want %v", completed, tc.wantComplete)
			}
			if hook != tc.wantHook {
				t.Errorf("OnCancel hook ran: %v, want %v", hook, tc.wantHook)
			}
			if p.Running() != tc.wantRunning {
				t.Errorf("Running() after Cancel = %v, want %v", p.Running(), tc.wantRunning)
			}
			if tc.after {
				if got, want := p.Complete(8, nil), tc.wantRunning; got != want {
					t.Errorf("Complete after Cancel = %v, want %v", got, want)
				}
			}
			v, err, ok := p.Value()
			if !ok {
				t.Fatal("the promise is still running")
			}
			if v != tc.wantValue || !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) || p.Cancelled() != tc.wantCancelled {
				t.Errorf("ended with %d, %v (cancelled %v), want %d, %v (cancelled %v)", v, err, p.Cancelled(), tc.wantValue, tc.wantErr, tc.wantCancelled)
			}
		})
	}
	t.Run("asked once per Cancel, again after a refusal", func(t *testing.T) {
		p := futures.New[int](nil)
		asked := 0
		p.CancelIf(func() bool { asked++; return asked > 1 })
		if p.Cancel() {
			t.Fatal("the first Cancel won although refused")
		}
		if !p.Cancel() || !p.Cancelled() || asked != 2 {
			t.Errorf("second Cancel: cancelled %v after %d asks, want true after 2", p.Cancelled(), asked)
		}
		if p.Cancel() || asked != 2 {
			t.Errorf("a Cancel of a done promise asked again (%d asks)", asked)
		}
	})
	t.Run("a panic cancels and goes on", func(t *testing.T) {
		p := futures.New[int](nil)
		p.CancelIf(func() bool { panic("decide") })
		func() {
			defer func() {
				if r := recover(); r != "decide" {
					t.Errorf("recovered %v, want the function's panic", r)
				}
			}()
			p.Cancel()
		}()
		if !p.Cancelled() {
			t.Error("promise not cancelled after CancelIf's function panicked")
		}
	})
	t.Run("a waiter sees only the final result", func(t *testing.T) {
		p := futures.New[int](nil)
		release := make(chan struct{})
		p.CancelIf(func() bool { <-release; return false })
		got := make(chan int, 1)
		go func() {
			v, _ := p.Result(context.Background())
			got <- v
		}()
		cancelled := make(chan bool, 1)
		go func() { cancelled <- p.Cancel() }()
		close(release)
		if <-cancelled {
			t.Fatal("Cancel won although refused")
		}
		p.Complete(3, nil)
		if v := <-got; v != 3 {
			t.Errorf("Result() = %d, want 3", v)
		}
	})
}

func TestNilFunctionsPanic(t *testing.T) {
	for name, fn := range map[string]func(){
		"AddDoneCallback": func() { futures.New[int](nil).AddDoneCallback(nil) },
		"OnCancel":        func() { futures.New[int](nil).OnCancel(nil) },
		"CancelIf":        func() { futures.New[int](nil).CancelIf(nil) },
		"Then":            func() { futures.Then[int, int](futures.New[int](nil), nil) },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("%s(nil) did not panic", name)
				}
			}()
			fn()
		})
	}
}
