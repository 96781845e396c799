package channel

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/grpcactor/grpcactor/balancer"
	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/credentials"
	"github.com/grpcactor/grpcactor/internal/actorsys"
	"github.com/grpcactor/grpcactor/internal/lbconn"
	"github.com/grpcactor/grpcactor/internal/serviceconfig"
	"github.com/grpcactor/grpcactor/internal/subchannel"
	"github.com/grpcactor/grpcactor/internal/transport"
	"github.com/grpcactor/grpcactor/resolver"
	"github.com/grpcactor/grpcactor/status"
)

// Version is the library version, sent in the user-agent header.
const Version = transport.Version

var errChannelClosed = status.New(codes.Canceled, "channel closed")

// ErrInsecureCredentials is wrapped by the error of Secure when it is
// given plaintext credentials (grpcio's ValueError "secure_channel cannot
// be called with insecure credentials").
var ErrInsecureCredentials = errors.New("channel.Secure cannot be called with insecure credentials; call channel.Insecure instead")

// defaultSystem is the shared actor system channels use when the user
// gives none (it logs nothing); futures without a system use it too.
func defaultSystem() *actor.ActorSystem { return actorsys.Default() }

// logger is where the channel reports what it cannot return to a caller
// (a user callback that panicked): the WithLogger logger, else the logger
// of the user's actor system (WithActorSystem), else slog's default
// logger, as the runtime's own system logs nothing.
func (ch *chanState) logger() *slog.Logger {
	if ch.opts.logger != nil {
		return ch.opts.logger
	}
	if ch.opts.sys != nil {
		if l := ch.sys.Logger(); l != nil {
			return l
		}
	}
	return slog.Default()
}

// snapshot is what the channel actor publishes after every change; calls
// read it without a message to the actor.
type snapshot struct {
	state     Connectivity
	picker    balancer.Picker // the policy's picker, when READY
	pickerGen int             // the core's count of pickers when published
	changed   chan struct{}   // closed when a snapshot with another state replaces this one
}

// Channel is a virtual connection to a target (grpcio's Channel). It is
// safe for concurrent use by any number of goroutines and actors, and
// cheap to share. Make calls on it with UnaryUnary, UnaryStream,
// StreamUnary and StreamStream; watch its connectivity with State,
// WaitForStateChange, Subscribe, SubscribePID and ReadyFuture.
type Channel struct {
	*chanState
	// chain holds the interceptors of a channel made by Intercept,
	// outermost first; nil for a channel from Insecure or Secure.
	chain *chain
}

// chanState is a channel's shared state: every handle Intercept derives
// from a channel points to the same one.
type chanState struct {
	// canonical is target with its scheme (CanonicalTarget).
	canonical string

	target string
	opts   options
	pt     *parsedTarget
	sys    *actor.ActorSystem
	pid    *actor.PID
	snap   atomic.Pointer[snapshot]
	closed atomic.Bool // no new calls
	ua     string
	lb     string
	creds  *credentials.ChannelCredentials // nil for Insecure
	// resolverSC is the last good service config from the resolver (nil
	// before one), which replaces opts.serviceConfig (resolve.go).
	resolverSC atomic.Pointer[serviceconfig.Config]

	calls callRegistry // the active calls (registry.go)

	closeOnce sync.Once
	stopped   chan struct{}
	// drained is closed by the actor once Close has shut it down and
	// every subchannel actor (and so every connection actor) has
	// stopped: the actor can then stop with no child to send Stop to.
	drained chan struct{}

	// sendMu makes a send to the actor and the actor's end exclusive, so
	// that nothing is sent to it once it is gone (a dead letter).
	sendMu    sync.RWMutex
	actorGone bool // guarded by sendMu

	subsMu sync.Mutex
	unseen map[*Subscription]struct{} // registered, not yet taken by the actor; nil after Close

	connsMu sync.Mutex
	conns   map[*transport.Conn]struct{} // every connection spawned and not yet reaped
	bg      sync.WaitGroup               // resolver goroutines
	bgCtx   context.Context              // cancelled by Close, ends lookups
	bgStop  context.CancelFunc
}

// Insecure opens a channel to target over plaintext HTTP/2 (grpcio's
// insecure_channel). It performs no I/O: the channel starts IDLE and
// connects on the first call (or State(true), a subscription with
// tryToConnect, ReadyFuture). A malformed target, an unknown scheme or a
// bad option is an error.
//
// Targets follow gRPC's naming document: "host:port" and
// "dns:///host:port" (default port 443; every address the name resolves
// to), "dns://server/host:port" (ask that DNS server), "unix:path",
// "unix:///abs/path", "unix-abstract:name", "ipv4:1.2.3.4:80,5.6.7.8:80",
// "ipv6:[::1]:80", "passthrough:///addr". Any other scheme needs a
// resolver: one registered with resolver.Register, or WithResolver's.
func Insecure(target string, opts ...Option) (*Channel, error) {
	return open(target, nil, opts)
}

