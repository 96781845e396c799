package subchannel

import (
	"time"

	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/connectivity"
	"github.com/grpcactor/grpcactor/internal/health"
	"github.com/grpcactor/grpcactor/internal/transport"
	"github.com/grpcactor/grpcactor/status"
)

// The subchannel's logic is this plain state machine: core.step takes a
// message and returns the effects the actor performs. Tests drive it
// without sockets or actors.

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

// Messages.
type (
	// msgConnect asks an IDLE subchannel to connect.
	msgConnect struct{}
	// msgResetBackoff ends a backoff at once (ResetConnectBackoff).
	msgResetBackoff struct{}
	// msgBackoffDone is the backoff timer firing.
	msgBackoffDone struct{ gen int }
	// msgSetKeepalive changes the keepalive time for new connections.
	msgSetKeepalive struct{ d time.Duration }
	// msgConnReady, msgConnGoAway and msgConnClosed are the connection
	// actor's events.
	msgConnReady  struct{ *transport.EventReady }
	msgConnGoAway struct{ *transport.EventGoAway }
	msgConnClosed struct{ *transport.EventClosed }

	// msgHealthStatus is a HealthCheckResponse that arrived on the health
	// stream gen of conn.
	msgHealthStatus struct {
		conn   *transport.Conn
		gen    int
		status health.Status
	}
	// msgHealthEnded is the end of the health stream gen of conn, with the
	// status it ended with.
	msgHealthEnded struct {
		conn *transport.Conn
		gen  int
		err  *status.Error
	}
	// msgHealthRetry is the health stream's backoff timer firing.
	msgHealthRetry struct{ gen int }
)

// Effects.
type (
	effDial struct {
		connectTimeout time.Duration
		keepalive      time.Duration
	}
	effCloseConn struct{ conn *transport.Conn }
	effDrainConn struct{ conn *transport.Conn }
	effStopSelf  struct{}
	effTimer     struct {
		d   time.Duration
		gen int
	}
	effReport struct {
		state connectivity.State
		conn  *transport.Conn
		err   *status.Error
	}
	// effTooManyPings tells the parent the server asked for fewer pings.
	effTooManyPings struct{ keepalive time.Duration }

	// effStartHealth opens health stream gen (Health/Watch for service)
	// on conn.
	effStartHealth struct {
		conn    *transport.Conn
		service string
		gen     int
	}
	// effStopHealth cancels the health stream of conn (the connection
	// drains, and the stream would keep it open forever).
	effStopHealth struct{ conn *transport.Conn }
	// effHealthTimer arms the health stream's backoff timer.
	effHealthTimer struct {
		d   time.Duration
		gen int
	}
	// effHealthDisabled says the server does not implement the health
	// service: the check is off for this connection (to be logged).
	effHealthDisabled struct{ err *status.Error }
)

// healthState is client-side health checking (gRFC A17) on the current
// connection: a Health/Watch stream opened when it is established, whose
// answers decide whether the subchannel counts as READY.
type healthState struct {
	service  *string       // nil: health checking off
	bo       Backoff       // between streams that ended without an answer
	gen      int           // the current stream (or the timer before it)
	open     bool          // stream gen is open
	answered bool          // stream gen has had a response
	last     health.Status // stream gen's last answer, if answered
	disabled bool          // the server said UNIMPLEMENTED: off for this connection
}

type core struct {
	state      connectivity.State
	conn       *transport.Conn // the connection being dialed or in use
	draining   map[*transport.Conn]bool
	bo         Backoff
	gen        int
	minConnect time.Duration
	keepalive  time.Duration
	lastErr    *status.Error
	ready      bool // c.conn is established
	now        func() time.Time
	started    time.Time // when the current attempt began
	health     healthState
	addr       string // for error messages
	effects    []effect
}

func newCore(bo Backoff, minConnect, keepalive time.Duration) *core {
	return &core{bo: bo, minConnect: minConnect, keepalive: keepalive, draining: map[*transport.Conn]bool{}, now: time.Now}
}

