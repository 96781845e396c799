package channel

import (
	"context"
	"time"

	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/status"
)

// callCtx is a call's context (callState.ctx): the call state itself, seen
// as a context over parent (the caller's context with the call's
// timeout) that also ends when the call is cancelled (cause) or finishes.
// A context.WithCancelCause per call cost three allocations (the context,
// its cancel function and, once a stream waited on it, its done channel)
// for what the call mostly does not need: the call's own streams are
// cancelled by the call (cancel, fail), and watch the caller's context
// directly. So the channel that Done returns is made only when someone
// asks for it: under a caller's context that can never end it is the
// call's done; otherwise a context.WithCancelCause of parent is made then
// (stdCtx, in std), and cancelled as the call ends.
type callCtx callState

// stdCtx is a callCtx's context.WithCancelCause of its parent, made by
// the first Done under a parent that can end, or the first AfterFunc.
type stdCtx struct {
	ctx    context.Context
	cancel context.CancelCauseFunc
}

// callEnded is the cause a call's context records when the call finishes
// without one: its Err is then context.Canceled, as a cancelled
// context.WithCancelCause's.
var callEnded = status.New(codes.Canceled, "context canceled")

func (c *callCtx) Deadline() (time.Time, bool) { return c.parent.Deadline() }
func (c *callCtx) Value(key any) any           { return c.parent.Value(key) }

func (c *callCtx) Done() <-chan struct{} {
	if c.parent.Done() == nil {
		return (*callState)(c).doneCh() // closed by finish, after endCtx
	}
	return c.stdCtx().Done()
}

// AfterFunc runs f on a goroutine of its own once the context has ended,
// as context.AfterFunc does. The context package uses it to follow a
// context derived from a call's (by a balancer, a stats handler, call
// credentials), which for a context type it does not know would
// otherwise cost a goroutine waiting on Done.
func (c *callCtx) AfterFunc(f func()) func() bool {
	return context.AfterFunc(c.stdCtx(), f)
}

// stdCtx returns the call context's context.WithCancelCause of parent,
// made on first use and ended by endCtx.
func (c *callCtx) stdCtx() context.Context {
	if d := c.std.Load(); d != nil {
		return d.ctx
	}
	ctx, cancel := context.WithCancelCause(c.parent)
	if !c.std.CompareAndSwap(nil, &stdCtx{ctx, cancel}) {
		cancel(nil)
		return c.std.Load().ctx
	}
	// endCtx stores the cause before it loads std: one of the two sees
	// the other.
	if st := c.cause.Load(); st != nil {
		cancel(causeOf(st))
	}
	return ctx
}

func (c *callCtx) Err() error {
	if st := c.cause.Load(); st != nil {
		if st == callEnded {
			return context.Canceled
		}
		return causeError{st}
	}
	return c.parent.Err()
}

// endCtx ends the call's context with st, the cause of a cancellation, or
// nil when the call finishes (callEnded). The first cause stays, as a
// context.WithCancelCause's does.
func (cs *callState) endCtx(st *status.Error) {
	if st == nil {
		st = callEnded
	}
	cs.cause.CompareAndSwap(nil, st)
	if d := cs.std.Load(); d != nil {
		d.cancel(causeOf(cs.cause.Load()))
	}
}

// causeOf is the cause a stdCtx is cancelled with for st.
func causeOf(st *status.Error) error {
	if st == callEnded {
		return nil
	}
	return st
}

// causeError is a call context's Err once the call was cancelled with st:
// context.Canceled (context.DeadlineExceeded for a deadline's status) to
// errors.Is, and st to errors.As, so that status.FromContext, which reads
// a context's cause from its Err first, returns st, as it would from a
// context.WithCancelCause's Cause.
type causeError struct{ st *status.Error }

func (e causeError) Error() string   { return e.ctxErr().Error() }
func (e causeError) Unwrap() []error { return []error{e.ctxErr(), e.st} }

func (e causeError) ctxErr() error {
	if e.st.Code() == codes.DeadlineExceeded {
		return context.DeadlineExceeded
	}
	return context.Canceled
}
