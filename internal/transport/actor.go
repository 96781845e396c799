package transport

import (
	"bytes"
	"context"
	"encoding/binary"
	"net"
	"runtime"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/internal/actorsys"
	"github.com/grpcactor/grpcactor/internal/bufpool"
	"github.com/grpcactor/grpcactor/status"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// goAwayWriteTimeout bounds the write of the GOAWAY that reports a
// connection error to the server.
const goAwayWriteTimeout = time.Second

// connActor is the connection's single writer: it hands every message to
// the core and performs the effects, which is all its I/O (the socket, the
// HPACK encoder, the timers, the tables shared with the reader and with
// NewStream). All fields are owned by the actor's Receive.
type connActor struct {
	c       *Conn
	core    *connCore
	disp    *actorsys.PinnedDispatcher
	mailbox actor.Mailbox
	ctx     actor.Context

	nc   net.Conn
	bw   *bufWriter
	fr   *http2.Framer
	hbuf bytes.Buffer
	henc *hpack.Encoder
	// hgen is the generation of henc's dynamic table: it moves on every
	// change of the table (an entry added, its size changed), which
	// invalidates the encoded blocks of reqHeaders.
	hgen     uint64
	dialCtx  context.CancelFunc
	timers   *actorsys.Timers[timerKind] // by timerKind.slot
	stopping bool
	closed   bool  // effClose performed
	werr     error // a failed write of the current batch of effects
	yielded  int8  // times maybeFlush yielded since the last flush
	// held are DATA payloads the write buffer holds by reference
	// (bufWriter.WriteRef): their bytes are released to the streams'
	// writers only once flushed (or the connection closed).
	held []heldData

	hdrScratch [9]byte
}

func (a *connActor) Receive(ctx actor.Context) {
	a.ctx = ctx
	switch m := ctx.Message().(type) {
	case *actor.Started:
		a.c.pid.Store(ctx.Self())
		a.start()
	case *actor.Stopped:
		a.disp.Stop()
		return
	case *actor.Stopping:
		a.stopping = true
		a.apply(&closeReq{err: status.New(codes.Unavailable, "connection actor stopped")})
	case *dialResult:
		a.onDialed(m)
	case coreMsg:
		switch m := m.(type) {
		case *settingsFrame, *pingFrame, *goAwayFrame, *windowUpdateFrame, *rstStreamFrame:
			a.c.ctrlHandled()
		case *keepaliveTick:
			m.now, m.lastRead = timeNow(), a.c.lastReadTime()
		case *keepaliveTimeout:
			m.lastRead = a.c.lastReadTime()
		case *bdpData:
			m.now = timeNow()
		}
		a.apply(m)
		freeMsg(m)
	}
	a.maybeFlush()
}

// apply steps the core with m and performs the effects. A write that fails
// closes the connection once the batch is done (the core is not stepped
// while its effects are being performed).
func (a *connActor) apply(m coreMsg) {
	for _, e := range a.core.step(m) {
		a.perform(e)
	}
	a.closeIfWriteFailed()
}

// closeIfWriteFailed closes the connection after a failed write.
func (a *connActor) closeIfWriteFailed() {
	if a.werr != nil && !a.closed {
		a.apply(&closeReq{err: a.writeFailure()})
	}
}

// writeFailure is the status a failed write closes the connection with:
// the one Close asked for if Close shut the socket under the write.
func (a *connActor) writeFailure() *status.Error {
	if st := a.c.closeReason.Load(); st != nil {
		return st
	}
	return status.Errorf(codes.Unavailable, "writing to %s: %v", a.c.cfg.Address, a.werr).WithCause(a.werr)
}

func (a *connActor) perform(e effect) {
	switch e := e.(type) {
	case effHeaders:
		if !a.c.register(e.s) {
			return
		}
		if a.writable() {
			a.writeHeaders(e.s)
		}
	case *effData:
		if a.writable() {
			ref, err := a.writeData(e.s.id, e.end, e.p)
			a.check(err)
			if ref {
				// Written by the next flush, straight from the
				// stream's buffer: released after it.
				a.held = append(a.held, heldData{e.s, len(e.p), e.recycle})
				return
			}
		}
		a.release(e.s, len(e.p))
		a.recycle(e.recycle)
	case *effRelease:
		if e.n > 0 {
			a.release(e.s, e.n)
		}
		a.recycle(e.recycle)
	case *effWindowUpdate:
		if a.writable() {
			a.check(a.fr.WriteWindowUpdate(e.id, e.n))
		}
	case *effRST:
		if a.writable() {
			a.check(a.fr.WriteRSTStream(e.id, e.code))
		}
	case *effPing:
		if a.writable() {
			a.check(a.fr.WritePing(e.ack, e.data))
		}
	case effSettingsAck:
		if a.writable() {
			a.check(a.fr.WriteSettingsAck())
		}
	case *effRecvWindows:
		a.c.recvWin.Store(e.stream)
		a.c.connRecvWin.Store(e.conn)
		if a.writable() {
			a.check(a.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: uint32(e.stream)}))
		}
	case *effHeaderTableSize:
		a.henc.SetMaxDynamicTableSizeLimit(e.n)
		a.hgen++ // the table may shrink, and the next block starts with the new size
	case *effFinish:
		if e.unsent {
			e.s.finishUnsentInActor(e.st)
		} else {
			e.s.finishInActor(e.st, nil, e.unprocessed, e.local)
		}
	case effForget:
		a.c.forget(e.s)
	case effState:
		a.c.state.Store(int32(e.state))
	case effReady:
		if a.c.cfg.KeepaliveTime > 0 {
			a.c.lastRead.Store(timeNow().UnixNano())
		}
		a.event(&EventReady{Conn: a.c})
	case *effGoAway:
		a.event(&EventGoAway{Conn: a.c, Code: e.code, Debug: e.debug})
	case *effArm:
		a.arm(e)
	case effStopTimer:
		a.timers.Stop(e.timer.slot())
	case *effClose:
		a.closeConn(e)
	}
}