// withHealth turns client-side health checking on for service; the
// stream's backoff has the connection's parameters. addr names the
// subchannel in the health check's errors.
func (c *core) withHealth(service *string, addr string) *core {
	c.health.service = service
	c.health.bo = Backoff{Initial: c.bo.Initial, Max: c.bo.Max, Jitter: c.bo.Jitter}
	c.addr = addr
	return c
}

func (c *core) emit(e effect) { c.effects = append(c.effects, e) }

func (c *core) report(s connectivity.State) {
	if c.state == s && s != connectivity.TransientFailure {
		return
	}
	c.state = s
	r := effReport{state: s}
	switch s {
	case connectivity.Ready:
		r.conn = c.conn
	case connectivity.TransientFailure:
		r.err = c.lastErr
	}
	c.emit(r)
}

func (c *core) step(msg coreMsg) []effect {
	c.effects = c.effects[:0]
	if c.state == connectivity.Shutdown {
		if m, ok := msg.(msgConnClosed); ok && c.draining[m.Conn] {
			delete(c.draining, m.Conn)
			if len(c.draining) == 0 {
				c.emit(effStopSelf{})
			}
		}
		return c.effects
	}
	switch m := msg.(type) {
	case msgConnect:
		if c.state == connectivity.Idle && c.conn == nil {
			c.dial()
		}
	case msgResetBackoff:
		c.bo.Reset()
		if c.state == connectivity.TransientFailure && c.conn == nil {
			c.gen++
			c.report(connectivity.Idle)
		}
	case msgBackoffDone:
		if m.gen == c.gen && c.state == connectivity.TransientFailure && c.conn == nil {
			c.report(connectivity.Idle)
		}
	case msgSetKeepalive:
		c.keepalive = m.d
	case msgConnReady:
		if m.Conn == c.conn && c.state == connectivity.Connecting {
			c.ready = true
			c.bo.Reset()
			c.lastErr = nil
			if c.health.service == nil {
				c.report(connectivity.Ready)
				break
			}
			// A17: the subchannel stays CONNECTING until the first
			// answer of the health stream.
			c.health.bo.Reset()
			c.health.disabled = false
			c.startHealth()
		}
	case msgHealthStatus:
		if !c.healthCurrent(m.conn, m.gen) {
			break
		}
		if c.health.answered && m.status == c.health.last {
			break // nothing new (a server may repeat itself)
		}
		c.health.answered, c.health.last = true, m.status
		if m.status == health.Serving {
			c.lastErr = nil
			c.report(connectivity.Ready)
			break
		}
		c.lastErr = status.Errorf(codes.Unavailable, "connection to %s is up but its health check says %s for service %q", c.addr, m.status, *c.health.service)
		c.report(connectivity.TransientFailure)
	case msgHealthEnded:
		if !c.healthCurrent(m.conn, m.gen) {
			break
		}
		c.health.open = false
		if m.err != nil && m.err.Code() == codes.Unimplemented {
			// A17 and grpc-go: a server without the health service is
			// taken as healthy, and that is logged.
			c.health.disabled = true
			c.emit(effHealthDisabled{m.err})
			c.lastErr = nil
			c.report(connectivity.Ready)
			break
		}
		what := "ended with OK"
		if m.err != nil {
			what = "failed: " + m.err.Code().String() + ": " + m.err.Details()
		}
		c.lastErr = status.Errorf(codes.Unavailable, "connection to %s is up but its health check stream %s", c.addr, what)
		c.report(connectivity.TransientFailure)
		// grpc-go: at once after a stream that had answers, else after a
		// backoff.
		if c.health.answered {
			c.health.bo.Reset()
			c.report(connectivity.Connecting)
			c.startHealth()
			break
		}
		c.health.gen++
		c.emit(effHealthTimer{d: c.health.bo.Next(), gen: c.health.gen})
	case msgHealthRetry:
		if m.gen == c.health.gen && c.ready && c.conn != nil && !c.health.open && !c.health.disabled {
			c.report(connectivity.Connecting)
			c.startHealth()
		}
	case msgConnGoAway:
		if m.Code == 0xb /* ENHANCE_YOUR_CALM */ && m.Debug == "too_many_pings" && c.keepalive > 0 {
			c.keepalive *= 2
			c.emit(effTooManyPings{keepalive: c.keepalive})
		}
		if m.Conn == c.conn {
			c.stopHealth()
			c.draining[m.Conn] = true
			c.conn = nil
			if c.ready {
				c.report(connectivity.Idle)
			} else if c.state == connectivity.Connecting {
				c.fail(status.New(codes.Unavailable, "server sent GOAWAY while connecting"))
			}
		}
	case msgConnClosed:
		delete(c.draining, m.Conn)
		if m.Conn != c.conn {
			return c.effects
		}
		c.conn = nil
		c.health.open = false
		if c.ready {
			c.report(connectivity.Idle)
			return c.effects
		}
		err := m.Err
		if err == nil {
			err = status.New(codes.Unavailable, "connection closed before it was ready")
		}
		c.fail(err)
	case msgShutdown:
		// Graceful: a ready connection drains (its calls finish), one
		// still connecting closes; the actor stops when none is left.
		c.state = connectivity.Shutdown
		if c.conn != nil {
			if c.ready {
				c.stopHealth()
				c.emit(effDrainConn{c.conn})
				c.draining[c.conn] = true
			} else {
				c.emit(effCloseConn{c.conn})
			}
			c.conn = nil
		}
		if len(c.draining) == 0 {
			c.emit(effStopSelf{})
		}
	case msgStopNow:
		c.state = connectivity.Shutdown
		if c.conn != nil {
			c.emit(effCloseConn{c.conn})
			c.conn = nil
		}
		for d := range c.draining {
			c.emit(effCloseConn{d})
		}
		c.draining = map[*transport.Conn]bool{}
	}
	return c.effects
}

