package channel

import (
	"errors"
	"sync/atomic"
	"time"

	"github.com/grpcactor/grpcactor/balancer"
	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/internal/actorsys"
	"github.com/grpcactor/grpcactor/internal/lbconn"
	"github.com/grpcactor/grpcactor/internal/resolver"
	"github.com/grpcactor/grpcactor/internal/serviceconfig"
	"github.com/grpcactor/grpcactor/internal/transport"
	"github.com/grpcactor/grpcactor/status"
)

// The channel actor's logic is this plain state machine: core.step takes a
// message and returns the effects the actor performs (resolve the target,
// create, connect or shut down subchannels, answer waiting picks, arm
// timers, report state changes). Tests drive it without sockets or actors.
// Subchannels are named by small integer ids here; the actor maps them to
// subchannel actors. The core also owns the idle timer's state and the name
// lookups' state (whether one is in flight, the rate limit between them):
// what it reads of the world (the time, the calls started) comes in as data.

// pickResult answers a pick: a ready connection, or an error.
type pickResult struct {
	conn *transport.Conn
	done func(balancer.DoneInfo) // the policy's PickResult.Done, or nil
	err  *status.Error
}

// pickReq is a call waiting for a ready connection.
type pickReq struct {
	waitForReady bool
	info         balancer.PickInfo // what the picker sees of the call
	reply        chan pickResult   // buffered, capacity 1
	abandoned    atomic.Bool       // the caller stopped waiting (its context ended)
	// notify, instead of reply, receives the answer (a call started with
	// Start, which holds no goroutine); it runs in the channel actor and
	// does not block.
	notify func(pickResult)
}

// coreMsg is a message core.step understands. The set is closed (the
// unexported method); String describes a message in test failures.
type coreMsg interface {
	coreMsg()
	String() string
}

// effect is what core.step asks the actor to do, in order. The set is
// closed; String is the effect as table tests expect it.
type effect interface {
	effect()
	String() string
}

// Messages the core understands.
type (
	msgPick       struct{ req *pickReq }
	msgAbandoned  struct{} // a waiting caller's context ended: drop its pick
	msgConnect    struct{} // exit IDLE (State(true), Subscribe(..., true), ReadyFuture)
	msgClose      struct{}
	msgEnterIdle  struct{}
	msgResetBoff  struct{}
	msgResolveNow struct{ gen int }
	msgResolved   struct {
		addrs []address
		err   *status.Error
		res   resolverExtras // what a resolver of package resolver adds
	}
	msgSubState struct {
		id    int
		state Connectivity
		conn  *transport.Conn
		err   *status.Error
	}
	// msgIdleCheck is the idle timer firing; gen tells a stale one. The
	// actor stamps it with the channel's call counters: armedStarts, the
	// calls started when the timer was armed; active and starts, the
	// calls in progress and started when it fired.
	msgIdleCheck struct {
		gen                 int
		active              int
		armedStarts, starts uint64
	}
	// msgDoResolve is the rate limit's timer firing: the re-resolution it
	// held back may run now.
	msgDoResolve struct{}
	// msgResolverGone is the resolver's actor stopping (resolve.go).
	msgResolverGone struct{ err *status.Error }
)

// Effects.
type (
	// effResolve starts a lookup of the target's name; its result comes
	// back as msgResolved.
	effResolve struct{}
	// effResolveLater arms the rate limit's timer: msgDoResolve after d.
	effResolveLater struct{ d time.Duration }
	// effIdleTimer arms the idle timer: msgIdleCheck with gen after d.
	effIdleTimer struct {
		d   time.Duration
		gen int
	}
	effNewSub struct {
		id   int
		addr address
	}
	effConnectSub  struct{ id int }
	effShutdownSub struct{ id int }
	effResetSubs   struct{ ids []int }
	effReply       struct {
		req *pickReq
		res pickResult
	}
	effResolveTimer struct {
		d   time.Duration
		gen int
	}
	effState struct{ from, to Connectivity }
	// effServiceConfig puts a resolver's service config in force;
	// effBadServiceConfig reports one that was invalid (resolve.go).
	effServiceConfig    struct{ sc *serviceconfig.Config }
	effBadServiceConfig struct{ err error }
)

