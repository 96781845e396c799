// Package futures provides typed futures: results that arrive later, can be
// awaited with a context, cancelled, observed through done callbacks, chained
// with [Then] and piped into an actor's mailbox with [Future.PipeTo].
//
// They replace protoactor-go's actor.Future in grpcactor. Unlike that type,
// every waiter wakes when a future completes, a waiting call takes its
// deadline from a [context.Context] instead of arming a timer, and
// completion is race-free: the first of Complete, Fail or Cancel wins and
// later attempts report that they lost.
//
// A [Promise] is the write side and also implements [Future]. The producer
// (for example the connection actor settling an RPC) keeps the *Promise and
// hands out the Future:
//
//	p := futures.New[string](system)
//	go func() { p.Complete("hello", nil) }()
//	v, err := p.Result(ctx)
//
// Completing a promise is cheap and never runs user code on the completing
// goroutine: done callbacks, [Then] functions and [Future.PipeTo] deliveries
// registered before completion run on a goroutine that belongs to the future,
// one at a time, in the order they were added. That goroutine exists only
// while there are callbacks to run, so a promise that nobody observes through
// callbacks costs one allocation and no goroutine.
//
// A producer that cannot always stop its work says so with
// [Promise.CancelIf]: Cancel asks it first, and a refused Cancel returns
// false and leaves the promise to the producer's result (an RPC that has
// already ended refuses, as grpcio's cancel() returns False then).
//
// Errors: waiting past the context's end returns an error that matches both
// [ErrTimeout] and the context's error with [errors.Is]; a cancelled future
// returns a *status.Error with code CANCELLED that matches [ErrCancelled].
//
// An actor with several futures in flight pipes each with its own tag,
// f.PipeTo(self, futures.Tag(id)), and matches each [Outcome] to its
// request by Outcome.Tag.
package futures
