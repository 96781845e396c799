package channel

import (
	"math/rand/v2"
	"time"

	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/status"
	"github.com/grpcactor/grpcactor/transport"
)

// The channel actor's logic is this plain state machine: core.step takes a
// message and returns the effects the actor performs (spawn or close a
// connection, answer waiting picks, arm a timer, publish a snapshot). Tests
// drive it without sockets or actors.

// pickResult answers a pick: a ready connection, or an error.
type pickResult struct {
	conn *transport.Conn
	err  *status.Error
}

// pickReq is a call waiting for a ready connection.
type pickReq struct {
	waitForReady bool
	reply        chan pickResult // buffered, capacity 1
}

// Messages the core understands (besides the transport events).
type (
	msgPick    struct{ req *pickReq }
	msgConnect struct{}
	msgBackoff struct{ gen int }
	msgClose   struct{}
)

// Effects.
type (
	effSpawn struct {
		addr           address
		connectTimeout time.Duration
	}
	effCloseConn struct{ conn *transport.Conn }
	effReply     struct {
		req *pickReq
		res pickResult
	}
	effTimer struct {
		d   time.Duration
		gen int
	}
	effState struct{ from, to Connectivity }
)

// backoff is gRPC's connection backoff: initial, ×1.6, ±20 % jitter, capped.
type backoff struct {
	initial, max time.Duration
	attempt      int
	jitter       func() float64 // in [-1, 1); nil means random
}

func (b *backoff) next() time.Duration {
	d := float64(b.initial)
	for i := 0; i < b.attempt && d < float64(b.max); i++ {
		d *= 1.6
	}
	if d > float64(b.max) {
		d = float64(b.max)
	}
	j := 0.0
	if b.jitter != nil {
		j = b.jitter()
	} else {
		j = rand.Float64()*2 - 1
	}
	b.attempt++
	return time.Duration(d * (1 + 0.2*j))
}

func (b *backoff) reset() { b.attempt = 0 }

// core is the channel's connectivity state machine over one connection at
// a time, picking addresses in order (pick_first).
type core struct {
	state      Connectivity
	addrs      []address
	addrIdx    int
	conn       *transport.Conn // current connection (connecting or ready)
	draining   map[*transport.Conn]bool
	pending    []*pickReq
	lastErr    *status.Error
	bo         backoff
	timerGen   int
	inBackoff  bool
	minConnect time.Duration

	effects []any
}

func newCore(addrs []address, o *options) *core {
	return &core{
		addrs:      addrs,
		draining:   map[*transport.Conn]bool{},
		bo:         backoff{initial: o.initialBackoff, max: o.maxBackoff},
		minConnect: o.minConnect,
	}
}

func (c *core) emit(e any) { c.effects = append(c.effects, e) }

func (c *core) setState(s Connectivity) {
	if c.state != s {
		c.emit(effState{from: c.state, to: s})
		c.state = s
	}
}

// step applies one message and returns the effects to perform.
func (c *core) step(msg any) []any {
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
	case msgConnect:
		if c.state == Idle {
			c.connect()
		}
	case msgBackoff:
		if m.gen == c.timerGen && c.inBackoff {
			c.inBackoff = false
			c.connect()
		}
	case *transport.EventReady:
		if m.Conn == c.conn {
			c.bo.reset()
			c.addrIdx = 0
			c.setState(Ready)
			for _, p := range c.pending {
				c.emit(effReply{p, pickResult{conn: m.Conn}})
			}
			c.pending = nil
		}
	case *transport.EventGoAway:
		if m.Conn == c.conn {
			c.draining[m.Conn] = true
			c.conn = nil
			c.lostConn()
		}
	case *transport.EventClosed:
		delete(c.draining, m.Conn)
		if m.Conn != c.conn {
			return c.effects
		}
		c.conn = nil
		if m.Established {
			c.lostConn()
			return c.effects
		}
		c.lastErr = m.Err
		c.addrIdx++
		if c.addrIdx < len(c.addrs) {
			c.spawn()
			return c.effects
		}
		c.addrIdx = 0
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
		c.timerGen++
		c.inBackoff = true
		c.emit(effTimer{d: c.bo.next(), gen: c.timerGen})
	case msgClose:
		c.setState(Shutdown)
		for _, p := range c.pending {
			c.emit(effReply{p, pickResult{err: errChannelClosed}})
		}
		c.pending = nil
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

func (c *core) unavailable() *status.Error {
	if c.lastErr != nil {
		return status.Errorf(codes.Unavailable, "channel is in TRANSIENT_FAILURE: %s", c.lastErr.Details()).WithCause(c.lastErr)
	}
	return status.New(codes.Unavailable, "channel is in TRANSIENT_FAILURE")
}

// lostConn handles the loss of a ready connection: the channel goes IDLE
// and reconnects at once only if calls are waiting.
func (c *core) lostConn() {
	c.setState(Idle)
	if len(c.pending) > 0 {
		c.connect()
	}
}

func (c *core) pick(p *pickReq) {
	switch c.state {
	case Ready:
		if c.conn != nil && c.conn.State() == transport.Ready {
			c.emit(effReply{p, pickResult{conn: c.conn}})
			return
		}
		c.pending = append(c.pending, p)
	case Idle:
		c.pending = append(c.pending, p)
		c.connect()
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

// connect starts an attempt on the first address. In TRANSIENT_FAILURE the
// channel stays there (sticky) until an attempt succeeds.
func (c *core) connect() {
	if c.conn != nil || c.inBackoff {
		return
	}
	if c.state != TransientFailure {
		c.setState(Connecting)
	}
	c.spawn()
}

func (c *core) spawn() {
	d := c.minConnect
	c.emit(effSpawn{addr: c.addrs[c.addrIdx], connectTimeout: d})
}

// setConn records the connection an effSpawn created.
func (c *core) setConn(conn *transport.Conn) { c.conn = conn }
