package channel

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/status"
	"github.com/grpcactor/grpcactor/transport"
)

// Version is the library version, sent in the user-agent header.
const Version = transport.Version

var errChannelClosed = status.New(codes.Canceled, "channel closed")

var (
	defaultSysOnce sync.Once
	defaultSys     *actor.ActorSystem
)

// defaultSystem is the shared actor system channels use when the user
// gives none. It logs nothing: protoactor's default logger prints colour
// codes to stderr at Info, dead letters included.
func defaultSystem() *actor.ActorSystem {
	defaultSysOnce.Do(func() {
		defaultSys = actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
			return slog.New(slog.DiscardHandler)
		}))
	})
	return defaultSys
}

// snapshot is what the channel actor publishes after every change; calls
// read it without a message to the actor.
type snapshot struct {
	state Connectivity
	conn  *transport.Conn // set when READY
}

// Channel is a virtual connection to a target (grpcio's Channel). It is
// safe for concurrent use by any number of goroutines and actors, and
// cheap to share. Make calls on it with UnaryUnary, UnaryStream,
// StreamUnary and StreamStream.
type Channel struct {
	target string
	opts   options
	pt     *parsedTarget
	sys    *actor.ActorSystem
	pid    *actor.PID
	snap   atomic.Pointer[snapshot]
	closed atomic.Bool
	ua     string

	callsMu sync.Mutex
	calls   map[*callState]struct{}

	closeOnce sync.Once
	stopped   chan struct{}

	connsMu sync.Mutex
	conns   map[*transport.Conn]struct{} // every connection ever spawned and not yet reaped
}

// Insecure opens a channel to target over plaintext HTTP/2 (grpcio's
// insecure_channel). It performs no I/O: the channel starts IDLE and
// connects on the first call. A malformed target, an unknown scheme or a bad
// option is an error.
//
// Targets follow gRPC's naming document: "host:port", "dns:///host:port",
// "unix:path", "unix:///abs/path", "unix-abstract:name",
// "ipv4:1.2.3.4:80,5.6.7.8:80", "ipv6:[::1]:80", "passthrough:///addr".
func Insecure(target string, opts ...Option) (*Channel, error) {
	pt, err := parseTarget(target)
	if err != nil {
		return nil, err
	}
	if pt.authority != "" {
		return nil, fmt.Errorf("channel target %q: a DNS server in the target (dns://%s/...) is not supported yet", target, pt.authority)
	}
	o := defaultOptions()
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt.apply(&o); err != nil {
			return nil, fmt.Errorf("channel %q: %w", target, err)
		}
	}
	if o.maxBackoff < o.initialBackoff {
		return nil, fmt.Errorf("channel %q: grpc.max_reconnect_backoff_ms (%v) is below grpc.initial_reconnect_backoff_ms (%v)", target, o.maxBackoff, o.initialBackoff)
	}
	ch := &Channel{
		target:  target,
		opts:    o,
		pt:      pt,
		sys:     o.sys,
		calls:   map[*callState]struct{}{},
		stopped: make(chan struct{}),
		conns:   map[*transport.Conn]struct{}{},
	}
	if ch.sys == nil {
		ch.sys = defaultSystem()
	}
	ua := "grpcactor-go/" + Version
	if o.primaryUA != "" {
		ua = o.primaryUA + " " + ua
	}
	if o.secondaryUA != "" {
		ua += " " + o.secondaryUA
	}
	ch.ua = ua
	ch.snap.Store(&snapshot{state: Idle})
	a := &chanActor{ch: ch, core: newCore(pt.staticAddrs(), &o)}
	ch.pid = ch.sys.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return a },
		actor.WithSupervisor(actor.NewOneForOneStrategy(0, 0, func(any) actor.Directive { return actor.StopDirective }))))
	return ch, nil
}

// Target returns the target the channel was opened with.
func (ch *Channel) Target() string { return ch.target }

// State returns the channel's connectivity state without blocking; with
// tryToConnect an IDLE channel starts connecting.
func (ch *Channel) State(tryToConnect bool) Connectivity {
	s := ch.snap.Load().state
	if tryToConnect && s == Idle && !ch.closed.Load() {
		ch.sys.Root.Send(ch.pid, msgConnect{})
	}
	return s
}