// Secure opens a channel to target whose connections creds secure
// (grpcio's secure_channel): TLS with ALPN "h2" (credentials.TLS), or
// local connections (credentials.Local), with the call credentials that
// credentials.CompositeChannel bundled sent on every call. The channel
// behaves as one from Insecure in every other way: it starts IDLE, the
// TLS handshake happens on a connection's dial, outside any mailbox, and a
// failed handshake is a connection failure (TRANSIENT_FAILURE; calls fail
// UNAVAILABLE with the handshake's error). Plaintext credentials
// (credentials.Insecure) are an error wrapping ErrInsecureCredentials.
func Secure(target string, creds *credentials.ChannelCredentials, opts ...Option) (*Channel, error) {
	if creds == nil {
		return nil, fmt.Errorf("channel %q: Secure needs channel credentials, got nil", target)
	}
	if creds.IsInsecure() {
		return nil, fmt.Errorf("channel %q: %w", target, ErrInsecureCredentials)
	}
	return open(target, creds, opts)
}

// open makes a channel; creds is nil for plaintext.
func open(target string, creds *credentials.ChannelCredentials, opts []Option) (*Channel, error) {
	o := defaultOptions()
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt.apply(&o); err != nil {
			return nil, fmt.Errorf("channel %q: %w", target, err)
		}
	}
	pt, builder, err := parseTargetWith(target, o.resolver)
	if err != nil {
		return nil, err
	}
	res, builder, err := buildResolver(target, pt, builder)
	if err != nil {
		return nil, fmt.Errorf("channel %q: building its resolver: %w", target, err)
	}
	if o.maxBackoff < o.initialBackoff {
		return nil, fmt.Errorf("channel %q: grpc.max_reconnect_backoff_ms (%v) is below grpc.initial_reconnect_backoff_ms (%v)", target, o.maxBackoff, o.initialBackoff)
	}
	if o.keepalive.Time > 0 && o.keepalive.Time < 10*time.Second {
		o.keepalive.Time = 10 * time.Second // gRFC A8's floor
	}
	if o.parent != nil {
		if o.sys != nil && o.sys != o.parent.ActorSystem() {
			return nil, fmt.Errorf("channel %q: WithActorSystem names another system than WithParent's actor", target)
		}
		o.sys = o.parent.ActorSystem()
	} else if o.notifyParent {
		return nil, fmt.Errorf("channel %q: NotifyParent needs WithParent", target)
	}
	static, err := applyProxy(target, pt, &o, os.Getenv)
	if err != nil {
		return nil, fmt.Errorf("channel %q: %w", target, err)
	}
	dynamic := true
	var staticInfo map[address]resolver.Address
	switch {
	case res.Static != nil:
		static, staticInfo = fixedAddrs(res)
		dynamic = false
	case static != nil && builder == resolver.Builtin("dns"):
		// The built-in dns resolver's target goes through a proxy, which
		// resolves the name (gRFC A1): the channel does not.
		dynamic = false
	default:
		static = nil // the resolver finds the addresses
	}
	ch := &Channel{chanState: &chanState{
		target:  target,
		opts:    o,
		pt:      pt,
		sys:     o.sys,
		stopped: make(chan struct{}),
		drained: make(chan struct{}),
		conns:   map[*transport.Conn]struct{}{},
		unseen:  map[*Subscription]struct{}{},
		creds:   creds,
	}}
	ch.canonical = canonicalTarget(target, pt)
	if ch.sys == nil {
		ch.sys = defaultSystem()
	}
	ch.bgCtx, ch.bgStop = context.WithCancel(context.Background())
	ua := "grpcactor-go/" + Version
	if o.primaryUA != "" {
		ua = o.primaryUA + " " + ua
	}
	if o.secondaryUA != "" {
		ua += " " + o.secondaryUA
	}
	ch.ua = ua
	ch.lb = o.lbPolicy
	if sc := o.serviceConfig; sc != nil && sc.LBPolicy != "" {
		ch.lb = sc.LBPolicy
	}
	if ch.lb == "" {
		ch.lb = "pick_first"
	}
	ch.snap.Store(&snapshot{state: Idle, changed: make(chan struct{})})
	a := &chanActor{
		ch:        ch,
		core:      newCore(static, ch.lb, &o),
		subs:      map[int]*subchannel.Subchannel{},
		ids:       map[*subchannel.Subchannel]int{},
		keepalive: o.keepalive.Time,
		res:       res,
	}
	a.core.rs.push = dynamic && res.Poll == nil
	a.core.rs.info = staticInfo
	if dynamic && res.Poll != nil {
		a.core.rs.pollEvery = res.PollInterval
	}
	a.core.rs.shuffleFn = func(as []address) { rand.Shuffle(len(as), func(i, j int) { as[i], as[j] = as[j], as[i] }) }
	if sc := o.serviceConfig; sc != nil && sc.PickFirstShuffle {
		a.core.shuffle = a.core.rs.shuffleFn
	}
	props := actor.PropsFromProducer(func() actor.Actor { return a }, actorsys.StopOnPanic())
	if o.parent != nil {
		ch.pid = o.parent.Spawn(props)
		if o.notifyParent {
			ch.SubscribePID(o.parent.Self(), false)
		}
	} else {
		ch.pid = ch.sys.Root.Spawn(props)
	}
	return ch, nil
}

