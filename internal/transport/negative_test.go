package transport

// The cases of gRPC's negative HTTP/2 interop tests
// (negative-http2-interop-test-descriptions.md), played by the scripted
// peer, plus what they imply for GOAWAY and PING floods.

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/grpcactor/grpcactor/codes"
	"golang.org/x/net/http2"
)

// TestMaxStreams is the max_streams case: with SETTINGS_MAX_CONCURRENT_STREAMS
// = 1, ten concurrent calls all succeed, the server never seeing more than
// one stream open.
func TestMaxStreams(t *testing.T) {
	ct := startReady(t, Config{}, http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: 1})
	p := ct.peer
	first := ct.unary([]byte("first"))
	id, _ := p.wantHeaders()
	p.serveUnary(id, []byte("first"))
	if r := startRecv(first).wait(t); r.err != nil {
		t.Fatalf("first call: %v", r.err)
	}

	const n = 10
	recvs := make([]*recv, n)
	for i := range recvs {
		recvs[i] = startRecv(ct.unary([]byte(fmt.Sprintf("call %d", i))))
	}
	for i := 0; i < n; i++ {
		id, _ := p.wantHeaders()
		req, end := p.wantMsg(id)
		if !end {
			p.wantEnd(id)
		}
		p.writeResponseHeaders(id)
		p.writeMsg(id, append([]byte("echo "), req...), false)
		p.writeTrailers(id, codes.OK, "")
	}
	for i, r := range recvs {
		r.wait(t)
		want := fmt.Sprintf("echo call %d", i)
		if r.err != nil || len(r.msgs) != 1 || string(r.msgs[0]) != want {
			t.Errorf("call %d: msgs %q err %v, want %q", i, r.msgs, r.err, want)
		}
	}
	if m := p.maxOpenStreams(); m != 1 {
		t.Errorf("the server saw %d streams open at once, limit 1", m)
	}
}

// TestPingAcks is the ping case: every PING, before and after headers and
// data, is acknowledged with its payload; a PING ack from the server is not
// answered.
func TestPingAcks(t *testing.T) {
	ct := startReady(t, Config{})
	p := ct.peer
	var sent [][8]byte
	ping := func(i byte) {
		d := [8]byte{'p', 'i', 'n', 'g', 0, 0, 0, i}
		p.writePing(d)
		sent = append(sent, d)
	}
	ping(1)
	s := ct.unary(make([]byte, 271828))
	id, _ := p.wantHeaders()
	ping(2)
	p.wantMsg(id)
	ping(3)
	p.writeResponseHeaders(id)
	ping(4)
	p.writeMsg(id, pattern(314159), false)
	ping(5)
	p.writeTrailers(id, codes.OK, "")
	ping(6)
	p.write("PING ack", func(fr *http2.Framer) error { return fr.WritePing(true, [8]byte{'u', 'n', 's', 'o', 'l'}) })
	if r := startRecv(s).wait(t); r.err != nil || len(r.msgs) != 1 || len(r.msgs[0]) != 314159 {
		t.Fatalf("call: %d messages, err %v", len(r.msgs), r.err)
	}
	for _, d := range sent {
		p.wantPingAck(d)
	}
	p.ping([8]byte{'l', 'a', 's', 't'})
	if extra := p.stashed(func(f *frame) bool { return f.Type == http2.FramePing }); len(extra) != 0 {
		t.Errorf("unexpected PING frames from the client: %v", summarize(extra))
	}
}

