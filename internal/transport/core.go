package transport

import (
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"time"

	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/internal/wire"
	"github.com/grpcactor/grpcactor/status"
	"golang.org/x/net/http2"
)

const (
	maxStreamID     = math.MaxInt32
	defaultMaxFrame = 16384
	// hpackFieldOverhead is what HTTP/2 adds to each header field's name
	// and value when it sizes a header list (RFC 9113 §6.5.2).
	hpackFieldOverhead = 32
)

// connCore is the connection's state machine: the stream table and stream
// id assignment, the stream quota and the queue of streams waiting for
// SETTINGS_MAX_CONCURRENT_STREAMS, the send windows, GOAWAY and drain, and
// keepalive. It has no goroutine, socket or timer: step takes one message
// and returns the effects the actor performs (frames to write, streams to
// finish, events for the parent, timers to arm). It writes the streams'
// actor-owned fields and reads nothing of theirs that another goroutine
// writes except whether they have ended (Stream.finishedFast), which moves
// only one way.
type connCore struct {
	addr string
	now  func() time.Time

	state       State // as published on Conn by effState
	established bool  // the server's first SETTINGS arrived
	closed      bool
	draining    bool
	goAwaySeen  bool
	goAwayID    uint32 // last stream id of the latest GOAWAY

	nextID uint32
	// streams is the stream set: every stream whose HEADERS went out and
	// that has not been closed, by id. It is the one owner; the reader's
	// lookup table (Conn.ids) mirrors it through effHeaders and
	// effForget, because the reader goroutine cannot read the core.
	streams       map[uint32]*Stream
	waiting       []*Stream // streams waiting for a free slot, in arrival order
	maxStreams    uint32
	sendFlow      outFlow // the connection's send window
	peerInitWin   int64
	peerMaxFrame  uint32
	peerMaxHeader uint32 // the server's SETTINGS_MAX_HEADER_LIST_SIZE (MaxUint32: none)
	blockedOnConn []*Stream
	ka            *keepalive
	bdp           *bdpEstimator // nil: BDP estimation off

	// The effects of the current step. Frames come from arenas reused
	// every step, so the hot path allocates nothing: effects are valid
	// only until the next step.
	effs    []effect
	data    arena[effData]
	wins    arena[effWindowUpdate]
	rsts    arena[effRST]
	pings   arena[effPing]
	scratch []*Stream
}

func newConnCore(addr string, ka *keepalive) *connCore {
	return &connCore{
		addr:          addr,
		now:           func() time.Time { return timeNow() },
		streams:       make(map[uint32]*Stream),
		nextID:        1,
		maxStreams:    math.MaxUint32,
		sendFlow:      newOutFlow(65535),
		peerInitWin:   65535,
		peerMaxFrame:  defaultMaxFrame,
		peerMaxHeader: math.MaxUint32,
		ka:            ka,
	}
}

// arena hands out pointers to values kept in a slice reused every step, so
// that an effect boxed in the effect interface costs no allocation. A
// pointer stays valid until reset.
type arena[T any] []T

func (a *arena[T]) put(v T) *T {
	*a = append(*a, v)
	return &(*a)[len(*a)-1]
}

func (a *arena[T]) reset() {
	clear(*a)
	*a = (*a)[:0]
}

func (c *connCore) emit(e effect) { c.effs = append(c.effs, e) }

