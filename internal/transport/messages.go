package transport

import (
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/grpcactor/grpcactor/status"
	"golang.org/x/net/http2"
)

// coreMsg is a message the connection core steps on. Callers, the reader
// and timers send them to the actor, which hands them to connCore.step.
type coreMsg interface {
	coreMsg()
	String() string
}

// Messages of the connection actor. All but dialResult go to the core.
type (
	// newStream: NewStream made s; it wants an id and its HEADERS sent.
	newStream struct{ s *Stream }
	// dataReq: Write queued buf (whole framed messages) on s; end
	// half-closes the stream after it. With open, it is also s's
	// newStream (NewStreamWith): a unary call opens its stream and sends
	// its request in one message.
	// With pooled, buf came from bufpool and the transport is its only
	// holder: it goes back to bufpool once written or dropped.
	dataReq struct {
		s      *Stream
		buf    []byte
		end    bool
		open   bool
		pooled bool
	}
	// cancelStream: s was ended locally (Cancel); RST_STREAM(CANCEL).
	cancelStream struct{ s *Stream }
	// windowUpdate: the reader or the stream credits n received bytes back
	// to the server.
	windowUpdate struct {
		s *Stream // nil for the connection
		n uint32
	}
	// closeReq: close the connection with err (Close, a failed write, the
	// actor stopping, a failed dial).
	closeReq struct{ err *status.Error }
	// drainReq: take no new streams, close when the last one ends.
	drainReq struct{}
	// connectTimeout: the dial, handshake and server SETTINGS took longer
	// than after.
	connectTimeout struct{ after time.Duration }
	// keepaliveTick and keepaliveTimeout are the keepalive timer firing;
	// the actor fills in now and lastRead (the last frame read) before
	// the core sees them.
	keepaliveTick struct {
		gen           int
		now, lastRead time.Time
	}
	keepaliveTimeout struct {
		gen      int
		lastRead time.Time
	}

	// Frames and events from the reader.
	settingsFrame struct {
		settings []http2.Setting
		ack      bool
	}
	pingFrame struct {
		data [8]byte
		ack  bool
		// For acks with BDP on: the DATA bytes the reader had counted and
		// the time it read the ack.
		total uint64
		at    time.Time
	}
	// bdpData: with BDP on, the first DATA frame of a measurement cycle
	// arrived; start is the reader's DATA byte count before it. The
	// actor fills in now.
	bdpData struct {
		start uint64
		now   time.Time
	}
	goAwayFrame struct {
		lastID uint32
		code   http2.ErrCode
		debug  string
	}
	windowUpdateFrame struct{ id, incr uint32 }
	rstStreamFrame    struct {
		id   uint32
		code http2.ErrCode
	}
	// remoteEnded: the reader ended s from the server's side (trailers, or
	// a local failure it detected before).
	remoteEnded struct{ s *Stream }
	// resetStream: the reader ended s for a protocol or size violation and
	// asks for RST_STREAM with code.
	resetStream struct {
		s    *Stream
		code http2.ErrCode
	}
	// readerFailed: the reader stopped with err (EOF, a connection error).
	readerFailed struct{ err error }

	// dialResult is the dial goroutine's report; the actor handles it (the
	// socket is I/O, not core state).
	dialResult struct {
		conn net.Conn
		err  error
	}
)

func (*newStream) coreMsg() {}

// newStreams recycles newStream messages: NewStream takes one, the core
// gives it back as it reads it (free).
var newStreams = sync.Pool{New: func() any { return new(newStream) }}

// free gives m back to newStreams (the core, done with it).
func (m *newStream) free() {
	m.s = nil
	newStreams.Put(m)
}
func (*dataReq) coreMsg()           {}
func (*cancelStream) coreMsg()      {}
func (*windowUpdate) coreMsg()      {}
func (*closeReq) coreMsg()          {}
func (*drainReq) coreMsg()          {}
func (*connectTimeout) coreMsg()    {}
func (*keepaliveTick) coreMsg()     {}
func (*keepaliveTimeout) coreMsg()  {}
func (*settingsFrame) coreMsg()     {}
func (*pingFrame) coreMsg()         {}
func (*bdpData) coreMsg()           {}
func (*goAwayFrame) coreMsg()       {}
func (*windowUpdateFrame) coreMsg() {}
func (*rstStreamFrame) coreMsg()    {}
func (*remoteEnded) coreMsg()       {}
func (*resetStream) coreMsg()       {}
func (*readerFailed) coreMsg()      {}

