package actors

import (
	"github.com/asynkron/protoactor-go/actor"
	"github.com/grpcactor/grpcactor/channel"
)

// Sender is what starts a unary or server-streaming call by message: the
// *UnaryMethod and *ServerStreamMethod of a local channel and their
// counterparts for a channel on another node (package
// actors/actorsremote) alike, so code written against one runs on the
// other.
type Sender[Req any] interface {
	Send(ctx actor.SenderContext, req Req, opts ...channel.CallOption) *Ref
}

// Opener is what starts a client- or bidirectional-streaming call by
// message, locally (*ClientStreamMethod, *BidiStreamMethod) or on
// another node.
type Opener interface {
	Open(ctx actor.SenderContext, opts ...channel.CallOption) *Ref
}

// Backend carries a call made by message somewhere other than a local
// channel: package actors/actorsremote carries it to a channel on another
// node. NewCall gives such a call the Ref, options and lifetime of a
// local one. Its methods back the Ref's and follow their contracts; they
// must not block.
type Backend interface {
	Send(req any) error
	CloseSend() error
	Request(n int)
	Cancel()
}

// CallSetup is what NewCall tells the Backend it is making about the call.
type CallSetup struct {
	// Ref is the call's reference, to put in its messages.
	Ref *Ref
	// ReplyTo receives the call's messages: the calling actor, or the PID
	// given with ReplyTo.
	ReplyTo *actor.PID
	// Demand is the call's Demand (DefaultDemand without one).
	Demand int
	// Options are the channel's call options among the call's options.
	Options []channel.CallOption
	// Done must be called once, when the call has ended: it unties the
	// call from the calling actor.
	Done func()
}

// NewCall makes the Ref of a call carried by a Backend. It reads opts as
// Send and Open do, has start make the backend, and ties the call to the
// calling actor as a local call is: when that actor stops, the Ref is
// cancelled (Backend.Cancel). start runs before NewCall returns; a Cancel
// that comes meanwhile reaches the backend once it is made.
func NewCall(ctx actor.SenderContext, method string, opts []channel.CallOption, start func(CallSetup) Backend) *Ref {
	o := parseOptions(ctx, opts)
	ref := &Ref{method: method, to: o.dest}
	o.track(ref)
	b := start(CallSetup{Ref: ref, ReplyTo: o.target, Demand: o.demand, Options: o.opts, Done: ref.untrack})
	ref.set(backendImpl{b})
	return ref
}

// backendImpl is a Backend's side of a Ref.
type backendImpl struct{ b Backend }

func (x backendImpl) call() *channel.Call { return nil }
func (x backendImpl) send(req any) error  { return x.b.Send(req) }
func (x backendImpl) closeSend() error    { return x.b.CloseSend() }
func (x backendImpl) request(n int)       { x.b.Request(n) }
func (x backendImpl) cancel()             { x.b.Cancel() }