// authority is the :authority of the channel's calls.
func (ch *Channel) authority() string {
	if ch.opts.authority != "" {
		return ch.opts.authority
	}
	return ch.pt.defAuth
}

// Authority returns the :authority the channel's calls carry: the
// WithAuthority option, else the one the target implies.
func (ch *Channel) Authority() string { return ch.authority() }

// Target returns the target the channel was opened with.
func (ch *Channel) Target() string { return ch.target }

// CanonicalTarget returns the channel's target with its scheme, as gRPC's
// naming document and gRFC A66's grpc.target attribute have it: a target
// without a scheme ("host:port") is resolved by DNS, so it becomes
// "dns:///host:port"; a target that names its scheme ("dns:///host:port",
// "unix:/path", "ipv4:1.2.3.4:5") is returned as given.
func (ch *Channel) CanonicalTarget() string { return ch.canonical }

// State returns the channel's connectivity state without blocking; with
// tryToConnect an IDLE channel starts connecting.
func (ch *Channel) State(tryToConnect bool) Connectivity {
	s := ch.snap.Load().state
	if tryToConnect && s == Idle && !ch.closed.Load() {
		ch.tell(msgConnect{})
	}
	return s
}

// WaitForStateChange waits until the channel's state differs from last and
// returns the new state. It returns at once if the state already differs,
// and the context's error (with the state at that moment) if ctx ends
// first.
func (ch *Channel) WaitForStateChange(ctx context.Context, last Connectivity) (Connectivity, error) {
	for {
		s := ch.snap.Load()
		if s.state != last {
			return s.state, nil
		}
		select {
		case <-s.changed:
		case <-ctx.Done():
			return s.state, ctx.Err()
		}
	}
}

// ResetConnectBackoff ends every reconnect backoff at once: subchannels in
// TRANSIENT_FAILURE try again now.
func (ch *Channel) ResetConnectBackoff() {
	if !ch.closed.Load() {
		ch.tell(msgResetBoff{})
	}
}

// Close closes the channel: it moves to SHUTDOWN (subscribers see it
// last, delivered on their own goroutines, which may be just after Close
// returns), readiness futures fail, waiting and active calls end
// CANCELLED, later calls fail at once, every connection closes and every
// actor and connection goroutine of the channel has stopped when Close
// returns. It is
// idempotent and always returns nil. A channel that is dropped without
// Close keeps its actors and connections, as grpc-go's ClientConn does.
//
// The actors stop from the leaves up, so that none is sent a message (a
// Stop included) once it is gone: every connection is closed and stops
// itself, each subchannel stops once its connections have, and the
// channel actor is stopped last, with no child left.
func (ch *Channel) Close() error {
	ch.closeOnce.Do(func() {
		ch.closed.Store(true)
		for _, c := range ch.calls.take() {
			c.cancel(errChannelClosed)
		}
		// Only Close stops the actor, so it is there to take this.
		ch.sys.Root.Send(ch.pid, msgCloseReq{})
		ch.connsMu.Lock()
		conns := ch.conns
		ch.conns = nil
		ch.connsMu.Unlock()
		for c := range conns {
			c.Close("channel closed")
		}
		<-ch.drained
		ch.bgStop()
		ch.bg.Wait() // lookups send their results to the actor
		ch.sendMu.Lock()
		ch.actorGone = true
		ch.sendMu.Unlock()
		_ = ch.sys.Root.StopFuture(ch.pid).Wait()
		// Subscriptions the actor never saw (made as it stopped) still get
		// SHUTDOWN.
		ch.subsMu.Lock()
		unseen := ch.unseen
		ch.unseen = nil
		ch.subsMu.Unlock()
		for s := range unseen {
			s.deliver(Shutdown)
		}
		for c := range conns {
			c.Wait()
		}
		close(ch.stopped)
	})
	<-ch.stopped
	return nil
}