// waitUntil polls cond until it holds; a hang guard bounds it. It is for
// conditions no event announces (a goroutine blocking).
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	deadline := time.NewTimer(testTimeout)
	defer deadline.Stop()
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline.C:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// floodPaused writes n control frames (write writes the i-th) while the
// peer reads nothing back, checks that the client's reader stops at its
// control backlog instead of buffering without bound, then lets the peer
// read again and waits for the writer to finish.
func floodPaused(t *testing.T, ct *connTest, what string, n int, write func(fr *http2.Framer, i int) error) {
	t.Helper()
	p, c := ct.peer, ct.conn
	p.pause()
	var written atomic.Int64
	wdone := make(chan error, 1)
	go func() {
		for i := 0; i < n; i++ {
			if err := p.tryWrite(func(fr *http2.Framer) error { return write(fr, i) }); err != nil {
				wdone <- err
				return
			}
			written.Add(1)
		}
		wdone <- nil
	}()
	waitUntil(t, "the client's reader to stop at its control backlog", func() bool {
		return c.ctrlPending.Load() >= maxControlBacklog
	})
	if got := c.ctrlPending.Load(); got > maxControlBacklog {
		t.Errorf("%d control frames queued for the actor, bound %d", got, maxControlBacklog)
	}
	if w := written.Load(); w == int64(n) {
		t.Fatalf("all %d %s were absorbed while nobody read the acks: the client buffers without bound", n, what)
	}
	p.resume()
	select {
	case err := <-wdone:
		if err != nil {
			t.Fatalf("writing %s: %v", what, err)
		}
	case <-time.After(testTimeout):
		t.Fatalf("the %s writer is still blocked after the server resumed reading", what)
	}
}

// TestPingFlood: 10,000 PINGs sent while the server reads nothing back. The
// client, unable to write its acks, stops reading at its control backlog
// instead of buffering without bound; once the server reads again every
// PING is acknowledged and the connection still works.
func TestPingFlood(t *testing.T) {
	ct := startReady(t, Config{})
	p := ct.peer
	c := ct.conn
	const n = 10000
	floodPaused(t, ct, "PINGs", n, func(fr *http2.Framer, i int) error {
		var d [8]byte
		binary.BigEndian.PutUint64(d[:], uint64(i+1))
		return fr.WritePing(false, d)
	})
	seen := make(map[uint64]bool, n)
	for len(seen) < n {
		f := p.want(fmt.Sprintf("PING ack %d of %d", len(seen)+1, n), func(f *frame) bool { return f.Type == http2.FramePing && f.ack() })
		v := binary.BigEndian.Uint64(f.Ping[:])
		if v == 0 || v > n || seen[v] {
			t.Fatalf("unexpected PING ack %x", f.Ping)
		}
		seen[v] = true
	}
	if c.State() != Ready {
		t.Fatalf("state %v after the flood, want READY", c.State())
	}
	s := ct.unary([]byte("still there?"))
	id, _ := p.wantHeaders()
	p.serveUnary(id, []byte("yes"))
	if r := startRecv(s).wait(t); r.err != nil {
		t.Fatalf("call after the flood: %v", r.err)
	}
}

