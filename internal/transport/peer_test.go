package transport

// This file holds the scripted HTTP/2 server peer the transport tests talk
// to over net.Pipe, and the harness that wires a Conn to it.
//
// The peer reads in its own goroutine (net.Pipe has no buffering, so a peer
// that only read when a test asked would deadlock against the client's
// writer); every frame it reads is recorded, checked against the flow-control
// windows the peer advertised, and queued for the test, which consumes the
// queue with the want* helpers. The write* helpers are called from the test
// goroutine. Every wait is bounded by the peer's context (testTimeout), a
// guard against hangs, never an expectation about how long something takes.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/status"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// testTimeout bounds every wait of a test: a hang guard only.
const testTimeout = 30 * time.Second

// testAddr is the address the scripted connections pretend to dial.
const testAddr = "scripted-peer:50051"

// testSys is the (silent) actor system every test connection runs on.
var testSys = quietSystem()

// frame is one frame the peer read from the client, copied out of the
// framer's buffers. A HEADERS frame and its CONTINUATIONs are one frame
// here, with the decoded fields and the size of each piece.
type frame struct {
	Type      http2.FrameType
	Flags     http2.Flags
	StreamID  uint32
	Length    uint32              // payload length on the wire, padding included
	Data      []byte              // DATA payload without padding, GOAWAY debug data
	Fields    []hpack.HeaderField // decoded header block
	Fragments []uint32            // payload lengths of the HEADERS and CONTINUATION frames
	Settings  []http2.Setting
	Code      http2.ErrCode
	Incr      uint32 // WINDOW_UPDATE increment
	LastID    uint32 // GOAWAY last stream id
	Ping      [8]byte
}

func (f *frame) endStream() bool {
	return (f.Type == http2.FrameData || f.Type == http2.FrameHeaders) && f.Flags.Has(http2.FlagDataEndStream)
}

func (f *frame) ack() bool {
	return (f.Type == http2.FrameSettings || f.Type == http2.FramePing) && f.Flags.Has(http2.FlagSettingsAck)
}

// field returns the values of the header named name.
func (f *frame) field(name string) []string {
	var vs []string
	for _, hf := range f.Fields {
		if hf.Name == name {
			vs = append(vs, hf.Value)
		}
	}
	return vs
}

func (f *frame) String() string {
	switch f.Type {
	case http2.FrameData:
		return fmt.Sprintf("DATA stream=%d len=%d end=%v", f.StreamID, f.Length, f.endStream())
	case http2.FrameHeaders:
		return fmt.Sprintf("HEADERS stream=%d fields=%d frames=%d end=%v", f.StreamID, len(f.Fields), len(f.Fragments), f.endStream())
	case http2.FrameSettings:
		return fmt.Sprintf("SETTINGS ack=%v %v", f.ack(), f.Settings)
	case http2.FramePing:
		return fmt.Sprintf("PING ack=%v %x", f.ack(), f.Ping)
	case http2.FrameWindowUpdate:
		return fmt.Sprintf("WINDOW_UPDATE stream=%d incr=%d", f.StreamID, f.Incr)
	case http2.FrameRSTStream:
		return fmt.Sprintf("RST_STREAM stream=%d %v", f.StreamID, f.Code)
	case http2.FrameGoAway:
		return fmt.Sprintf("GOAWAY last=%d %v %q", f.LastID, f.Code, f.Data)
	}
	return fmt.Sprintf("%v stream=%d len=%d", f.Type, f.StreamID, f.Length)
}

// pstream is the peer's view of one stream.
type pstream struct {
	cliEnded, srvEnded, reset bool
	cliReset                  bool // the reset came from the client
}

// peer is the scripted server side of one connection.
type peer struct {
	t        testing.TB
	nc       net.Conn
	ctx      context.Context
	cancel   context.CancelFunc
	frames   chan *frame
	prefaceC chan struct{}
	quit     chan struct{}
	readDone chan struct{}
	// Set before prefaceC / frames are closed.
	prefaceErr error
	readErr    error

	discard atomic.Bool // drop frames instead of queueing them (fuzzing)
	// tableSize, when non-zero, is 1 + a SETTINGS_HEADER_TABLE_SIZE the
	// peer sent: its HPACK decoder adopts it once the client acknowledges.
	tableSize atomic.Int64

	gateMu sync.Mutex
	gate   chan struct{} // non-nil while reading is paused

	wmu  sync.Mutex // guards the writer side
	bw   *bufio.Writer
	fw   *http2.Framer
	hbuf bytes.Buffer
	henc *hpack.Encoder

	// Owned by the test goroutine.
	stash   []*frame          // frames read but not yet wanted
	partial map[uint32][]byte // DATA bytes of a message not yet complete
	ended   map[uint32]bool   // END_STREAM seen by wantMsg
	// autoCredit makes wantMsg give the window it consumed back at once.
	autoCredit bool

	mu sync.Mutex // guards the flow-control and stream bookkeeping below
	// What the client may still send (the windows the peer advertised).
	maxFrame   uint32
	recvInit   int64
	recvConn   int64
	recvStream map[uint32]int64
	// What the peer may still send (the windows the client advertised).
	sendInit   int64
	sendConn   int64
	sendStream map[uint32]int64
	wuSig      chan struct{}

	streams    map[uint32]*pstream
	open       int
	maxOpen    int
	violations []string
}

