// Package actorsys is the one home of the runtime's actor plumbing, used by
// every actor of grpcactor (channel, subchannel, connection):
//
//   - [Default], the actor system used when the user gives none (channels
//     opened without channel.WithActorSystem, futures made without a
//     system), and [NewQuiet], which makes such a silent system;
//   - [StopOnPanic], the supervision every runtime actor applies to its
//     children: a child that panics is stopped, never restarted;
//   - [Timers], timers as messages: a timer that fires sends a message to
//     its actor, whose logic never sleeps;
//   - [Backoff], gRPC's connection backoff, for reconnects (subchannel) and
//     re-resolution after a failure (channel);
//   - [PinnedDispatcher], a mailbox dispatcher with one long-lived worker
//     goroutine (the connection actor's).
package actorsys

import (
	"log/slog"
	"sync"

	"github.com/asynkron/protoactor-go/actor"
)

// Default returns the shared default actor system, creating it (with
// [NewQuiet]) on first use.
var Default = sync.OnceValue(NewQuiet)

// NewQuiet returns a new actor system that logs nothing: protoactor's
// default logger prints colour codes to stderr at Info, dead letters
// included. A system the user gives keeps the user's logger.
func NewQuiet() *actor.ActorSystem {
	return actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(slog.DiscardHandler)
	}))
}
