package transport

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/status"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

const (
	maxStreamID     = math.MaxInt32
	defaultMaxFrame = 16384
)

// connActor is the connection's single writer. All fields are owned by the
// actor's Receive.
type connActor struct {
	c       *Conn
	disp    *pinnedDispatcher
	mailbox actor.Mailbox
	ctx     actor.Context

	nc      interface{ Close() error }
	bw      *bufWriter
	fr      *http2.Framer
	hbuf    bytes.Buffer
	henc    *hpack.Encoder
	dialCtx context.CancelFunc
	timer   interface{ Stop() bool }

	established bool
	stopping    bool
	ka          *keepalive
	closed      bool
	draining    bool
	goAwayID    uint32 // last stream id of the latest GOAWAY
	goAwaySeen  bool

	nextID        uint32
	active        int
	maxStreams    uint32
	waiting       []*Stream // streams waiting for a free slot
	streams       map[uint32]*Stream
	sendQuota     int64 // connection send window
	peerInitWin   int64
	peerMaxFrame  uint32
	blockedOnConn []*Stream
	hdrScratch    [9]byte
}

func (a *connActor) Receive(ctx actor.Context) {
	a.ctx = ctx
	switch m := ctx.Message().(type) {
	case *actor.Started:
		a.c.pid.Store(ctx.Self())
		a.start()
	case *actor.Stopped:
		a.disp.stop()
		return
	case *actor.Stopping:
		a.stopping = true
		a.closeConn(status.New(codes.Unavailable, "connection actor stopped"))
	case *newStream:
		a.onNewStream(m.s)
	case *dataReq:
		a.onData(m)
	case *cancelStream:
		a.onCancel(m.s)
	case *windowUpdate:
		a.onWindowUpdateReq(m)
	case *remoteEnded:
		a.onRemoteEnded(m.s)
	case *resetStream:
		a.onResetStream(m.s, m.code)
	case *settingsFrame:
		a.c.ctrlHandled()
		a.onSettings(m)
	case *pingFrame:
		a.c.ctrlHandled()
		if m.ack {
			if m.data == keepalivePing {
				a.onKeepaliveAck()
			}
		} else if !a.closed {
			a.check(a.fr.WritePing(true, m.data))
		}
	case *keepaliveTick:
		a.onKeepaliveTick(m)
	case *keepaliveTimeout:
		a.onKeepaliveTimeout(m)
	case *goAwayFrame:
		a.c.ctrlHandled()
		a.onGoAway(m)
	case *windowUpdateFrame:
		a.c.ctrlHandled()
		a.onWindowUpdateFrame(m)
	case *rstStreamFrame:
		a.c.ctrlHandled()
		a.onRSTStream(m)
	case *dialResult:
		a.onDialed(m)
	case *connectTimeout:
		if !a.established && !a.closed {
			a.closeConn(status.Errorf(codes.Unavailable, "connection to %s timed out after %v (dial, handshake and server SETTINGS)", a.c.cfg.Address, a.c.cfg.ConnectTimeout))
		}
	case *readerFailed:
		a.closeConn(readError(a.c.cfg.Address, m.err))
	case *closeReq:
		a.closeConn(m.err)
	case *drainReq:
		a.startDrain()
	}
	a.maybeFlush()
}

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

// maybeFlush writes out buffered frames when no other message waits in
// the mailbox, so the frames of several calls leave in one write.
func (a *connActor) maybeFlush() {
	if a.bw == nil || a.closed || a.bw.Buffered() == 0 {
		return
	}
	if a.mailbox != nil && a.mailbox.UserMessageCount() > 0 {
		return
	}
	a.check(a.bw.Flush())
}

func (a *connActor) check(err error) {
	if err != nil && !a.closed {
		if st := a.c.closeReason.Load(); st != nil {
			// Close shut the socket under this write.
			a.closeConn(st)
			return
		}
		a.closeConn(status.Errorf(codes.Unavailable, "writing to %s: %v", a.c.cfg.Address, err).WithCause(err))
	}
}

func (a *connActor) event(ev any) {
	if p := a.ctx.Parent(); p != nil {
		a.ctx.Send(p, ev)
	}
	if a.c.cfg.OnEvent != nil {
		a.c.cfg.OnEvent(ev)
	}
}

