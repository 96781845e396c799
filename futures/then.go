package futures

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/asynkron/protoactor-go/actor"
)

// Then returns a future that completes with fn's result once f completes
// successfully. fn runs on a callback goroutine, never on the goroutine that
// calls Then or completes f, so it never runs inside an actor's Receive.
//
// If f fails, fn is not called and the returned future fails with f's error;
// if f is cancelled, the returned future is cancelled too. Cancelling the
// returned future cancels f. If fn panics, the returned future fails with an
// error describing the panic. The returned future has f's actor system when
// f is a *Promise, and none otherwise.
//
// Then panics if f or fn is nil.
func Then[T, U any](f Future[T], fn func(T) (U, error)) Future[U] {
	if f == nil || fn == nil {
		panic("futures: Then called with a nil future or function")
	}
	var sys *actor.ActorSystem
	if s, ok := f.(interface{ actorSystem() *actor.ActorSystem }); ok {
		sys = s.actorSystem()
	}
	out := New[U](sys)
	out.OnCancel(func() { f.Cancel() })

	if p, ok := f.(*Promise[T]); ok {
		p.addCallback(func(Future[T]) { thenApply(out, f, fn) }, true)
		return out
	}
	// A foreign Future runs the callback on Then's goroutine when it is
	// already done; move that case to a goroutine of its own.
	var registered atomic.Bool
	f.AddDoneCallback(func(Future[T]) {
		if !registered.Load() {
			go thenApply(out, f, fn)
			return
		}
		thenApply(out, f, fn)
	})
	registered.Store(true)
	return out
}

// thenApply settles out from the completed future f, calling fn on success.
func thenApply[T, U any](out *Promise[U], f Future[T], fn func(T) (U, error)) {
	v, err := f.Result(context.Background())
	if err != nil {
		if f.Cancelled() {
			out.Cancel() // its hook cancels f again, which is a no-op
			return
		}
		out.Fail(err)
		return
	}
	if out.state.Load() != statePending {
		return // out was cancelled first: do not run fn
	}
	defer func() {
		if r := recover(); r != nil {
			out.logPanic("futures: Then function panicked", r)
			out.Fail(fmt.Errorf("futures: Then function panicked: %v", r))
		}
	}()
	u, err := fn(v)
	out.Complete(u, err)
}