// tell sends msg to the channel actor unless it is gone (then it reports
// false and sends nothing).
func (ch *Channel) tell(msg any) bool {
	ch.sendMu.RLock()
	defer ch.sendMu.RUnlock()
	if ch.actorGone {
		return false
	}
	ch.sys.Root.Send(ch.pid, msg)
	return true
}

// CloseGrace stops new calls at once (they fail CANCELLED), lets the calls
// in progress finish until ctx ends, then closes the channel as Close does
// (cancelling what is left). It returns ctx's error if calls had to be
// cancelled, nil otherwise.
func (ch *Channel) CloseGrace(ctx context.Context) error {
	ch.closed.Store(true)
	wait := ch.calls.closeWait()
	var err error
	if wait != nil {
		select {
		case <-wait:
		case <-ctx.Done():
			err = ctx.Err()
		}
	}
	ch.Close()
	return err
}

// addCall registers a new call, unless the channel is closed (then it
// reports false): Close cancels every call registered.
func (ch *Channel) addCall(c *callState) bool { return ch.calls.add(c) }

// removeCall unregisters a call that has finished.
func (ch *Channel) removeCall(c *callState) { ch.calls.remove(c) }

// activeCalls returns the number of calls registered.
func (ch *Channel) activeCalls() int { return ch.calls.len() }

// pick returns a ready connection for the call info describes: at once
// from the picker of the published snapshot when the channel is READY,
// otherwise by asking the channel actor and waiting (on the caller's own
// goroutine) for its answer or ctx's end. A connection that has received
// GOAWAY or closed is never returned, even before the channel actor
// learns of it: the pickers skip subchannels whose connection no longer
// takes streams, and the actor keeps the pick until it has a usable one.
// done, if not nil, is the policy's PickResult.Done for the call.
func (ch *Channel) pick(ctx context.Context, info balancer.PickInfo, waitForReady bool) (conn *transport.Conn, done func(balancer.DoneInfo), err error) {
	if conn, done := ch.pickNow(info); conn != nil {
		return conn, done, nil
	}
	if ch.closed.Load() && ch.snap.Load().state == Shutdown {
		return nil, nil, errChannelClosed
	}
	req := &pickReq{waitForReady: waitForReady, info: info, reply: make(chan pickResult, 1)}
	if !ch.tell(msgPick{req}) {
		return nil, nil, errChannelClosed
	}
	select {
	case r := <-req.reply:
		if r.err != nil {
			return nil, nil, r.err
		}
		return r.conn, r.done, nil
	case <-ch.stopped:
		return nil, nil, errChannelClosed
	case <-ctx.Done():
		req.abandoned.Store(true)
		// The deadline (or cancellation) reaches the actor as a message,
		// so the pending pick does not outlive its caller.
		ch.tell(msgAbandoned{})
		st := status.FromContext(ctx)
		dropReply(req, st)
		return nil, nil, status.Errorf(st.Code(), "%s while waiting for the channel to connect (state %s)", st.Details(), ch.snap.Load().state).WithCause(ctx.Err())
	}
}

// dropReply ends a pick answered for a caller that stopped waiting: the
// policy's Done learns that the call never used it. The caller (after
// marking the pick abandoned) and the actor (after sending the answer)
// both try, so that exactly one of them takes an answer that crossed the
// caller's end.
func dropReply(req *pickReq, st *status.Error) {
	select {
	case r := <-req.reply:
		if r.done != nil {
			r.done(balancer.DoneInfo{Err: st})
		}
	default:
	}
}

// pickNow returns a ready connection from the published snapshot's
// picker, or nil (the channel is not READY, the picker has nothing yet,
// or failed the pick: the actor then decides).
func (ch *Channel) pickNow(info balancer.PickInfo) (*transport.Conn, func(balancer.DoneInfo)) {
	s := ch.snap.Load()
	if s.picker == nil {
		return nil, nil
	}
	res, err := s.picker.Pick(info)
	if err != nil || res.SubConn == nil {
		return nil, nil
	}
	if conn := lbconn.Conn(res.SubConn); conn != nil && conn.State() == transport.Ready {
		return conn, res.Done
	}
	if res.Done != nil {
		res.Done(balancer.DoneInfo{Err: errNotUsable})
	}
	return nil, nil
}

func (ch *Channel) addConn(c *transport.Conn) {
	ch.connsMu.Lock()
	defer ch.connsMu.Unlock()
	if ch.conns == nil {
		c.Close("channel closed")
		return
	}
	for old := range ch.conns {
		select {
		case <-old.Closed():
			delete(ch.conns, old) // reap connections that are gone
		default:
		}
	}
	ch.conns[c] = struct{}{}
}