func newPeer(t testing.TB, nc net.Conn) *peer {
	p := &peer{
		t:          t,
		nc:         nc,
		frames:     make(chan *frame, 1<<16),
		prefaceC:   make(chan struct{}),
		quit:       make(chan struct{}),
		readDone:   make(chan struct{}),
		partial:    make(map[uint32][]byte),
		ended:      make(map[uint32]bool),
		autoCredit: true,
		maxFrame:   16384,
		recvInit:   65535,
		recvConn:   65535,
		recvStream: make(map[uint32]int64),
		sendInit:   65535,
		sendConn:   65535,
		sendStream: make(map[uint32]int64),
		wuSig:      make(chan struct{}, 1),
		streams:    make(map[uint32]*pstream),
	}
	p.ctx, p.cancel = context.WithTimeout(context.Background(), testTimeout)
	_ = nc.SetDeadline(time.Now().Add(testTimeout))
	p.bw = bufio.NewWriterSize(nc, 64<<10)
	p.fw = http2.NewFramer(p.bw, nil)
	p.fw.AllowIllegalWrites = true
	p.henc = hpack.NewEncoder(&p.hbuf)
	go p.readLoop()
	return p
}

// close closes the server's socket and waits for the read goroutine.
func (p *peer) close() {
	p.cancel()
	select {
	case <-p.quit:
	default:
		close(p.quit)
	}
	p.nc.Close()
	<-p.readDone
}

func (p *peer) violation(format string, args ...any) {
	p.mu.Lock()
	p.violations = append(p.violations, fmt.Sprintf(format, args...))
	p.mu.Unlock()
}

// checkViolations reports every protocol violation the read goroutine saw.
func (p *peer) checkViolations() {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, v := range p.violations {
		p.t.Errorf("client protocol violation: %s", v)
	}
	p.violations = nil
}

// pause stops the read goroutine before its next frame; resume restarts it.
func (p *peer) pause() {
	p.gateMu.Lock()
	if p.gate == nil {
		p.gate = make(chan struct{})
	}
	p.gateMu.Unlock()
}

func (p *peer) resume() {
	p.gateMu.Lock()
	if p.gate != nil {
		close(p.gate)
		p.gate = nil
	}
	p.gateMu.Unlock()
}

func (p *peer) waitGate() bool {
	p.gateMu.Lock()
	g := p.gate
	p.gateMu.Unlock()
	if g == nil {
		return true
	}
	select {
	case <-g:
		return true
	case <-p.quit:
		return false
	}
}

func (p *peer) readLoop() {
	defer close(p.readDone)
	defer close(p.frames)
	br := bufio.NewReaderSize(p.nc, 64<<10)
	pre := make([]byte, len(http2.ClientPreface))
	if _, err := io.ReadFull(br, pre); err != nil {
		p.prefaceErr, p.readErr = err, err
		close(p.prefaceC)
		return
	}
	if string(pre) != http2.ClientPreface {
		p.prefaceErr = fmt.Errorf("bad client preface %q", pre)
		p.readErr = p.prefaceErr
		close(p.prefaceC)
		return
	}
	close(p.prefaceC)
	fr := http2.NewFramer(nil, br)
	dec := hpack.NewDecoder(4096, nil)
	var block []byte
	var pending *frame // HEADERS waiting for its CONTINUATIONs
	for {
		if !p.waitGate() {
			p.readErr = errors.New("peer closed")
			return
		}
		f, err := fr.ReadFrame()
		if err != nil {
			p.readErr = err
			return
		}
		rec := &frame{Type: f.Header().Type, Flags: f.Header().Flags, StreamID: f.Header().StreamID, Length: f.Header().Length}
		p.mu.Lock()
		maxFrame := p.maxFrame
		p.mu.Unlock()
		if rec.Length > maxFrame {
			p.violation("%v frame of %d bytes exceeds SETTINGS_MAX_FRAME_SIZE %d", rec.Type, rec.Length, maxFrame)
		}
		if pending != nil && rec.Type != http2.FrameContinuation {
			p.violation("%v frame in the middle of a header block", rec.Type)
		}
		switch f := f.(type) {
		case *http2.DataFrame:
			rec.Data = append([]byte(nil), f.Data()...)
			p.onClientData(rec)
		case *http2.HeadersFrame:
			rec.Fragments = []uint32{rec.Length}
			block = append(block[:0], f.HeaderBlockFragment()...)
			if !f.HeadersEnded() {
				pending = rec
				continue
			}
		case *http2.ContinuationFrame:
			if pending == nil {
				p.violation("CONTINUATION without HEADERS")
				continue
			}
			pending.Fragments = append(pending.Fragments, rec.Length)
			block = append(block, f.HeaderBlockFragment()...)
			if !f.HeadersEnded() {
				continue
			}
			rec, pending = pending, nil
		case *http2.SettingsFrame:
			_ = f.ForeachSetting(func(s http2.Setting) error {
				rec.Settings = append(rec.Settings, s)
				return nil
			})
			if !f.IsAck() {
				p.onClientSettings(rec.Settings)
			} else if v := p.tableSize.Swap(0); v != 0 {
				dec.SetAllowedMaxDynamicTableSize(uint32(v - 1))
				dec.SetMaxDynamicTableSize(uint32(v - 1))
			}
		case *http2.PingFrame:
			rec.Ping = f.Data
		case *http2.WindowUpdateFrame:
			rec.Incr = f.Increment
			p.onClientWindowUpdate(rec.StreamID, rec.Incr)
		case *http2.RSTStreamFrame:
			rec.Code = f.ErrCode
			p.mu.Lock()
			if st := p.streams[rec.StreamID]; st != nil && !st.reset {
				if !(st.cliEnded && st.srvEnded) {
					p.open--
				}
				st.reset = true
			}
			if st := p.streams[rec.StreamID]; st != nil {
				st.cliReset = true
			}
			p.mu.Unlock()
		case *http2.GoAwayFrame:
			rec.LastID = f.LastStreamID
			rec.Code = f.ErrCode
			rec.Data = append([]byte(nil), f.DebugData()...)
		}
		if rec.Type == http2.FrameHeaders {
			fields, err := dec.DecodeFull(block)
			if err != nil {
				p.violation("undecodable header block on stream %d: %v", rec.StreamID, err)
			}
			rec.Fields = fields
			p.onClientHeaders(rec)
		}
		if p.discard.Load() {
			continue
		}
		select {
		case p.frames <- rec:
		case <-p.quit:
			p.readErr = errors.New("peer closed")
			return
		}
	}
}

