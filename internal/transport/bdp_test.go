package transport

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/grpcactor/grpcactor/codes"
	"golang.org/x/net/http2"
)

// TestBDPEstimator: the estimator alone, as a table of cycles (first DATA
// at a time, ack at a later time with the bytes received since).
func TestBDPEstimator(t *testing.T) {
	type cycle struct {
		bytes    uint64        // received from the first DATA to the ack
		rtt      time.Duration // from the PING to its ack
		window   int64         // the new stream window, 0: unchanged
		connIncr int64
	}
	tests := []struct {
		name         string
		stream, conn int32
		cycles       []cycle
	}{
		{"grows to twice the sample", 65535, 65535, []cycle{{bytes: 50000, rtt: time.Millisecond, window: 100000, connIncr: 100000 - 65535}}},
		{"under two thirds of the window: stays", 65535, 65535, []cycle{{bytes: 43000, rtt: time.Millisecond}}},
		{"a larger connection window only grows past it", 65535, 1 << 20, []cycle{
			{bytes: 60000, rtt: time.Millisecond, window: 120000},
			{bytes: 1 << 20, rtt: time.Millisecond, window: 2 << 20, connIncr: 1 << 20},
		}},
		{"lower bandwidth than seen: stays", 65535, 65535, []cycle{
			{bytes: 60000, rtt: time.Millisecond, window: 120000, connIncr: 120000 - 65535},
			{bytes: 100000, rtt: 100 * time.Millisecond},
		}},
		{"capped at 16 MiB", 65535, 65535, []cycle{{bytes: 100 << 20, rtt: time.Millisecond, window: bdpLimit, connIncr: bdpLimit - 65535}}},
		{"a clock that did not move still grows", 65535, 65535, []cycle{{bytes: 60000, window: 120000, connIncr: 120000 - 65535}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBDPEstimator(&Config{BDP: true, InitialWindowSize: tt.stream, InitialConnWindowSize: tt.conn})
			var total uint64
			now := t0
			for i, c := range tt.cycles {
				if !b.begin(total, now) {
					t.Fatalf("cycle %d: begin refused a PING", i)
				}
				if b.begin(total, now) {
					t.Fatalf("cycle %d: a second PING while one is out", i)
				}
				total += c.bytes
				now = now.Add(c.rtt)
				w, incr := b.ack(total, now)
				if w != c.window || incr != c.connIncr {
					t.Fatalf("cycle %d: ack = window %d, conn +%d; want %d, +%d", i, w, incr, c.window, c.connIncr)
				}
				now = now.Add(time.Second)
			}
		})
	}
	if newBDPEstimator(&Config{}) != nil {
		t.Error("an estimator without Config.BDP")
	}
	b := newBDPEstimator(&Config{BDP: true, InitialWindowSize: bdpLimit, InitialConnWindowSize: bdpLimit})
	if b.begin(0, t0) {
		t.Error("a BDP PING at the cap")
	}
	if w, _ := b.ack(100, t0); w != 0 {
		t.Error("an ack without a PING grew the window")
	}
}

