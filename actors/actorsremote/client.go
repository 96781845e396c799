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
// gateway Serve runs there (or a gateway found by Locate). Make one with
// Remote or Locate and make calls on it with Unary, ServerStream,
// ClientStream and BidiStream, as on a local channel with the functions
// of package actors.
type Channel struct {
	sys     *actor.ActorSystem
	gateway *actor.PID // nil for a located channel
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
		return &client{gateway: c.gateway, what: address + "/" + name, calls: map[uint64]rcall{}, sys: system}
	}))
	return c
}

// Locate returns a handle, as Remote does, on a gateway whose PID locate
// finds: an actor that runs a Gateway (NewGateway) somewhere in the actor
// system, such as a cluster grain (package actorscluster). what names the
// gateway in statuses. locate may block (a cluster lookup): it runs on a
// goroutine of its own when the first call needs the gateway, once at a
// time, while the calls made meanwhile wait in the handle (their
// deadlines run). A locate error ends those calls with its status (a
// *status.Error's code, UNAVAILABLE for any other error). The gateway
// found is watched: when it is lost, every call in progress ends
// UNAVAILABLE and the next call runs locate again.
func Locate(system *actor.ActorSystem, what string, locate func() (*actor.PID, error)) *Channel {
	c := &Channel{sys: system}
	c.client = system.Root.Spawn(actor.PropsFromProducer(func() actor.Actor {
		return &client{locate: locate, what: what, calls: map[uint64]rcall{}, sys: system}
	}))
	return c
}

// Gateway returns the gateway's PID given to Remote; nil for a channel
// made by Locate, whose gateway may change.
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
	// located is what a Locate handle's locate returned.
	located struct {
		pid *actor.PID
		err error
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
	// credentials answers the gateway's CredentialsRequest.
	credentials(*actorspb.CredentialsRequest)
}

// client is the actor behind a Channel: it owns the table of calls in
// progress (by id) and watches the gateway. A located channel's gateway
// is nil until locate has found it, and again once it is lost; the
// messages for it wait in queue meanwhile.
type client struct {
	sys      *actor.ActorSystem
	gateway  *actor.PID
	what     string                     // the gateway, for statuses
	locate   func() (*actor.PID, error) // nil: gateway is fixed
	locating bool
	queue    []proto.Message
	watching bool
	calls    map[uint64]rcall
}

// idOf is the call id of a wire-protocol message.
func idOf(m proto.Message) uint64 {
	if i, ok := m.(interface{ GetId() uint64 }); ok {
		return i.GetId()
	}
	return 0
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
		} else if c.calls[idOf(m.msg)] == nil {
			return // the call has ended (its gateway lost, or cancelled)
		}
		c.send(ctx, m.msg)
	case *located:
		c.locating = false
		queue := c.queue
		c.queue = nil
		if m.err != nil || m.pid == nil {
			st := status.Convert(m.err)
			if m.err == nil || st.Code() == codes.Unknown {
				st = status.Errorf(codes.Unavailable, "gateway %s not found: %v", c.what, m.err)
			}
			c.endAll(ctx, st, false)
			return
		}
		c.gateway = m.pid
		if len(c.calls) > 0 {
			c.watch(ctx)
		}
		for _, msg := range queue {
			if c.calls[idOf(msg)] != nil {
				ctx.Request(c.gateway, msg)
			}
		}
	case *cancelCall:
		if rc := c.calls[m.id]; rc != nil {
			c.endLocally(ctx, rc, status.New(codes.Canceled, "call cancelled by the client"))
		}
	case *callDeadline:
		if rc := c.calls[m.id]; rc != nil {
			c.endLocally(ctx, rc, status.Errorf(codes.DeadlineExceeded, "deadline exceeded after %v (measured on the calling node; the gateway %s did not end the call first)", m.timeout, c.what))
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
	case *actorspb.CredentialsRequest:
		if rc := c.calls[m.GetId()]; rc != nil {
			rc.credentials(m)
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
		if c.gateway != nil && m.GetWho().Equal(c.gateway) {
			gw := c.gateway
			c.watching = false
			if c.locate != nil {
				c.gateway = nil // the next call locates it again
			}
			// The gateway watched this actor: forget it, or this actor's
			// stop would make protoactor notify a lost node, reconnecting
			// to it for seconds.
			if p, ok := ctx.ActorSystem().ProcessRegistry.GetLocal(ctx.Self().GetId()); ok {
				p.SendSystemMessage(ctx.Self(), &actor.Unwatch{Watcher: gw})
			}
			c.endAll(ctx, status.Errorf(codes.Unavailable, "gateway %s lost (%v): the call's outcome is unknown", c.named(gw), m.GetWhy()), false)
		}
	case *actor.Stopping:
		// A stopped actor system (a node shutting down) sends nothing.
		c.endAll(ctx, status.New(codes.Canceled, "the remote channel's handle was closed"), !ctx.ActorSystem().IsStopped())
	}
}

// named names the gateway gw in a status: its PID, and what it is for a
// located one.
func (c *client) named(gw *actor.PID) string {
	if c.locate == nil {
		return c.what
	}
	return c.what + " (" + gw.GetAddress() + "/" + gw.GetId() + ")"
}

// send sends msg to the gateway, or queues it while the gateway is being
// located.
func (c *client) send(ctx actor.Context, msg proto.Message) {
	if c.gateway != nil {
		ctx.Request(c.gateway, msg)
		return
	}
	c.queue = append(c.queue, msg)
	if !c.locating {
		c.locating = true
		sys, self, locate := c.sys, ctx.Self(), c.locate
		go func() {
			pid, err := locate()
			sys.Root.Send(self, &located{pid: pid, err: err})
		}()
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
	if c.gateway != nil {
		c.watch(ctx)
	}
}

// watch watches the gateway, once.
func (c *client) watch(ctx actor.Context) {
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

// endLocally ends a call on this side and cancels it on the gateway (a
// call still waiting for its gateway to be located is just dropped).
func (c *client) endLocally(ctx actor.Context, rc rcall, st *status.Error) {
	delete(c.calls, rc.callID())
	if c.gateway != nil && !ctx.ActorSystem().IsStopped() {
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
		if cancel && c.gateway != nil {
			ctx.Request(c.gateway, &actorspb.CallCancel{Id: id})
		}
		rc.end(st, nil, nil)
	}
}
