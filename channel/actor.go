package channel

import (
	"context"
	"net"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/grpcactor/grpcactor/actors/actorspb"
	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/internal/resolver"
	"github.com/grpcactor/grpcactor/status"
	"github.com/grpcactor/grpcactor/subchannel"
	"github.com/grpcactor/grpcactor/transport"
)

// Messages only the actor handles.
type (
	msgSubscribe struct {
		sub          *Subscription
		tryToConnect bool
	}
	msgUnsubscribe struct{ sub *Subscription }
	msgIdleCheck   struct{ gen int }
	msgDoResolve   struct{}
	msgResolveDone struct {
		addrs []address
		err   *status.Error
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
	rl        resolver.RateLimit
	dns       *resolver.DNS
	resolving bool // a lookup is in flight
	again     bool // another was asked for meanwhile
	scheduled bool // a rate-limited lookup is scheduled

	idleGen    int
	idleArmed  bool
	lastStarts uint64
	timers     map[string]*time.Timer

	closing bool // Close asked: close ch.drained once no child is left
	drained bool
}

func (a *chanActor) Receive(ctx actor.Context) {
	a.ctx = ctx
	var msg any
	switch m := ctx.Message().(type) {
	case msgPick, msgAbandoned, msgConnect, msgClose, msgEnterIdle, msgResetBoff, msgResolveNow:
		msg = m
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
		a.resolving = false
		a.logResolved(m)
		msg = msgResolved(m)
		if a.again {
			a.again = false
			defer a.resolve(false)
		}
	case msgDoResolve:
		a.scheduled = false
		a.resolve(false)
		return
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
		return
	case msgCloseReq:
		a.closing = true
		msg = msgClose{}
		defer a.closed()
	case msgIdleCheck:
		if m.gen != a.idleGen {
			return
		}
		a.idleArmed = false
		starts := a.ch.callStarts.Load()
		if a.ch.activeCalls() == 0 && starts == a.lastStarts {
			msg = msgEnterIdle{}
		} else {
			a.lastStarts = starts
			a.armIdle()
			return
		}
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
	if _, ok := msg.(msgEnterIdle); ok && a.core.state != Idle && a.core.state != Shutdown {
		a.armIdle() // calls were still waiting: check again later
	}
	// Publish first: a caller woken by a reply below must see the state
	// that woke it.
	a.publish()
	for _, e := range effs {
		a.perform(e)
	}
	if _, ok := msg.(msgClose); ok {
		for _, t := range a.timers {
			t.Stop()
		}
		a.timers = map[string]*time.Timer{}
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

// after sends msg to the actor after d, unless the channel has closed. A
// timer of the same kind replaces the previous one.
func (a *chanActor) after(kind string, d time.Duration, msg any) {
	ch := a.ch
	if old := a.timers[kind]; old != nil {
		old.Stop()
	}
	a.timers[kind] = time.AfterFunc(d, func() {
		if ch.snap.Load().state != Shutdown {
			ch.tell(msg)
		}
	})
}

func (a *chanActor) armIdle() {
	if a.ch.opts.idleTimeout <= 0 || a.idleArmed {
		return
	}
	a.idleArmed = true
	a.idleGen++
	a.lastStarts = a.ch.callStarts.Load()
	a.after("idle", a.ch.opts.idleTimeout, msgIdleCheck{gen: a.idleGen})
}

// publish stores a new snapshot when the state or the ready connections
// changed, waking WaitForStateChange callers on a state change.
func (a *chanActor) publish() {
	old := a.ch.snap.Load()
	conns := a.core.readyConns()
	if old.state == a.core.state && sameConns(old.conns, conns) {
		return
	}
	ns := &snapshot{state: a.core.state, conns: conns, changed: old.changed}
	if old.state != a.core.state {
		ns.changed = make(chan struct{})
	}
	a.ch.snap.Store(ns)
	if ns.changed != old.changed {
		close(old.changed)
	}
}

func sameConns(a, b []*transport.Conn) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func (a *chanActor) perform(e any) {
	switch e := e.(type) {
	case effResolve:
		a.resolve(e.first)
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
			e.req.notify(e.res)
		} else {
			e.req.reply <- e.res
		}
	case effResolveTimer:
		a.after("resolveRetry", e.d, msgResolveNow{gen: e.gen})
	case effState:
		a.logState(e)
		a.notify(e.from, e.to)
		if e.from == Idle {
			a.armIdle()
		}
		if e.to == Idle {
			a.idleArmed = false
			a.idleGen++
		}
	}
}

// resolve looks the target's name up on a goroutine. Re-resolutions are
// rate-limited (grpc.dns_min_time_between_resolutions_ms); the first one
// after leaving IDLE is not.
func (a *chanActor) resolve(first bool) {
	pt := a.ch.pt
	if pt.scheme != "dns" {
		return
	}
	if a.resolving {
		a.again = true
		return
	}
	if first {
		a.rl = resolver.RateLimit{MinInterval: a.rl.MinInterval}
	}
	if wait := a.rl.Next(time.Now()); wait > 0 {
		if !a.scheduled {
			a.scheduled = true
			a.after("resolve", wait, msgDoResolve{})
		}
		return
	}
	a.resolving = true
	ch, dns := a.ch, a.dns
	ch.bg.Add(1)
	go func() {
		defer ch.bg.Done()
		ctx, cancel := context.WithTimeout(ch.bgCtx, 20*time.Second)
		defer cancel()
		res, err := dns.Resolve(ctx, pt.host, pt.port)
		m := msgResolveDone{}
		if err != nil {
			m.err = status.Errorf(codes.Unavailable, "name resolution failed for target %q: %v", ch.target, err).WithCause(err)
		}
		for _, r := range res {
			m.addrs = append(m.addrs, address{network: r.Network, addr: r.Addr})
		}
		ch.tell(m) // Close waits for this goroutine before the actor stops
	}()
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
	s := subchannel.Spawn(a.ctx, cfg)
	a.subs[id] = s
	a.ids[s] = id
}