// TestBDPGrowsWindows: with BDP on, the client starts with 64 KiB windows;
// the first DATA frame brings a BDP PING; when its ack comes after a full
// window, the client advertises twice the sample (SETTINGS and a
// connection WINDOW_UPDATE), and the server may then have twice as much
// unread data in flight on the stream without a flow-control error.
func TestBDPGrowsWindows(t *testing.T) {
	ct := startConn(t, Config{BDP: true})
	p := ct.peer
	cs := p.handshake()
	waitEvent[*EventReady](t, ct.ev)
	for _, st := range cs {
		if st.ID == http2.SettingInitialWindowSize && st.Val != 65535 {
			t.Fatalf("SETTINGS_INITIAL_WINDOW_SIZE = %d, want 65535 with BDP", st.Val)
		}
	}
	s, id := ct.openCall()
	msg := bytes.Repeat([]byte{'m'}, 1019) // 1024 bytes framed
	// 63 complete messages nobody reads: 64512 bytes of the 65535 window.
	for range 63 {
		p.writeData(id, false, grpcFrame(msg))
	}
	f := p.want("BDP PING", func(f *frame) bool { return f.Type == http2.FramePing && !f.ack() })
	if f.Ping != bdpPing {
		t.Fatalf("PING payload %q, want %q", f.Ping[:], bdpPing[:])
	}
	p.write("PING ack", func(fr *http2.Framer) error { return fr.WritePing(true, bdpPing) })
	const want = 2 * 63 * 1024
	set := p.want("SETTINGS with the grown window", func(f *frame) bool { return f.Type == http2.FrameSettings && !f.ack() })
	if len(set.Settings) != 1 || set.Settings[0].ID != http2.SettingInitialWindowSize || set.Settings[0].Val != want {
		t.Fatalf("SETTINGS %v, want INITIAL_WINDOW_SIZE = %d", set.Settings, want)
	}
	// The reader's credits for the bytes received (16 KiB each) come
	// and go too; the growth is the one WINDOW_UPDATE of its size.
	p.want(fmt.Sprintf("connection WINDOW_UPDATE +%d", want-65535), func(f *frame) bool {
		return f.Type == http2.FrameWindowUpdate && f.StreamID == 0 && f.Incr == want-65535
	})
	// 60 more unread messages: past the first window, within the new one.
	for range 60 {
		p.writeData(id, false, grpcFrame(msg))
	}
	p.writeTrailers(id, codes.OK, "")
	r := startRecv(s).wait(t)
	if r.err != nil || len(r.msgs) != 123 {
		t.Fatalf("%d messages, err %v; want 123 and no error", len(r.msgs), r.err)
	}
	ct.callWorks("call after the growth")
}

// TestBDPOffFixedWindow: without BDP the same unread data past a 64 KiB
// window is a flow-control error for the stream, and no BDP PING goes out.
func TestBDPOffFixedWindow(t *testing.T) {
	ct := startReady(t, Config{InitialWindowSize: 65535})
	p := ct.peer
	s, id := ct.openCall()
	msg := bytes.Repeat([]byte{'m'}, 1019)
	for range 64 {
		p.writeData(id, false, grpcFrame(msg))
	}
	if c := p.wantRST(id); c != http2.ErrCodeFlowControl {
		t.Fatalf("RST_STREAM %v, want FLOW_CONTROL_ERROR", c)
	}
	r := startRecv(s).wait(t)
	wantCode(t, "stream past its window", r.err, codes.Internal, "flow control")
	for _, f := range p.stash {
		if f.Type == http2.FramePing {
			t.Errorf("a PING without BDP: %v", f)
		}
	}
}

// TestInFlowFlush: flush credits what consume held back for a batch, and
// the window reopens by as much.
func TestInFlowFlush(t *testing.T) {
	f := newInFlow(100)
	f.receive(30)
	if c := f.consume(10); c != 0 {
		t.Fatalf("consume(10) = %d, want 0 (under a quarter)", c)
	}
	if c := f.flush(); c != 10 {
		t.Fatalf("flush() = %d, want 10", c)
	}
	if c := f.flush(); c != 0 {
		t.Fatalf("second flush() = %d, want 0", c)
	}
	if f.received != 20 || !f.receive(80) || f.receive(1) {
		t.Fatalf("after the flush: received %d, want the window to hold 80 more and no more", f.received)
	}
}

// TestBDPMinInterval: BDP PINGs are asked for at most once per
// bdpMinInterval; the first one at once.
func TestBDPMinInterval(t *testing.T) {
	var r reader
	t0 := time.Unix(1000, 0)
	for i, tc := range []struct {
		at   time.Duration
		want bool
	}{
		{0, true},
		{bdpMinInterval / 2, false},
		{bdpMinInterval - 1, false},
		{bdpMinInterval, true},
		{bdpMinInterval + bdpMinInterval/5, false},
		{3 * bdpMinInterval, true},
		{3*bdpMinInterval + 1, false},
	} {
		if got := r.bdpDue(t0.Add(tc.at)); got != tc.want {
			t.Errorf("step %d: bdpDue at +%v = %v, want %v", i, tc.at, got, tc.want)
		}
	}
}
