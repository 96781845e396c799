package transport

import (
	"time"

	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/status"
)

// Client keepalive, gRFC A8: after KeepaliveTime without reading a frame
// the connection sends a PING; if neither its ack nor any other frame
// arrives within KeepaliveTimeout, the connection is closed and its calls
// fail UNAVAILABLE. With no open stream and without
// KeepalivePermitWithoutCalls the check goes dormant until a stream opens.
// This is the core's part: timers are effArm effects and come back as
// keepaliveTick and keepaliveTimeout messages that carry the time and the
// time of the last frame read, so the logic reads no clock.

// minKeepaliveTime is gRFC A8's floor (a variable for tests).
var minKeepaliveTime = 10 * time.Second

// keepalivePing is the payload of keepalive PINGs, to tell their acks from
// others.
var keepalivePing = [8]byte{'k', 'e', 'e', 'p', 'a', 'l', 'i', 'v'}

// keepalive is the core's keepalive state.
type keepalive struct {
	time, timeout   time.Duration
	permitNoStreams bool
	gen             int // the generation of the armed timer; older firings are stale
	dormant         bool
	maxPings        int // pings allowed without data sent in between; 0: no limit
	pingsNoData     int
	pingSent        time.Time // zero when no keepalive ping is outstanding
}

// newKeepalive returns the keepalive state for cfg, nil when keepalive is
// off.
func newKeepalive(cfg *Config) *keepalive {
	if cfg.KeepaliveTime <= 0 {
		return nil
	}
	k := &keepalive{time: cfg.KeepaliveTime, timeout: cfg.KeepaliveTimeout, permitNoStreams: cfg.KeepalivePermitWithoutCalls, maxPings: cfg.KeepaliveMaxPingsWithoutData}
	if k.time < minKeepaliveTime {
		k.time = minKeepaliveTime
	}
	if k.timeout <= 0 {
		k.timeout = 20 * time.Second
	}
	return k
}

func (c *connCore) keepaliveStart() {
	if c.ka != nil {
		c.keepaliveArm(timerKeepaliveTick, c.ka.time)
	}
}

func (c *connCore) keepaliveArm(t timerKind, d time.Duration) {
	k := c.ka
	k.gen++
	c.emit(&effArm{timer: t, d: d, gen: k.gen})
}

// onKeepaliveTick: time to check whether the connection is still alive.
func (c *connCore) onKeepaliveTick(m *keepaliveTick) {
	k := c.ka
	if k == nil || m.gen != k.gen || c.closed {
		return
	}
	idle := m.now.Sub(m.lastRead)
	if idle < k.time {
		c.keepaliveArm(timerKeepaliveTick, k.time-idle)
		return
	}
	if len(c.streams) == 0 && !k.permitNoStreams || k.maxPings > 0 && k.pingsNoData >= k.maxPings {
		k.dormant = true // until a stream opens or data goes out
		return
	}
	k.pingsNoData++
	k.pingSent = m.now
	c.emit(c.pings.put(effPing{data: keepalivePing}))
	c.keepaliveArm(timerKeepaliveTimeout, k.timeout)
}

func (c *connCore) onKeepaliveTimeout(m *keepaliveTimeout) {
	k := c.ka
	if k == nil || m.gen != k.gen || c.closed || k.pingSent.IsZero() {
		return
	}
	if m.lastRead.After(k.pingSent) {
		k.pingSent = time.Time{}
		c.keepaliveArm(timerKeepaliveTick, k.time)
		return
	}
	c.close(status.Errorf(codes.Unavailable, "connection to %s: keepalive ping not acknowledged within %v", c.addr, k.timeout))
}

// onKeepaliveAck: the ack of our keepalive PING arrived.
func (c *connCore) onKeepaliveAck() {
	k := c.ka
	if k == nil || k.pingSent.IsZero() || c.closed {
		return
	}
	k.pingSent = time.Time{}
	c.keepaliveArm(timerKeepaliveTick, k.time)
}

// keepaliveWake re-arms a dormant keepalive when a stream opens or data
// goes out, and resets the count of pings without data.
func (c *connCore) keepaliveWake() {
	k := c.ka
	if k == nil {
		return
	}
	k.pingsNoData = 0
	if k.dormant {
		k.dormant = false
		c.keepaliveArm(timerKeepaliveTick, k.time)
	}
}

func (c *connCore) keepaliveStop() {
	if c.ka != nil {
		c.emit(effStopTimer{timerKeepaliveTick})
	}
}