func (p *peer) onClientSettings(s []http2.Setting) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, st := range s {
		if st.ID == http2.SettingInitialWindowSize {
			d := int64(st.Val) - p.sendInit
			p.sendInit = int64(st.Val)
			for id := range p.sendStream {
				p.sendStream[id] += d
			}
		}
	}
	p.signalWindow()
}

func (p *peer) onClientWindowUpdate(id, incr uint32) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if incr == 0 {
		p.violations = append(p.violations, fmt.Sprintf("WINDOW_UPDATE of 0 on stream %d", id))
	}
	if id == 0 {
		p.sendConn += int64(incr)
	} else if _, ok := p.sendStream[id]; ok {
		p.sendStream[id] += int64(incr)
	}
	p.signalWindow()
}

func (p *peer) signalWindow() {
	select {
	case p.wuSig <- struct{}{}:
	default:
	}
}

func (p *peer) onClientHeaders(f *frame) {
	p.mu.Lock()
	defer p.mu.Unlock()
	id := f.StreamID
	if id%2 == 0 || id == 0 {
		p.violations = append(p.violations, fmt.Sprintf("HEADERS on stream %d (not a client stream id)", id))
	}
	st := p.streams[id]
	if st == nil {
		st = &pstream{}
		p.streams[id] = st
		p.recvStream[id] = p.recvInit
		if _, ok := p.sendStream[id]; !ok {
			p.sendStream[id] = p.sendInit
		}
		p.open++
		p.maxOpen = max(p.maxOpen, p.open)
	} else if st.cliEnded || st.reset {
		p.violations = append(p.violations, fmt.Sprintf("HEADERS on closed stream %d", id))
	}
	if f.endStream() {
		p.clientEndedLocked(id)
	}
}

func (p *peer) onClientData(f *frame) {
	p.mu.Lock()
	defer p.mu.Unlock()
	id := f.StreamID
	st := p.streams[id]
	switch {
	case st == nil:
		p.violations = append(p.violations, fmt.Sprintf("DATA on stream %d before its HEADERS", id))
		return
	case st.cliReset:
		// (After a server reset, DATA already in flight is legitimate.)
		p.violations = append(p.violations, fmt.Sprintf("DATA on stream %d after the client's RST_STREAM", id))
	case st.cliEnded:
		p.violations = append(p.violations, fmt.Sprintf("DATA on stream %d after END_STREAM", id))
	}
	p.recvConn -= int64(f.Length)
	p.recvStream[id] -= int64(f.Length)
	if p.recvConn < 0 {
		p.violations = append(p.violations, fmt.Sprintf("DATA on stream %d overran the connection window by %d bytes", id, -p.recvConn))
	}
	if p.recvStream[id] < 0 {
		p.violations = append(p.violations, fmt.Sprintf("DATA on stream %d overran the stream window by %d bytes", id, -p.recvStream[id]))
	}
	if f.endStream() {
		p.clientEndedLocked(id)
	}
}

func (p *peer) clientEndedLocked(id uint32) {
	st := p.streams[id]
	if st == nil || st.cliEnded {
		return
	}
	st.cliEnded = true
	if st.srvEnded && !st.reset {
		p.open--
	}
}

func (p *peer) serverEnded(id uint32, reset bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	st := p.streams[id]
	if st == nil || st.reset || st.srvEnded && !reset {
		return
	}
	wasOpen := !(st.srvEnded && st.cliEnded)
	if reset {
		st.reset = true
	} else {
		st.srvEnded = true
	}
	if wasOpen && (st.reset || st.cliEnded) {
		p.open--
	}
}

