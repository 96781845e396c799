package futures

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/grpcactor/grpcactor/internal/actorsys"
)

// Promise states. A promise leaves statePending exactly once: to
// stateCancelling when Cancel wins (while the cancel hook runs), or straight
// to stateDone when Complete or Fail wins. stateCancelling always ends in
// stateDone.
const (
	statePending uint32 = iota
	stateCancelling
	stateDone
)

// closedChan is returned by Done for a promise that completed before anyone
// asked for its channel, so that such promises never allocate one.
var closedChan = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

// Promise is the write side of a [Future]: the producer of a result keeps the
// *Promise and settles it with Complete, Fail or Cancel; consumers use it
// through the Future interface, which *Promise implements.
//
// The zero Promise is a pending promise without an actor system. A Promise
// must not be copied after first use.
type Promise[T any] struct {
	// state is statePending, stateCancelling or stateDone. value, err and
	// cancelled are written once, under mu, before state becomes stateDone,
	// and are read-only afterwards: a reader that loads stateDone may read
	// them without mu.
	state     atomic.Uint32
	value     T
	err       error
	cancelled bool

	sys *actor.ActorSystem // immutable; nil if created without a system

	mu        sync.Mutex
	done      chan struct{}     // guarded by mu until stateDone, then read-only; created by the first Done or waiting Result
	callbacks []func(Future[T]) // guarded by mu; waiting to run on the callback goroutine
	draining  bool              // guarded by mu; the callback goroutine is running
	onCancel  func()            // guarded by mu; cleared when the promise is done
	// decide, set by CancelIf, is asked by Cancel whether to go ahead
	// (guarded by mu). While it decides, a Complete's result is held
	// here, to be the result if the cancellation is refused.
	decide  func() bool
	held    bool
	heldV   T
	heldErr error
}

// New returns a pending promise. sys is the actor system through which
// PipeTo sends its messages; it may be nil, in which case PipeTo uses the
// system given with [Through] or the library's default system.
func New[T any](sys *actor.ActorSystem) *Promise[T] {
	return &Promise[T]{sys: sys}
}

// Complete completes the promise with v and err, unless it is already done
// or being cancelled. It returns whether this call completed it: the first of
// Complete, Fail and Cancel wins. Complete is safe to call from any goroutine,
// including an actor's Receive: it never blocks on user code, never runs a
// callback, and starts a goroutine only if done callbacks are waiting.
//
// While a Cancel is asking the function set with CancelIf, Complete returns
// false but keeps v and err: they become the promise's result if that
// function refuses the cancellation, and are dropped if it goes ahead.
func (p *Promise[T]) Complete(v T, err error) bool {
	if p.state.Load() == stateDone {
		return false
	}
	p.mu.Lock()
	switch p.state.Load() {
	case statePending:
		p.settleLocked(v, err, false)
		return true
	case stateCancelling:
		if p.decide != nil && !p.held {
			p.held, p.heldV, p.heldErr = true, v, err
		}
	}
	p.mu.Unlock()
	return false
}

// Fail completes the promise with the zero value and err; it is
// Complete(zero, err). A nil err completes the promise successfully with the
// zero value. It returns whether this call completed the promise.
func (p *Promise[T]) Fail(err error) bool {
	var zero T
	return p.Complete(zero, err)
}

// Cancel implements [Future.Cancel]: if the promise is still pending, it asks
// the function set with CancelIf, if any, whether to go ahead; if so, it
// runs the hooks set with OnCancel on the calling goroutine, then completes
// the promise with ErrCancelled and returns true. Waiters wake only after the
// hooks have returned. If that function or a hook panics, the promise is
// still completed with ErrCancelled and the panic continues in the caller.
// A refused Cancel runs no hook and returns false; the promise then
// completes with what its producer gives Complete (see there).
func (p *Promise[T]) Cancel() bool {
	if p.state.Load() != statePending {
		return false
	}
	p.mu.Lock()
	if p.state.Load() != statePending {
		p.mu.Unlock()
		return false
	}
	p.state.Store(stateCancelling)
	decide := p.decide
	p.mu.Unlock()

	refused := false
	defer func() {
		// Cancelled once the hooks have returned, or if decide or a
		// hook panicked.
		if !refused {
			var zero T
			p.mu.Lock()
			p.settleLocked(zero, cancelledErr, true)
		}
	}()
	if decide != nil && !decide() {
		refused = true
		p.refuse()
		return false
	}
	p.mu.Lock()
	hook := p.onCancel
	p.onCancel = nil
	p.mu.Unlock()
	if hook != nil {
		hook()
	}
	return true
}