// step applies msg and returns the effects to perform, in order. The slice
// and the frame effects in it are reused by the next step.
func (c *connCore) step(msg coreMsg) []effect {
	clear(c.effs)
	c.effs = c.effs[:0]
	c.data.reset()
	c.wins.reset()
	c.rsts.reset()
	c.pings.reset()
	switch m := msg.(type) {
	case *newStream:
		s := m.s
		m.free()
		c.onNewStream(s)
	case *dataReq:
		s, open := m.s, m.open
		c.onData(m) // m is freed there or later
		if open {
			c.onNewStream(s)
		}
	case *cancelStream:
		c.onCancel(m.s)
	case *windowUpdate:
		c.onWindowUpdateReq(m)
	case *remoteEnded:
		c.onRemoteEnded(m.s)
	case *resetStream:
		c.onResetStream(m.s, m.code)
	case *settingsFrame:
		c.onSettings(m)
	case *pingFrame:
		if m.ack {
			switch m.data {
			case keepalivePing:
				c.onKeepaliveAck()
			case bdpPing:
				c.onBDPAck(m)
			}
		} else if !c.closed {
			c.emit(c.pings.put(effPing{ack: true, data: m.data}))
		}
	case *bdpData:
		if c.bdp != nil && !c.closed && c.bdp.begin(m.start, m.now) {
			c.emit(c.pings.put(effPing{data: bdpPing}))
		}
	case *goAwayFrame:
		c.onGoAway(m)
	case *windowUpdateFrame:
		c.onWindowUpdateFrame(m)
	case *rstStreamFrame:
		c.onRSTStream(m)
	case *keepaliveTick:
		c.onKeepaliveTick(m)
	case *keepaliveTimeout:
		c.onKeepaliveTimeout(m)
	case *connectTimeout:
		if !c.established {
			c.close(status.Errorf(codes.Unavailable, "connection to %s timed out after %v (dial, handshake and server SETTINGS)", c.addr, m.after))
		}
	case *readerFailed:
		var ce http2.ConnectionError
		var pe *protocolError
		switch {
		case errors.As(m.err, &pe):
			c.connError(pe.code, pe.st)
		case errors.As(m.err, &ce):
			c.connError(http2.ErrCode(ce), readError(c.addr, m.err))
		default:
			c.close(readError(c.addr, m.err))
		}
	case *closeReq:
		c.close(m.err)
	case *drainReq:
		c.startDrain()
	}
	return c.effs
}

// onBDPAck: the ack of the BDP PING; the windows grow if the sample says
// the link needs it.
func (c *connCore) onBDPAck(m *pingFrame) {
	if c.bdp == nil || c.closed {
		return
	}
	w, incr := c.bdp.ack(m.total, m.at)
	if w == 0 {
		return
	}
	c.emit(&effRecvWindows{stream: w, conn: c.bdp.conn})
	if incr > 0 {
		c.emit(c.wins.put(effWindowUpdate{n: uint32(incr)}))
	}
}

func (c *connCore) setState(s State) {
	if c.state != s {
		c.state = s
		c.emit(effState{s})
	}
}

func (c *connCore) onSettings(m *settingsFrame) {
	if c.closed || m.ack {
		return
	}
	// Out-of-range values are a connection error (RFC 9113 §6.5.2). A
	// SETTINGS_MAX_FRAME_SIZE of 0 used to make writeHeaderBlock loop for
	// ever writing empty CONTINUATION frames, and stalled every DATA write.
	for _, s := range m.settings {
		if err := s.Valid(); err != nil {
			c.connError(goAwayCode(err), status.Errorf(codes.Internal, "connection to %s: server sent an invalid setting %v: %v", c.addr, s, err).WithCause(err))
			return
		}
	}
	for _, s := range m.settings {
		switch s.ID {
		case http2.SettingMaxConcurrentStreams:
			c.maxStreams = s.Val
		case http2.SettingInitialWindowSize:
			delta := int64(s.Val) - c.peerInitWin
			c.peerInitWin = int64(s.Val)
			for _, st := range c.streams {
				if !st.sendFlow.add(delta) {
					// RFC 9113 §6.9.2: a connection error.
					c.connError(http2.ErrCodeFlowControl, status.Errorf(codes.Internal, "connection to %s: server's SETTINGS_INITIAL_WINDOW_SIZE %d overflowed the send window of stream %d to %d", c.addr, s.Val, st.id, st.sendFlow.n))
					return
				}
			}
		case http2.SettingMaxFrameSize:
			c.peerMaxFrame = s.Val
		case http2.SettingMaxHeaderListSize:
			c.peerMaxHeader = s.Val
		case http2.SettingHeaderTableSize:
			c.emit(&effHeaderTableSize{n: s.Val})
		}
	}
	c.emit(effSettingsAck{})
	if !c.established {
		c.established = true
		c.emit(effStopTimer{timerConnect})
		c.setState(Ready)
		c.emit(effReady{})
		c.keepaliveStart()
	}
	c.startWaiting()
	c.writeAll()
}