// maxOpenStreams returns the most streams that were open at once.
func (p *peer) maxOpenStreams() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.maxOpen
}

// recvWindows returns what the client may still send on the connection and
// on stream id.
func (p *peer) recvWindows(id uint32) (conn, stream int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.recvConn, p.recvStream[id]
}

// ---- reading ----

// readPreface waits for the 24-byte client connection preface.
func (p *peer) readPreface() {
	p.t.Helper()
	select {
	case <-p.prefaceC:
	case <-p.ctx.Done():
		p.t.Fatalf("timed out waiting for the client preface")
	}
	if p.prefaceErr != nil {
		p.t.Fatalf("reading the client preface: %v", p.prefaceErr)
	}
}

// want returns the first frame, stashed or new, that match accepts; the
// others are stashed for later wants.
func (p *peer) want(what string, match func(*frame) bool) *frame {
	p.t.Helper()
	for i, f := range p.stash {
		if match(f) {
			p.stash = append(p.stash[:i:i], p.stash[i+1:]...)
			return f
		}
	}
	var skipped []*frame
	defer func() { p.stash = append(p.stash, skipped...) }()
	for {
		var f *frame
		select {
		case g, ok := <-p.frames:
			if !ok {
				p.t.Fatalf("waiting for %s: the connection ended (%v); unmatched frames: %v", what, p.readErr, summarize(append(p.stash, skipped...)))
			}
			f = g
		case <-p.ctx.Done():
			p.t.Fatalf("timed out waiting for %s; unmatched frames: %v", what, summarize(append(p.stash, skipped...)))
		}
		if match(f) {
			return f
		}
		skipped = append(skipped, f)
	}
}

func summarize(fs []*frame) string {
	var b strings.Builder
	for i, f := range fs {
		if i == 8 {
			fmt.Fprintf(&b, " ... (%d more)", len(fs)-i)
			break
		}
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(f.String())
	}
	return b.String()
}

// drainQueued moves the frames already read into the stash; it does not
// wait.
func (p *peer) drainQueued() {
	for {
		select {
		case f, ok := <-p.frames:
			if !ok {
				return
			}
			p.stash = append(p.stash, f)
		default:
			return
		}
	}
}

// stashed returns the frames read so far (without consuming them) that
// match.
func (p *peer) stashed(match func(*frame) bool) []*frame {
	p.drainQueued()
	var out []*frame
	for _, f := range p.stash {
		if match(f) {
			out = append(out, f)
		}
	}
	return out
}

func isType(t http2.FrameType, id uint32) func(*frame) bool {
	return func(f *frame) bool { return f.Type == t && f.StreamID == id }
}

// wantSettings returns the settings of the client's next non-ack SETTINGS.
func (p *peer) wantSettings() []http2.Setting {
	p.t.Helper()
	return p.want("client SETTINGS", func(f *frame) bool { return f.Type == http2.FrameSettings && !f.ack() }).Settings
}

// wantSettingsAck waits for the client's SETTINGS acknowledgement.
func (p *peer) wantSettingsAck() {
	p.t.Helper()
	p.want("SETTINGS ack", func(f *frame) bool { return f.Type == http2.FrameSettings && f.ack() })
}

// wantHeaders waits for the HEADERS of a new stream and returns its id and
// fields.
func (p *peer) wantHeaders() (uint32, []hpack.HeaderField) {
	p.t.Helper()
	f := p.wantHeadersFrame()
	return f.StreamID, f.Fields
}

func (p *peer) wantHeadersFrame() *frame {
	p.t.Helper()
	return p.want("request HEADERS", func(f *frame) bool { return f.Type == http2.FrameHeaders })
}

// wantMsg returns the next whole gRPC message the client sends on stream
// id (nil and end=true if the stream ended first). With autoCredit it
// gives the consumed window straight back.
func (p *peer) wantMsg(id uint32) (msg []byte, end bool) {
	p.t.Helper()
	for {
		buf := p.partial[id]
		if len(buf) >= 5 {
			n := int(uint32(buf[1])<<24 | uint32(buf[2])<<16 | uint32(buf[3])<<8 | uint32(buf[4]))
			if buf[0] != 0 {
				p.t.Fatalf("stream %d: message with compressed flag %d", id, buf[0])
			}
			if len(buf) >= 5+n {
				msg = append([]byte(nil), buf[5:5+n]...)
				p.partial[id] = buf[5+n:]
				return msg, p.ended[id] && len(p.partial[id]) == 0
			}
		}
		if p.ended[id] {
			if len(buf) > 0 {
				p.t.Fatalf("stream %d ended in the middle of a message (%d bytes)", id, len(buf))
			}
			return nil, true
		}
		f := p.want(fmt.Sprintf("DATA on stream %d", id), isType(http2.FrameData, id))
		p.partial[id] = append(p.partial[id], f.Data...)
		if f.endStream() {
			p.ended[id] = true
		}
		if p.autoCredit && f.Length > 0 {
			p.credit(id, f.Length)
		}
	}
}