func (m *newStream) String() string    { return "new " + m.s.name() }
func (m *cancelStream) String() string { return "cancel " + m.s.name() }
func (m *dataReq) String() string {
	s := fmt.Sprintf("write %s %d bytes", m.s.name(), len(m.buf))
	if m.open {
		s = fmt.Sprintf("new %s with %d bytes", m.s.name(), len(m.buf))
	}
	if m.end {
		s += " end"
	}
	return s
}
func (m *windowUpdate) String() string {
	if m.s == nil {
		return fmt.Sprintf("credit connection %d", m.n)
	}
	return fmt.Sprintf("credit %s %d", m.s.name(), m.n)
}
func (m *closeReq) String() string {
	if m.err == nil {
		return "close"
	}
	return "close: " + m.err.Code().String() + ": " + m.err.Details()
}
func (*drainReq) String() string         { return "drain" }
func (m *connectTimeout) String() string { return fmt.Sprintf("connect timeout %v", m.after) }
func (m *keepaliveTick) String() string {
	return fmt.Sprintf("keepalive tick gen=%d idle=%v", m.gen, m.now.Sub(m.lastRead))
}
func (m *keepaliveTimeout) String() string {
	return fmt.Sprintf("keepalive timeout gen=%d lastRead=%s", m.gen, m.lastRead.Format("15:04:05.000"))
}
func (m *settingsFrame) String() string {
	if m.ack {
		return "recv SETTINGS ack"
	}
	s := "recv SETTINGS"
	for _, st := range m.settings {
		s += " " + st.String()
	}
	return s
}
func (m *pingFrame) String() string {
	if m.ack && m.data == bdpPing {
		return fmt.Sprintf("recv PING ack %q total=%d at=%s", m.data[:], m.total, m.at.Format("15:04:05.000"))
	}
	if m.ack {
		return fmt.Sprintf("recv PING ack %q", m.data[:])
	}
	return fmt.Sprintf("recv PING %q", m.data[:])
}
func (m *bdpData) String() string {
	return fmt.Sprintf("first DATA of a BDP cycle start=%d at=%s", m.start, m.now.Format("15:04:05.000"))
}
func (m *goAwayFrame) String() string {
	return fmt.Sprintf("recv GOAWAY last=%d %v %q", m.lastID, m.code, m.debug)
}
func (m *windowUpdateFrame) String() string {
	return fmt.Sprintf("recv WINDOW_UPDATE stream=%d +%d", m.id, m.incr)
}
func (m *rstStreamFrame) String() string {
	return fmt.Sprintf("recv RST_STREAM stream=%d %v", m.id, m.code)
}
func (m *remoteEnded) String() string { return "remote ended " + m.s.name() }
func (m *resetStream) String() string { return fmt.Sprintf("reset %s %v", m.s.name(), m.code) }
func (m *readerFailed) String() string {
	return fmt.Sprintf("reader failed: %v", m.err)
}

// name names the stream in messages, effects and logs: its method and,
// once it has one, its id.
func (s *Stream) name() string {
	if s.id == 0 {
		return s.hdr.Method
	}
	return fmt.Sprintf("%s#%d", s.hdr.Method, s.id)
}

// msgPool recycles one kind of small message that the reader or the
// streams send the actor every few calls (PING, WINDOW_UPDATE, credits,
// BDP samples): the actor frees each once the core has stepped on it,
// which keeps no pointer to it (freeMsg).
type msgPool[T any] struct{ p sync.Pool }

func (mp *msgPool[T]) get() *T {
	if m, ok := mp.p.Get().(*T); ok {
		return m
	}
	return new(T)
}

func (mp *msgPool[T]) put(m *T) {
	var zero T
	*m = zero
	mp.p.Put(m)
}

var (
	pingFrames         msgPool[pingFrame]
	windowUpdateFrames msgPool[windowUpdateFrame]
	windowUpdates      msgPool[windowUpdate]
	bdpSamples         msgPool[bdpData]
)

// newWindowUpdate is the message that credits n bytes of s's window (of
// the connection's for a nil s) back to the server.
func newWindowUpdate(s *Stream, n uint32) *windowUpdate {
	m := windowUpdates.get()
	m.s, m.n = s, n
	return m
}

// freeMsg gives a stepped-on message of a pooled kind back to its pool.
func freeMsg(m coreMsg) {
	switch m := m.(type) {
	case *pingFrame:
		pingFrames.put(m)
	case *windowUpdateFrame:
		windowUpdateFrames.put(m)
	case *windowUpdate:
		windowUpdates.put(m)
	case *bdpData:
		bdpSamples.put(m)
	}
}
