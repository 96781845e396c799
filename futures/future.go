package futures

import (
	"context"
	"errors"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/status"
)

// ErrTimeout is returned by [Future.Result] when its context ends before the
// future completes (grpcio's FutureTimeoutError). The returned error also
// matches the context's error (context.DeadlineExceeded or
// context.Canceled) with [errors.Is].
var ErrTimeout = errors.New("futures: timed out waiting for the result")

// ErrCancelled matches, with [errors.Is], the error of a future whose Cancel
// won (grpcio's FutureCancelledError). That error is itself a *status.Error
// with code CANCELLED (see [Cancelled]), so status.Code and status.FromError
// report the cancellation as gRPC does.
var ErrCancelled = errors.New("futures: cancelled")

// cancelledErr is the error every cancelled future completes with.
var cancelledErr = status.New(codes.Canceled, "future cancelled by the client").WithCause(ErrCancelled)

// Cancelled returns the error a future completes with when its Cancel wins:
// a *status.Error with code CANCELLED that matches [ErrCancelled] with
// [errors.Is]. Producers that settle a future as cancelled by other means
// (for example an RPC cancelled through its call) may use it so that their
// consumers see the same error.
func Cancelled() error { return cancelledErr }

// Future is the read side of a result that arrives later. All methods are
// safe for concurrent use.
type Future[T any] interface {
	// Result waits until the future completes or ctx ends, whichever comes
	// first, and returns the value and error the future completed with.
	// If ctx ends first, the error matches both ErrTimeout and ctx.Err()
	// with errors.Is; if the future was already complete, its result is
	// returned even when ctx has ended. A cancelled future returns an error
	// matching ErrCancelled. A nil ctx waits without limit.
	Result(ctx context.Context) (T, error)

	// Done returns a channel that is closed when the future completes or
	// is cancelled. Any number of goroutines may wait on it; all wake.
	Done() <-chan struct{}

	// Cancel cancels a future that is still running: it runs the cancel
	// hook once (see Promise.OnCancel), on the calling goroutine, then
	// completes the future with ErrCancelled. It returns true if this call
	// cancelled the future and false if the future was already done,
	// another cancellation had already won, or its producer could no
	// longer stop (Promise.CancelIf: the RPC behind a call's future had
	// already ended, and the future completes with its result).
	Cancel() bool

	// Cancelled reports whether the future completed through Cancel.
	Cancelled() bool

	// Running reports whether the future is not yet done (grpcio's
	// running()). It stays true while a winning Cancel runs its hook.
	Running() bool

	// AddDoneCallback arranges for fn to run once, with this future, after
	// the future is done. If the future is already done, fn runs
	// immediately on the calling goroutine. Otherwise fn runs later on a
	// goroutine of the future's own, never on the goroutine that completed
	// the future. Callbacks of one future run in the order they were added,
	// one at a time. A panicking callback is recovered (and logged through
	// the future's actor system, if it has one) and does not stop the
	// others.
	AddDoneCallback(fn func(Future[T]))

	// PipeTo arranges for an *Outcome[T] holding the future's value and
	// error to be sent, as a user message, to pid once the future is done.
	// With [Tag] the Outcome carries the caller's correlation value, so
	// that an actor with several futures in flight can match each outcome
	// to its request. The message goes through the future's actor system,
	// or, for a future made without one (such as [Completed]), through the
	// system named with [Through], else the library's default system (the
	// one channels use when given none). PipeTo may be called several
	// times, for several pids. It panics if pid is nil.
	PipeTo(pid *actor.PID, opts ...PipeOption)
}

// Outcome is the message [Future.PipeTo] delivers to an actor: the value and
// error the future completed with, and the tag given to PipeTo with [Tag]
// (nil without). A cancelled future delivers Err matching [ErrCancelled].
type Outcome[T any] struct {
	Value T
	Err   error
	Tag   any
}

// Completed returns a future that is already complete with v and err. It has
// no actor system of its own: its PipeTo uses the system given with
// [Through], or the library's default system.
func Completed[T any](v T, err error) Future[T] {
	p := &Promise[T]{value: v, err: err}
	p.state.Store(stateDone)
	return p
}