// refuse ends a Cancel that CancelIf's function refused: the promise
// completes with a result Complete gave meanwhile, or is pending again.
func (p *Promise[T]) refuse() {
	p.mu.Lock()
	if p.held {
		p.settleLocked(p.heldV, p.heldErr, false)
		return
	}
	p.state.Store(statePending)
	p.mu.Unlock()
}

// CancelIf sets fn as what Cancel asks, on the canceller's goroutine and
// before any OnCancel hook runs, whether the cancellation goes ahead: a
// producer that can no longer stop its work (an RPC that has already
// ended, its result on the way) returns false, and the Cancel returns
// false, as grpcio's cancel() does once the RPC has completed. fn replaces
// an earlier one; setting it on a promise that is done does nothing. It
// must not wait for its own promise's result. CancelIf panics if fn is nil.
func (p *Promise[T]) CancelIf(fn func() bool) {
	if fn == nil {
		panic("futures: CancelIf called with a nil function")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.state.Load() == stateDone {
		return
	}
	p.decide = fn
}

// OnCancel sets fn to run when a Cancel call wins: once, synchronously inside
// that Cancel, on the canceller's goroutine, before the promise completes
// with ErrCancelled. RPCs use it to reset their stream. Several hooks may be
// set; they run in the order they were set. Setting a hook on a promise that
// is done does nothing; one set while a Cancel runs may miss it. A hook must
// not wait for its own promise's result. OnCancel panics if fn is nil.
func (p *Promise[T]) OnCancel(fn func()) {
	if fn == nil {
		panic("futures: OnCancel called with a nil function")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.state.Load() == stateDone {
		return
	}
	if prev := p.onCancel; prev != nil {
		p.onCancel = func() { prev(); fn() }
		return
	}
	p.onCancel = fn
}

// Value reports the promise's result without waiting: the value and error it
// completed with and true, or the zero value, nil and false while it is
// still running.
func (p *Promise[T]) Value() (T, error, bool) {
	if p.state.Load() != stateDone {
		var zero T
		return zero, nil, false
	}
	return p.value, p.err, true
}

// Result implements [Future.Result]. It allocates nothing when the promise is
// already done, and never arms a timer: it waits on ctx.Done(). Waiting for a
// promise that is still running allocates its Done channel, once.
func (p *Promise[T]) Result(ctx context.Context) (T, error) {
	if p.state.Load() == stateDone {
		return p.value, p.err
	}
	var ctxDone <-chan struct{}
	if ctx != nil {
		if ctx.Err() != nil {
			return p.timedOut(ctx)
		}
		ctxDone = ctx.Done()
	}
	select {
	case <-p.Done():
		return p.value, p.err
	case <-ctxDone:
		return p.timedOut(ctx)
	}
}

// timedOut returns the result of a Result call whose ctx has ended: the
// promise's own result if it is done by now (completion wins a tie),
// otherwise an error matching ErrTimeout, ctx.Err() and, if different, the
// context's cause.
func (p *Promise[T]) timedOut(ctx context.Context) (T, error) {
	if p.state.Load() == stateDone {
		return p.value, p.err
	}
	var zero T
	ctxErr := ctx.Err()
	if cause := context.Cause(ctx); cause != nil && cause != ctxErr {
		return zero, fmt.Errorf("%w: %w: %w", ErrTimeout, ctxErr, cause)
	}
	return zero, fmt.Errorf("%w: %w", ErrTimeout, ctxErr)
}

// Done implements [Future.Done]. The channel is created on first use, so a
// promise that completes before anyone asks for it never allocates one.
func (p *Promise[T]) Done() <-chan struct{} {
	if p.state.Load() == stateDone {
		// done is never written once the state is stateDone.
		if p.done != nil {
			return p.done
		}
		return closedChan
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done == nil {
		if p.state.Load() == stateDone {
			return closedChan
		}
		p.done = make(chan struct{})
	}
	return p.done
}

// Cancelled implements [Future.Cancelled].
func (p *Promise[T]) Cancelled() bool {
	return p.state.Load() == stateDone && p.cancelled
}

// Running implements [Future.Running].
func (p *Promise[T]) Running() bool {
	return p.state.Load() != stateDone
}

// AddDoneCallback implements [Future.AddDoneCallback]. When the promise is
// done but its callback goroutine is still running earlier callbacks, fn is
// queued behind them instead of running on the caller's goroutine, so that
// callbacks keep their order. AddDoneCallback panics if fn is nil.
func (p *Promise[T]) AddDoneCallback(fn func(Future[T])) {
	if fn == nil {
		panic("futures: AddDoneCallback called with a nil function")
	}
	p.addCallback(fn, false)
}

// addCallback queues fn to run after completion. If the promise is already
// done and no callback goroutine is running, fn runs on the caller's
// goroutine, or on a new callback goroutine when async is set.
func (p *Promise[T]) addCallback(fn func(Future[T]), async bool) {
	p.mu.Lock()
	if p.state.Load() != stateDone || p.draining {
		p.callbacks = append(p.callbacks, fn)
		p.mu.Unlock()
		return
	}
	if async {
		p.callbacks = append(p.callbacks, fn)
		p.draining = true
		p.mu.Unlock()
		go p.runCallbacks()
		return
	}
	p.mu.Unlock()
	p.invoke(fn)
}

// PipeTo implements [Future.PipeTo]. The message is sent with
// sys.Root.Send, which does not block. If the promise is already done, the
// message is sent before PipeTo returns. PipeTo panics if pid is nil.
func (p *Promise[T]) PipeTo(pid *actor.PID, opts ...PipeOption) {
	if pid == nil {
		panic("futures: PipeTo called with a nil PID")
	}
	var o pipeOptions
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	sys := p.sys
	if o.sys != nil {
		sys = o.sys
	}
	if sys == nil {
		sys = actorsys.Default()
	}
	tag := o.tag
	p.addCallback(func(Future[T]) {
		sys.Root.Send(pid, &Outcome[T]{Value: p.value, Err: p.err, Tag: tag})
	}, false)
}

// settleLocked records the result, wakes every waiter and hands waiting
// callbacks to a new callback goroutine. It must be called with mu held and
// the state not yet stateDone; it releases mu.
func (p *Promise[T]) settleLocked(v T, err error, cancelled bool) {
	p.value, p.err, p.cancelled = v, err, cancelled
	p.onCancel, p.decide = nil, nil
	var zero T
	p.held, p.heldV, p.heldErr = false, zero, nil
	p.state.Store(stateDone)
	if p.done != nil {
		close(p.done)
	}
	start := len(p.callbacks) > 0
	if start {
		p.draining = true
	}
	p.mu.Unlock()
	if start {
		go p.runCallbacks()
	}
}

// runCallbacks is the body of the callback goroutine: it runs queued
// callbacks in order until none are left.
func (p *Promise[T]) runCallbacks() {
	for {
		p.mu.Lock()
		cbs := p.callbacks
		p.callbacks = nil
		if len(cbs) == 0 {
			p.draining = false
			p.mu.Unlock()
			return
		}
		p.mu.Unlock()
		for i, fn := range cbs {
			cbs[i] = nil
			p.invoke(fn)
		}
	}
}

// invoke runs one done callback, recovering (and logging, if the promise has
// an actor system) a panic so that later callbacks still run.
func (p *Promise[T]) invoke(fn func(Future[T])) {
	defer func() {
		if r := recover(); r != nil {
			p.logPanic("futures: done callback panicked", r)
		}
	}()
	fn(p)
}

// logPanic reports a recovered panic through the actor system's logger; a
// promise without a system drops it.
func (p *Promise[T]) logPanic(msg string, r any) {
	if p.sys == nil {
		return
	}
	if l := p.sys.Logger(); l != nil {
		l.Error(msg, "panic", r)
	}
}

// actorSystem returns the promise's actor system, so that [Then] can give
// the chained future the same one.
func (p *Promise[T]) actorSystem() *actor.ActorSystem { return p.sys }
