package channel

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/internal/serviceconfig"
	"github.com/grpcactor/grpcactor/resolver"
	"github.com/grpcactor/grpcactor/status"
)

// The channel's side of package resolver. Every target is resolved by a
// builder of package resolver: WithResolver's, else the one registered for
// its scheme (the built-in schemes are registered builders too). The
// resolver it builds is one of resolver.Resolver's four forms: Static (the
// built-in unix, unix-abstract, ipv4, ipv6 and passthrough schemes), whose
// fixed addresses the core uses as it always did (core.static, no
// lookup); a Poll function (the built-in dns scheme is one), which the
// actor calls on a goroutine when the core emits effResolve, one call at a
// time, and, with a PollInterval, again when the core's poll timer fires;
// or an actor (Props, spawned as the channel actor's child, or the user's
// PID), which the actor starts on the first effResolve and asks again with
// *resolver.ResolveNow on the next ones. An actor pushes *resolver.Update
// messages whenever it likes; the actor turns each into msgResolved for
// the core, as it does a Poll's result. The core knows only whether its
// resolver pushes (resolverCore).

// resolverCore is the core's state for a resolver of package resolver.
type resolverCore struct {
	// push: the resolver is an actor that sends updates when it likes,
	// not only in answer to effResolve. Its updates are applied whenever
	// they come, no lookup is "in flight", and a re-resolution request
	// is a hint that does not make the channel wait.
	push bool
	// gone is set when the resolver's actor stopped: every pick fails
	// with it from then on.
	gone *status.Error
	// defaultLB is the policy in force when the resolver's service config
	// names none (WithLBPolicy or WithServiceConfig's); defaultSC is the
	// WithServiceConfig one, whose loadBalancingConfig configures it.
	defaultLB string
	defaultSC *serviceconfig.Config
	// sc is the last good service config from the resolver (nil: none);
	// scErr is the error of the last one, if it was invalid.
	sc    *serviceconfig.Config
	scErr error
	// shuffleFn reorders addresses when a service config asks
	// (shuffleAddressList); nil in tests.
	shuffleFn func([]address)
	// info holds the resolver's own description of each address of the
	// latest list (weight, attributes), for policies to read.
	info map[address]resolver.Address
	// pollEvery is a Poll resolver's PollInterval (0: no periodic poll);
	// pollGen tells the current poll timer from stale ones.
	pollEvery time.Duration
	pollGen   int
}

// Periodic polling (resolver.Resolver.PollInterval): after each result of
// a Poll resolver the core arms the poll timer, and when it fires polls
// again, unless a lookup is already wanted. A stale timer (the channel
// went IDLE, or a later result armed another) is told by its generation.
type (
	// msgPollTick is the poll timer firing.
	msgPollTick struct{ gen int }
	// effPollTimer arms the poll timer: msgPollTick with gen after d.
	effPollTimer struct {
		d   time.Duration
		gen int
	}
)

func (msgPollTick) coreMsg()          {}
func (m msgPollTick) String() string  { return fmt.Sprintf("poll tick gen=%d", m.gen) }
func (effPollTimer) effect()          {}
func (e effPollTimer) String() string { return fmt.Sprintf("poll-timer %v gen=%d", e.d, e.gen) }

// armPoll arms the poll timer after a result of a Poll resolver that polls
// periodically.
func (c *core) armPoll() {
	if c.rs.pollEvery <= 0 || c.rs.push || c.state == Idle || c.state == Shutdown || c.rs.gone != nil {
		return
	}
	c.rs.pollGen++
	c.emit(effPollTimer{d: c.rs.pollEvery, gen: c.rs.pollGen})
}

// stopPoll makes the pending poll timer stale: the resolution backoff
// drives the next lookups.
func (c *core) stopPoll() { c.rs.pollGen++ }

// pollTick polls the resolver when the poll timer fires, unless a lookup
// is in flight (its result arms the timer again): at once, as a first
// lookup is (the rate limit does not hold it back, but counts it). A
// re-resolution the rate limit holds back is served by this poll.
func (c *core) pollTick(m msgPollTick) {
	if c.rs.pollEvery <= 0 || m.gen != c.rs.pollGen || c.state == Idle || c.inFlight || c.rs.gone != nil {
		return
	}
	c.scheduled = false
	c.resolving = true
	c.resolve(true)
}

// resolverExtras is what an update from package resolver carries beyond
// the addresses and the error.
type resolverExtras struct {
	cfgOnly bool                  // a service config with no address list
	sc      *serviceconfig.Config // a valid service config, if one came
	scErr   error                 // the error of an invalid one
	info    []resolver.Address    // the addresses as the resolver gave them
}