// startHealth opens a new health stream on the current connection.
func (c *core) startHealth() {
	c.health.gen++
	c.health.open, c.health.answered = true, false
	c.emit(effStartHealth{conn: c.conn, service: *c.health.service, gen: c.health.gen})
}

// stopHealth cancels the health stream of the current connection, if open.
func (c *core) stopHealth() {
	if c.health.open {
		c.health.open = false
		c.health.gen++
		c.emit(effStopHealth{c.conn})
	}
}

// healthCurrent reports whether a health event is about the current
// stream of the current, established connection.
func (c *core) healthCurrent(conn *transport.Conn, gen int) bool {
	return c.health.service != nil && conn == c.conn && c.ready && gen == c.health.gen && c.health.open
}

func (c *core) dial() {
	d := c.bo.Base()
	timeout := c.minConnect
	if d > timeout {
		timeout = d
	}
	c.started = c.now()
	c.report(connectivity.Connecting)
	c.emit(effDial{connectTimeout: timeout, keepalive: c.keepalive})
}

func (c *core) fail(err *status.Error) {
	c.lastErr = err
	c.report(connectivity.TransientFailure)
	c.gen++
	// The connection-backoff document times the next attempt from the
	// start of this one: what the attempt took counts against the delay.
	d := c.bo.Next() - c.now().Sub(c.started)
	if d < 0 {
		d = 0
	}
	c.emit(effTimer{d: d, gen: c.gen})
}

// conns returns the connections the subchannel still tracks: the current
// one and those draining.
func (c *core) conns() []*transport.Conn {
	var out []*transport.Conn
	if c.conn != nil {
		out = append(out, c.conn)
	}
	for d := range c.draining {
		out = append(out, d)
	}
	return out
}

// setConn records the connection an effDial created.
func (c *core) setConn(conn *transport.Conn) { c.conn, c.ready = conn, false }

type (
	msgShutdown struct{} // graceful: let calls in progress finish
	msgStopNow  struct{} // the actor is stopping: close everything
)