// subRef is the core's view of one subchannel of the policy.
type subRef struct {
	id    int
	sc    *balancer.SubConn
	addr  address
	state Connectivity
	conn  *transport.Conn
}

// core is the channel's connectivity state machine. The load-balancing
// policy (package balancer) decides which subchannels exist, which
// connect, the aggregate state and the picker; the core performs that,
// and owns what is the channel's: IDLE and the idle timer, name lookups,
// calls waiting for a pick, the transitions subscribers see.
type core struct {
	state      Connectivity
	lb         string // the policy's name
	builder    balancer.Builder
	lbConfig   any
	policy     balancer.Policy // nil while IDLE (built when leaving it)
	picker     balancer.Picker // the policy's latest; used while READY
	pickerGen  int             // counts pickers, so the actor knows to publish
	static     []address       // fixed addresses; nil for a DNS target
	addrs      []address       // the latest resolved addresses
	resolving  bool
	subs       []*subRef // in creation order
	nextID     int
	pending    []*pickReq
	lastErr    *status.Error
	resolveBo  actorsys.Backoff
	resolveGen int
	// shuffle, if set, reorders pick_first's addresses on every update
	// (the service config's shuffleAddressList, gRFC A62).
	shuffle func([]address)
	// usable reports whether a READY subchannel's connection still takes
	// new streams. A connection that received GOAWAY (or closed) knows it
	// at once, before its subchannel's report reaches the channel: picks
	// skip it, and wait for the next connection rather than being handed
	// one that refuses them.
	usable func(*transport.Conn) bool

	// Name lookups (DNS targets only). resolving above says the core
	// waits for addresses; these say what the lookups do.
	rl        resolver.RateLimit // grpc.dns_min_time_between_resolutions_ms
	inFlight  bool               // a lookup is in flight: the one place that says so
	again     bool               // another lookup was asked for meanwhile
	scheduled bool               // a rate-limited lookup waits for msgDoResolve
	now       func() time.Time

	// Idleness (grpc.client_idle_timeout_ms).
	idleTimeout time.Duration // 0 disables
	idleGen     int           // tells the current idle timer from stale ones
	idleArmed   bool

	// The resolver of package resolver, if any (resolve.go).
	rs resolverCore

	effects []effect
}

func newCore(static []address, lb string, o *options) *core {
	lb, b, cfg := policyFor(lb, o.serviceConfig)
	return &core{
		static:      static,
		lb:          lb,
		builder:     b,
		lbConfig:    cfg,
		resolveBo:   actorsys.Backoff{Initial: o.initialBackoff, Max: o.maxBackoff},
		rl:          resolver.RateLimit{MinInterval: o.dnsMinInterval},
		now:         time.Now,
		idleTimeout: o.idleTimeout,
		usable:      connUsable,
		rs:          resolverCore{defaultLB: lb, defaultSC: o.serviceConfig},
	}
}

// policyFor returns the policy named lb (pick_first when empty or not
// registered), its builder and its config: sc's when sc names that policy,
// else the policy's default.
func policyFor(lb string, sc *serviceconfig.Config) (string, balancer.Builder, any) {
	if lb == "" {
		lb = balancer.PickFirst
	}
	b, ok := balancer.Get(lb)
	if !ok { // WithLBPolicy and the service config checked the name
		lb = balancer.PickFirst
		b, _ = balancer.Get(lb)
	}
	var cfg any
	if sc != nil && sc.LBPolicy == lb && sc.LBConfig != nil {
		cfg = sc.LBConfig
	} else {
		cfg, _ = b.ParseConfig(nil)
	}
	return lb, b, cfg
}

func (c *core) emit(e effect) { c.effects = append(c.effects, e) }

