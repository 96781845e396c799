package transport

import (
	"context"
	"encoding/binary"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/grpcactor/grpcactor/codes"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// Hostile servers (issue 8): each test ends the right calls with the right
// code and then shows that a fresh call succeeds, on the same connection
// where it survives, on a new one where it died.

// callWorks makes one unary call on ct's connection and fails the test
// unless it succeeds.
func (ct *connTest) callWorks(what string) {
	ct.t.Helper()
	s := ct.unary([]byte("fresh"))
	id, _ := ct.peer.wantHeaders()
	r := startRecv(s)
	ct.peer.serveUnary(id, []byte("ok"))
	if r.wait(ct.t); r.err != nil || len(r.msgs) != 1 {
		ct.t.Fatalf("%s: %d messages, err %v", what, len(r.msgs), r.err)
	}
}

// freshConnWorks opens a new connection to a well-behaved peer and makes a
// call on it: nothing of the hostile one lingers.
func freshConnWorks(t *testing.T, cfg Config) {
	t.Helper()
	startReady(t, cfg).callWorks("call on a fresh connection")
}

// guardCtx bounds a hostile test's call: a client that fails to end it
// fails the test (DEADLINE_EXCEEDED instead of the wanted code) instead of
// hanging it.
func guardCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// openCall starts a call and answers it with response headers, so that
// the stream is open on both sides; it returns the stream and its id.
func (ct *connTest) openCall() (*Stream, uint32) {
	ct.t.Helper()
	s := ct.newStream(guardCtx(ct.t), nil)
	id, _ := ct.peer.wantHeaders()
	ct.peer.writeResponseHeaders(id)
	return s, id
}

// TestHostileContinuationFlood: a header block that never ends. Empty
// CONTINUATION frames grow no memory but would hold the reader for ever;
// CONTINUATION frames full of fields grow the header list. Either way the
// client reads a bounded amount, closes the connection with an error that
// says what happened, and ends the calls on it.
func TestHostileContinuationFlood(t *testing.T) {
	const limit = 64 << 10
	for _, tc := range []struct {
		name string
		frag func(p *peer) []byte
		msg  string
	}{
		{"empty frames", func(*peer) []byte { return nil }, "did not end after"},
		{"fields", func(p *peer) []byte {
			p.hbuf.Reset()
			_ = p.henc.WriteField(hpack.HeaderField{Name: "x-flood", Value: strings.Repeat("f", 8000), Sensitive: true})
			return append([]byte(nil), p.hbuf.Bytes()...)
		}, "runs past the client's limit of 65536 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Config{MaxHeaderListSize: limit}
			ct := startReady(t, cfg)
			p := ct.peer
			other, _ := ct.openCall()
			s := ct.newStream(guardCtx(t), nil)
			id, _ := p.wantHeaders()
			p.write("HEADERS", func(fr *http2.Framer) error {
				return fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: p.encodeHeaders(okHeaders())})
			})
			var written atomic.Int64
			done := make(chan error, 1)
			go func() {
				for {
					err := p.tryWrite(func(fr *http2.Framer) error {
						frag := tc.frag(p)
						written.Add(int64(9 + len(frag)))
						return fr.WriteContinuation(id, false, frag)
					})
					if err != nil {
						done <- err
						return
					}
				}
			}()
			for _, st := range []*Stream{s, other} {
				_, err := st.RecvMsg()
				wantCode(t, "call on the flooded connection", err, codes.Internal, tc.msg)
			}
			ev := ct.closedEvent()
			wantCode(t, "connection", ev.Err, codes.Internal, tc.msg)
			f := p.wantGoAway()
			if f.Code != http2.ErrCodeProtocol {
				t.Errorf("GOAWAY %v, want PROTOCOL_ERROR", f.Code)
			}
			p.nc.Close()
			<-done
			if w := written.Load(); w > 4*limit {
				t.Errorf("the client read %d bytes of one header block before it gave up (limit %d)", w, limit)
			}
			freshConnWorks(t, cfg)
		})
	}
}

