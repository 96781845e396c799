package actors

import (
	"github.com/asynkron/protoactor-go/actor"
	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/status"
)

// Recover is a receiver middleware for a middleware actor's Props
// (actor.WithReceiverMiddleware(actors.Recover)): a panic while the actor
// handles an *Intercept ends that call INTERNAL, with a message naming the
// actor, the method and the panic, and the actor goes on with its state,
// neither restarted nor stopped. A panic on any other message reaches the
// actor's supervisor as usual. Without it, a panic on an *Intercept is
// handled by the supervisor (protoactor's default restarts the actor,
// dropping its state) and the calls the actor held end INTERNAL.
func Recover(next actor.ReceiverFunc) actor.ReceiverFunc {
	return func(c actor.ReceiverContext, env *actor.MessageEnvelope) {
		m, ok := env.Message.(*Intercept)
		if !ok {
			next(c, env)
			return
		}
		defer func() {
			r := recover()
			if r == nil {
				return
			}
			method := ""
			if m.Details != nil {
				method = m.Details.Method
			}
			st := status.Errorf(codes.Internal, "middleware actor %s panicked handling the %s call to %s: %v", c.Self(), m.Kind, method, r)
			if env.Sender != nil {
				c.ActorSystem().Root.Send(env.Sender, &Reject{Status: st})
			}
		}()
		next(c, env)
	}
}
