package transport

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/grpcactor/grpcactor/codes"
	"golang.org/x/net/http2"
)

func settingVal(ss []http2.Setting, id http2.SettingID) (uint32, bool) {
	for _, s := range ss {
		if s.ID == id {
			return s.Val, true
		}
	}
	return 0, false
}

// TestHandshake checks the client's preamble (preface, SETTINGS, the
// connection WINDOW_UPDATE), that the connection is ready only once the
// server's SETTINGS arrive, and that every server SETTINGS is acknowledged.
func TestHandshake(t *testing.T) {
	for _, tc := range []struct {
		name             string
		cfg              Config
		wantWin, wantCWU uint32 // wantCWU 0: no connection WINDOW_UPDATE
	}{
		{"defaults", Config{}, defaultInitialWindowSize, defaultInitialConnWindowSize - 65535},
		{"custom windows", Config{InitialWindowSize: 256 << 10, InitialConnWindowSize: 2 << 20}, 256 << 10, 2<<20 - 65535},
		{"connection window at the HTTP/2 default", Config{InitialWindowSize: 70000, InitialConnWindowSize: 65535}, 70000, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ct := startConn(t, tc.cfg)
			p := ct.peer
			p.readPreface()
			cs := p.wantSettings()
			if v, ok := settingVal(cs, http2.SettingInitialWindowSize); !ok || v != tc.wantWin {
				t.Errorf("client SETTINGS_INITIAL_WINDOW_SIZE = %d (present %v), want %d", v, ok, tc.wantWin)
			}
			if v, ok := settingVal(cs, http2.SettingEnablePush); !ok || v != 0 {
				t.Errorf("client SETTINGS_ENABLE_PUSH = %d (present %v), want 0", v, ok)
			}
			if v, ok := settingVal(cs, http2.SettingMaxHeaderListSize); !ok || v != defaultMaxHeaderListSize {
				t.Errorf("client SETTINGS_MAX_HEADER_LIST_SIZE = %d (present %v), want %d", v, ok, defaultMaxHeaderListSize)
			}
			if tc.wantCWU != 0 {
				wu := p.want("connection WINDOW_UPDATE", isType(http2.FrameWindowUpdate, 0))
				if wu.Incr != tc.wantCWU {
					t.Errorf("connection WINDOW_UPDATE of %d, want %d", wu.Incr, tc.wantCWU)
				}
			}

			// Not ready before the server's SETTINGS.
			if hasEvent[*EventReady](ct.ev) || ct.conn.State() != Connecting {
				t.Fatalf("ready before the server's SETTINGS: state %v, events %v", ct.conn.State(), eventNames(ct.ev.all()))
			}
			early := ct.newStream(context.Background(), nil)
			waitDone(t, early)
			if _, err := early.RecvMsg(); code(err) != codes.Unavailable || !early.Unprocessed() {
				t.Errorf("stream before ready: %v, unprocessed %v; want UNAVAILABLE, unprocessed", err, early.Unprocessed())
			}

			p.writeSettings(http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: 100})
			p.wantSettingsAck()
			waitEvent[*EventReady](t, ct.ev)
			if st := ct.conn.State(); st != Ready {
				t.Errorf("state after EventReady = %v, want READY", st)
			}
			// A later SETTINGS is acknowledged too; a SETTINGS ack from the
			// server is not.
			p.writeSettingsAck()
			p.writeSettings(http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: 50})
			p.wantSettingsAck()
			p.ping([8]byte{1})
			if acks := p.stashed(func(f *frame) bool { return f.Type == http2.FrameSettings }); len(acks) != 0 {
				t.Errorf("unexpected SETTINGS frames from the client: %v", summarize(acks))
			}
			if tc.wantCWU == 0 {
				if wus := p.stashed(isType(http2.FrameWindowUpdate, 0)); len(wus) != 0 {
					t.Errorf("connection WINDOW_UPDATE sent for a window at the default: %v", summarize(wus))
				}
			}
			if evs := eventNames(ct.ev.all()); len(evs) != 1 {
				t.Errorf("events %v, want just Ready", evs)
			}
			ct.conn.Close("done")
			ev := ct.closedEvent()
			if !ev.Established {
				t.Errorf("EventClosed.Established = false after a handshake")
			}
		})
	}
}