// Close closes the channel: calls in progress end CANCELLED, later calls
// fail at once, every connection closes and every actor of the channel
// stops before Close returns. It is idempotent and always returns nil.
func (ch *Channel) Close() error {
	ch.closeOnce.Do(func() {
		ch.closed.Store(true)
		ch.callsMu.Lock()
		calls := ch.calls
		ch.calls = map[*callState]struct{}{}
		ch.callsMu.Unlock()
		for c := range calls {
			c.cancel(errChannelClosed)
		}
		ch.sys.Root.Send(ch.pid, msgClose{})
		_ = ch.sys.Root.StopFuture(ch.pid).Wait()
		ch.connsMu.Lock()
		conns := ch.conns
		ch.conns = nil
		ch.connsMu.Unlock()
		for c := range conns {
			c.Close("channel closed")
			c.Wait()
		}
		close(ch.stopped)
	})
	<-ch.stopped
	return nil
}

func (ch *Channel) addCall(c *callState) bool {
	ch.callsMu.Lock()
	defer ch.callsMu.Unlock()
	if ch.closed.Load() {
		return false
	}
	ch.calls[c] = struct{}{}
	return true
}

func (ch *Channel) removeCall(c *callState) {
	ch.callsMu.Lock()
	delete(ch.calls, c)
	ch.callsMu.Unlock()
}

// pick returns a ready connection: at once from the published snapshot
// when the channel is READY, otherwise by asking the channel actor and
// waiting (on the caller's own goroutine) for its answer or ctx's end.
func (ch *Channel) pick(ctx context.Context, waitForReady bool) (*transport.Conn, error) {
	if s := ch.snap.Load(); s.conn != nil && s.conn.State() == transport.Ready {
		return s.conn, nil
	}
	if ch.closed.Load() {
		return nil, errChannelClosed
	}
	req := &pickReq{waitForReady: waitForReady, reply: make(chan pickResult, 1)}
	ch.sys.Root.Send(ch.pid, msgPick{req})
	select {
	case r := <-req.reply:
		if r.err != nil {
			return nil, r.err
		}
		return r.conn, nil
	case <-ctx.Done():
		st := status.FromContextError(ctx.Err())
		return nil, status.Errorf(st.Code(), "%s while waiting for the channel to connect (state %s)", st.Details(), ch.snap.Load().state).WithCause(ctx.Err())
	}
}

// chanActor performs the core's effects.
type chanActor struct {
	ch   *Channel
	core *core
	ctx  actor.Context
}

func (a *chanActor) Receive(ctx actor.Context) {
	a.ctx = ctx
	var msg any
	switch m := ctx.Message().(type) {
	case msgPick, msgConnect, msgBackoff, msgClose,
		*transport.EventReady, *transport.EventGoAway:
		msg = m
	case *transport.EventClosed:
		msg = m
	case *actor.Stopping:
		msg = msgClose{}
	default:
		return
	}
	for _, e := range a.core.step(msg) {
		a.perform(e)
	}
	a.publish()
}

func (a *chanActor) publish() {
	s := &snapshot{state: a.core.state}
	if a.core.state == Ready {
		s.conn = a.core.conn
	}
	a.ch.snap.Store(s)
}

func (a *chanActor) perform(e any) {
	switch e := e.(type) {
	case effSpawn:
		a.spawn(e)
	case effCloseConn:
		e.conn.Close("channel closed")
	case effReply:
		e.req.reply <- e.res
	case effTimer:
		gen := e.gen
		self := a.ctx.Self()
		sys := a.ch.sys
		time.AfterFunc(e.d, func() { sys.Root.Send(self, msgBackoff{gen: gen}) })
	case effState:
	}
}

func (a *chanActor) spawn(e effSpawn) {
	ch := a.ch
	o := &ch.opts
	authority := ch.pt.defAuth
	if o.authority != "" {
		authority = o.authority
	}
	maxRecv := o.maxRecv
	if maxRecv < 0 {
		maxRecv = -1
	}
	cfg := transport.Config{
		Network:               e.addr.network,
		Address:               e.addr.addr,
		Authority:             authority,
		UserAgent:             ch.ua,
		Dial:                  o.dial,
		ConnectTimeout:        e.connectTimeout,
		MaxReceiveMessageSize: maxRecv,
	}
	conn, err := transport.Spawn(a.ctx, cfg)
	if err != nil {
		// Spawn fails only for an empty address, which parsing rules out.
		for _, e := range a.core.step(&transport.EventClosed{Err: toStatus(err)}) {
			a.perform(e)
		}
		return
	}
	ch.connsMu.Lock()
	if ch.conns != nil {
		ch.conns[conn] = struct{}{}
	}
	ch.connsMu.Unlock()
	a.core.setConn(conn)
}

var _ = errors.New