func (a *connActor) start() {
	c := a.c
	a.streams = make(map[uint32]*Stream)
	a.nextID = 1
	a.maxStreams = math.MaxUint32
	a.sendQuota = 65535
	a.peerInitWin = 65535
	a.peerMaxFrame = defaultMaxFrame
	dctx, cancel := context.WithTimeout(context.Background(), c.cfg.ConnectTimeout)
	a.dialCtx = cancel
	a.timer = frameTimerAfter(c.cfg.ConnectTimeout, c, &connectTimeout{})
	cfg := c.cfg
	c.goroutines.Add(1)
	go func() {
		defer c.goroutines.Done()
		nc, err := cfg.Dial(dctx, cfg.Network, cfg.Address)
		if err == nil && cfg.Handshake != nil {
			var hc = nc
			hc, err = cfg.Handshake(dctx, nc)
			if err != nil {
				nc.Close()
			} else {
				nc = hc
			}
		}
		if err == nil {
			c.mu.Lock()
			if c.closed {
				c.mu.Unlock()
				nc.Close()
				return
			}
			c.netConn = nc
			c.mu.Unlock()
		}
		c.send(&dialResult{conn: nc, err: err})
	}()
}

func (a *connActor) onDialed(m *dialResult) {
	c := a.c
	if a.closed {
		return
	}
	if m.err != nil {
		msg := m.err.Error()
		if !strings.Contains(msg, c.cfg.Address) {
			msg = "dial " + c.cfg.Address + ": " + msg
		}
		a.closeConn(status.Errorf(codes.Unavailable, "connection error: %s", msg).WithCause(m.err))
		return
	}
	nc := m.conn
	a.nc = nc
	a.bw = newBufWriter(nc, c.cfg.BufferSize)
	a.fr = http2.NewFramer(a.bw, nil)
	a.henc = hpack.NewEncoder(&a.hbuf)
	if _, err := a.bw.WriteString(http2.ClientPreface); err != nil {
		a.check(err)
		return
	}
	settings := []http2.Setting{
		{ID: http2.SettingEnablePush, Val: 0},
		{ID: http2.SettingInitialWindowSize, Val: uint32(c.cfg.InitialWindowSize)},
		{ID: http2.SettingMaxHeaderListSize, Val: c.cfg.MaxHeaderListSize},
	}
	a.check(a.fr.WriteSettings(settings...))
	if d := c.cfg.InitialConnWindowSize - 65535; d > 0 {
		a.check(a.fr.WriteWindowUpdate(0, uint32(d)))
	}
	if a.closed {
		return
	}
	a.check(a.bw.Flush())
	r := &reader{c: c, conn: nc}
	c.goroutines.Add(1)
	go func() {
		defer c.goroutines.Done()
		r.run()
	}()
}

func (a *connActor) onSettings(m *settingsFrame) {
	if a.closed || m.ack {
		return
	}
	// Out-of-range values are a connection error (RFC 9113 §6.5.2). A
	// SETTINGS_MAX_FRAME_SIZE of 0 used to make writeHeaderBlock loop for
	// ever writing empty CONTINUATION frames, and stalled every DATA write.
	for _, s := range m.settings {
		if err := s.Valid(); err != nil {
			a.closeConn(status.Errorf(codes.Internal, "connection to %s: server sent an invalid setting %v: %v", a.c.cfg.Address, s, err).WithCause(err))
			return
		}
	}
	for _, s := range m.settings {
		switch s.ID {
		case http2.SettingMaxConcurrentStreams:
			a.maxStreams = s.Val
		case http2.SettingInitialWindowSize:
			delta := int64(s.Val) - a.peerInitWin
			a.peerInitWin = int64(s.Val)
			for _, st := range a.streams {
				st.sendWindow += delta
			}
		case http2.SettingMaxFrameSize:
			a.peerMaxFrame = s.Val
		case http2.SettingHeaderTableSize:
			a.henc.SetMaxDynamicTableSizeLimit(s.Val)
		}
	}
	a.check(a.fr.WriteSettingsAck())
	if !a.established {
		a.established = true
		if a.timer != nil {
			a.timer.Stop()
		}
		a.c.state.Store(int32(Ready))
		a.keepaliveStart()
		a.event(&EventReady{Conn: a.c})
	}
	a.startWaiting()
	a.writeAll()
}

// onNewStream assigns the stream an id and writes its HEADERS, or queues
// it while the server's concurrent-stream limit is reached.
func (a *connActor) onNewStream(s *Stream) {
	if s.finishedFast() {
		a.c.forget(s)
		return
	}
	if a.closed || a.draining {
		a.refuse(s)
		return
	}
	if uint32(a.active) >= a.maxStreams {
		a.waiting = append(a.waiting, s)
		return
	}
	a.startStream(s)
}

