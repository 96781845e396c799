package transport

import (
	"testing"

	"github.com/grpcactor/grpcactor/codes"
	"golang.org/x/net/http2"
)

// TestConnectionProtocolErrors: a connection-level protocol error from the
// server closes the connection with an error saying what was wrong; the
// active stream fails, nothing panics (a panic would restart the actor and
// dial again, which the harness reports).
func TestConnectionProtocolErrors(t *testing.T) {
	raw := func(typ http2.FrameType, flags http2.Flags, id uint32, payload []byte) func(p *peer) {
		return func(p *peer) {
			_ = p.tryWrite(func(fr *http2.Framer) error { return fr.WriteRawFrame(typ, flags, id, payload) })
		}
	}
	for _, tc := range []struct {
		name   string
		script func(p *peer)
		subs   []string
	}{
		{"DATA on stream 0", raw(http2.FrameData, 0, 0, []byte("x")), []string{"PROTOCOL_ERROR"}},
		{"RST_STREAM on stream 0", raw(http2.FrameRSTStream, 0, 0, []byte{0, 0, 0, 8}), []string{"PROTOCOL_ERROR"}},
		{"WINDOW_UPDATE of 3 bytes", raw(http2.FrameWindowUpdate, 0, 0, []byte{0, 0, 1}), []string{"FRAME_SIZE_ERROR"}},
		{"PING of 4 bytes", raw(http2.FramePing, 0, 0, []byte{1, 2, 3, 4}), []string{"FRAME_SIZE_ERROR"}},
		{"SETTINGS of 5 bytes", raw(http2.FrameSettings, 0, 0, []byte{0, 4, 0, 0, 0}), []string{"FRAME_SIZE_ERROR"}},
		{"SETTINGS on a stream", raw(http2.FrameSettings, 0, 1, nil), []string{"PROTOCOL_ERROR"}},
		{"undecodable HPACK", raw(http2.FrameHeaders, http2.FlagHeadersEndHeaders, 1, []byte{0xff, 0xff, 0xff, 0xff, 0xff}), []string{"COMPRESSION_ERROR"}},
		{"CONTINUATION without HEADERS", raw(http2.FrameContinuation, http2.FlagContinuationEndHeaders, 1, []byte{0x88}), []string{"PROTOCOL_ERROR"}},
		{"PING inside a header block", func(p *peer) {
			raw(http2.FrameHeaders, 0, 1, []byte{0x88})(p)
			raw(http2.FramePing, 0, 0, make([]byte, 8))(p)
		}, []string{"PROTOCOL_ERROR"}},
		{"PUSH_PROMISE", raw(http2.FramePushPromise, http2.FlagPushPromiseEndHeaders, 1, []byte{0, 0, 0, 2, 0x82}), []string{"PUSH_PROMISE"}},
		{"frame larger than SETTINGS_MAX_FRAME_SIZE", raw(http2.FrameData, 0, 1, make([]byte, 16385)), []string{"frame too large"}},
		{"SETTINGS_MAX_FRAME_SIZE below 16384", func(p *peer) {
			p.writeSettings(http2.Setting{ID: http2.SettingMaxFrameSize, Val: 0})
		}, []string{"MAX_FRAME_SIZE"}},
		{"SETTINGS_MAX_FRAME_SIZE above 2^24-1", func(p *peer) {
			p.writeSettings(http2.Setting{ID: http2.SettingMaxFrameSize, Val: 1 << 24})
		}, []string{"MAX_FRAME_SIZE"}},
		{"SETTINGS_INITIAL_WINDOW_SIZE above 2^31-1", func(p *peer) {
			_ = p.tryWrite(func(fr *http2.Framer) error {
				return fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1 << 31})
			})
		}, []string{"FLOW_CONTROL_ERROR"}},
		{"SETTINGS_ENABLE_PUSH of 2", func(p *peer) {
			p.writeSettings(http2.Setting{ID: http2.SettingEnablePush, Val: 2})
		}, []string{"ENABLE_PUSH"}},
		{"connection send window overflow", func(p *peer) {
			p.writeWindowUpdate(0, 1<<31-1)
		}, []string{"overflow"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ct := startReady(t, Config{})
			p := ct.peer
			s := ct.unary([]byte("req"))
			id, _ := p.wantHeaders()
			p.wantMsg(id)
			p.writeResponseHeaders(id)
			r := startRecv(s)
			tc.script(p)
			// A stream started now must end too, whether or not it got out.
			s2 := ct.newStream(t.Context(), nil)
			ev := ct.closedEvent()
			if ev.Err == nil {
				t.Fatalf("EventClosed.Err = nil after a protocol error")
			}
			t.Logf("closed with: %v", ev.Err)
			wantCode(t, "EventClosed", ev.Err, ev.Err.Code(), tc.subs...)
			if c := ev.Err.Code(); c != codes.Internal && c != codes.Unavailable {
				t.Errorf("EventClosed code %v, want INTERNAL or UNAVAILABLE", c)
			}
			r.wait(t)
			if r.err == nil {
				t.Errorf("the active stream succeeded")
			}
			waitDone(t, s2)
			if _, err := s2.RecvMsg(); err == nil {
				t.Errorf("a stream started during the failure succeeded")
			}
		})
	}
}

// TestIgnoredFrames: frames of unknown types, PRIORITY frames, frames for
// closed or unknown streams, and an even-numbered (server) stream do not
// disturb the connection.
func TestIgnoredFrames(t *testing.T) {
	ct := startReady(t, Config{})
	p := ct.peer
	rawOK := func(typ http2.FrameType, flags http2.Flags, id uint32, payload []byte) {
		t.Helper()
		p.write(typ.String(), func(fr *http2.Framer) error { return fr.WriteRawFrame(typ, flags, id, payload) })
	}
	done := ct.unary([]byte("x"))
	id, _ := p.wantHeaders()
	p.serveUnary(id, []byte("y"))
	if r := startRecv(done).wait(t); r.err != nil {
		t.Fatal(r.err)
	}

	s := ct.unary([]byte("req"))
	id2, _ := p.wantHeaders()
	rawOK(0xfa, 0, 0, []byte("unknown extension frame"))
	rawOK(0xfb, 0xff, id2, []byte("on a stream"))
	p.write("PRIORITY", func(fr *http2.Framer) error {
		return fr.WritePriority(id2, http2.PriorityParam{StreamDep: 0, Weight: 15})
	})
	p.writeData(id, false, grpcFrame([]byte("for a finished stream")))
	p.writeHeaders(id, okHeaders(), false)
	p.writeRST(id, http2.ErrCodeCancel)
	p.writeWindowUpdate(id, 100)
	p.writeData(99, false, []byte("never opened"))
	p.writeWindowUpdate(99, 5)
	p.writeRST(99, http2.ErrCodeCancel)
	p.writeHeaders(2, okHeaders(), true)
	p.serveUnary(id2, []byte("fine"))
	r := startRecv(s).wait(t)
	if r.err != nil || len(r.msgs) != 1 || string(r.msgs[0]) != "fine" {
		t.Fatalf("call: msgs %q err %v", r.msgs, r.err)
	}
	if ct.conn.State() != Ready {
		t.Errorf("state %v, want READY", ct.conn.State())
	}
	if hasEvent[*EventClosed](ct.ev) {
		t.Errorf("connection closed: %v", eventNames(ct.ev.all()))
	}
}