// wantEnd waits for END_STREAM from the client on stream id, failing if a
// message is still to come.
func (p *peer) wantEnd(id uint32) {
	p.t.Helper()
	msg, end := p.wantMsg(id)
	if msg != nil || !end {
		p.t.Fatalf("stream %d: want END_STREAM, got another message (%d bytes)", id, len(msg))
	}
}

// wantRST waits for RST_STREAM on stream id and returns its code.
func (p *peer) wantRST(id uint32) http2.ErrCode {
	p.t.Helper()
	return p.want(fmt.Sprintf("RST_STREAM on stream %d", id), isType(http2.FrameRSTStream, id)).Code
}

// wantPingAck waits for the acknowledgement of the PING with data d.
func (p *peer) wantPingAck(d [8]byte) {
	p.t.Helper()
	p.want(fmt.Sprintf("PING ack %x", d), func(f *frame) bool { return f.Type == http2.FramePing && f.ack() && f.Ping == d })
}

// wantGoAway waits for a GOAWAY from the client.
func (p *peer) wantGoAway() *frame {
	p.t.Helper()
	return p.want("GOAWAY", func(f *frame) bool { return f.Type == http2.FrameGoAway })
}

// wantClosed waits until the client closes the socket, returning the frames
// it sent meanwhile.
func (p *peer) wantClosed() []*frame {
	p.t.Helper()
	rest := append([]*frame(nil), p.stash...)
	p.stash = nil
	for {
		select {
		case f, ok := <-p.frames:
			if !ok {
				return rest
			}
			rest = append(rest, f)
		case <-p.ctx.Done():
			p.t.Fatalf("timed out waiting for the client to close the connection")
		}
	}
}

// ---- writing ----

// write runs fn on the peer's framer and flushes.
func (p *peer) write(what string, fn func(fr *http2.Framer) error) {
	p.t.Helper()
	if err := p.tryWrite(fn); err != nil {
		p.t.Fatalf("peer writing %s: %v", what, err)
	}
}

// tryWrite runs fn on the peer's framer and flushes; safe from any
// goroutine.
func (p *peer) tryWrite(fn func(fr *http2.Framer) error) error {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	if err := fn(p.fw); err != nil {
		return err
	}
	return p.bw.Flush()
}

// writeRaw writes b as is.
func (p *peer) writeRaw(b []byte) error {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	if _, err := p.bw.Write(b); err != nil {
		return err
	}
	return p.bw.Flush()
}

// writeSettings sends SETTINGS and applies their effect on the windows the
// client must respect.
func (p *peer) writeSettings(settings ...http2.Setting) {
	p.t.Helper()
	p.mu.Lock()
	for _, s := range settings {
		switch s.ID {
		case http2.SettingInitialWindowSize:
			d := int64(s.Val) - p.recvInit
			p.recvInit = int64(s.Val)
			for id := range p.recvStream {
				p.recvStream[id] += d
			}
		case http2.SettingMaxFrameSize:
			// An out-of-range value is a protocol error the client must
			// reject, not a limit it must obey (frames it sent before
			// reading it are in flight anyway).
			if s.Val >= 16384 && s.Val <= 1<<24-1 {
				p.maxFrame = s.Val
			}
		case http2.SettingHeaderTableSize:
			p.tableSize.Store(int64(s.Val) + 1)
		}
	}
	p.mu.Unlock()
	p.write("SETTINGS", func(fr *http2.Framer) error { return fr.WriteSettings(settings...) })
}

func (p *peer) writeSettingsAck() {
	p.t.Helper()
	p.write("SETTINGS ack", func(fr *http2.Framer) error { return fr.WriteSettingsAck() })
}

// handshake reads the client's preamble, sends the server's SETTINGS and
// waits for their acknowledgement.
func (p *peer) handshake(settings ...http2.Setting) []http2.Setting {
	p.t.Helper()
	p.readPreface()
	cs := p.wantSettings()
	p.writeSettings(settings...)
	p.wantSettingsAck()
	p.writeSettingsAck()
	return cs
}

// writeWindowUpdate grants the client incr more bytes on stream id (0: the
// connection).
func (p *peer) writeWindowUpdate(id, incr uint32) {
	p.t.Helper()
	p.grant(id, incr)
	p.write("WINDOW_UPDATE", func(fr *http2.Framer) error { return fr.WriteWindowUpdate(id, incr) })
}

func (p *peer) grant(id, incr uint32) {
	p.mu.Lock()
	if id == 0 {
		p.recvConn += int64(incr)
	} else {
		p.recvStream[id] += int64(incr)
	}
	p.mu.Unlock()
}

// credit gives n bytes back on the connection and stream id, ignoring
// write errors (the client may have gone meanwhile).
func (p *peer) credit(id, n uint32) {
	p.grant(0, n)
	p.grant(id, n)
	_ = p.tryWrite(func(fr *http2.Framer) error {
		if err := fr.WriteWindowUpdate(0, n); err != nil {
			return err
		}
		return fr.WriteWindowUpdate(id, n)
	})
}