func (a *connActor) refuse(s *Stream) {
	why := "draining"
	if a.closed {
		why = "closed"
	}
	s.finishUnsent(status.Errorf(codes.Unavailable, "connection to %s is %s; the call was not sent", a.c.cfg.Address, why))
	a.c.forget(s)
}

func (a *connActor) startStream(s *Stream) {
	if a.nextID > maxStreamID {
		a.refuse(s)
		a.startDrain()
		return
	}
	tf, ok := timeoutField(s.hdr.Deadline)
	if !ok {
		s.finish(status.New(codes.DeadlineExceeded, "deadline exceeded before the call was sent"), nil, false, true)
		a.c.forget(s)
		return
	}
	s.id = a.nextID
	a.nextID += 2
	a.keepaliveWake()
	if !a.c.register(s) {
		return
	}
	a.streams[s.id] = s
	a.active++
	s.sendWindow = a.peerInitWin
	s.started = true
	a.hbuf.Reset()
	for _, f := range s.fields {
		a.henc.WriteField(f)
	}
	if tf.Name != "" {
		a.henc.WriteField(tf)
	}
	a.writeHeaderBlock(s.id, a.hbuf.Bytes())
	if len(s.outq) > 0 || s.endQueued {
		a.writeStream(s)
	}
	if a.nextID > maxStreamID {
		a.startDrain()
	}
}

func (a *connActor) writeHeaderBlock(id uint32, block []byte) {
	max := int(a.peerMaxFrame)
	first := true
	for first || len(block) > 0 {
		n := len(block)
		if n > max {
			n = max
		}
		frag := block[:n]
		block = block[n:]
		end := len(block) == 0
		var err error
		if first {
			err = a.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: frag, EndHeaders: end})
		} else {
			err = a.fr.WriteContinuation(id, end, frag)
		}
		first = false
		if err != nil {
			a.check(err)
			return
		}
	}
}

func (a *connActor) startWaiting() {
	for len(a.waiting) > 0 && uint32(a.active) < a.maxStreams && !a.closed && !a.draining {
		s := a.waiting[0]
		a.waiting[0] = nil
		a.waiting = a.waiting[1:]
		if s.finishedFast() {
			a.c.forget(s)
			continue
		}
		a.startStream(s)
	}
}

func (a *connActor) onData(m *dataReq) {
	s := m.s
	if s.endQueued || s.finishedFast() && !s.started {
		a.released(s, len(m.buf))
		return
	}
	if s.started {
		if _, ok := a.streams[s.id]; !ok {
			// The stream was reset or ended: writing would be a DATA frame
			// on a closed stream, a protocol error for the server.
			a.released(s, len(m.buf))
			return
		}
	}
	if len(m.buf) > 0 {
		s.outq = append(s.outq, m)
	}
	if m.end {
		s.endQueued = true
	}
	if s.started && !a.closed {
		a.writeStream(s)
	}
}

// writeStream writes as much of s's queued data as the flow-control windows
// allow.
func (a *connActor) writeStream(s *Stream) {
	if a.closed || s.remoteEnded && s.finishedFast() {
		a.dropQueued(s)
		return
	}
	for len(s.outq) > 0 {
		d := s.outq[0]
		rest := d.buf[s.outHead:]
		n := len(rest)
		if n > int(a.peerMaxFrame) {
			n = int(a.peerMaxFrame)
		}
		if int64(n) > s.sendWindow {
			n = int(s.sendWindow)
		}
		if int64(n) > a.sendQuota {
			n = int(a.sendQuota)
		}
		if n <= 0 {
			if a.sendQuota <= 0 {
				if !s.blocked {
					s.blocked = true
					a.blockedOnConn = append(a.blockedOnConn, s)
				}
			}
			return
		}
		last := n == len(rest) && len(s.outq) == 1 && s.endQueued
		if err := a.writeData(s.id, last, rest[:n]); err != nil {
			a.check(err)
			return
		}
		s.sendWindow -= int64(n)
		a.sendQuota -= int64(n)
		if a.ka != nil {
			a.keepaliveWake()
		}
		s.outHead += n
		a.released(s, n)
		if s.outHead == len(d.buf) {
			s.outq[0] = nil
			s.outq = s.outq[1:]
			s.outHead = 0
		}
		if last {
			s.endSent = true
		}
	}
	if s.endQueued && !s.endSent {
		a.check(a.writeData(s.id, true, nil))
		s.endSent = true
	}
	if s.endSent && s.remoteEnded {
		a.closeStream(s, false)
	}
}

