package futures

import "github.com/asynkron/protoactor-go/actor"

// PipeOption configures one [Future.PipeTo].
type PipeOption func(*pipeOptions)

type pipeOptions struct {
	tag any
	sys *actor.ActorSystem
}

// Tag sets the correlation value PipeTo puts in the [Outcome]'s Tag field,
// so that an actor can tell which of its requests the outcome answers.
// Default: nil.
func Tag(v any) PipeOption {
	return func(o *pipeOptions) { o.tag = v }
}

// Through sends the [Outcome] through sys instead of the future's own actor
// system. pid must belong to the system the message goes through. Default:
// the future's system, or for a future made without one, the library's
// default system (the one channels use when given none).
func Through(sys *actor.ActorSystem) PipeOption {
	return func(o *pipeOptions) { o.sys = sys }
}