// TestFirstFrameNotSettings: a server whose first frame is not SETTINGS
// (or that does not speak HTTP/2 at all) fails the connection with
// UNAVAILABLE, without EventReady.
func TestFirstFrameNotSettings(t *testing.T) {
	for _, tc := range []struct {
		name  string
		write func(p *peer) error
	}{
		{"PING", func(p *peer) error {
			return p.tryWrite(func(fr *http2.Framer) error { return fr.WritePing(false, [8]byte{1}) })
		}},
		{"SETTINGS ack", func(p *peer) error {
			return p.tryWrite(func(fr *http2.Framer) error { return fr.WriteSettingsAck() })
		}},
		{"HEADERS", func(p *peer) error {
			return p.tryWrite(func(fr *http2.Framer) error {
				return fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: []byte{0x88}, EndHeaders: true})
			})
		}},
		{"GOAWAY", func(p *peer) error {
			return p.tryWrite(func(fr *http2.Framer) error { return fr.WriteGoAway(0, http2.ErrCodeNo, nil) })
		}},
		{"HTTP/1.1 response", func(p *peer) error {
			return p.writeRaw([]byte("HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nbad request"))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ct := startConn(t, Config{})
			p := ct.peer
			p.readPreface()
			p.wantSettings()
			// The client may close the pipe while the peer writes: the write
			// error, if any, does not matter.
			_ = tc.write(p)
			ev := ct.closedEvent()
			wantCode(t, "EventClosed", ev.Err, codes.Unavailable)
			if strings.Contains(ev.Err.Error(), "timed out") {
				t.Errorf("the client waited for the connect timeout instead of failing at once: %v", ev.Err)
			}
			if ev.Established || hasEvent[*EventReady](ct.ev) {
				t.Errorf("connection became ready: events %v", eventNames(ct.ev.all()))
			}
		})
	}
}

// spawnDial spawns a connection with the given Dial and Handshake and no
// peer.
func spawnDial(t *testing.T, cfg Config) (*Conn, *eventLog) {
	t.Helper()
	ev := newEventLog()
	cfg.Address = testAddr
	cfg.OnEvent = ev.add
	c, err := Spawn(testSys.Root, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Close("test finished")
		select {
		case <-c.Closed():
		case <-time.After(testTimeout):
			t.Errorf("connection did not close")
		}
		waitGoroutines(t, c)
	})
	return c, ev
}

// TestConnectTimeout: Config.ConnectTimeout bounds the dial and the wait for
// the server's SETTINGS.
func TestConnectTimeout(t *testing.T) {
	t.Run("server never sends SETTINGS", func(t *testing.T) {
		// The peer reads the client preface and answers nothing. (The
		// preface is not awaited: on a slow machine the 50 ms may run out
		// before the actor writes it, the same failure.)
		ct := startConn(t, Config{ConnectTimeout: 50 * time.Millisecond})
		ev := ct.closedEvent()
		wantCode(t, "EventClosed", ev.Err, codes.Unavailable, "timed out")
		if ev.Established || hasEvent[*EventReady](ct.ev) {
			t.Errorf("connection became ready: %v", eventNames(ct.ev.all()))
		}
	})
	t.Run("dial never returns", func(t *testing.T) {
		dialDone := make(chan struct{})
		c, ev := spawnDial(t, Config{
			ConnectTimeout: 50 * time.Millisecond,
			Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
				defer close(dialDone)
				<-ctx.Done()
				return nil, ctx.Err()
			},
		})
		closed := waitEvent[*EventClosed](t, ev)
		wantCode(t, "EventClosed", closed.Err, codes.Unavailable)
		<-c.Closed()
		select {
		case <-dialDone:
		case <-time.After(testTimeout):
			t.Fatalf("the dial's context was not cancelled")
		}
	})
}

// TestDialError: a failed dial or handshake ends the connection with
// UNAVAILABLE naming the error; streams are refused as unprocessed.
func TestDialError(t *testing.T) {
	dialErr := errors.New("no route to the scripted host")
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"dial", Config{Dial: func(context.Context, string, string) (net.Conn, error) { return nil, dialErr }}},
		{"handshake", Config{
			Dial: func(context.Context, string, string) (net.Conn, error) {
				a, b := net.Pipe()
				b.Close()
				return a, nil
			},
			Handshake: func(_ context.Context, nc net.Conn) (net.Conn, error) { return nil, dialErr },
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, ev := spawnDial(t, tc.cfg)
			closed := waitEvent[*EventClosed](t, ev)
			wantCode(t, "EventClosed", closed.Err, codes.Unavailable, dialErr.Error())
			if !errors.Is(closed.Err, dialErr) {
				t.Errorf("EventClosed.Err does not wrap the dial error: %v", closed.Err)
			}
			if closed.Established || hasEvent[*EventReady](ev) {
				t.Errorf("ready after a failed dial")
			}
			<-c.Closed()
			s, err := c.NewStream(context.Background(), &CallHdr{Method: "/a/b"})
			if err != nil {
				t.Fatal(err)
			}
			waitDone(t, s)
			if _, err := s.RecvMsg(); code(err) != codes.Unavailable || !s.Unprocessed() {
				t.Errorf("stream on a failed connection: %v, unprocessed %v", err, s.Unprocessed())
			}
		})
	}
}

// TestClientClose: Close ends the streams in progress with UNAVAILABLE and
// the reason, and the connection with EventClosed.
func TestClientClose(t *testing.T) {
	ct := startReady(t, Config{})
	s := ct.unary([]byte("req"))
	ct.peer.wantHeaders()
	r := startRecv(s)
	ct.conn.Close("the channel is shutting down")
	r.wait(t)
	wantCode(t, "stream", r.err, codes.Unavailable, "the channel is shutting down")
	ev := ct.closedEvent()
	wantCode(t, "EventClosed", ev.Err, codes.Unavailable, "the channel is shutting down")
	ct.peer.wantClosed()
	if ct.conn.State() != Closed {
		t.Errorf("state %v after Close, want CLOSED", ct.conn.State())
	}
}