// released gives n bytes of write quota back to s's writer.
func (a *connActor) released(s *Stream, n int) { s.wrote(n) }

func (a *connActor) dropQueued(s *Stream) {
	for i, d := range s.outq {
		n := len(d.buf)
		if i == 0 {
			n -= s.outHead
		}
		a.released(s, n)
		s.outq[i] = nil
	}
	s.outq, s.outHead = nil, 0
}

// writeData writes one DATA frame straight into the buffered writer (the
// Framer would copy the payload once more).
func (a *connActor) writeData(id uint32, end bool, p []byte) error {
	h := a.hdrScratch[:]
	n := len(p)
	h[0], h[1], h[2] = byte(n>>16), byte(n>>8), byte(n)
	h[3] = byte(http2.FrameData)
	h[4] = 0
	if end {
		h[4] = byte(http2.FlagDataEndStream)
	}
	binary.BigEndian.PutUint32(h[5:], id)
	if _, err := a.bw.Write(h); err != nil {
		return err
	}
	_, err := a.bw.Write(p)
	return err
}

func (a *connActor) onCancel(s *Stream) {
	if !s.started {
		a.removeWaiting(s)
		a.c.forget(s)
		return
	}
	if _, ok := a.streams[s.id]; !ok {
		return
	}
	if !a.closed && !(s.remoteEnded && s.endSent) {
		a.check(a.fr.WriteRSTStream(s.id, http2.ErrCodeCancel))
	}
	a.closeStream(s, true)
}

func (a *connActor) removeWaiting(s *Stream) {
	for i, w := range a.waiting {
		if w == s {
			a.waiting = append(a.waiting[:i], a.waiting[i+1:]...)
			return
		}
	}
}

// closeStream removes s from the connection. rstSent tells whether an
// RST_STREAM already went out.
func (a *connActor) closeStream(s *Stream, rstSent bool) {
	if _, ok := a.streams[s.id]; !ok {
		return
	}
	delete(a.streams, s.id)
	a.active--
	a.dropQueued(s)
	a.c.forget(s)
	if a.draining && a.active == 0 {
		a.closeConn(nil)
		return
	}
	a.startWaiting()
}

// onRemoteEnded: the reader saw the server end the stream (trailers,
// or a local failure the reader detected).
func (a *connActor) onRemoteEnded(s *Stream) {
	if _, ok := a.streams[s.id]; !ok {
		return
	}
	s.remoteEnded = true
	if !s.endSent && !a.closed {
		// Early server closure: tell the server we will send no more.
		a.check(a.fr.WriteRSTStream(s.id, http2.ErrCodeNo))
	}
	a.closeStream(s, true)
}

// onResetStream: the reader ended s locally (a protocol or size violation)
// and asks for RST_STREAM with code.
func (a *connActor) onResetStream(s *Stream, code http2.ErrCode) {
	if _, ok := a.streams[s.id]; !ok {
		return
	}
	if !a.closed {
		a.check(a.fr.WriteRSTStream(s.id, code))
	}
	a.closeStream(s, true)
}

func (a *connActor) onRSTStream(m *rstStreamFrame) {
	s, ok := a.streams[m.id]
	if !ok {
		return
	}
	code := rstCode(m.code)
	unprocessed := m.code == http2.ErrCodeRefusedStream
	msg := fmt.Sprintf("stream %d to %s terminated by RST_STREAM with error code: %v", m.id, a.c.cfg.Address, m.code)
	if code == codes.Canceled && !s.hdr.Deadline.IsZero() && !timeNow().Before(s.hdr.Deadline) {
		code = codes.DeadlineExceeded
	}
	s.finish(status.New(code, msg), nil, unprocessed, false)
	s.remoteEnded = true
	a.closeStream(s, true)
}

func (a *connActor) onWindowUpdateReq(m *windowUpdate) {
	if a.closed || m.n == 0 {
		return
	}
	if m.s == nil {
		a.check(a.fr.WriteWindowUpdate(0, m.n))
		return
	}
	if _, ok := a.streams[m.s.id]; !ok || m.s.remoteEnded {
		return
	}
	a.check(a.fr.WriteWindowUpdate(m.s.id, m.n))
}