// onNewStream assigns the stream an id and writes its HEADERS, or queues
// it while the server's concurrent-stream limit is reached.
func (c *connCore) onNewStream(s *Stream) {
	if s.finishedFast() {
		c.forgetUnstarted(s) // with data queued before it ended (Stream.outq)
		return
	}
	if c.closed || c.draining {
		c.refuse(s)
		return
	}
	if uint32(len(c.streams)) >= c.maxStreams {
		c.waiting = append(c.waiting, s)
		return
	}
	c.startStream(s)
}

// refuse ends s, which never started, unsent.
func (c *connCore) refuse(s *Stream) {
	why := "draining"
	if c.closed {
		why = "closed"
	}
	c.fail(s, &effFinish{s: s, st: status.Errorf(codes.Unavailable, "connection to %s is %s; the call was not sent", c.addr, why), unsent: true})
}

// fail ends s, which never started, with f: its queued data (a waiting
// stream's, or the request it opened with) is released between the
// finish and the forget, as closeStream does for a started stream.
func (c *connCore) fail(s *Stream, f *effFinish) {
	c.emit(f)
	c.forgetUnstarted(s)
}

// forgetUnstarted releases the queued data of s, which never started,
// and forgets it.
func (c *connCore) forgetUnstarted(s *Stream) {
	c.dropQueued(s)
	c.emit(effForget{s})
}

// headerListSize is the size of s's request header list as HTTP/2 counts
// it: name, value and 32 bytes for each field.
func headerListSize(s *Stream) int64 {
	n := s.fieldsSize
	if s.timeout > 0 {
		var b [wire.MaxTimeoutLen]byte
		n += int64(len("grpc-timeout") + len(wire.AppendTimeout(b[:0], s.timeout)) + hpackFieldOverhead)
	}
	return n
}

func (c *connCore) startStream(s *Stream) {
	if c.nextID > maxStreamID {
		c.refuse(s)
		c.startDrain()
		return
	}
	if d := s.hdr.Deadline; !d.IsZero() {
		left := d.Sub(c.now())
		if left <= 0 {
			c.fail(s, &effFinish{s: s, st: status.New(codes.DeadlineExceeded, "deadline exceeded before the call was sent"), local: true})
			return
		}
		s.timeout = left
	}
	if n := headerListSize(s); n > int64(c.peerMaxHeader) {
		// grpc-go's words; the call fails, the connection goes on.
		c.fail(s, &effFinish{s: s, st: status.Errorf(codes.Internal, "header list size to send violates the maximum size (%d bytes)", c.peerMaxHeader), local: true})
		return
	}
	s.id = c.nextID
	c.nextID += 2
	c.keepaliveWake()
	c.streams[s.id] = s
	s.sendFlow = newOutFlow(c.peerInitWin)
	s.started = true
	c.emit(effHeaders{s})
	if len(s.outq) > 0 || s.endQueued {
		c.writeStream(s)
	}
	if c.nextID > maxStreamID {
		c.startDrain()
	}
}

func (c *connCore) startWaiting() {
	for len(c.waiting) > 0 && uint32(len(c.streams)) < c.maxStreams && !c.closed && !c.draining {
		s := c.waiting[0]
		c.waiting[0] = nil
		c.waiting = c.waiting[1:]
		if s.finishedFast() {
			c.forgetUnstarted(s)
			continue
		}
		c.startStream(s)
	}
}

// onData queues m's bytes on its stream, or releases them if the stream
// can send no more. m is the core's: it is freed once done with, here or
// when its bytes are written or dropped (writeStream, dropQueued).
func (c *connCore) onData(m *dataReq) {
	s := m.s
	if s.endQueued || s.finishedFast() && !s.started {
		c.drop(m, len(m.buf))
		return
	}
	if s.started {
		if _, ok := c.streams[s.id]; !ok {
			// The stream was reset or ended: writing would be a DATA frame
			// on a closed stream, a protocol error for the server.
			c.drop(m, len(m.buf))
			return
		}
	}
	if m.end {
		s.endQueued = true
	}
	if len(m.buf) > 0 {
		if s.outq == nil {
			s.outq = s.outq0[:0]
		}
		s.outq = append(s.outq, m)
	} else {
		m.free()
	}
	if s.started && !c.closed {
		c.writeStream(s)
	}
}

