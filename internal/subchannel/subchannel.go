// Package subchannel is one address of a channel as an actor: its
// connectivity state machine (IDLE → CONNECTING → READY → IDLE, or
// TRANSIENT_FAILURE and back to IDLE after a backoff), gRPC's connection
// backoff, and the connection actor of package transport as its supervised
// child.
//
// The subchannel never decides to connect by itself: its parent (the
// channel actor's load-balancing policy) sends Connect, as gRPC's
// connectivity-semantics document has it. Every state change goes to the
// parent as a *StateChanged message.
//
// With Config.HealthCheckService set, a connected subchannel is READY only
// while the server's grpc.health.v1 Watch stream says SERVING (gRFC A17).
package subchannel

import (
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/connectivity"
	"github.com/grpcactor/grpcactor/internal/actorsys"
	"github.com/grpcactor/grpcactor/internal/transport"
	"github.com/grpcactor/grpcactor/status"
)

// Config describes a subchannel.
type Config struct {
	// Transport is the template of every connection: its Network and
	// Address say where to connect; ConnectTimeout is set per attempt.
	Transport transport.Config
	// Backoff is the reconnect backoff; zero fields take gRPC's defaults
	// (1 s, 120 s).
	Backoff Backoff
	// MinConnectTimeout is the least time an attempt gets (default 20 s).
	MinConnectTimeout time.Duration
	// OnConn, if set, is told of every connection the subchannel creates
	// (from its actor's Receive; it must not block).
	OnConn func(*transport.Conn)
	// Logger, if set, receives connection failures, closures and GOAWAYs
	// with the address. Default: silent.
	Logger *slog.Logger
	// HealthCheckService, if set, turns on client-side health checking
	// (gRFC A17): on every established connection the subchannel opens a
	// grpc.health.v1.Health/Watch stream for this service ("" for the
	// server's overall health) and is READY only while the server answers
	// SERVING; other answers make it TRANSIENT_FAILURE with the
	// connection kept. A server that answers UNIMPLEMENTED is taken as
	// healthy (logged at error level); a stream that ends otherwise is
	// reopened, after a backoff if it had no answer. Default: nil, off.
	HealthCheckService *string
}

// StateChanged is sent to the parent on every state change. Conn is set
// when State is READY, Err when it is TRANSIENT_FAILURE.
type StateChanged struct {
	Sub   *Subchannel
	State connectivity.State
	Conn  *transport.Conn
	Err   *status.Error
}

// TooManyPings is sent to the parent when the server answered keepalive
// pings with GOAWAY ENHANCE_YOUR_CALM "too_many_pings": the subchannel
// doubled its keepalive time to Keepalive, and the channel should too.
type TooManyPings struct {
	Sub       *Subchannel
	Keepalive time.Duration
}

// Subchannel is the handle of a subchannel actor.
type Subchannel struct {
	pid     *actor.PID
	sys     *actor.ActorSystem
	addr    string
	stopped atomic.Bool // the actor has stopped: messages would be dead letters
}

func (s *Subchannel) send(msg any) {
	if !s.stopped.Load() {
		s.sys.Root.Send(s.pid, msg)
	}
}

// Spawn starts a subchannel actor as a child of spawner. It starts IDLE.
func Spawn(spawner actor.SpawnerContext, cfg Config) *Subchannel {
	if cfg.Backoff.Initial <= 0 {
		cfg.Backoff.Initial = time.Second
	}
	if cfg.Backoff.Max <= 0 {
		cfg.Backoff.Max = 120 * time.Second
	}
	if cfg.MinConnectTimeout <= 0 {
		cfg.MinConnectTimeout = 20 * time.Second
	}
	s := &Subchannel{sys: spawner.ActorSystem(), addr: cfg.Transport.Address}
	a := &subActor{sub: s, cfg: cfg, core: newCore(cfg.Backoff, cfg.MinConnectTimeout, cfg.Transport.KeepaliveTime)}
	if cfg.HealthCheckService != nil {
		service := *cfg.HealthCheckService
		a.core.withHealth(&service, cfg.Transport.Address)
	}
	s.pid = spawner.Spawn(actor.PropsFromProducer(func() actor.Actor { return a },
		actorsys.StopOnPanic()))
	return s
}

// Address returns the subchannel's address.
func (s *Subchannel) Address() string { return s.addr }

// Connect asks an IDLE subchannel to connect; otherwise it does nothing.
func (s *Subchannel) Connect() { s.send(msgConnect{}) }

// ResetBackoff ends a backoff at once: a subchannel in TRANSIENT_FAILURE
// goes IDLE, ready to connect again.
func (s *Subchannel) ResetBackoff() { s.send(msgResetBackoff{}) }

