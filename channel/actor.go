package channel

import (
	"context"
	"net"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/grpcactor/grpcactor/actors/actorspb"
	"github.com/grpcactor/grpcactor/internal/actorsys"
	"github.com/grpcactor/grpcactor/internal/subchannel"
	"github.com/grpcactor/grpcactor/internal/transport"
	"github.com/grpcactor/grpcactor/resolver"
	"github.com/grpcactor/grpcactor/status"
)

// Messages only the actor handles.
type (
	msgSubscribe struct {
		sub          *Subscription
		tryToConnect bool
	}
	msgUnsubscribe struct{ sub *Subscription }
	msgResolveDone struct {
		addrs []address
		err   *status.Error
		res   resolverExtras
	}
	// msgCloseReq is Close shutting the channel down: the actor closes
	// (as on Stopping), and tells Close when its last child has stopped.
	msgCloseReq struct{}
)

// chanActor performs the core's effects and owns the subscriptions.
type chanActor struct {
	ch   *Channel
	core *core
	ctx  actor.Context

	subs map[int]*subchannel.Subchannel
	ids  map[*subchannel.Subchannel]int

	subscribers []*Subscription

	keepalive time.Duration
	timers    *actorsys.Timers[string]

	// The resolver (resolve.go): built when the channel opened; resPID
	// is its actor once started, until it stops or the channel closes.
	res        resolver.Resolver
	resPID     *actor.PID
	resStarted bool

	closing bool // Close asked: close ch.drained once no child is left
	drained bool
}

func (a *chanActor) Receive(ctx actor.Context) {
	a.ctx = ctx
	var msg coreMsg
	switch m := ctx.Message().(type) {
	case *actor.Started:
		// Timers reach the actor unless the channel has closed.
		ch := a.ch
		a.timers = actorsys.NewTimers[string](func(m any) {
			if ch.snap.Load().state != Shutdown {
				ch.tell(m)
			}
		})
		return
	case msgPick, msgAbandoned, msgConnect, msgClose, msgEnterIdle, msgResetBoff, msgResolveNow, msgDoResolve, msgPollTick:
		msg = m.(coreMsg)
	case *subchannel.StateChanged:
		id, ok := a.ids[m.Sub]
		if !ok {
			return
		}
		msg = msgSubState{id: id, state: m.State, conn: m.Conn, err: m.Err}
	case *subchannel.TooManyPings:
		if m.Keepalive > a.keepalive {
			a.logTooManyPings(m.Sub.Address(), m.Keepalive)
			a.keepalive = m.Keepalive
			for _, s := range a.subs {
				s.SetKeepalive(a.keepalive)
			}
		}
		return
	case msgResolveDone:
		a.logResolved(m)
		msg = msgResolved(m)
	case *resolver.Update:
		var ok bool
		if msg, ok = a.resolverUpdate(m); !ok {
			return
		}
	case msgSubscribe:
		a.subscribe(m)
		return
	case msgUnsubscribe:
		a.unsubscribe(m.sub)
		return
	case *actor.Terminated:
		for _, s := range append([]*Subscription(nil), a.subscribers...) {
			if s.pid != nil && s.pid.Equal(m.Who) {
				a.unsubscribe(s)
			}
		}
		a.checkDrained()
		var ok bool
		if msg, ok = a.resolverTerminated(m.Who); !ok {
			return
		}
	case msgCloseReq:
		a.closing = true
		msg = msgClose{}
		defer a.closed()
	case msgIdleCheck:
		m.active, m.starts = a.ch.activeCalls(), a.ch.calls.starts()
		msg = m
	case *actor.Stopping:
		if !a.ch.closed.Load() {
			a.ch.parentStopped() // stopped from outside: its parent stopped
		}
		msg = msgClose{}
	case *actor.Stopped:
		// Stopped by something other than Close (its children are gone
		// too): Close must not wait for it.
		a.closing = true
		a.checkDrained()
		return
	case *actorspb.UnaryRequest:
		a.unaryRequest(ctx, m)
		return
	default:
		unknownMessage(ctx)
		return
	}
	effs := a.core.step(msg)
	// Publish first: a caller woken by a reply below must see the state
	// that woke it.
	a.publish()
	for _, e := range effs {
		a.perform(e)
	}
	if _, ok := msg.(msgClose); ok {
		a.timers.StopAll()
		a.stopResolver()
	}
}

// closed finishes Close's request: subscriber actors are no longer
// watched (their end would be a Terminated sent to a stopped channel
// actor), and Close learns when no child is left.
func (a *chanActor) closed() {
	for _, s := range a.subscribers {
		if s.pid != nil {
			a.ctx.Unwatch(s.pid)
		}
	}
	a.subscribers = nil
	a.checkDrained()
}

// checkDrained closes ch.drained when Close asked and every subchannel
// actor has stopped.
func (a *chanActor) checkDrained() {
	if a.closing && !a.drained && len(a.ctx.Children()) == 0 {
		a.drained = true
		close(a.ch.drained)
	}
}