// setState moves the channel to s. Subscribers see only the transitions
// gRPC's connectivity-semantics document allows: TRANSIENT_FAILURE leads
// only to CONNECTING (or SHUTDOWN), and READY never to CONNECTING. So a
// sticky failure (gRFC A62: the channel stays TRANSIENT_FAILURE while
// pick_first retries, so that fail-fast calls keep failing fast) that ends
// in a connection is reported TRANSIENT_FAILURE → CONNECTING → READY, and
// round_robin losing its last READY subchannel while others connect is
// reported READY → IDLE → CONNECTING.
func (c *core) setState(s Connectivity) {
	if c.state == s {
		return
	}
	switch {
	case c.state == TransientFailure && s != Connecting && s != Shutdown:
		c.moveTo(Connecting)
	case c.state == Ready && s == Connecting:
		c.moveTo(Idle)
	}
	c.moveTo(s)
}

func (c *core) moveTo(s Connectivity) {
	from := c.state
	c.emit(effState{from: from, to: s})
	c.state = s
	if from == Idle {
		c.armIdle()
	}
	if s == Idle {
		c.idleArmed = false
		c.idleGen++
	}
}

// armIdle arms the idle timer, unless it is armed or disabled.
func (c *core) armIdle() {
	if c.idleTimeout <= 0 || c.idleArmed {
		return
	}
	c.idleArmed = true
	c.idleGen++
	c.emit(effIdleTimer{d: c.idleTimeout, gen: c.idleGen})
}

// enterIdle goes IDLE if no call waits for a pick; while calls wait, the
// idle timer checks again later.
func (c *core) enterIdle() {
	c.dropAbandoned()
	// The document has no TRANSIENT_FAILURE → IDLE edge: a failing
	// channel keeps its backoff and is checked again later.
	if len(c.pending) == 0 && c.state != Idle && c.state != TransientFailure {
		c.shutdownSubs()
		c.resolving = false
		c.resolveGen++
		c.setState(Idle)
	}
	if c.state != Idle && c.state != Shutdown {
		c.armIdle() // calls were still waiting: check again later
	}
}

// resolve starts a lookup of the target's name, unless one is in flight
// (then another follows it) or the rate limit holds it back (then it runs
// when msgDoResolve comes). A first lookup (leaving IDLE, a retry after a
// failure, a backoff reset) is not rate-limited.
func (c *core) resolve(first bool) {
	if c.static != nil || c.rs.gone != nil {
		return
	}
	if c.inFlight {
		c.again = true
		return
	}
	if first {
		c.rl = resolver.RateLimit{MinInterval: c.rl.MinInterval}
	}
	if wait := c.rl.Next(c.now()); wait > 0 {
		if !c.scheduled {
			c.scheduled = true
			c.emit(effResolveLater{d: wait})
		}
		return
	}
	c.inFlight = !c.rs.push // a push resolver answers when it likes, if at all
	c.emit(effResolve{})
}

// step applies one message and returns the effects to perform.
func (c *core) step(msg coreMsg) []effect {
	c.effects = c.effects[:0]
	if c.state == Shutdown {
		if m, ok := msg.(msgPick); ok {
			c.emit(effReply{m.req, pickResult{err: errChannelClosed}})
		}
		return c.effects
	}
	switch m := msg.(type) {
	case msgPick:
		c.pick(m.req)
	case msgAbandoned:
		c.dropAbandoned()
	case msgConnect:
		c.exitIdle()
	case msgResolved:
		c.inFlight = false
		if c.resolverUpdate(m) {
			break
		}
		c.resolved(m)
		if c.again {
			c.again = false
			c.resolve(false)
		}
	case msgDoResolve:
		if !c.scheduled {
			break // a periodic poll served the lookup it held back (pollTick)
		}
		c.scheduled = false
		c.resolve(false)
	case msgResolveNow:
		if m.gen == c.resolveGen && !c.resolving && c.state != Idle {
			c.resolving = true
			c.resolve(true)
		}
	case msgResolverGone:
		c.resolverGone(m.err)
	case msgPollTick:
		c.pollTick(m)
	case msgSubState:
		c.subState(m)
	case msgEnterIdle:
		c.enterIdle()
	case msgIdleCheck:
		if m.gen != c.idleGen {
			break
		}
		c.idleArmed = false
		if m.active == 0 && m.starts == m.armedStarts {
			c.enterIdle() // no call in progress, none started since the timer was armed
		} else {
			c.armIdle()
		}
	case msgResetBoff:
		var ids []int
		for _, s := range c.subs {
			ids = append(ids, s.id)
		}
		if len(ids) > 0 {
			c.emit(effResetSubs{ids})
		}
		c.resolveBo.Reset()
		if c.static == nil && len(c.subs) == 0 && c.state == TransientFailure && !c.resolving {
			c.resolving = true
			c.resolve(true)
		}
	case msgClose:
		c.setState(Shutdown)
		for _, p := range c.pending {
			c.emit(effReply{p, pickResult{err: errChannelClosed}})
		}
		c.pending = nil
		c.shutdownSubs()
	}
	return c.effects
}