// TestGoAway is the goaway case seen from one connection: streams above the
// GOAWAY's last stream id end UNAVAILABLE and unprocessed, those at or
// below finish, new streams are refused as unprocessed, and the connection
// reports EventGoAway, then EventClosed when its last stream ends.
func TestGoAway(t *testing.T) {
	ct := startReady(t, Config{})
	p := ct.peer
	var recvs []*recv
	for i := 0; i < 3; i++ {
		recvs = append(recvs, startRecv(ct.unary([]byte{byte(i)})))
	}
	ids := map[uint32]bool{}
	for i := 0; i < 3; i++ {
		id, _ := p.wantHeaders()
		ids[id] = true
	}
	if !ids[1] || !ids[3] || !ids[5] {
		t.Fatalf("stream ids %v, want 1, 3, 5", ids)
	}
	p.writeGoAway(3, http2.ErrCodeNo, "graceful")
	ga := waitEvent[*EventGoAway](t, ct.ev)
	if ga.Code != http2.ErrCodeNo || ga.Debug != "graceful" {
		t.Errorf("EventGoAway code %v debug %q", ga.Code, ga.Debug)
	}

	above := recvs[2].wait(t)
	wantCode(t, "stream 5 (above last-stream-id)", above.err, codes.Unavailable)
	if !above.s.Unprocessed() {
		t.Errorf("stream 5: Unprocessed() = false, want true")
	}

	late := ct.newStream(context.Background(), nil)
	waitDone(t, late)
	if _, err := late.RecvMsg(); code(err) != codes.Unavailable || !late.Unprocessed() {
		t.Errorf("stream after GOAWAY: %v, unprocessed %v; want UNAVAILABLE, unprocessed", err, late.Unprocessed())
	}
	if err := late.Write(grpcFrame([]byte("x")), true); code(err) != codes.Unavailable {
		t.Errorf("Write on a refused stream: %v", err)
	}
	if hasEvent[*EventClosed](ct.ev) {
		t.Fatalf("connection closed while streams 1 and 3 were active")
	}

	for i, id := range []uint32{1, 3} {
		p.serveUnary(id, []byte(fmt.Sprintf("resp %d", id)))
		r := recvs[i].wait(t)
		if r.err != nil || len(r.msgs) != 1 || string(r.msgs[0]) != fmt.Sprintf("resp %d", id) {
			t.Errorf("stream %d: msgs %q err %v", id, r.msgs, r.err)
		}
		if r.s.Unprocessed() {
			t.Errorf("stream %d finished but reports Unprocessed", id)
		}
	}
	closed := ct.closedEvent()
	if closed.Err != nil || !closed.Established {
		t.Errorf("EventClosed err %v established %v, want nil, true", closed.Err, closed.Established)
	}
	evs := eventNames(ct.ev.all())
	if len(evs) != 3 || evs[0] != "Ready" || evs[1] != "GoAway(NO_ERROR)" || evs[2] != "Closed(<nil>)" {
		t.Errorf("events %v, want Ready, GoAway, Closed", evs)
	}
	for _, f := range p.wantClosed() {
		if f.Type == http2.FrameHeaders {
			t.Errorf("HEADERS sent after GOAWAY: %v", f)
		}
	}
}

// TestGoAwayWithQueuedStreams: a GOAWAY that ends the only active stream
// while others wait for a concurrency slot must not start the waiting ones
// on the dying connection: all end unprocessed, no HEADERS go out.
func TestGoAwayWithQueuedStreams(t *testing.T) {
	ct := startReady(t, Config{}, http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: 1})
	p := ct.peer
	active := ct.unary([]byte("a"))
	id, _ := p.wantHeaders()
	p.wantMsg(id)
	queued := []*Stream{ct.unary([]byte("b")), ct.unary([]byte("c"))}
	p.writeGoAway(0, http2.ErrCodeNo, "")
	for i, s := range append([]*Stream{active}, queued...) {
		waitDone(t, s)
		if _, err := s.RecvMsg(); code(err) != codes.Unavailable || !s.Unprocessed() {
			t.Errorf("stream %d: %v, unprocessed %v; want UNAVAILABLE, unprocessed", i, err, s.Unprocessed())
		}
	}
	closed := ct.closedEvent()
	if closed.Err != nil {
		t.Errorf("EventClosed.Err = %v, want nil", closed.Err)
	}
	evs := eventNames(ct.ev.all())
	if len(evs) != 3 || evs[1] != "GoAway(NO_ERROR)" {
		t.Errorf("events %v, want Ready, GoAway, Closed", evs)
	}
	for _, f := range p.wantClosed() {
		if f.Type == http2.FrameHeaders {
			t.Errorf("a queued stream was started after GOAWAY: %v", f)
		}
	}
}

// TestGoAwayTwice: a server shutting down gracefully sends GOAWAY with the
// largest stream id, then the real last id; a later GOAWAY may only lower
// it.
func TestGoAwayTwice(t *testing.T) {
	ct := startReady(t, Config{})
	p := ct.peer
	r1 := startRecv(ct.unary([]byte("1")))
	r3 := startRecv(ct.unary([]byte("3")))
	p.wantHeaders()
	p.wantHeaders()
	p.writeGoAway(1<<31-1, http2.ErrCodeNo, "shutting down")
	p.ping([8]byte{1})
	p.writeGoAway(1, http2.ErrCodeNo, "")
	r3.wait(t)
	wantCode(t, "stream 3", r3.err, codes.Unavailable)
	if !r3.s.Unprocessed() {
		t.Errorf("stream 3 not unprocessed")
	}
	if n := len(eventNames(ct.ev.all())); n != 2 {
		t.Errorf("events %v, want one GoAway", eventNames(ct.ev.all()))
	}
	// A GOAWAY raising the last stream id is a connection error.
	p.writeGoAway(5, http2.ErrCodeNo, "")
	ev := ct.closedEvent()
	wantCode(t, "EventClosed", ev.Err, codes.Internal, "GOAWAY")
	r1.wait(t)
	if r1.err == nil {
		t.Errorf("stream 1 succeeded on a connection closed by a protocol error")
	}
}