// TestHostileHeaderBlockOverLimit: response headers over the client's
// MaxHeaderListSize fail that call INTERNAL with RST_STREAM; the
// connection and another call on it go on.
func TestHostileHeaderBlockOverLimit(t *testing.T) {
	ct := startReady(t, Config{MaxHeaderListSize: 4096})
	p := ct.peer
	other, oid := ct.openCall()
	s := ct.newStream(guardCtx(t), nil)
	id, _ := p.wantHeaders()
	// Each field within the limit (a longer one is an HPACK error for
	// the Framer), together over it.
	p.writeHeaders(id, okHeaders("x-big1", strings.Repeat("b", 2000), "x-big2", strings.Repeat("b", 2000), "x-big3", strings.Repeat("b", 2000)), false)
	_, err := s.RecvMsg()
	wantCode(t, "call with oversized headers", err, codes.Internal, "larger than the limit of 4096 bytes")
	if c := p.wantRST(id); c != http2.ErrCodeFrameSize {
		t.Errorf("RST_STREAM %v, want FRAME_SIZE_ERROR", c)
	}
	r := startRecv(other)
	p.writeMsg(oid, []byte("still here"), false)
	p.writeTrailers(oid, codes.OK, "")
	if r.wait(t); r.err != nil || len(r.msgs) != 1 {
		t.Fatalf("the other call: %d messages, err %v", len(r.msgs), r.err)
	}
	ct.callWorks("call after the oversized headers")
}

// TestHostileHeaderFieldOverLimit: one response header field longer than
// the client's whole MaxHeaderListSize cannot even be decoded (the Framer's
// HPACK limit): a connection error that names the stream and the limit.
func TestHostileHeaderFieldOverLimit(t *testing.T) {
	cfg := Config{MaxHeaderListSize: 4096}
	ct := startReady(t, cfg)
	p := ct.peer
	s := ct.newStream(guardCtx(t), nil)
	id, _ := p.wantHeaders()
	p.writeHeaders(id, okHeaders("x-big", strings.Repeat("b", 5000)), false)
	_, err := s.RecvMsg()
	wantCode(t, "call with an oversized header field", err, codes.Internal, fmt.Sprintf("header block for stream %d cannot be decoded", id), "limit of 4096 bytes")
	if f := p.wantGoAway(); f.Code != http2.ErrCodeCompression {
		t.Errorf("GOAWAY %v, want COMPRESSION_ERROR", f.Code)
	}
	ct.closedEvent()
	freshConnWorks(t, cfg)
}

// TestHostileSettingsFlood: 10,000 SETTINGS frames while the server reads
// nothing back. The client stops reading at its control backlog instead of
// buffering acks without bound; once the server reads again every SETTINGS
// is acknowledged, and the connection still works.
func TestHostileSettingsFlood(t *testing.T) {
	ct := startReady(t, Config{})
	p, c := ct.peer, ct.conn
	const n = 10000
	floodPaused(t, ct, "SETTINGS", n, func(fr *http2.Framer, i int) error {
		return fr.WriteSettings(http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: uint32(100 + i)})
	})
	for i := 0; i < n; i++ {
		p.want(fmt.Sprintf("SETTINGS ack %d of %d", i+1, n), func(f *frame) bool { return f.Type == http2.FrameSettings && f.ack() })
	}
	if c.State() != Ready {
		t.Fatalf("state %v after the flood, want READY", c.State())
	}
	ct.callWorks("call after the flood")
}

// TestHostileDataOnUnopenedStream: DATA on streams the client never
// opened (an odd id above its own, a server-side even id) is dropped, as
// grpc-go and grpcio drop it, but counts against the connection window,
// which the client keeps crediting back: calls in progress and later ones
// are not affected.
func TestHostileDataOnUnopenedStream(t *testing.T) {
	ct := startReady(t, Config{InitialConnWindowSize: 1 << 20})
	p := ct.peer
	other, oid := ct.openCall()
	chunk := make([]byte, 16384)
	const frames = 80 // 1.25 MiB: past the connection window, so credit must come back
	credited := 0
	for i := 0; i < frames; i++ {
		id := uint32(99)
		if i%2 == 1 {
			id = 2
		}
		p.write("DATA", func(fr *http2.Framer) error { return fr.WriteData(id, false, chunk) })
		if (i+1)%16 == 0 {
			// A barrier: the reader handled the DATA before the PING.
			var d [8]byte
			binary.BigEndian.PutUint32(d[:], uint32(i))
			p.ping(d)
		}
	}
	for _, f := range p.stashed(isType(http2.FrameWindowUpdate, 0)) {
		credited += int(f.Incr)
	}
	if sent := frames * len(chunk); credited < sent-(1<<20)/4 {
		t.Errorf("the client credited %d bytes of the %d sent on unopened streams: the connection window leaks", credited, sent)
	}
	r := startRecv(other)
	p.writeMsg(oid, []byte("still here"), false)
	p.writeTrailers(oid, codes.OK, "")
	if r.wait(t); r.err != nil || len(r.msgs) != 1 {
		t.Fatalf("the call in progress: %d messages, err %v", len(r.msgs), r.err)
	}
	ct.callWorks("call after the stray DATA")
}