func (a *connActor) onWindowUpdateFrame(m *windowUpdateFrame) {
	if a.closed {
		return
	}
	if m.id == 0 {
		a.sendQuota += int64(m.incr)
		if a.sendQuota > math.MaxInt32 {
			a.closeConn(status.Errorf(codes.Internal, "server overflowed the connection send window to %d", a.sendQuota))
			return
		}
		a.writeAll()
		return
	}
	s, ok := a.streams[m.id]
	if !ok {
		return
	}
	s.sendWindow += int64(m.incr)
	a.writeStream(s)
}

// writeAll retries streams blocked on the connection window, and every
// stream with queued data.
func (a *connActor) writeAll() {
	blocked := a.blockedOnConn
	a.blockedOnConn = nil
	for _, s := range blocked {
		s.blocked = false
		if _, ok := a.streams[s.id]; ok {
			a.writeStream(s)
		}
	}
	for _, s := range a.streams {
		if len(s.outq) > 0 && !s.blocked {
			a.writeStream(s)
		}
	}
}

func (a *connActor) onGoAway(m *goAwayFrame) {
	if a.closed {
		return
	}
	if a.goAwaySeen && m.lastID > a.goAwayID {
		a.closeConn(status.Errorf(codes.Internal, "server sent a second GOAWAY with a larger last stream id (%d > %d)", m.lastID, a.goAwayID))
		return
	}
	a.goAwaySeen = true
	a.goAwayID = m.lastID
	msg := fmt.Sprintf("the server sent GOAWAY (%v, %q); the call was not processed", m.code, m.debug)
	// Refuse the waiting streams and mark the connection draining before
	// closing the streams above lastID: closeStream would otherwise start
	// waiting streams (new HEADERS to a server that is going away, left
	// hanging, or not, depending on map iteration order), and EventGoAway
	// precedes the EventClosed that closing the last stream may cause.
	for _, s := range a.waiting {
		s.finishUnsent(status.New(codes.Unavailable, msg))
		a.c.forget(s)
	}
	a.waiting = nil
	first := !a.draining
	a.draining = true
	if a.c.State() == Ready {
		a.c.state.Store(int32(Draining))
	}
	if first {
		a.event(&EventGoAway{Conn: a.c, Code: m.code, Debug: m.debug})
	}
	for id, s := range a.streams {
		if id > m.lastID {
			s.finish(status.New(codes.Unavailable, msg), nil, true, true)
			a.closeStream(s, true) // closes the connection after the last one
		}
	}
	if a.active == 0 && !a.closed {
		a.closeConn(nil)
	}
}

func (a *connActor) startDrain() {
	if a.draining || a.closed {
		return
	}
	a.draining = true
	if a.c.State() == Ready {
		a.c.state.Store(int32(Draining))
	}
	for _, s := range a.waiting {
		a.refuse(s)
	}
	a.waiting = nil
	a.event(&EventGoAway{Conn: a.c, Code: http2.ErrCodeNo, Debug: "client drain"})
	if a.active == 0 {
		a.closeConn(nil)
	}
}

// closeConn closes the socket, ends every stream and stops the actor. A
// nil err is a graceful close after draining.
func (a *connActor) closeConn(err *status.Error) {
	if a.closed {
		return
	}
	a.closed = true
	c := a.c
	if a.timer != nil {
		a.timer.Stop()
	}
	a.keepaliveStop()
	if a.dialCtx != nil {
		a.dialCtx()
	}
	if a.bw != nil && err == nil {
		_ = a.fr.WriteGoAway(0, http2.ErrCodeNo, []byte("client closing"))
		_ = a.bw.Flush()
	}
	c.state.Store(int32(Closed))
	c.mu.Lock()
	c.closed = true
	c.closeErr = err
	if c.closeErr == nil {
		c.closeErr = status.Errorf(codes.Unavailable, "connection to %s closed", c.cfg.Address)
	}
	nc := c.netConn
	live := c.live
	c.live = map[*Stream]struct{}{}
	c.byID = map[uint32]*Stream{}
	c.mu.Unlock()
	close(c.closedCh())
	if nc != nil {
		nc.Close()
	}
	ferr := c.closeErr
	for s := range live {
		if s.started {
			// Messages that arrived before the connection died are still
			// delivered, then the error (as grpc-go does).
			s.finish(ferr, nil, false, false)
		} else {
			s.finishUnsent(ferr)
		}
	}
	for _, s := range a.streams {
		a.dropQueued(s)
	}
	a.streams = map[uint32]*Stream{}
	a.waiting = nil
	a.event(&EventClosed{Conn: c, Err: err, Established: a.established})
	if !a.stopping {
		a.ctx.Stop(a.ctx.Self())
	}
}