// TestRSTStream covers the rst_after_header, rst_during_data and
// rst_after_data cases and the status an RST_STREAM code maps to.
func TestRSTStream(t *testing.T) {
	msg := pattern(314159)
	for _, tc := range []struct {
		name        string
		script      func(p *peer, id uint32)
		code        codes.Code
		unprocessed bool
		maxMsgs     int // messages that may be delivered before the error
	}{
		{"rst_after_header", func(p *peer, id uint32) {
			p.writeResponseHeaders(id)
			p.writeRST(id, http2.ErrCodeNo)
		}, codes.Internal, false, 0},
		{"rst_during_data", func(p *peer, id uint32) {
			p.writeResponseHeaders(id)
			p.writeDataFlow(id, false, grpcFrame(msg)[:len(msg)/2])
			p.writeRST(id, http2.ErrCodeNo)
		}, codes.Internal, false, 0},
		{"rst_after_data", func(p *peer, id uint32) {
			p.writeResponseHeaders(id)
			p.writeMsg(id, msg, false)
			p.writeRST(id, http2.ErrCodeNo)
		}, codes.Internal, false, 1},
		{"refused_stream", func(p *peer, id uint32) {
			p.writeRST(id, http2.ErrCodeRefusedStream)
		}, codes.Unavailable, true, 0},
		{"cancel", func(p *peer, id uint32) {
			p.writeResponseHeaders(id)
			p.writeRST(id, http2.ErrCodeCancel)
		}, codes.Canceled, false, 0},
		{"enhance_your_calm", func(p *peer, id uint32) {
			p.writeRST(id, http2.ErrCodeEnhanceYourCalm)
		}, codes.ResourceExhausted, false, 0},
		{"flow_control_error", func(p *peer, id uint32) {
			p.writeRST(id, http2.ErrCodeFlowControl)
		}, codes.Internal, false, 0},
		{"inadequate_security", func(p *peer, id uint32) {
			p.writeRST(id, http2.ErrCodeInadequateSecurity)
		}, codes.PermissionDenied, false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ct := startReady(t, Config{})
			p := ct.peer
			s := ct.unary([]byte("req"))
			id, _ := p.wantHeaders()
			p.wantMsg(id)
			r := startRecv(s)
			tc.script(p, id)
			r.wait(t)
			wantCode(t, "call", r.err, tc.code, "RST_STREAM")
			if len(r.msgs) > tc.maxMsgs {
				t.Errorf("%d messages delivered, at most %d allowed", len(r.msgs), tc.maxMsgs)
			}
			for _, m := range r.msgs {
				if !bytes.Equal(m, msg) {
					t.Errorf("a delivered message is not the one sent (%d bytes)", len(m))
				}
			}
			if s.Unprocessed() != tc.unprocessed {
				t.Errorf("Unprocessed() = %v, want %v", s.Unprocessed(), tc.unprocessed)
			}
			// The connection is unaffected.
			s2 := ct.unary([]byte("again"))
			id2, _ := p.wantHeaders()
			p.serveUnary(id2, []byte("ok"))
			if r2 := startRecv(s2).wait(t); r2.err != nil {
				t.Fatalf("next call: %v", r2.err)
			}
			p.ping([8]byte{1})
			if fs := p.stashed(func(f *frame) bool { return f.StreamID == id && f.Type != http2.FrameWindowUpdate }); len(fs) != 0 {
				t.Errorf("frames on stream %d after the server reset it: %v", id, summarize(fs))
			}
		})
	}
}
