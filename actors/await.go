package actors

import (
	"context"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/grpcactor/grpcactor/futures"
)

// awaited is what a future's done callback sends to the protoactor future
// that Await hands to ReenterAfter.
type awaited struct{}

// Await runs cont with f's value and error once f completes, inside the
// mailbox of the actor whose context ctx is, as protoactor's ReenterAfter
// does for its own futures: cont may read and change the actor's state
// without locks, and the actor goes on processing other messages while f
// is pending. Call it from the actor's Receive.
//
// No goroutine waits for f: f's done callback sends one message that puts
// the continuation in the actor's mailbox (as a system message, so it runs
// ahead of queued user messages), and ctx.Message() inside cont is the
// message the actor was handling when it called Await. If the actor has
// stopped by the time f completes, cont does not run. A future that never
// completes keeps its continuation (a small registered process) until the
// actor system ends: give calls a deadline. A panic in cont is a panic of
// the actor, handled by its supervisor like one in Receive.
//
// Await panics if ctx, f or cont is nil.
func Await[T any](ctx actor.Context, f futures.Future[T], cont func(value T, err error)) {
	if ctx == nil || f == nil || cont == nil {
		panic("actors.Await: nil context, future or continuation")
	}
	sys := ctx.ActorSystem()
	// A protoactor future without a timer (negative duration): it
	// completes when the done callback below sends it a message, and
	// ReenterAfter turns its completion into a continuation message to
	// the actor.
	pf := actor.NewFuture(sys, -1)
	ctx.ReenterAfter(pf, func(any, error) {
		v, err := f.Result(context.Background()) // f is done: returns at once
		cont(v, err)
	})
	pid := pf.PID()
	f.AddDoneCallback(func(futures.Future[T]) { sys.Root.Send(pid, awaited{}) })
}
