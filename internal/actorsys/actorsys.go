// Package actorsys holds the actor system grpcactor uses when the user gives
// none: channels opened without channel.WithActorSystem run their actors in
// it, and futures made without a system pipe their outcomes through it.
package actorsys

import (
	"log/slog"
	"sync"

	"github.com/asynkron/protoactor-go/actor"
)

// Default returns the shared default actor system, creating it on first use.
// It logs nothing: protoactor's default logger prints colour codes to stderr
// at Info, dead letters included.
var Default = sync.OnceValue(func() *actor.ActorSystem {
	return actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(slog.DiscardHandler)
	}))
})