// encodeHeaders HPACK-encodes fields with the peer's encoder. Call with wmu
// held.
func (p *peer) encodeHeaders(fields []hpack.HeaderField) []byte {
	p.hbuf.Reset()
	for _, f := range fields {
		if err := p.henc.WriteField(f); err != nil {
			panic(err)
		}
	}
	return append([]byte(nil), p.hbuf.Bytes()...)
}

// writeHeaders sends a header block (in HEADERS and, beyond 16 KiB,
// CONTINUATION frames).
func (p *peer) writeHeaders(id uint32, fields []hpack.HeaderField, end bool) {
	p.t.Helper()
	if end {
		p.serverEnded(id, false)
	}
	p.wmu.Lock()
	block := p.encodeHeaders(fields)
	err := func() error {
		first := true
		for first || len(block) > 0 {
			n := min(len(block), 16384)
			frag := block[:n]
			block = block[n:]
			var err error
			if first {
				err = p.fw.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: frag, EndStream: end, EndHeaders: len(block) == 0})
			} else {
				err = p.fw.WriteContinuation(id, len(block) == 0, frag)
			}
			if err != nil {
				return err
			}
			first = false
		}
		return p.bw.Flush()
	}()
	p.wmu.Unlock()
	if err != nil {
		p.t.Fatalf("peer writing HEADERS on stream %d: %v", id, err)
	}
}

// hdrs builds header fields from name, value pairs.
func hdrs(kv ...string) []hpack.HeaderField {
	f := make([]hpack.HeaderField, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		f = append(f, hpack.HeaderField{Name: kv[i], Value: kv[i+1]})
	}
	return f
}

// okHeaders are a gRPC server's response headers, plus extra pairs.
func okHeaders(extra ...string) []hpack.HeaderField {
	return hdrs(append([]string{":status", "200", "content-type", "application/grpc", "grpc-encoding", "identity", "grpc-accept-encoding", "identity,deflate,gzip"}, extra...)...)
}

// writeResponseHeaders sends okHeaders(extra...) on stream id.
func (p *peer) writeResponseHeaders(id uint32, extra ...string) {
	p.t.Helper()
	p.writeHeaders(id, okHeaders(extra...), false)
}

// writeTrailers ends stream id with grpc-status code and grpc-message msg
// (percent-encoded here), plus extra pairs.
func (p *peer) writeTrailers(id uint32, code codes.Code, msg string, extra ...string) {
	p.t.Helper()
	kv := []string{"grpc-status", fmt.Sprint(uint32(code))}
	if msg != "" {
		kv = append(kv, "grpc-message", percentEncode(msg))
	}
	p.writeHeaders(id, hdrs(append(kv, extra...)...), true)
}

// writeData sends one DATA frame, ignoring flow control.
func (p *peer) writeData(id uint32, end bool, data []byte) {
	p.t.Helper()
	if end {
		p.serverEnded(id, false)
	}
	p.write("DATA", func(fr *http2.Framer) error { return fr.WriteData(id, end, data) })
}

// writeDataPadded sends one DATA frame with pad bytes of padding, ignoring
// flow control.
func (p *peer) writeDataPadded(id uint32, end bool, data []byte, pad int) {
	p.t.Helper()
	if end {
		p.serverEnded(id, false)
	}
	p.write("padded DATA", func(fr *http2.Framer) error { return fr.WriteDataPadded(id, end, data, make([]byte, pad)) })
}

// reserve waits until the client's windows admit n more bytes on stream id
// (all of them if whole, else at least one) and takes them; it flushes the
// writer before waiting.
func (p *peer) reserve(id uint32, n int64, whole bool) int64 {
	p.t.Helper()
	for {
		p.mu.Lock()
		if _, ok := p.sendStream[id]; !ok {
			p.sendStream[id] = p.sendInit
		}
		avail := min(p.sendConn, p.sendStream[id])
		if n == 0 || avail >= n || !whole && avail > 0 {
			k := min(n, avail)
			if n == 0 {
				k = 0
			}
			p.sendConn -= k
			p.sendStream[id] -= k
			p.mu.Unlock()
			return k
		}
		conn, stream := p.sendConn, p.sendStream[id]
		p.mu.Unlock()
		p.wmu.Lock()
		err := p.bw.Flush()
		p.wmu.Unlock()
		if err != nil {
			p.t.Fatalf("peer flushing: %v", err)
		}
		select {
		case <-p.wuSig:
		case <-p.ctx.Done():
			p.t.Fatalf("timed out waiting for the client to open its window on stream %d (want %d bytes; connection window %d, stream window %d)", id, n, conn, stream)
		}
	}
}

// writeDataFlow sends data on stream id in frames of at most 16 KiB within
// the windows the client advertised, waiting for its WINDOW_UPDATEs.
func (p *peer) writeDataFlow(id uint32, end bool, data []byte) {
	p.t.Helper()
	if end {
		p.serverEnded(id, false)
	}
	for first := true; first || len(data) > 0; first = false {
		n := p.reserve(id, int64(min(len(data), 16384)), false)
		chunk := data[:n]
		data = data[n:]
		last := end && len(data) == 0
		p.wmu.Lock()
		err := p.fw.WriteData(id, last, chunk)
		p.wmu.Unlock()
		if err != nil {
			p.t.Fatalf("peer writing DATA: %v", err)
		}
	}
	p.wmu.Lock()
	err := p.bw.Flush()
	p.wmu.Unlock()
	if err != nil {
		p.t.Fatalf("peer flushing DATA: %v", err)
	}
}

