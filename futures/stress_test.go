package futures_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/grpcactor/grpcactor/futures"
)

// TestConcurrentSettle races Complete, Fail and Cancel against each other
// and against waiters and callbacks: exactly one settles the promise, and
// every observer sees that one's result.
func TestConcurrentSettle(t *testing.T) {
	const (
		rounds    = 200
		settlers  = 8
		observers = 8
	)
	for range rounds {
		p := futures.New[int](nil)
		var hooks, wins, callbacks atomic.Int32
		p.OnCancel(func() { hooks.Add(1) })
		winner := make(chan int, settlers) // the settler's id; negative for Cancel
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range settlers {
			wg.Go(func() {
				<-start
				var won bool
				switch i % 3 {
				case 0:
					won = p.Complete(i, nil)
				case 1:
					won = p.Fail(&settleError{i})
				default:
					won = p.Cancel()
				}
				if won {
					wins.Add(1)
					winner <- i
				}
			})
		}
		seen := make(chan outcome, 2*observers)
		for range observers {
			wg.Go(func() {
				<-start
				v, err := p.Result(context.Background())
				seen <- outcome{v, err}
			})
			wg.Go(func() {
				<-start
				p.AddDoneCallback(func(f futures.Future[int]) {
					callbacks.Add(1)
					v, err, _ := f.(*futures.Promise[int]).Value()
					seen <- outcome{v, err}
				})
			})
		}
		close(start)
		wg.Wait()
		if wins.Load() != 1 {
			t.Fatalf("%d settlers won, want exactly 1", wins.Load())
		}
		w := <-winner
		wantCancel := w%3 == 2
		if got := hooks.Load(); (got == 1) != wantCancel || got > 1 {
			t.Fatalf("cancel hook ran %d times; winner %d", got, w)
		}
		// Callbacks registered before completion run on the callback
		// goroutine; wait for all of them through one more callback.
		last := make(chan struct{})
		p.AddDoneCallback(func(futures.Future[int]) { close(last) })
		<-last
		if callbacks.Load() != observers {
			t.Fatalf("%d callbacks ran, want %d", callbacks.Load(), observers)
		}
		for range 2 * observers {
			o := <-seen
			v, err := o.v, o.err
			switch w % 3 {
			case 0:
				if v != w || err != nil {
					t.Fatalf("observer saw (%v, %v), winner Complete(%d)", v, err, w)
				}
			case 1:
				var se *settleError
				if v != 0 || !errors.As(err, &se) || se.id != w {
					t.Fatalf("observer saw (%v, %v), winner Fail(%d)", v, err, w)
				}
			default:
				if !errors.Is(err, futures.ErrCancelled) {
					t.Fatalf("observer saw (%v, %v), winner Cancel", v, err)
				}
			}
		}
	}
}

type outcome struct {
	v   int
	err error
}

type settleError struct{ id int }

func (e *settleError) Error() string { return "settled by failer" }