// shutdownSubs closes the policy: every subchannel is shut down and the
// next exit from IDLE builds a new policy.
func (c *core) shutdownSubs() {
	for _, s := range c.subs {
		c.emit(effShutdownSub{s.id})
	}
	c.subs = nil
	c.policy = nil
	c.setPicker(nil)
}

// setPicker takes the policy's new picker (nil: none). Pickers are not
// compared (they need not be comparable): every new one is published.
func (c *core) setPicker(p balancer.Picker) {
	if p == nil && c.picker == nil {
		return
	}
	c.picker = p
	c.pickerGen++
}

// exitIdle starts resolving (or uses the fixed addresses) and connecting.
func (c *core) exitIdle() {
	if c.state != Idle {
		return
	}
	c.setState(Connecting)
	if c.static != nil {
		c.updateAddrs(c.static)
		return
	}
	if c.rs.push && len(c.addrs) > 0 {
		c.updateAddrs(c.addrs) // a push resolver's latest addresses
		return
	}
	c.resolving = true
	c.resolve(true)
}

// requestResolve asks for a re-resolution (after a connection loss or
// failure), subject to the rate limit.
func (c *core) requestResolve() {
	if c.rs.push && c.state != Shutdown {
		// A hint to a push resolver, which may not answer: the channel
		// does not wait for addresses meanwhile.
		c.resolve(false)
		return
	}
	if c.static == nil && !c.resolving && c.state != Shutdown {
		c.resolving = true
		c.resolve(false)
	}
}

func (c *core) resolved(m msgResolved) {
	if !c.resolving && !c.rs.push {
		return
	}
	c.resolving = false
	if c.state == Idle {
		if m.err == nil && len(m.addrs) > 0 {
			c.addrs = m.addrs
		}
		return
	}
	if m.err != nil {
		c.lastErr = m.err
		if len(c.subs) > 0 {
			c.armPoll()
			return // keep using the addresses we have
		}
		c.toFailure()
		c.resolveGen++
		c.emit(effResolveTimer{d: c.resolveBo.Next(), gen: c.resolveGen})
		c.stopPoll()
		return
	}
	c.resolveBo.Reset()
	c.armPoll()
	if len(m.addrs) == 0 {
		c.lastErr = status.New(codes.Unavailable, "name resolution returned no addresses")
		c.toFailure()
		return
	}
	c.updateAddrs(m.addrs)
}

// updateAddrs gives the policy a new address list (building the policy
// when the channel has just left IDLE).
func (c *core) updateAddrs(addrs []address) {
	if c.shuffle != nil && c.lb == balancer.PickFirst {
		addrs = append([]address(nil), addrs...)
		c.shuffle(addrs)
	}
	c.addrs = addrs
	if c.policy == nil {
		c.policy = c.builder.Build(c.lbConfig)
	}
	u := c.policy.UpdateAddresses(c.toBalancerAddrs(addrs))
	if u.State == Idle {
		// The channel has just been asked to connect: a policy that
		// waits to be asked counts as connecting (and cannot loop the
		// channel through IDLE).
		u.State = Connecting
	}
	c.apply(u)
}

