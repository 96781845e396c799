package channel

import (
	"errors"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/status"
)

// ActorSystem returns the actor system the channel's actors run in: the
// parent's with WithParent, the one given with WithActorSystem, else the
// library's default system.
func (ch *Channel) ActorSystem() *actor.ActorSystem { return ch.sys }

// ChannelBinder is implemented by an interceptor that needs the channel it
// is attached to, for example to reach the channel's actor system
// (actors.Interceptor does). Intercept calls BindChannel with the channel
// being intercepted and puts the value it returns, which must implement at
// least one interceptor interface, in the interceptor's place.
type ChannelBinder interface {
	BindChannel(ch *Channel) any
}

// WithParent spawns the channel's actor as a child of the actor whose
// context parent is, in parent's actor system: the channel then stops when
// its parent stops (its calls end CANCELLED, its connections close, as with
// Close). Call it, and open the channel, inside the parent's Receive: an
// actor's context is not safe for use from other goroutines. Default: the
// channel's actor is spawned at the root of its system and lives until
// Close.
func WithParent(parent actor.Context) Option {
	return optionFunc(func(o *options) error {
		if parent == nil {
			return errors.New("WithParent: the parent's context is nil")
		}
		o.parent = parent
		return nil
	})
}

// NotifyParent subscribes the parent given with WithParent to the
// channel's connectivity from the start: it receives a
// *ConnectivityChanged for every change, as SubscribePID(parent, false)
// gives. Without WithParent it is an error. Default: off.
func NotifyParent() Option {
	return optionFunc(func(o *options) error {
		o.notifyParent = true
		return nil
	})
}

// errParentStopped ends the calls of a channel whose parent actor stopped.
var errParentStopped = status.New(codes.Canceled, "channel closed: the actor it belongs to stopped")

// parentStopped closes a channel whose actor is stopping without Close
// (its parent stopped it): from inside the actor's Stopping, no new call
// starts and blocking calls end CANCELLED; on a goroutine of its own
// started calls end CANCELLED too, then Close finishes the rest (it waits
// for the actor to stop).
func (ch *Channel) parentStopped() {
	ch.closed.Store(true)
	calls := ch.calls.take()
	// Blocking calls end here, before the child actors stop (their end
	// would be "connection actor stopped"); a started call's cancel runs
	// its callbacks, which never run inside an actor: those end on the
	// goroutine that then finishes Close.
	var started []*callState
	for _, c := range calls {
		if c.async {
			started = append(started, c)
			continue
		}
		c.cancel(errParentStopped)
	}
	go func() {
		for _, c := range started {
			c.cancel(errParentStopped)
		}
		ch.Close()
	}()
}