// TestHostileWindowOverflow: a WINDOW_UPDATE that takes a send window past
// 2^31-1. On a stream it is a stream error: RST_STREAM(FLOW_CONTROL_ERROR)
// and that call fails INTERNAL. On the connection it is a connection
// error: GOAWAY(FLOW_CONTROL_ERROR), every call fails INTERNAL.
func TestHostileWindowOverflow(t *testing.T) {
	t.Run("stream", func(t *testing.T) {
		ct := startReady(t, Config{})
		p := ct.peer
		s, id := ct.openCall()
		p.writeWindowUpdate(id, maxWindow)
		_, err := s.RecvMsg()
		wantCode(t, "call whose window overflowed", err, codes.Internal, "overflowed the send window")
		if c := p.wantRST(id); c != http2.ErrCodeFlowControl {
			t.Errorf("RST_STREAM %v, want FLOW_CONTROL_ERROR", c)
		}
		ct.callWorks("call after the overflow")
	})
	t.Run("connection", func(t *testing.T) {
		ct := startReady(t, Config{})
		p := ct.peer
		s, _ := ct.openCall()
		p.writeWindowUpdate(0, maxWindow)
		_, err := s.RecvMsg()
		wantCode(t, "call on the connection", err, codes.Internal, "overflowed the connection send window")
		if f := p.wantGoAway(); f.Code != http2.ErrCodeFlowControl {
			t.Errorf("GOAWAY %v, want FLOW_CONTROL_ERROR", f.Code)
		}
		ct.closedEvent()
		freshConnWorks(t, Config{})
	})
}

// TestHostileServerStopsReading: a server that grants no flow-control
// window, and one that stops reading its socket altogether. Sends block,
// and the calls' deadlines still end them DEADLINE_EXCEEDED.
func TestHostileServerStopsReading(t *testing.T) {
	t.Run("no window", func(t *testing.T) {
		ct := startReady(t, Config{}, http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1000})
		p := ct.peer
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		s := ct.newStream(ctx, nil)
		id, _ := p.wantHeaders()
		err := s.Write(grpcFrame(make([]byte, 256<<10)), true) // blocks past the write quota
		wantCode(t, "Write", err, codes.DeadlineExceeded)
		_, err = s.RecvMsg()
		wantCode(t, "RecvMsg", err, codes.DeadlineExceeded)
		if c := p.wantRST(id); c != http2.ErrCodeCancel {
			t.Errorf("RST_STREAM %v, want CANCEL", c)
		}
		ct.callWorks("call after the stalled one") // fits in its own window
	})
	t.Run("socket", func(t *testing.T) {
		ct := startReady(t, Config{})
		p := ct.peer
		p.pause()
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		s := ct.newStream(ctx, nil)
		err := s.Write(grpcFrame(make([]byte, 1<<20)), true)
		wantCode(t, "Write", err, codes.DeadlineExceeded)
		_, err = s.RecvMsg()
		wantCode(t, "RecvMsg", err, codes.DeadlineExceeded)
		p.resume()
		// The server reads again: the stream's frames, then its reset.
		id, _ := p.wantHeaders()
		p.want("RST_STREAM of the expired call", isType(http2.FrameRSTStream, id))
		// As a server does, give back the connection window the reset
		// stream's DATA took.
		var taken uint32
		for _, f := range p.stashed(isType(http2.FrameData, id)) {
			taken += f.Length
		}
		p.writeWindowUpdate(0, taken)
		ct.callWorks("call after the server read again")
	})
}

