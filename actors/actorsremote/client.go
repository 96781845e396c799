package actorsremote

import (
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/grpcactor/grpcactor/actors/actorspb"
	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/metadata"
	"github.com/grpcactor/grpcactor/status"
	"google.golang.org/protobuf/proto"
)

// Channel is a channel that lives on another node, reached through the
// gateway Serve runs there. Make one with Remote and make calls on it
// with Unary, ServerStream, ClientStream and BidiStream, as on a local
// channel with the functions of package actors.
type Channel struct {
	sys     *actor.ActorSystem
	gateway *actor.PID
	client  *actor.PID // the handle's actor, which talks to the gateway
	nextID  atomic.Uint64
}

// Remote returns a handle on the channel that the gateway named name
// serves on the node at address (host:port, as protoactor's remote layer
// advertises it). system must have protoactor's remote layer started.
// It spawns one local actor that sends the calls to the gateway and turns
// what comes back into the messages of package actors (*actors.Reply,
// *actors.Message, *actors.End, *actors.SendCredit), delivered to the
// calling actor or ReplyTo's PID, which must be local. It performs no
// I/O; nothing is sent before the first call. Close stops it.
//
// If the gateway is lost (it stops, its node goes away or cannot be
// reached: protoactor's Terminated for the gateway's PID), every call in
// progress ends UNAVAILABLE; the next call tries the gateway again.
func Remote(system *actor.ActorSystem, address, name string) *Channel {
	c := &Channel{sys: system, gateway: actor.NewPID(address, name)}
	c.client = system.Root.Spawn(actor.PropsFromProducer(func() actor.Actor {
		return &client{gateway: c.gateway, calls: map[uint64]rcall{}, sys: system}
	}))
	return c
}

// Gateway returns the gateway's PID.
func (c *Channel) Gateway() *actor.PID { return c.gateway }

// Close stops the handle's actor and waits for it: calls in progress end
// CANCELLED and are cancelled on the gateway.
func (c *Channel) Close() {
	_ = c.sys.Root.StopFuture(c.client).Wait()
}

// The client actor's own messages, sent by the calls' Ref methods and
// timers.
type (
	// outbound asks the client actor to send msg to the gateway; call, if
	// set, is a new call to register first (with its timeout, if any).
	outbound struct {
		call    rcall
		msg     proto.Message
		timeout *time.Duration
	}
	// cancelCall ends a call CANCELLED and cancels it on the gateway.
	cancelCall struct{ id uint64 }
	// callDeadline ends a call DEADLINE_EXCEEDED when its timeout passes
	// (the gateway enforces it too; this bounds a call whose gateway
	// cannot be reached).
	callDeadline struct {
		id      uint64
		timeout time.Duration
	}
)

// rcall is a call in progress, as the client actor sees it. Its methods
// run in the client actor; each delivers the call's messages.
type rcall interface {
	callID() uint64
	// unaryResponse ends a unary call.
	unaryResponse(*actorspb.UnaryResponse)
	message(b []byte) *status.Error // a decoding failure ends the call
	credit(n int)
	// end ends the call: st nil for OK.
	end(st *status.Error, header, trailer metadata.MD)
	setTimer(*time.Timer)
}

// client is the actor behind a Channel: it owns the table of calls in
// progress (by id) and watches the gateway.
type client struct {
	sys      *actor.ActorSystem
	gateway  *actor.PID
	watching bool
	calls    map[uint64]rcall
}

