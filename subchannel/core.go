package subchannel

import (
	"time"

	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/connectivity"
	"github.com/grpcactor/grpcactor/status"
	"github.com/grpcactor/grpcactor/transport"
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
)

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
	effects    []effect
}

func newCore(bo Backoff, minConnect, keepalive time.Duration) *core {
	return &core{bo: bo, minConnect: minConnect, keepalive: keepalive, draining: map[*transport.Conn]bool{}, now: time.Now}
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
		if c.state == connectivity.TransientFailure {
			c.gen++
			c.report(connectivity.Idle)
		}
	case msgBackoffDone:
		if m.gen == c.gen && c.state == connectivity.TransientFailure {
			c.report(connectivity.Idle)
		}
	case msgSetKeepalive:
		c.keepalive = m.d
	case msgConnReady:
		if m.Conn == c.conn && c.state == connectivity.Connecting {
			c.ready = true
			c.bo.Reset()
			c.lastErr = nil
			c.report(connectivity.Ready)
		}
	case msgConnGoAway:
		if m.Code == 0xb /* ENHANCE_YOUR_CALM */ && m.Debug == "too_many_pings" && c.keepalive > 0 {
			c.keepalive *= 2
			c.emit(effTooManyPings{keepalive: c.keepalive})
		}
		if m.Conn == c.conn {
			c.draining[m.Conn] = true
			c.conn = nil
			if c.state == connectivity.Ready {
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
		if c.state == connectivity.Ready {
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