// publish stores a new snapshot when the state or the picker changed,
// waking WaitForStateChange callers on a state change.
func (a *chanActor) publish() {
	old := a.ch.snap.Load()
	c := a.core
	if old.state == c.state && old.pickerGen == c.pickerGen {
		return
	}
	ns := &snapshot{state: c.state, pickerGen: c.pickerGen, changed: old.changed}
	if c.state == Ready {
		ns.picker = c.picker
	}
	if old.state != c.state {
		ns.changed = make(chan struct{})
	}
	a.ch.snap.Store(ns)
	if ns.changed != old.changed {
		close(old.changed)
	}
}

func (a *chanActor) perform(e effect) {
	switch e := e.(type) {
	case effResolve:
		a.resolveNow()
	case effResolveLater:
		a.timers.Arm("resolve", e.d, msgDoResolve{})
	case effIdleTimer:
		a.timers.Arm("idle", e.d, msgIdleCheck{gen: e.gen, armedStarts: a.ch.calls.starts()})
	case effNewSub:
		a.newSub(e.id, e.addr)
	case effConnectSub:
		if s := a.subs[e.id]; s != nil {
			s.Connect()
		}
	case effShutdownSub:
		if s := a.subs[e.id]; s != nil {
			delete(a.subs, e.id)
			delete(a.ids, s)
			s.Shutdown()
		}
	case effResetSubs:
		for _, id := range e.ids {
			if s := a.subs[id]; s != nil {
				s.ResetBackoff()
			}
		}
	case effReply:
		if e.req.notify != nil {
			// A started call continues on a goroutine of its own: what
			// it runs next may be the caller's callbacks, which never
			// run inside the actor (one that closed the channel would
			// deadlock it).
			go e.req.notify(e.res)
		} else {
			e.req.reply <- e.res
			if e.req.abandoned.Load() {
				dropReply(e.req, errPickAbandoned) // its caller has gone
			}
		}
	case effResolveTimer:
		a.timers.Arm("resolveRetry", e.d, msgResolveNow{gen: e.gen})
	case effPollTimer:
		a.timers.Arm("poll", e.d, msgPollTick{gen: e.gen})
	case effState:
		a.logState(e)
		a.notify(e.from, e.to)
	case effServiceConfig:
		a.ch.resolverSC.Store(e.sc)
		a.logServiceConfig(nil)
	case effBadServiceConfig:
		a.logServiceConfig(e.err)
	}
}

func (a *chanActor) newSub(id int, addr address) {
	ch := a.ch
	o := &ch.opts
	authority := ch.authority()
	maxRecv := o.maxRecv
	if maxRecv < 0 {
		maxRecv = -1
	}
	var handshake func(ctx context.Context, conn net.Conn) (net.Conn, error)
	scheme := "http"
	if creds := ch.creds; creds != nil {
		scheme = creds.Scheme()
		serverName := o.tlsServerName
		if serverName == "" {
			serverName = hostOf(authority)
		}
		handshake = func(ctx context.Context, conn net.Conn) (net.Conn, error) {
			return creds.ClientHandshake(ctx, serverName, conn)
		}
	}
	cfg := subchannel.Config{
		Transport: transport.Config{
			Scheme:                       scheme,
			Handshake:                    handshake,
			Network:                      addr.network,
			Address:                      addr.addr,
			Authority:                    authority,
			UserAgent:                    ch.ua,
			Dial:                         o.dial,
			MaxReceiveMessageSize:        maxRecv,
			MaxHeaderListSize:            o.maxHeaderList,
			InitialWindowSize:            o.initWindow,
			InitialConnWindowSize:        o.initConnWindow,
			BDP:                          o.bdp && o.initWindow == 0 && o.initConnWindow == 0, // a fixed window turns it off
			KeepaliveTime:                a.keepalive,
			KeepaliveTimeout:             o.keepalive.Timeout,
			KeepalivePermitWithoutCalls:  o.keepalive.PermitWithoutCalls,
			KeepaliveMaxPingsWithoutData: max(o.keepalive.MaxPingsWithoutData, 0), // transport: 0 = no limit
		},
		Backoff:           subchannel.Backoff{Initial: o.initialBackoff, Max: o.maxBackoff},
		MinConnectTimeout: o.minConnect,
		OnConn:            ch.addConn,
		Logger:            o.logger,
	}
	// Client-side health checking (gRFC A17) is for policies other than
	// pick_first, unless grpc.inhibit_health_checking turns it off.
	if sc := ch.serviceConfig(); sc != nil && a.core.lb != "pick_first" && !o.inhibitHealth {
		cfg.HealthCheckService = sc.HealthCheckService
	}
	s := subchannel.Spawn(a.ctx, cfg)
	a.subs[id] = s
	a.ids[s] = id
}