// resolverUpdate applies the service config an update carries and
// records its addresses' attributes. It reports whether the update was
// fully handled here: only a service config, or too late.
func (c *core) resolverUpdate(m msgResolved) bool {
	if c.rs.gone != nil {
		return true // a late update from a resolver that has stopped
	}
	x := m.res
	switch {
	case x.scErr != nil:
		c.rs.scErr = x.scErr
		c.emit(effBadServiceConfig{x.scErr})
	case x.sc != nil:
		c.rs.scErr = nil
		c.rs.sc = x.sc
		c.emit(effServiceConfig{x.sc})
		c.shuffle = nil
		if x.sc.PickFirstShuffle {
			c.shuffle = c.rs.shuffleFn
		}
		lb, b, cfg := policyFor(c.rs.defaultLB, c.rs.defaultSC)
		if x.sc.LBPolicy != "" {
			lb, b, cfg = policyFor(x.sc.LBPolicy, x.sc)
		}
		if lb != c.lb || !reflect.DeepEqual(cfg, c.lbConfig) {
			// Another policy, or another config for it: start over with
			// the same addresses.
			c.lb, c.builder, c.lbConfig = lb, b, cfg
			c.shutdownSubs()
			if x.cfgOnly && c.state != Idle && len(c.addrs) > 0 {
				c.updateAddrs(c.addrs)
			}
		}
	}
	if m.err == nil && !x.cfgOnly {
		c.rs.info = make(map[address]resolver.Address, len(x.info))
		for i, a := range x.info {
			if i < len(m.addrs) {
				c.rs.info[m.addrs[i]] = a
			}
		}
	}
	return x.cfgOnly
}

// addressInfo returns what the resolver said of a, if it said anything
// (the built-in schemes say nothing): its weight and attributes.
func (c *core) addressInfo(a address) (resolver.Address, bool) {
	info, ok := c.rs.info[a]
	return info, ok
}

// resolverGone puts the channel in TRANSIENT_FAILURE for good: its
// resolver's actor stopped, so no address will ever come. Every waiting
// pick, wait_for_ready or not, fails with err, and so does every later
// one.
func (c *core) resolverGone(err *status.Error) {
	c.rs.gone = err
	c.lastErr = err
	c.shutdownSubs()
	c.resolving = false
	if c.state == Idle {
		c.setState(Connecting) // IDLE has no edge to TRANSIENT_FAILURE
	}
	c.setState(TransientFailure)
	for _, p := range c.pending {
		c.emit(effReply{p, pickResult{err: err}})
	}
	c.pending = nil
}

// buildResolver builds the channel's resolver with b, or, when b is nil,
// with the builder registered for the target's scheme (a built-in
// scheme's unless resolver.Register replaced it). It returns the builder
// it used.
func buildResolver(target string, pt *parsedTarget, b resolver.Builder) (resolver.Resolver, resolver.Builder, error) {
	if b == nil {
		if b = resolver.Get(pt.scheme); b == nil {
			return resolver.Resolver{}, nil, fmt.Errorf("no resolver is registered for scheme %q", pt.scheme)
		}
	}
	r, err := b.Build(pt.resolverTarget(target))
	if err == nil {
		err = r.Check()
	}
	if err != nil {
		return resolver.Resolver{}, nil, err
	}
	return r, b, nil
}

// fixedAddrs returns a Static resolver's addresses in the channel's form
// (nil for the other forms), and what the resolver said of each (weight,
// attributes) for policies to read.
func fixedAddrs(r resolver.Resolver) ([]address, map[address]resolver.Address) {
	if len(r.Static) == 0 {
		return nil, nil
	}
	out := make([]address, len(r.Static))
	info := make(map[address]resolver.Address, len(r.Static))
	for i, a := range r.Static {
		network := a.Network
		if network == "" {
			network = "tcp"
		}
		out[i] = address{network: network, addr: a.Addr}
		info[out[i]] = a
	}
	return out, info
}