// release gives n bytes of write quota back to s's writer.
func (c *connCore) release(s *Stream, n int) {
	if n > 0 {
		c.emit(&effRelease{s: s, n: n})
	}
}

// drop releases the n bytes of m not yet written (and m's buffer, if
// pooled) and frees m.
func (c *connCore) drop(m *dataReq, n int) {
	if m.pooled {
		c.emit(&effRelease{s: m.s, n: n, recycle: m.buf})
	} else {
		c.release(m.s, n)
	}
	m.free()
}

// writeStream writes as much of s's queued data as the flow-control windows
// allow.
func (c *connCore) writeStream(s *Stream) {
	if c.closed || s.remoteEnded && s.finishedFast() {
		c.dropQueued(s)
		return
	}
	for len(s.outq) > 0 {
		d := s.outq[0]
		rest := d.buf[s.outHead:]
		n := min(int64(len(rest)), int64(c.peerMaxFrame), s.sendFlow.available(), c.sendFlow.available())
		if n <= 0 {
			if c.sendFlow.available() <= 0 && !s.blocked {
				s.blocked = true
				c.blockedOnConn = append(c.blockedOnConn, s)
			}
			return
		}
		whole := int(n) == len(rest) // d's last frame
		last := whole && len(s.outq) == 1 && s.endQueued
		e := effData{s: s, end: last, p: rest[:n]}
		if whole && d.pooled {
			e.recycle = d.buf
		}
		c.emit(c.data.put(e))
		s.sendFlow.take(n)
		c.sendFlow.take(n)
		c.keepaliveWake()
		s.outHead += int(n)
		if whole {
			s.outq[0] = nil
			s.outq = s.outq[1:]
			if len(s.outq) == 0 {
				// Emptied: the next message takes outq0 again, where
				// appending to the drained slice (no room left in
				// front) would allocate one per message.
				s.outq = nil
			}
			s.outHead = 0
			d.free()
		}
		if last {
			s.endSent = true
		}
	}
	if s.endQueued && !s.endSent {
		c.emit(c.data.put(effData{s: s, end: true}))
		s.endSent = true
	}
	if s.endSent && s.remoteEnded {
		c.closeStream(s)
	}
}

// dropQueued releases s's queued data, none of which will be written
// (the first message less what of it went out), and frees its dataReqs.
// Every path that drops a stream, started or not, calls it.
func (c *connCore) dropQueued(s *Stream) {
	for i, d := range s.outq {
		n := len(d.buf)
		if i == 0 {
			n -= s.outHead
		}
		s.outq[i] = nil
		c.drop(d, n)
	}
	s.outq, s.outHead = nil, 0
}

func (c *connCore) onCancel(s *Stream) {
	if !s.started {
		c.removeWaiting(s)
		c.forgetUnstarted(s)
		return
	}
	if _, ok := c.streams[s.id]; !ok {
		return
	}
	if !c.closed && !(s.remoteEnded && s.endSent) {
		c.emit(c.rsts.put(effRST{id: s.id, code: http2.ErrCodeCancel}))
	}
	c.closeStream(s)
}

func (c *connCore) removeWaiting(s *Stream) {
	if i := slices.Index(c.waiting, s); i >= 0 {
		c.waiting = slices.Delete(c.waiting, i, i+1)
	}
}

// closeStream removes s from the connection (any RST_STREAM is already
// out), and starts a waiting stream in its place.
func (c *connCore) closeStream(s *Stream) {
	if _, ok := c.streams[s.id]; !ok {
		return
	}
	delete(c.streams, s.id)
	c.dropQueued(s)
	c.emit(effForget{s})
	if c.draining && len(c.streams) == 0 {
		c.close(nil)
		return
	}
	c.startWaiting()
}