// toBalancerAddrs is the one place the channel's addresses become the
// policy's: the weight and attributes are the resolver's (package
// resolver), if it gave any (addressInfo).
func (c *core) toBalancerAddrs(addrs []address) []balancer.Address {
	out := make([]balancer.Address, len(addrs))
	for i, a := range addrs {
		out[i] = balancer.Address{Network: a.network, Addr: a.addr}
		if info, ok := c.addressInfo(a); ok {
			out[i].Weight, out[i].Attributes = info.Weight, info.Attributes
		}
	}
	return out
}

func fromBalancerAddr(a balancer.Address) address {
	return address{network: a.Network, addr: a.Addr}
}

// apply performs a policy's update.
func (c *core) apply(u balancer.Update) {
	for _, sc := range u.NewSubConns {
		s := &subRef{id: c.nextID, sc: sc, addr: fromBalancerAddr(sc.Address())}
		c.nextID++
		lbconn.Attach(sc, nil, nil) // not usable until READY
		c.subs = append(c.subs, s)
		c.emit(effNewSub{id: s.id, addr: s.addr})
	}
	for _, sc := range u.Shutdown {
		if i, s := c.findSC(sc); s != nil {
			c.subs = append(c.subs[:i], c.subs[i+1:]...)
			lbconn.Attach(sc, nil, nil)
			c.emit(effShutdownSub{s.id})
		}
	}
	for _, sc := range u.Connect {
		if _, s := c.findSC(sc); s != nil {
			c.emit(effConnectSub{s.id})
		}
	}
	if u.Picker != nil {
		c.setPicker(u.Picker)
	}
	if u.State == Idle {
		// The policy went IDLE (pick_first lost its connection): so does
		// the channel; the next call, or a waiting one, reconnects.
		if c.state == Idle || c.state == Shutdown {
			return
		}
		c.shutdownSubs()
		c.setState(Idle)
		if u.ResolveNow {
			c.requestResolve()
		}
		if len(c.pending) > 0 {
			c.exitIdleAfterLoss()
		}
		return
	}
	if u.ResolveNow {
		c.requestResolve()
	}
	c.recompute(u.State)
}

func (c *core) findID(id int) *subRef {
	for _, s := range c.subs {
		if s.id == id {
			return s
		}
	}
	return nil
}

func (c *core) findSC(sc *balancer.SubConn) (int, *subRef) {
	for i, s := range c.subs {
		if s.sc == sc {
			return i, s
		}
	}
	return -1, nil
}

func (c *core) subState(m msgSubState) {
	s := c.findID(m.id)
	if s == nil || c.policy == nil {
		return
	}
	s.state, s.conn = m.state, m.conn
	if m.state == TransientFailure && m.err != nil {
		c.lastErr = m.err
	}
	if m.state == Ready && m.conn != nil {
		conn, usable := m.conn, c.usable
		lbconn.Attach(s.sc, conn, func() bool { return usable(conn) })
	} else {
		lbconn.Attach(s.sc, nil, nil)
	}
	st := balancer.SubConnState{State: m.state}
	if m.err != nil {
		st.Err = m.err
	}
	c.apply(c.policy.UpdateSubConnState(s.sc, st))
}

// exitIdleAfterLoss reconnects at once, to the addresses already known,
// for calls that were waiting when the connection was lost.
func (c *core) exitIdleAfterLoss() {
	c.setState(Connecting)
	if c.static != nil {
		c.updateAddrs(c.static)
	} else if len(c.addrs) > 0 {
		c.updateAddrs(c.addrs)
	}
}

// recompute moves the channel to the policy's state next and answers the
// picks that can be answered.
func (c *core) recompute(next Connectivity) {
	if c.state == Idle || c.state == Shutdown {
		return
	}
	if next == TransientFailure {
		c.toFailure()
		return
	}
	c.setState(next)
	if next == Ready {
		c.answerPending()
	}
}

// answerPending runs the waiting picks through the picker; those it
// cannot place yet wait for the next change.
func (c *core) answerPending() {
	if len(c.pending) == 0 || c.picker == nil {
		return
	}
	kept := c.pending[:0]
	for _, p := range c.pending {
		if !c.tryPick(p) {
			kept = append(kept, p)
		}
	}
	clear(c.pending[len(kept):])
	c.pending = kept
}

