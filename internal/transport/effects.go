package transport

import (
	"fmt"
	"time"

	"github.com/grpcactor/grpcactor/status"
	"golang.org/x/net/http2"
)

// effect is what connCore.step asks the actor to do. The actor performs
// the effects of a step in order; frame effects are written to the
// socket's buffer, which is flushed when the mailbox runs empty.
type effect interface {
	effect()
	String() string
}

// timerKind names the actor's timers. The two keepalive kinds share one
// timer: arming either replaces the other.
type timerKind int

const (
	timerConnect timerKind = iota
	timerKeepaliveTick
	timerKeepaliveTimeout
)

// slot is the actor's timer that t runs on: the keepalive kinds share one.
func (t timerKind) slot() timerKind {
	if t == timerKeepaliveTimeout {
		return timerKeepaliveTick
	}
	return t
}

func (t timerKind) String() string {
	switch t {
	case timerConnect:
		return "connect"
	case timerKeepaliveTick:
		return "keepalive tick"
	case timerKeepaliveTimeout:
		return "keepalive timeout"
	}
	return fmt.Sprintf("timer(%d)", int(t))
}

// Effects. The frequent ones are pointer-shaped or come from the core's
// arenas, so that a call's steps allocate nothing.
type (
	// effHeaders: register s in the reader's table and write its HEADERS
	// (and CONTINUATION) frames: s's fields, and grpc-timeout if s.timeout
	// is set.
	effHeaders struct{ s *Stream }
	// effData: a DATA frame on s with p (which may be empty); afterwards
	// len(p) bytes of s's write quota are free, and recycle (the pooled
	// buffer p ends, set on its last frame) goes back to bufpool once
	// no byte of it waits to be written.
	effData struct {
		s       *Stream
		end     bool
		p       []byte
		recycle []byte
	}
	effWindowUpdate struct{ id, n uint32 }
	effRST          struct {
		id   uint32
		code http2.ErrCode
	}
	effPing struct {
		ack  bool
		data [8]byte
	}
	effSettingsAck struct{}
	// effRecvWindows: BDP estimation grew the receive windows: the reader
	// and the streams take them from now on, and SETTINGS with the new
	// SETTINGS_INITIAL_WINDOW_SIZE tells the server (a WINDOW_UPDATE on
	// stream 0 follows for the connection's growth).
	effRecvWindows struct{ stream, conn int64 }
	// effHeaderTableSize: the server's SETTINGS_HEADER_TABLE_SIZE, for the
	// HPACK encoder.
	effHeaderTableSize struct{ n uint32 }
	// effRelease: n bytes of s's queued data were dropped (not written);
	// they no longer count against its write quota. recycle, if set, is
	// the pooled buffer they were in: back to bufpool once no byte of it
	// waits to be written (frames of it may have gone out before).
	effRelease struct {
		s       *Stream
		n       int
		recycle []byte
	}
	// effFinish ends s (Stream.finish): unprocessed lets the call retry
	// transparently, local drops the messages not yet read, unsent marks
	// that nothing of it left the client.
	effFinish struct {
		s                          *Stream
		st                         *status.Error
		unprocessed, local, unsent bool
	}
	// effForget removes s from the connection's tables (the reader's and
	// the set Close ends).
	effForget struct{ s *Stream }
	// effState publishes the connection's state on Conn.
	effState struct{ state State }
	// effReady: the connection is established; EventReady to the parent.
	effReady struct{}
	// effGoAway: EventGoAway to the parent.
	effGoAway struct {
		code  http2.ErrCode
		debug string
	}
	// effArm arms a timer that sends the timer's message after d; gen
	// tells its firing from stale ones.
	effArm struct {
		timer timerKind
		d     time.Duration
		gen   int
	}
	effStopTimer struct{ timer timerKind }
	// effClose closes the connection: GOAWAY with code first if goAway
	// (a graceful close, err nil, or a connection error the client
	// detected), then the socket; every stream handed out ends with err
	// (or "closed"), EventClosed goes to the parent, the actor stops.
	effClose struct {
		err         *status.Error
		established bool
		goAway      bool
		code        http2.ErrCode
	}
)

func (effHeaders) effect()          {}
func (*effData) effect()            {}
func (*effWindowUpdate) effect()    {}
func (*effRST) effect()             {}
func (*effPing) effect()            {}
func (effSettingsAck) effect()      {}
func (*effRecvWindows) effect()     {}
func (*effHeaderTableSize) effect() {}
func (*effRelease) effect()         {}
func (*effFinish) effect()          {}
func (effForget) effect()           {}
func (effState) effect()            {}
func (effReady) effect()            {}
func (*effGoAway) effect()          {}
func (*effArm) effect()             {}
func (effStopTimer) effect()        {}
func (*effClose) effect()           {}

func (e effHeaders) String() string {
	s := "HEADERS " + e.s.name()
	if e.s.timeout > 0 {
		s += " grpc-timeout=" + e.s.timeoutValue()
	}
	return s
}
func (e *effData) String() string {
	s := fmt.Sprintf("DATA %s %d bytes", e.s.name(), len(e.p))
	if e.end {
		s += " END_STREAM"
	}
	return s
}
func (e *effWindowUpdate) String() string {
	return fmt.Sprintf("WINDOW_UPDATE stream=%d +%d", e.id, e.n)
}
func (e *effRST) String() string { return fmt.Sprintf("RST_STREAM stream=%d %v", e.id, e.code) }
func (e *effPing) String() string {
	if e.ack {
		return fmt.Sprintf("PING ack %q", e.data[:])
	}
	return fmt.Sprintf("PING %q", e.data[:])
}
func (effSettingsAck) String() string { return "SETTINGS ack" }
func (e *effRecvWindows) String() string {
	return fmt.Sprintf("receive windows stream=%d conn=%d; SETTINGS [INITIAL_WINDOW_SIZE = %d]", e.stream, e.conn, e.stream)
}
func (e *effHeaderTableSize) String() string { return fmt.Sprintf("header table size %d", e.n) }
func (e *effRelease) String() string         { return fmt.Sprintf("release %s %d bytes", e.s.name(), e.n) }
func (e effForget) String() string           { return "forget " + e.s.name() }
func (e effState) String() string            { return "state " + e.state.String() }
func (effReady) String() string              { return "event ready" }
func (e *effGoAway) String() string          { return fmt.Sprintf("event goaway %v %q", e.code, e.debug) }
func (e *effArm) String() string             { return fmt.Sprintf("arm %v %v gen=%d", e.timer, e.d, e.gen) }
func (e effStopTimer) String() string        { return fmt.Sprintf("stop %v timer", e.timer) }
func (e *effFinish) String() string {
	s := "finish " + e.s.name()
	if e.st == nil {
		s += " OK"
	} else {
		s += " " + e.st.Code().String() + ": " + e.st.Details()
	}
	if e.unprocessed {
		s += " unprocessed"
	}
	if e.local {
		s += " local"
	}
	if e.unsent {
		s += " unsent"
	}
	return s
}
func (e *effClose) String() string {
	if e.err == nil {
		return "close gracefully"
	}
	s := "close: " + e.err.Code().String() + ": " + e.err.Details()
	if e.goAway {
		s += " (GOAWAY " + e.code.String() + ")"
	}
	return s
}