// onRemoteEnded: the reader saw the server end the stream (trailers, or a
// local failure the reader detected).
func (c *connCore) onRemoteEnded(s *Stream) {
	if _, ok := c.streams[s.id]; !ok {
		return
	}
	s.remoteEnded = true
	if !s.endSent && !c.closed {
		// Early server closure: tell the server we will send no more.
		c.emit(c.rsts.put(effRST{id: s.id, code: http2.ErrCodeNo}))
	}
	c.closeStream(s)
}

// onResetStream: the reader ended s locally (a protocol or size violation)
// and asks for RST_STREAM with code.
func (c *connCore) onResetStream(s *Stream, code http2.ErrCode) {
	if _, ok := c.streams[s.id]; !ok {
		return
	}
	if !c.closed {
		c.emit(c.rsts.put(effRST{id: s.id, code: code}))
	}
	c.closeStream(s)
}

func (c *connCore) onRSTStream(m *rstStreamFrame) {
	s, ok := c.streams[m.id]
	if !ok {
		return
	}
	code := wire.RSTStreamCode(m.code)
	msg := fmt.Sprintf("stream %d to %s terminated by RST_STREAM with error code: %v", m.id, c.addr, m.code)
	if code == codes.Canceled && !s.hdr.Deadline.IsZero() && !c.now().Before(s.hdr.Deadline) {
		code = codes.DeadlineExceeded
	}
	c.emit(&effFinish{s: s, st: status.New(code, msg), unprocessed: m.code == http2.ErrCodeRefusedStream})
	s.remoteEnded = true
	c.closeStream(s)
}

func (c *connCore) onWindowUpdateReq(m *windowUpdate) {
	if c.closed || m.n == 0 {
		return
	}
	if m.s == nil {
		c.emit(c.wins.put(effWindowUpdate{n: m.n}))
		return
	}
	if _, ok := c.streams[m.s.id]; !ok || m.s.remoteEnded {
		return
	}
	c.emit(c.wins.put(effWindowUpdate{id: m.s.id, n: m.n}))
}

func (c *connCore) onWindowUpdateFrame(m *windowUpdateFrame) {
	if c.closed {
		return
	}
	if m.id == 0 {
		if !c.sendFlow.add(int64(m.incr)) {
			c.connError(http2.ErrCodeFlowControl, status.Errorf(codes.Internal, "server overflowed the connection send window to %d", c.sendFlow.n))
			return
		}
		c.writeAll()
		return
	}
	s, ok := c.streams[m.id]
	if !ok {
		return
	}
	if !s.sendFlow.add(int64(m.incr)) {
		// RFC 9113 §6.9.1: a stream error; the call fails, the
		// connection goes on.
		c.emit(&effFinish{s: s, st: status.Errorf(codes.Internal, "stream %d to %s: server overflowed the send window to %d", s.id, c.addr, s.sendFlow.n), local: true})
		c.emit(c.rsts.put(effRST{id: s.id, code: http2.ErrCodeFlowControl}))
		c.closeStream(s)
		return
	}
	c.writeStream(s)
}

// writeAll retries the streams blocked on the connection window, then every
// stream with queued data, in stream id order.
func (c *connCore) writeAll() {
	blocked := c.blockedOnConn
	c.blockedOnConn = nil
	for _, s := range blocked {
		s.blocked = false
		if _, ok := c.streams[s.id]; ok {
			c.writeStream(s)
		}
	}
	c.scratch = c.scratch[:0]
	for _, s := range c.streams {
		if len(s.outq) > 0 && !s.blocked {
			c.scratch = append(c.scratch, s)
		}
	}
	sortByID(c.scratch)
	for i, s := range c.scratch {
		c.scratch[i] = nil
		if _, ok := c.streams[s.id]; ok && !s.blocked {
			c.writeStream(s)
		}
	}
}

func sortByID(ss []*Stream) {
	slices.SortFunc(ss, func(a, b *Stream) int { return int(a.id) - int(b.id) })
}