// errNotUsable ends a pick whose subchannel's connection no longer takes
// streams (its Done learns of it); the call waits for another.
var errNotUsable = status.New(codes.Unavailable, "the picked subchannel's connection no longer takes new calls")

// tryPick asks the picker for p's connection and answers p, or reports
// false: p waits for the next picker.
func (c *core) tryPick(p *pickReq) bool {
	if c.state != Ready || c.picker == nil {
		return false
	}
	res, err := c.picker.Pick(p.info)
	if err != nil {
		if err == balancer.ErrNoSubConnAvailable {
			return false
		}
		st := pickerStatus(err)
		if p.waitForReady && st.Code() == codes.Unavailable {
			return false
		}
		c.emit(effReply{p, pickResult{err: st}})
		return true
	}
	var conn *transport.Conn
	if res.SubConn != nil {
		conn = lbconn.Conn(res.SubConn)
	}
	if conn == nil || !c.usable(conn) {
		if res.Done != nil {
			res.Done(balancer.DoneInfo{Err: errNotUsable})
		}
		return false
	}
	c.emit(effReply{p, pickResult{conn: conn, done: res.Done}})
	return true
}

// pickerStatus is the status a picker's error fails a call with.
func pickerStatus(err error) *status.Error {
	var st *status.Error
	if errors.As(err, &st) {
		return st
	}
	return status.Errorf(codes.Unavailable, "load-balancing policy: %v", err).WithCause(err)
}

// toFailure enters TRANSIENT_FAILURE and fails the calls that do not wait
// for ready.
func (c *core) toFailure() {
	c.setState(TransientFailure)
	kept := c.pending[:0]
	for _, p := range c.pending {
		if p.waitForReady {
			kept = append(kept, p)
		} else {
			c.emit(effReply{p, pickResult{err: c.unavailable()}})
		}
	}
	c.pending = kept
}

// readyConns returns the connections calls may use now: those of READY
// subchannels that still take new streams.
func (c *core) readyConns() []*transport.Conn {
	if c.state != Ready {
		return nil
	}
	var out []*transport.Conn
	for _, s := range c.subs {
		if s.state == Ready && s.conn != nil && c.usable(s.conn) {
			out = append(out, s.conn)
		}
	}
	return out
}

// connUsable reports whether conn takes new streams: it has not received
// GOAWAY, started draining or closed. (A connection still CONNECTING is
// never handed to the core as ready.)
func connUsable(conn *transport.Conn) bool {
	s := conn.State()
	return s != transport.Draining && s != transport.Closed
}

func (c *core) unavailable() *status.Error {
	if c.lastErr != nil {
		return status.Errorf(codes.Unavailable, "channel is in TRANSIENT_FAILURE: %s", c.lastErr.Details()).WithCause(c.lastErr)
	}
	return status.New(codes.Unavailable, "channel is in TRANSIENT_FAILURE")
}

// dropAbandoned forgets picks whose callers stopped waiting.
func (c *core) dropAbandoned() {
	kept := c.pending[:0]
	for _, p := range c.pending {
		if !p.abandoned.Load() {
			kept = append(kept, p)
		}
	}
	clear(c.pending[len(kept):])
	c.pending = kept
}

func (c *core) pick(p *pickReq) {
	c.dropAbandoned()
	if c.rs.gone != nil {
		c.emit(effReply{p, pickResult{err: c.rs.gone}})
		return
	}
	switch c.state {
	case Ready:
		if !c.tryPick(p) {
			c.pending = append(c.pending, p)
		}
	case Idle:
		c.pending = append(c.pending, p)
		c.exitIdle()
	case Connecting:
		c.pending = append(c.pending, p)
	case TransientFailure:
		if p.waitForReady {
			c.pending = append(c.pending, p)
			return
		}
		c.emit(effReply{p, pickResult{err: c.unavailable()}})
	}
}