// TestHeaderListSizeTrailers: MaxHeaderListSize is advertised in the
// client's SETTINGS, and trailers over it fail that call INTERNAL with
// RST_STREAM(FRAME_SIZE_ERROR), as grpc-go's client does; the connection
// and a later call on it go on.
func TestHeaderListSizeTrailers(t *testing.T) {
	ct := startConn(t, Config{MaxHeaderListSize: 4096})
	p := ct.peer
	cs := p.handshake()
	waitEvent[*EventReady](t, ct.ev)
	found := false
	for _, s := range cs {
		if s.ID == http2.SettingMaxHeaderListSize {
			found = true
			if s.Val != 4096 {
				t.Errorf("SETTINGS_MAX_HEADER_LIST_SIZE = %d, want 4096", s.Val)
			}
		}
	}
	if !found {
		t.Errorf("client SETTINGS %v lack SETTINGS_MAX_HEADER_LIST_SIZE", cs)
	}
	s, id := ct.openCall()
	r := startRecv(s)
	p.writeMsg(id, []byte("reply"), false)
	p.writeTrailers(id, codes.OK, "", "x-big1", strings.Repeat("t", 2000), "x-big2", strings.Repeat("t", 2000), "x-big3", strings.Repeat("t", 2000))
	r.wait(t)
	wantCode(t, "call with oversized trailers", r.err, codes.Internal, "larger than the limit of 4096 bytes")
	if c := p.wantRST(id); c != http2.ErrCodeFrameSize {
		t.Errorf("RST_STREAM %v, want FRAME_SIZE_ERROR", c)
	}
	ct.callWorks("call after the oversized trailers")
}

// TestMalformedPingAndWindowUpdate: the reader parses PING and
// WINDOW_UPDATE itself (no frame allocated for each), with the Framer's
// verdicts: a payload of the wrong length is a FRAME_SIZE_ERROR, a PING
// on a stream and a zero increment on the connection PROTOCOL_ERRORs of
// the connection (GOAWAY), a zero increment on a stream a PROTOCOL_ERROR
// of that stream alone (RST_STREAM), after which the connection works.
func TestMalformedPingAndWindowUpdate(t *testing.T) {
	raw := func(typ http2.FrameType, id uint32, payload ...byte) []byte {
		n := len(payload)
		h := []byte{byte(n >> 16), byte(n >> 8), byte(n), byte(typ), 0, byte(id >> 24), byte(id >> 16), byte(id >> 8), byte(id)}
		return append(h, payload...)
	}
	for _, tc := range []struct {
		name string
		// frame is written on the stream of an open call (id).
		frame func(id uint32) []byte
		conn  http2.ErrCode // the GOAWAY's code; 0: the stream alone is reset
	}{
		{"PingShort", func(uint32) []byte { return raw(http2.FramePing, 0, 1, 2, 3, 4, 5, 6, 7) }, http2.ErrCodeFrameSize},
		{"PingOnStream", func(id uint32) []byte { return raw(http2.FramePing, id, 1, 2, 3, 4, 5, 6, 7, 8) }, http2.ErrCodeProtocol},
		{"WindowUpdateLong", func(uint32) []byte { return raw(http2.FrameWindowUpdate, 0, 0, 0, 0, 1, 0) }, http2.ErrCodeFrameSize},
		{"WindowUpdateZeroConn", func(uint32) []byte { return raw(http2.FrameWindowUpdate, 0, 0x80, 0, 0, 0) }, http2.ErrCodeProtocol},
		{"WindowUpdateZeroStream", func(id uint32) []byte { return raw(http2.FrameWindowUpdate, id, 0, 0, 0, 0) }, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ct := startReady(t, Config{})
			p := ct.peer
			s, id := ct.openCall()
			if err := p.writeRaw(tc.frame(id)); err != nil {
				t.Fatal(err)
			}
			_, err := s.RecvMsg()
			wantCode(t, "call", err, codes.Internal)
			if tc.conn == 0 {
				if c := p.wantRST(id); c != http2.ErrCodeProtocol {
					t.Errorf("RST_STREAM %v, want PROTOCOL_ERROR", c)
				}
				ct.callWorks("call after the stream's error")
				return
			}
			if f := p.wantGoAway(); f.Code != tc.conn {
				t.Errorf("GOAWAY %v, want %v", f.Code, tc.conn)
			}
			ct.closedEvent()
		})
	}
}