// SetKeepalive changes the keepalive time of the subchannel's next
// connections.
func (s *Subchannel) SetKeepalive(d time.Duration) { s.send(msgSetKeepalive{d}) }

// Shutdown retires the subchannel: it reports nothing more, its
// connection drains (calls in progress finish, new ones are refused and
// retried elsewhere) and the actor stops when no connection is left.
// Stopping the actor itself closes everything at once.
func (s *Subchannel) Shutdown() { s.send(msgShutdown{}) }

type subActor struct {
	sub    *Subchannel
	cfg    Config
	core   *core
	ctx    actor.Context
	timers *actorsys.Timers[string]
	health *healthWatch // the open health stream, if any
	// stopWhenEmpty: the subchannel is done and stops once its last
	// connection actor has (stopping earlier would send Stop to a child
	// that may be stopping by itself: a dead letter).
	stopWhenEmpty bool
}

func (a *subActor) Receive(ctx actor.Context) {
	a.ctx = ctx
	var msg coreMsg
	switch m := ctx.Message().(type) {
	case *actor.Started:
		self, sys := ctx.Self(), a.sub.sys
		a.timers = actorsys.NewTimers[string](func(m any) { sys.Root.Send(self, m) })
		return
	case msgConnect, msgResetBackoff, msgBackoffDone, msgSetKeepalive, msgShutdown,
		msgHealthStatus, msgHealthEnded, msgHealthRetry:
		msg = m.(coreMsg)
	case *transport.EventReady:
		a.logEvent(m)
		msg = msgConnReady{m}
	case *transport.EventGoAway:
		a.logEvent(m)
		msg = msgConnGoAway{m}
	case *transport.EventClosed:
		a.logEvent(m)
		msg = msgConnClosed{m}
	case *actor.Stopping:
		msg = msgStopNow{}
	case *actor.Stopped:
		a.sub.stopped.Store(true)
		a.timers.StopAll()
		return
	case *actor.Terminated:
		// A connection actor that stopped without closing (it panicked)
		// sends no EventClosed: it counts as closed now. One that closed
		// has its EventClosed on the way (a Terminated, a system message,
		// can overtake it).
		for _, conn := range a.core.conns() {
			if conn.PID().Equal(m.Who) && !isClosed(conn) {
				for _, e := range a.core.step(msgConnClosed{&transport.EventClosed{Conn: conn, Err: status.New(codes.Unavailable, "connection actor stopped")}}) {
					a.perform(e)
				}
			}
		}
		if a.stopWhenEmpty && len(ctx.Children()) == 0 {
			ctx.Stop(ctx.Self())
		}
		return
	default:
		return
	}
	a.run(msg)
}

// run steps the core with msg and performs its effects.
func (a *subActor) run(msg coreMsg) {
	for _, e := range a.core.step(msg) {
		a.perform(e)
	}
}

func (a *subActor) perform(e effect) {
	switch e := e.(type) {
	case effDial:
		cfg := a.cfg.Transport
		cfg.ConnectTimeout = e.connectTimeout
		cfg.KeepaliveTime = e.keepalive
		conn, err := transport.Spawn(a.ctx, cfg)
		if err != nil {
			a.logDialError(err)
			for _, e2 := range a.core.step(msgConnClosed{&transport.EventClosed{Err: status.Convert(err)}}) {
				a.perform(e2)
			}
			return
		}
		a.core.setConn(conn)
		if a.cfg.OnConn != nil {
			a.cfg.OnConn(conn)
		}
	case effCloseConn:
		e.conn.Close("subchannel shut down")
	case effDrainConn:
		e.conn.Drain()
	case effStopSelf:
		a.timers.StopAll()
		if len(a.ctx.Children()) == 0 {
			a.ctx.Stop(a.ctx.Self())
		} else {
			a.stopWhenEmpty = true
		}
	case effTimer:
		a.timers.Arm("backoff", e.d, msgBackoffDone{gen: e.gen})
	case effReport:
		if a.core.state == connectivity.Shutdown {
			return
		}
		if p := a.ctx.Parent(); p != nil {
			a.ctx.Send(p, &StateChanged{Sub: a.sub, State: e.state, Conn: e.conn, Err: e.err})
		}
	case effStartHealth:
		a.startHealth(e)
	case effStopHealth:
		a.cancelHealth("the connection is draining")
	case effHealthTimer:
		a.timers.Arm("health", e.d, msgHealthRetry{gen: e.gen})
	case effHealthDisabled:
		a.logHealthDisabled(e.err)
	case effTooManyPings:
		if p := a.ctx.Parent(); p != nil {
			a.ctx.Send(p, &TooManyPings{Sub: a.sub, Keepalive: e.keepalive})
		}
	}
}

func isClosed(conn *transport.Conn) bool {
	select {
	case <-conn.Closed():
		return true
	default:
		return false
	}
}
