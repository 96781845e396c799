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
// Timers are messages to the actor.

// minKeepaliveTime is gRFC A8's floor (a variable for tests).
var minKeepaliveTime = 10 * time.Second

// keepalivePing is the payload of keepalive PINGs, to tell their acks from
// others.
var keepalivePing = [8]byte{'k', 'e', 'e', 'p', 'a', 'l', 'i', 'v'}

type (
	keepaliveTick    struct{ gen int }
	keepaliveTimeout struct{ gen int }
)

// keepalive is the actor's keepalive state.
type keepalive struct {
	time, timeout   time.Duration
	permitNoStreams bool
	gen             int
	dormant         bool
	maxPings        int // pings allowed without data sent in between; 0: no limit
	pingsNoData     int
	pingSent        time.Time // zero when no keepalive ping is outstanding
	timer           *time.Timer
}

func (a *connActor) keepaliveStart() {
	cfg := a.c.cfg
	if cfg.KeepaliveTime <= 0 {
		return
	}
	k := &keepalive{time: cfg.KeepaliveTime, timeout: cfg.KeepaliveTimeout, permitNoStreams: cfg.KeepalivePermitWithoutCalls, maxPings: cfg.KeepaliveMaxPingsWithoutData}
	if k.time < minKeepaliveTime {
		k.time = minKeepaliveTime
	}
	if k.timeout <= 0 {
		k.timeout = 20 * time.Second
	}
	a.ka = k
	a.c.lastRead.Store(timeNow().UnixNano())
	a.keepaliveArm(k.time)
}

func (a *connActor) keepaliveArm(d time.Duration) {
	k := a.ka
	k.gen++
	gen, c := k.gen, a.c
	if k.timer != nil {
		k.timer.Stop()
	}
	k.timer = time.AfterFunc(d, func() { c.send(&keepaliveTick{gen: gen}) })
}

// keepaliveTick: time to check whether the connection is still alive.
func (a *connActor) onKeepaliveTick(m *keepaliveTick) {
	k := a.ka
	if k == nil || m.gen != k.gen || a.closed {
		return
	}
	idle := timeNow().Sub(a.c.lastReadTime())
	if idle < k.time {
		a.keepaliveArm(k.time - idle)
		return
	}
	if a.active == 0 && !k.permitNoStreams || k.maxPings > 0 && k.pingsNoData >= k.maxPings {
		k.dormant = true // until a stream opens or data goes out
		return
	}
	k.pingsNoData++
	k.pingSent = timeNow()
	a.check(a.fr.WritePing(false, keepalivePing))
	k.gen++
	gen, c := k.gen, a.c
	k.timer = time.AfterFunc(k.timeout, func() { c.send(&keepaliveTimeout{gen: gen}) })
}

func (a *connActor) onKeepaliveTimeout(m *keepaliveTimeout) {
	k := a.ka
	if k == nil || m.gen != k.gen || a.closed || k.pingSent.IsZero() {
		return
	}
	if a.c.lastReadTime().After(k.pingSent) {
		k.pingSent = time.Time{}
		a.keepaliveArm(k.time)
		return
	}
	a.closeConn(status.Errorf(codes.Unavailable, "connection to %s: keepalive ping not acknowledged within %v", a.c.cfg.Address, k.timeout))
}

// onKeepaliveAck: the ack of our keepalive PING arrived.
func (a *connActor) onKeepaliveAck() {
	k := a.ka
	if k == nil || k.pingSent.IsZero() {
		return
	}
	k.pingSent = time.Time{}
	a.keepaliveArm(k.time)
}

// keepaliveWake re-arms a dormant keepalive when a stream opens or data
// goes out, and resets the count of pings without data.
func (a *connActor) keepaliveWake() {
	k := a.ka
	if k == nil {
		return
	}
	k.pingsNoData = 0
	if k.dormant {
		k.dormant = false
		a.keepaliveArm(k.time)
	}
}

func (a *connActor) keepaliveStop() {
	if k := a.ka; k != nil && k.timer != nil {
		k.timer.Stop()
	}
}

func (c *Conn) lastReadTime() time.Time { return time.Unix(0, c.lastRead.Load()) }