func (a *connActor) writable() bool { return a.werr == nil && !a.closed && a.fr != nil }

func (a *connActor) check(err error) {
	if err != nil && a.werr == nil {
		a.werr = err
	}
}

func (a *connActor) arm(e *effArm) {
	var msg coreMsg
	switch e.timer {
	case timerKeepaliveTick:
		msg = &keepaliveTick{gen: e.gen}
	case timerKeepaliveTimeout:
		msg = &keepaliveTimeout{gen: e.gen}
	default:
		return
	}
	a.timers.Arm(e.timer.slot(), e.d, msg)
}

// flushYieldBelow: with fewer bytes than this buffered and other streams
// in flight, the actor yields before it flushes (see maybeFlush).
// grpc-go's writer yields below 1,000 bytes, which a single 1 KiB request
// already passes: at 64 callers each then went out in a write of its own
// more often than not. 4 KiB lets a few such calls share a write; larger
// DATA payloads are written by reference anyway (refMin).
const flushYieldBelow = 4 << 10

// maybeFlush writes out buffered frames when no other message waits in
// the mailbox, so the frames of several calls leave in one write. With
// other streams in flight and only a few bytes buffered, it first yields
// the processor (as grpc-go's writer does; see flushYields): callers that
// the reader has just woken, whose next calls are a few microseconds
// away, then get to queue them, and their frames share the write. A lone
// call (one stream in flight, as at concurrency 1) is flushed at once.
func (a *connActor) maybeFlush() {
	if a.bw == nil || a.closed {
		return
	}
	if a.bw.Buffered() == 0 {
		a.releaseHeld() // flushed when the buffer filled up
		return
	}
	if a.mailbox != nil && a.mailbox.UserMessageCount() > 0 {
		return
	}
	for a.mailbox != nil && a.yielded < a.flushYields() && a.bw.Buffered() < flushYieldBelow {
		a.yielded++
		runtime.Gosched()
		if a.mailbox.UserMessageCount() > 0 {
			return // flushed after those messages
		}
	}
	a.yielded = 0
	a.check(a.bw.Flush())
	a.releaseHeld()
	a.closeIfWriteFailed()
}

// flushYields is how many times maybeFlush may yield before it flushes:
// none with one stream, once with up to 8, twice with more. The reader
// yields to the callers it wakes, and with many of them a single yield
// found the mailbox empty while more calls were on their way: at 64
// callers a second yield took writes per call from 0.10 to 0.09 (grpc-go's
// ratio 0.95-0.98 -> 0.88-0.91) for the same ops/s.
func (a *connActor) flushYields() int8 {
	switch n := len(a.core.streams); {
	case n <= 1:
		return 0
	case n <= 8:
		return 1
	}
	return 2
}