// writeMsg sends one gRPC message on stream id within flow control.
func (p *peer) writeMsg(id uint32, msg []byte, end bool) {
	p.t.Helper()
	p.writeDataFlow(id, end, grpcFrame(msg))
}

func (p *peer) writeRST(id uint32, code http2.ErrCode) {
	p.t.Helper()
	p.serverEnded(id, true)
	p.write("RST_STREAM", func(fr *http2.Framer) error { return fr.WriteRSTStream(id, code) })
}

func (p *peer) writeGoAway(lastID uint32, code http2.ErrCode, debug string) {
	p.t.Helper()
	p.write("GOAWAY", func(fr *http2.Framer) error { return fr.WriteGoAway(lastID, code, []byte(debug)) })
}

func (p *peer) writePing(d [8]byte) {
	p.t.Helper()
	p.write("PING", func(fr *http2.Framer) error { return fr.WritePing(false, d) })
}

// ping sends a PING and waits for its ack: a barrier, as the client
// answers frames in order.
func (p *peer) ping(d [8]byte) {
	p.t.Helper()
	p.writePing(d)
	p.wantPingAck(d)
}

// serveUnary answers a unary call on stream id: reads the request until
// END_STREAM, then sends headers, resp and an OK status. It returns the
// request.
func (p *peer) serveUnary(id uint32, resp []byte) []byte {
	p.t.Helper()
	req, end := p.wantMsg(id)
	if !end {
		p.wantEnd(id)
	}
	p.writeResponseHeaders(id)
	p.writeMsg(id, resp, false)
	p.writeTrailers(id, codes.OK, "")
	return req
}

// grpcFrame prefixes msg with the 5-byte gRPC message header (uncompressed).
func grpcFrame(msg []byte) []byte {
	n := len(msg)
	return append([]byte{0, byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}, msg...)
}

// percentEncode is grpc-message's encoding, written independently of
// internal/wire: bytes outside 0x20-0x7E and '%' become %XX.
func percentEncode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e || c == '%' {
			fmt.Fprintf(&b, "%%%02X", c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// ---- events ----

// eventLog records a connection's events.
type eventLog struct {
	mu  sync.Mutex
	evs []any
	sig chan struct{}
}

func newEventLog() *eventLog { return &eventLog{sig: make(chan struct{}, 1)} }

func (l *eventLog) add(ev any) {
	l.mu.Lock()
	l.evs = append(l.evs, ev)
	l.mu.Unlock()
	select {
	case l.sig <- struct{}{}:
	default:
	}
}

func (l *eventLog) all() []any {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]any(nil), l.evs...)
}

// wait returns the first recorded event of type T, waiting for one.
func waitEvent[T any](t testing.TB, l *eventLog) T {
	t.Helper()
	timer := time.NewTimer(testTimeout)
	defer timer.Stop()
	for {
		for _, ev := range l.all() {
			if e, ok := ev.(T); ok {
				return e
			}
		}
		select {
		case <-l.sig:
		case <-timer.C:
			var zero T
			t.Fatalf("timed out waiting for event %T; events: %v", zero, eventNames(l.all()))
		}
	}
}

func hasEvent[T any](l *eventLog) bool {
	for _, ev := range l.all() {
		if _, ok := ev.(T); ok {
			return true
		}
	}
	return false
}

func eventNames(evs []any) []string {
	var out []string
	for _, ev := range evs {
		switch e := ev.(type) {
		case *EventReady:
			out = append(out, "Ready")
		case *EventGoAway:
			out = append(out, fmt.Sprintf("GoAway(%v)", e.Code))
		case *EventClosed:
			out = append(out, fmt.Sprintf("Closed(%v)", e.Err))
		default:
			out = append(out, fmt.Sprintf("%T", ev))
		}
	}
	return out
}

// ---- harness ----

// connTest is one Conn wired to a scripted peer.
type connTest struct {
	t     testing.TB
	conn  *Conn
	peer  *peer
	ev    *eventLog
	cli   net.Conn
	cfg   Config
	dials atomic.Int32
}

// startConn spawns a connection whose Dial returns the client end of a
// net.Pipe; the peer holds the other end. The connection is closed, and its
// goroutines waited for, when the test ends.
func startConn(t testing.TB, cfg Config) *connTest {
	t.Helper()
	return startConnWrapped(t, cfg, nil)
}

// startConnWrapped is startConn whose Dial returns wrap(client end), for
// tests that watch the actor's socket writes.
func startConnWrapped(t testing.TB, cfg Config, wrap func(net.Conn) net.Conn) *connTest {
	t.Helper()
	cli, srv := net.Pipe()
	dialed := net.Conn(cli)
	if wrap != nil {
		dialed = wrap(cli)
	}
	return startConnPair(t, cfg, cli, srv, dialed)
}