// TestDrain: after Drain new streams are refused as unprocessed, the stream
// in progress finishes, and the client says GOAWAY before closing.
func TestDrain(t *testing.T) {
	ct := startReady(t, Config{})
	p := ct.peer
	s := ct.unary([]byte("req"))
	id, _ := p.wantHeaders()
	r := startRecv(s)
	ct.conn.Drain()
	waitEvent[*EventGoAway](t, ct.ev)
	late := ct.newStream(context.Background(), nil)
	waitDone(t, late)
	if _, err := late.RecvMsg(); code(err) != codes.Unavailable || !late.Unprocessed() {
		t.Errorf("stream after Drain: %v, unprocessed %v; want UNAVAILABLE, unprocessed", err, late.Unprocessed())
	}
	p.serveUnary(id, []byte("resp"))
	r.wait(t)
	if r.err != nil || len(r.msgs) != 1 || string(r.msgs[0]) != "resp" {
		t.Fatalf("draining stream: msgs %q err %v", r.msgs, r.err)
	}
	ev := ct.closedEvent()
	if ev.Err != nil {
		t.Errorf("EventClosed.Err = %v after a drain, want nil", ev.Err)
	}
	ga := p.wantGoAway()
	if ga.Code != http2.ErrCodeNo {
		t.Errorf("client GOAWAY code %v, want NO_ERROR", ga.Code)
	}
	for _, f := range p.wantClosed() {
		if f.Type == http2.FrameHeaders {
			t.Errorf("HEADERS after Drain: %v", f)
		}
	}
}

// TestConnectionLoss: the server closing the socket mid-stream ends every
// active stream with UNAVAILABLE and the connection with EventClosed.
func TestConnectionLoss(t *testing.T) {
	ct := startReady(t, Config{})
	p := ct.peer
	s1 := ct.unary([]byte("one"))
	s2 := ct.newStream(context.Background(), nil)
	if err := s2.Write(grpcFrame([]byte("two")), false); err != nil {
		t.Fatal(err)
	}
	id1, _ := p.wantHeaders()
	p.wantHeaders()
	p.writeResponseHeaders(id1)
	p.writeData(id1, false, grpcFrame([]byte("partial"))[:6])
	r1, r2 := startRecv(s1), startRecv(s2)
	p.nc.Close()
	r1.wait(t)
	r2.wait(t)
	wantCode(t, "stream 1", r1.err, codes.Unavailable)
	wantCode(t, "stream 2", r2.err, codes.Unavailable)
	if len(r1.msgs) != 0 {
		t.Errorf("partial message delivered: %q", r1.msgs)
	}
	if err := s2.Write(grpcFrame([]byte("more")), true); code(err) != codes.Unavailable {
		t.Errorf("Write after connection loss: %v, want UNAVAILABLE", err)
	}
	ev := ct.closedEvent()
	wantCode(t, "EventClosed", ev.Err, codes.Unavailable)
	if !ev.Established {
		t.Errorf("EventClosed.Established = false")
	}
}

// TestCloseWithStalledPeer: Close works while the connection actor is
// blocked writing to a server that stopped reading.
func TestCloseWithStalledPeer(t *testing.T) {
	ct := startReady(t, Config{}, http2.Setting{ID: http2.SettingInitialWindowSize, Val: 8 << 20})
	p := ct.peer
	p.writeWindowUpdate(0, 8<<20)
	// After the PING barrier the peer's reader has nothing left to read:
	// pausing it now lets at most the frame it is already waiting for (and
	// what its 64 KiB read buffer takes) through, so the actor blocks in a
	// socket write of the 4 MiB request with most of it still queued, and
	// Write stays blocked on its quota until the connection closes.
	p.ping([8]byte{7})
	p.pause()
	s := ct.newStream(context.Background(), nil)
	werr := make(chan error, 1)
	go func() { werr <- s.Write(grpcFrame(make([]byte, 4<<20)), true) }()
	ct.conn.Close("giving up on a stalled server")
	select {
	case <-ct.conn.Closed():
	case <-time.After(testTimeout):
		t.Fatalf("Close did not close a connection whose server stopped reading")
	}
	ev := ct.closedEvent()
	wantCode(t, "EventClosed", ev.Err, codes.Unavailable, "giving up on a stalled server")
	waitDone(t, s)
	if _, err := s.RecvMsg(); code(err) != codes.Unavailable {
		t.Errorf("stream: %v, want UNAVAILABLE", err)
	}
	select {
	case err := <-werr:
		if err == nil || err == io.EOF {
			t.Errorf("Write of a 4 MiB request on a closed connection: %v", err)
		}
	case <-time.After(testTimeout):
		t.Fatalf("Write still blocked after the connection closed")
	}
	p.resume()
}