// heldData is a DATA payload written by reference, not yet released
// (s nil: none), and a pooled buffer to recycle after it (or alone).
type heldData struct {
	s       *Stream
	n       int
	recycle []byte
}

// releaseHeld releases the payloads written by reference and recycles
// the pooled buffers that waited for them: the write buffer has flushed
// them, or the connection has closed.
func (a *connActor) releaseHeld() {
	for i, h := range a.held {
		if h.s != nil {
			a.release(h.s, h.n)
		}
		if h.recycle != nil {
			recycleSendBuf(h.recycle)
		}
		a.held[i] = heldData{}
	}
	a.held = a.held[:0]
}

// recycle gives a pooled request buffer, whose bytes are all written or
// dropped, back to bufpool. While payloads written by reference wait for
// the next flush (some of them may be earlier frames of this buffer), it
// waits with them.
func (a *connActor) recycle(b []byte) {
	if b == nil {
		return
	}
	if len(a.held) > 0 {
		a.held = append(a.held, heldData{recycle: b})
		return
	}
	recycleSendBuf(b)
}

// recycleSendBuf gives a pooled request buffer back (a variable, so that
// tests can poison recycled buffers to catch an early release).
var recycleSendBuf = bufpool.Put

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
	a.core = newConnCore(c.cfg.Address, newKeepalive(&c.cfg))
	a.core.bdp = newBDPEstimator(&c.cfg)
	dctx, cancel := context.WithTimeout(context.Background(), c.cfg.ConnectTimeout)
	a.dialCtx = cancel
	a.timers.Arm(timerConnect, c.cfg.ConnectTimeout, &connectTimeout{after: c.cfg.ConnectTimeout})
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
			if c.closed.Load() {
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

// onDialed writes the preface and the client's SETTINGS on the new socket
// and starts the reader.
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
		a.apply(&closeReq{err: status.Errorf(codes.Unavailable, "connection error: %s", msg).WithCause(m.err)})
		return
	}
	nc := m.conn
	a.nc = nc
	a.bw = newBufWriter(nc, c.cfg.BufferSize)
	a.fr = http2.NewFramer(a.bw, nil)
	a.henc = hpack.NewEncoder(&a.hbuf)
	_, err := a.bw.WriteString(http2.ClientPreface)
	a.check(err)
	settings := []http2.Setting{
		{ID: http2.SettingEnablePush, Val: 0},
		{ID: http2.SettingInitialWindowSize, Val: uint32(c.cfg.InitialWindowSize)},
		{ID: http2.SettingMaxHeaderListSize, Val: c.cfg.MaxHeaderListSize},
	}
	if a.writable() {
		a.check(a.fr.WriteSettings(settings...))
	}
	if d := c.cfg.InitialConnWindowSize - 65535; d > 0 && a.writable() {
		a.check(a.fr.WriteWindowUpdate(0, uint32(d)))
	}
	if a.writable() {
		a.check(a.bw.Flush())
	}
	if a.werr != nil {
		a.closeIfWriteFailed()
		return
	}
	r := &reader{c: c, conn: nc, flow: newInFlow(int64(c.cfg.InitialConnWindowSize))}
	c.goroutines.Add(1)
	go func() {
		defer c.goroutines.Done()
		r.run()
	}()
}

// writeHeaders HPACK-encodes s's request headers and writes them as
// HEADERS and CONTINUATION frames of at most the server's frame size.
func (a *connActor) writeHeaders(s *Stream) {
	a.headerBlock(s)
	block := a.hbuf.Bytes()
	max := int(a.core.peerMaxFrame)
	first := true
	for first || len(block) > 0 {
		n := min(len(block), max)
		frag := block[:n]
		block = block[n:]
		end := len(block) == 0
		var err error
		if first {
			err = a.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: s.id, BlockFragment: frag, EndHeaders: end})
		} else {
			err = a.fr.WriteContinuation(s.id, end, frag)
		}
		first = false
		if err != nil {
			a.check(err)
			return
		}
	}
}