// toResolved turns a resolver's update into the core's message: the
// error wrapped as UNAVAILABLE naming the target, the addresses in the
// channel's form, the service config parsed (an invalid one is scErr).
func toResolved(target string, u *resolver.Update) msgResolveDone {
	var m msgResolveDone
	if u.Err != nil {
		m.err = status.Errorf(codes.Unavailable, "name resolution failed for target %q: %v", target, u.Err).WithCause(u.Err)
		return m
	}
	if u.ServiceConfig != "" {
		if sc, err := serviceconfig.Parse(u.ServiceConfig); err != nil {
			m.res.scErr = err
		} else {
			m.res.sc = sc
		}
		m.res.cfgOnly = u.Addresses == nil
	}
	for _, a := range u.Addresses {
		network := a.Network
		if network == "" {
			network = "tcp"
		}
		m.addrs = append(m.addrs, address{network: network, addr: a.Addr})
	}
	m.res.info = u.Addresses
	return m
}

// resolveNow performs effResolve: a Poll runs on a goroutine; an actor
// resolver is started the first time and sent *resolver.ResolveNow after.
func (a *chanActor) resolveNow() {
	r := a.res
	switch {
	case r.Poll != nil:
		a.lookup()
	case a.resPID == nil && !a.resStarted:
		a.resStarted = true
		if r.Props != nil {
			a.resPID = a.ctx.Spawn(r.Props) // a child: its end arrives as Terminated
		} else {
			a.resPID = r.PID
			a.ctx.Watch(r.PID)
		}
		a.ctx.Send(a.resPID, &resolver.Start{Target: a.ch.pt.resolverTarget(a.ch.target), Channel: a.ctx.Self()})
	case a.resPID != nil:
		a.ctx.Send(a.resPID, &resolver.ResolveNow{Channel: a.ctx.Self()})
	}
}

// lookup calls the resolver's Poll on a goroutine (the core decided it may
// run now) and sends the result back as msgResolveDone.
func (a *chanActor) lookup() {
	ch, poll := a.ch, a.res.Poll
	ch.bg.Add(1)
	go func() {
		defer ch.bg.Done()
		ctx, cancel := context.WithTimeout(ch.bgCtx, 20*time.Second)
		defer cancel()
		u := poll(ctx)
		ch.tell(toResolved(ch.target, &u)) // Close waits for this goroutine before the actor stops
	}()
}

// resolverUpdate turns a pushed update into the core's message; ok is
// false for one that does not come from the channel's started actor
// resolver (none is started, or it is gone).
func (a *chanActor) resolverUpdate(u *resolver.Update) (msg coreMsg, ok bool) {
	if a.resPID == nil || u == nil {
		return nil, false
	}
	m := toResolved(a.ch.target, u)
	a.logResolved(m)
	return msgResolved(m), true
}

// resolverTerminated handles the end of the resolver's actor: unless the
// channel is closing, the core learns that it is gone.
func (a *chanActor) resolverTerminated(who *actor.PID) (coreMsg, bool) {
	if a.resPID == nil || !a.resPID.Equal(who) {
		return nil, false
	}
	a.resPID = nil
	if a.closing || a.ch.closed.Load() {
		return nil, false
	}
	err := status.Errorf(codes.Unavailable, "the resolver of target %q stopped (actor %s); the channel cannot learn addresses any more", a.ch.target, who.Id)
	return msgResolverGone{err: err}, true
}

// stopResolver ends the resolver's actor as the channel closes: a child is
// stopped (Close waits for it as for every child), a PID of the user's is
// told *resolver.Stop and no longer watched.
func (a *chanActor) stopResolver() {
	pid := a.resPID
	if pid == nil {
		return
	}
	a.resPID = nil
	if a.res.Props != nil {
		a.ctx.Stop(pid)
		return
	}
	a.ctx.Unwatch(pid)
	a.ctx.Send(pid, &resolver.Stop{Channel: a.ctx.Self()})
}

// serviceConfig returns the service config in force: the resolver's last
// good one, else the WithServiceConfig one (nil if neither).
func (ch *chanState) serviceConfig() *serviceconfig.Config {
	if sc := ch.resolverSC.Load(); sc != nil {
		return sc
	}
	return ch.opts.serviceConfig
}

// logServiceConfig logs a resolver's service config: applied (Info) or
// invalid and ignored (Warn).
func (a *chanActor) logServiceConfig(err error) {
	level := slog.LevelInfo
	if err != nil {
		level = slog.LevelWarn
	}
	l := a.ch.logAt(level)
	if l == nil {
		return
	}
	if err != nil {
		l.LogAttrs(context.Background(), level, "resolver's service config is invalid; the last good one stays in force",
			slog.String("target", a.ch.target), slog.String("error", err.Error()))
		return
	}
	l.LogAttrs(context.Background(), level, "resolver's service config in force", slog.String("target", a.ch.target))
}