// startConnPair is startConn over a connection pair of the test's: the
// peer holds srv, the transport dials dialed (cli, or a wrapper of it).
func startConnPair(t testing.TB, cfg Config, cli, srv, dialed net.Conn) *connTest {
	t.Helper()
	ct := &connTest{t: t, ev: newEventLog(), cli: cli}
	ct.peer = newPeer(t, srv)
	if cfg.Address == "" {
		cfg.Address = testAddr
	}
	cfg.Dial = func(ctx context.Context, network, address string) (net.Conn, error) {
		if ct.dials.Add(1) > 1 {
			t.Errorf("the transport dialed a second time (did the actor restart?)")
			return nil, errors.New("second dial")
		}
		return dialed, nil
	}
	cfg.OnEvent = ct.ev.add
	ct.cfg = cfg
	c, err := Spawn(testSys.Root, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ct.conn = c
	t.Cleanup(ct.shutdown)
	return ct
}

// startReady is startConn followed by the handshake with the server's
// settings and the wait for EventReady.
func startReady(t testing.TB, cfg Config, settings ...http2.Setting) *connTest {
	t.Helper()
	ct := startConn(t, cfg)
	ct.peer.handshake(settings...)
	waitEvent[*EventReady](t, ct.ev)
	return ct
}

func (ct *connTest) shutdown() {
	t := ct.t
	ct.conn.Close("test finished")
	select {
	case <-ct.conn.Closed():
	case <-time.After(testTimeout):
		t.Errorf("the connection did not close within %v of Close", testTimeout)
	}
	ct.peer.close()
	ct.cli.Close()
	waitGoroutines(t, ct.conn)
	ct.peer.checkViolations()
}

// waitGoroutines waits, bounded, for a closed connection's dial and reader
// goroutines to exit.
func waitGoroutines(t testing.TB, c *Conn) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		c.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(testTimeout):
		t.Errorf("the connection's dial or reader goroutine did not exit")
	}
}

// closedEvent waits for EventClosed and checks it is the last event.
func (ct *connTest) closedEvent() *EventClosed {
	ct.t.Helper()
	ev := waitEvent[*EventClosed](ct.t, ct.ev)
	select {
	case <-ct.conn.Closed():
	case <-time.After(testTimeout):
		ct.t.Fatalf("EventClosed sent but Closed() not closed")
	}
	return ev
}

// newStream starts a stream for method on the connection.
func (ct *connTest) newStream(ctx context.Context, hdr *CallHdr) *Stream {
	ct.t.Helper()
	if hdr == nil {
		hdr = &CallHdr{Method: "/grpc.testing.TestService/UnaryCall"}
	}
	s, err := ct.conn.NewStream(ctx, hdr)
	if err != nil {
		ct.t.Fatalf("NewStream: %v", err)
	}
	return s
}

// unary starts a stream and sends req with END_STREAM. A request larger
// than the write quota is written from a goroutine, as Write blocks until
// the server takes most of it; that Write's error is not reported (it may
// come after the test ended): a request that does not arrive makes the
// peer's wait fail instead.
func (ct *connTest) unary(req []byte) *Stream {
	ct.t.Helper()
	s := ct.newStream(context.Background(), nil)
	if len(req) < DefaultWriteQuota/2 {
		if err := s.Write(grpcFrame(req), true); err != nil {
			ct.t.Fatalf("Write: %v", err)
		}
		return s
	}
	go func() { _ = s.Write(grpcFrame(req), true) }()
	return s
}

// recv collects a stream's messages in a goroutine.
type recv struct {
	s    *Stream
	done chan struct{}
	msgs [][]byte
	err  error // the error that ended RecvMsg, nil for io.EOF
}

func startRecv(s *Stream) *recv {
	r := &recv{s: s, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		for {
			m, err := s.RecvMsg()
			if err != nil {
				if err != io.EOF {
					r.err = err
				}
				return
			}
			r.msgs = append(r.msgs, m.Data)
		}
	}()
	return r
}

func (r *recv) wait(t testing.TB) *recv {
	t.Helper()
	select {
	case <-r.done:
	case <-time.After(testTimeout):
		t.Fatalf("timed out waiting for the stream to end")
	}
	return r
}

// code returns the status code of err (OK for nil).
func code(err error) codes.Code { return status.Code(err) }

// wantCode fails unless err has code c and, if non-empty, a message
// containing each of subs.
func wantCode(t testing.TB, what string, err error, c codes.Code, subs ...string) {
	t.Helper()
	if code(err) != c {
		t.Fatalf("%s: got %v (code %v), want code %v", what, err, code(err), c)
	}
	for _, s := range subs {
		if err == nil || !strings.Contains(err.Error(), s) {
			t.Fatalf("%s: error %v does not mention %q", what, err, s)
		}
	}
}

// waitDone waits for a stream to end.
func waitDone(t testing.TB, s *Stream) {
	t.Helper()
	select {
	case <-s.Done():
	case <-time.After(testTimeout):
		t.Fatalf("timed out waiting for the stream to end")
	}
}