func (c *connCore) onGoAway(m *goAwayFrame) {
	if c.closed {
		return
	}
	if c.goAwaySeen && m.lastID > c.goAwayID {
		c.connError(http2.ErrCodeProtocol, status.Errorf(codes.Internal, "server sent a second GOAWAY with a larger last stream id (%d > %d)", m.lastID, c.goAwayID))
		return
	}
	c.goAwaySeen = true
	c.goAwayID = m.lastID
	msg := fmt.Sprintf("the server sent GOAWAY (%v, %q); the call was not processed", m.code, m.debug)
	// Refuse the waiting streams and mark the connection draining before
	// closing the streams above lastID: closeStream would otherwise start
	// waiting streams (new HEADERS to a server that is going away), and
	// EventGoAway precedes the EventClosed that closing the last stream
	// may cause.
	for _, s := range c.waiting {
		c.fail(s, &effFinish{s: s, st: status.New(codes.Unavailable, msg), unsent: true})
	}
	c.waiting = nil
	first := !c.draining
	c.draining = true
	if c.state == Ready {
		c.setState(Draining)
	}
	if first {
		c.emit(&effGoAway{code: m.code, debug: m.debug})
	}
	c.scratch = c.scratch[:0]
	for id, s := range c.streams {
		if id > m.lastID {
			c.scratch = append(c.scratch, s)
		}
	}
	sortByID(c.scratch)
	for i, s := range c.scratch {
		c.scratch[i] = nil
		c.emit(&effFinish{s: s, st: status.New(codes.Unavailable, msg), unprocessed: true, local: true})
		c.closeStream(s) // closes the connection after the last one
	}
	if len(c.streams) == 0 && !c.closed {
		c.close(nil)
	}
}

func (c *connCore) startDrain() {
	if c.draining || c.closed {
		return
	}
	c.draining = true
	if c.state == Ready {
		c.setState(Draining)
	}
	for _, s := range c.waiting {
		c.refuse(s)
	}
	c.waiting = nil
	c.emit(&effGoAway{code: http2.ErrCodeNo, debug: "client drain"})
	if len(c.streams) == 0 {
		c.close(nil)
	}
}

// readError is the status the calls end with when the reader stopped
// with err.
func readError(addr string, err error) *status.Error {
	if errors.Is(err, io.EOF) {
		return status.Errorf(codes.Unavailable, "connection to %s closed by the server (EOF)", addr).WithCause(err)
	}
	var ce http2.ConnectionError
	if errors.As(err, &ce) {
		return status.Errorf(codes.Internal, "connection to %s: HTTP/2 protocol error from the server: %v", addr, err).WithCause(err)
	}
	var se *status.Error
	if errors.As(err, &se) {
		return se
	}
	return status.Errorf(codes.Unavailable, "connection to %s lost: %v", addr, err).WithCause(err)
}

// goAwayCode is the HTTP/2 error code of err, a connection error, or
// PROTOCOL_ERROR.
func goAwayCode(err error) http2.ErrCode {
	var ce http2.ConnectionError
	if errors.As(err, &ce) {
		return http2.ErrCode(ce)
	}
	return http2.ErrCodeProtocol
}

// connError closes the connection for an HTTP/2 connection error the
// client detected: GOAWAY with code tells the server why (RFC 9113 §5.4.1).
func (c *connCore) connError(code http2.ErrCode, err *status.Error) {
	c.closeWith(err, code, true)
}

// close ends the connection: the actor closes the socket and ends every
// stream handed out (the core's and those still in the mailbox). A nil err
// is a graceful close after draining.
func (c *connCore) close(err *status.Error) { c.closeWith(err, http2.ErrCodeNo, err == nil) }

func (c *connCore) closeWith(err *status.Error, code http2.ErrCode, goAway bool) {
	if c.closed {
		return
	}
	c.closed = true
	c.keepaliveStop()
	c.scratch = c.scratch[:0]
	for _, s := range c.streams {
		if len(s.outq) > 0 {
			c.scratch = append(c.scratch, s)
		}
	}
	sortByID(c.scratch)
	for i, s := range c.scratch {
		c.scratch[i] = nil
		c.dropQueued(s)
	}
	// The waiting streams end with the others when the actor performs
	// effClose; their queued data is released here, before it.
	for i, s := range c.waiting {
		c.waiting[i] = nil
		c.dropQueued(s)
	}
	c.streams = map[uint32]*Stream{}
	c.waiting = nil
	c.blockedOnConn = nil
	c.state = Closed
	c.emit(&effClose{err: err, established: c.established, goAway: goAway, code: code})
}
