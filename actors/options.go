package actors

import (
	"github.com/asynkron/protoactor-go/actor"
	"github.com/grpcactor/grpcactor/channel"
)

// DefaultDemand is the demand of a streaming call started without Demand:
// 0, no limit; every response is delivered as it arrives.
const DefaultDemand = 0

// Demand makes a server- or bidirectional-streaming call deliver at most
// n *Message before the actor grants more with Ref.Request; n <= 0 means
// no limit. Default: DefaultDemand.
func Demand(n int) channel.CallOption { return demandOption{n: n} }

// ReplyTo delivers the call's messages to pid instead of the sending
// actor (required when the context has no Self, as the root context).
func ReplyTo(pid *actor.PID) channel.CallOption { return replyToOption{pid: pid} }

type demandOption struct {
	channel.CallOptionBase
	n int
}

type replyToOption struct {
	channel.CallOptionBase
	pid *actor.PID
}

// dest is where a call's messages go.
type dest struct {
	sys    *actor.ActorSystem
	target *actor.PID
}

// deliver sends msg to the call's target.
func (d dest) deliver(msg any) { d.sys.Root.Send(d.target, msg) }

// sendOptions is what Send and Open take from their option list.
type sendOptions struct {
	dest
	owner  *actor.PID // the calling actor, whose stop cancels the call
	demand int
	opts   []channel.CallOption // the channel's
}

func parseOptions(ctx actor.SenderContext, opts []channel.CallOption) sendOptions {
	o := sendOptions{dest: dest{sys: ctx.ActorSystem()}, demand: DefaultDemand}
	if _, ok := ctx.(actor.Context); ok {
		o.owner = ctx.Self()
	}
	o.target = o.owner
	for _, opt := range opts {
		switch v := opt.(type) {
		case demandOption:
			o.demand = v.n
		case replyToOption:
			o.target = v.pid
		case nil:
		default:
			o.opts = append(o.opts, opt)
		}
	}
	if o.target == nil {
		panic("actors: a call sent from a context without Self needs actors.ReplyTo(pid)")
	}
	return o
}