func (c *client) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *outbound:
		if ctx.ActorSystem().IsStopped() {
			if m.call != nil {
				m.call.end(status.New(codes.Unavailable, "the calling node's actor system is shut down"), nil, nil)
			}
			return
		}
		if m.call != nil {
			c.register(ctx, m.call, m.timeout)
		}
		ctx.Request(c.gateway, m.msg)
	case *cancelCall:
		if rc := c.calls[m.id]; rc != nil {
			c.endLocally(ctx, rc, status.New(codes.Canceled, "call cancelled by the client"))
		}
	case *callDeadline:
		if rc := c.calls[m.id]; rc != nil {
			c.endLocally(ctx, rc, status.Errorf(codes.DeadlineExceeded, "deadline exceeded after %v (measured on the calling node; the gateway %s/%s did not end the call first)", m.timeout, c.gateway.GetAddress(), c.gateway.GetId()))
		}
	case *actorspb.UnaryResponse:
		if rc := c.take(m.GetId()); rc != nil {
			rc.unaryResponse(m)
		}
	case *actorspb.StreamMessage:
		if rc := c.calls[m.GetId()]; rc != nil {
			if st := rc.message(m.GetMessage()); st != nil {
				c.endLocally(ctx, rc, st)
			}
		}
	case *actorspb.StreamCredit:
		if rc := c.calls[m.GetId()]; rc != nil {
			rc.credit(int(m.GetN()))
		}
	case *actorspb.StreamEnd:
		if rc := c.take(m.GetId()); rc != nil {
			var st *status.Error
			if m.GetCode() != 0 {
				st = status.New(codes.Code(m.GetCode()), m.GetDetails())
			}
			rc.end(st, actorspb.ToMD(m.GetInitialMetadata()), actorspb.ToMD(m.GetTrailingMetadata()))
		}
	case *actor.Terminated:
		if m.GetWho().Equal(c.gateway) {
			c.watching = false
			// The gateway watched this actor: forget it, or this actor's
			// stop would make protoactor notify a lost node, reconnecting
			// to it for seconds.
			if p, ok := ctx.ActorSystem().ProcessRegistry.GetLocal(ctx.Self().GetId()); ok {
				p.SendSystemMessage(ctx.Self(), &actor.Unwatch{Watcher: c.gateway})
			}
			c.endAll(ctx, status.Errorf(codes.Unavailable, "gateway %s/%s lost (%v): the call's outcome is unknown", c.gateway.GetAddress(), c.gateway.GetId(), m.GetWhy()), false)
		}
	case *actor.Stopping:
		// A stopped actor system (a node shutting down) sends nothing.
		c.endAll(ctx, status.New(codes.Canceled, "the remote channel's handle was closed"), !ctx.ActorSystem().IsStopped())
	}
}

// register adds a new call, starts its local deadline and makes sure the
// gateway is watched.
func (c *client) register(ctx actor.Context, rc rcall, timeout *time.Duration) {
	c.calls[rc.callID()] = rc
	if timeout != nil {
		sys, self, id, d := c.sys, ctx.Self(), rc.callID(), *timeout
		rc.setTimer(time.AfterFunc(max(d, 0), func() { sys.Root.Send(self, &callDeadline{id: id, timeout: d}) }))
	}
	if !c.watching {
		c.watching = true
		ctx.Watch(c.gateway)
	}
}

// take removes the call of id from the table and returns it.
func (c *client) take(id uint64) rcall {
	rc := c.calls[id]
	delete(c.calls, id)
	return rc
}

// endLocally ends a call on this side and cancels it on the gateway.
func (c *client) endLocally(ctx actor.Context, rc rcall, st *status.Error) {
	delete(c.calls, rc.callID())
	if !ctx.ActorSystem().IsStopped() {
		ctx.Request(c.gateway, &actorspb.CallCancel{Id: rc.callID()})
	}
	rc.end(st, nil, nil)
}

// endAll ends every call with st, cancelling them on the gateway if
// cancel.
func (c *client) endAll(ctx actor.Context, st *status.Error, cancel bool) {
	calls := c.calls
	c.calls = map[uint64]rcall{}
	for id, rc := range calls {
		if cancel {
			ctx.Request(c.gateway, &actorspb.CallCancel{Id: id})
		}
		rc.end(st, nil, nil)
	}
}