// headerBlock HPACK-encodes s's request headers into a.hbuf. A shared
// list (reqHeaders) whose encoding in the table's current generation is
// all indexed is written from that encoding: encoding it again would give
// the same bytes and leave the table as it is. grpc-timeout, whose value
// differs from call to call, goes last as a never-indexed literal, so
// that it neither fills the table with values used once nor moves its
// generation.
func (a *connActor) headerBlock(s *Stream) {
	a.hbuf.Reset()
	rh := s.rh
	if rh.block != nil && rh.gen == a.hgen {
		a.hbuf.Write(rh.block)
	} else {
		for _, f := range rh.fields {
			a.henc.WriteField(f)
		}
		switch b := a.hbuf.Bytes(); {
		case !allIndexed(b):
			a.hgen++
		case rh.shared:
			rh.block = append(rh.block[:0], b...)
			rh.gen = a.hgen
		}
	}
	if s.timeout > 0 {
		a.henc.WriteField(hpack.HeaderField{Name: "grpc-timeout", Value: s.timeoutValue(), Sensitive: true})
	}
}

// allIndexed reports whether an HPACK block holds only indexed header
// field representations (RFC 7541, 6.1): those leave the dynamic table
// unchanged. Any other representation (a literal, which may add an
// entry, or a table size update) makes it false.
func allIndexed(b []byte) bool {
	for len(b) > 0 {
		if b[0]&0x80 == 0 {
			return false
		}
		if b[0]&0x7f != 0x7f { // the index fits the 7-bit prefix
			b = b[1:]
			continue
		}
		// A longer index: continuation bytes with the top bit set, then
		// the last one without it.
		i := 1
		for i < len(b) && b[i]&0x80 != 0 {
			i++
		}
		if i == len(b) {
			return false // truncated; never produced by the encoder
		}
		b = b[i+1:]
	}
	return true
}

// release gives n bytes of write quota back to s's writer (and runs its
// Notify hook).
func (a *connActor) release(s *Stream, n int) { s.wrote(n) }

// writeData writes one DATA frame straight into the buffered writer (the
// Framer would copy the payload once more). A large payload is left in
// place, to be written by the next flush (ref): it stays the stream's
// until then.
func (a *connActor) writeData(id uint32, end bool, p []byte) (ref bool, err error) {
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
		return false, err
	}
	return a.bw.WriteRef(p)
}

// closeConn performs effClose: it closes the socket, ends every stream
// handed out and stops the actor.
func (a *connActor) closeConn(e *effClose) {
	if a.closed {
		return
	}
	a.closed = true
	c := a.c
	if e.err == nil && a.werr != nil {
		e.err = a.writeFailure() // a write of this batch failed before the graceful close
	}
	a.timers.StopAll()
	if a.dialCtx != nil {
		a.dialCtx()
	}
	if a.bw != nil && e.goAway && a.werr == nil {
		debug := "client closing"
		if e.err != nil {
			// A connection error: best effort, as the server may not be
			// reading; the close must not wait for it.
			_ = a.nc.SetWriteDeadline(time.Now().Add(goAwayWriteTimeout))
			debug = e.err.Details()
			if len(debug) > 256 {
				debug = debug[:256]
			}
		}
		_ = a.fr.WriteGoAway(0, e.code, []byte(debug))
		_ = a.bw.Flush()
	}
	c.state.Store(int32(Closed))
	c.mu.Lock()
	c.closed.Store(true)
	c.closeErr = e.err
	if c.closeErr == nil {
		c.closeErr = status.Errorf(codes.Unavailable, "connection to %s closed", c.cfg.Address)
	}
	nc := c.netConn
	c.mu.Unlock()
	// After closeErr: a NewStream that the closed set refuses reads it.
	live := c.live.close()
	c.ids.clear()
	close(c.closedC)
	if nc != nil {
		nc.Close()
	}
	ferr := c.closeErr
	for _, s := range live {
		if s.started {
			// Messages that arrived before the connection died are still
			// delivered, then the error (as grpc-go does).
			s.finishInActor(ferr, nil, false, false)
		} else {
			s.finishUnsentInActor(ferr)
		}
	}
	a.releaseHeld() // the socket is closed: nothing writes them any more
	a.event(&EventClosed{Conn: c, Err: e.err, Established: e.established})
	if !a.stopping {
		a.ctx.Stop(a.ctx.Self())
	}
}
