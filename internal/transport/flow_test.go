package transport

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/grpcactor/grpcactor/codes"
	"golang.org/x/net/http2"
)

// pattern returns n bytes that are not all alike, so that a reordered or
// dropped frame shows.
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i>>10)
	}
	return b
}

// TestLargeRequestFlowControl: a 3 MiB request goes out in DATA frames no
// larger than the server's SETTINGS_MAX_FRAME_SIZE, never beyond the
// windows the server granted; the client stops at the edge of the stream
// and of the connection window and resumes on WINDOW_UPDATE.
func TestLargeRequestFlowControl(t *testing.T) {
	for _, maxFrame := range []uint32{0, 20000} {
		t.Run(fmt.Sprintf("max_frame_%d", maxFrame), func(t *testing.T) {
			settings := []http2.Setting{{ID: http2.SettingInitialWindowSize, Val: 1000}}
			if maxFrame != 0 {
				settings = append(settings, http2.Setting{ID: http2.SettingMaxFrameSize, Val: maxFrame})
			}
			ct := startReady(t, Config{}, settings...)
			p := ct.peer
			p.autoCredit = false
			req := pattern(3 << 20)
			s := ct.newStream(context.Background(), nil)
			werr := make(chan error, 1)
			go func() { werr <- s.Write(grpcFrame(req), true) }()
			id, _ := p.wantHeaders()

			var got []byte
			connStalls, streamStalls := 0, 0
			for {
				f := p.want(fmt.Sprintf("DATA on stream %d", id), isType(http2.FrameData, id))
				got = append(got, f.Data...)
				if f.endStream() {
					break
				}
				// The peer's read goroutine checked the frame against the
				// windows (a violation fails the test at cleanup). Grant
				// more only once a window is exhausted: a client that
				// stopped short of the edge would stall here.
				conn, stream := p.recvWindows(id)
				if conn == 0 {
					connStalls++
					p.writeWindowUpdate(0, 100000)
				}
				if stream == 0 {
					streamStalls++
					p.writeWindowUpdate(id, 30000)
				}
			}
			if !bytes.Equal(got, grpcFrame(req)) {
				t.Fatalf("the server received %d bytes that differ from the %d-byte request", len(got), len(req)+5)
			}
			if connStalls == 0 || streamStalls == 0 {
				t.Errorf("the client was stopped %d times by the connection window and %d times by the stream window; want both", connStalls, streamStalls)
			}
			select {
			case err := <-werr:
				if err != nil {
					t.Fatalf("Write: %v", err)
				}
			case <-p.ctx.Done():
				t.Fatalf("Write did not return")
			}
			p.writeResponseHeaders(id)
			p.writeMsg(id, []byte("ok"), false)
			p.writeTrailers(id, codes.OK, "")
			if r := startRecv(s).wait(t); r.err != nil || len(r.msgs) != 1 {
				t.Fatalf("call: msgs %d err %v", len(r.msgs), r.err)
			}
		})
	}
}

// TestLargeResponse: a 3 MiB response, three times the client's stream
// window, arrives whole: the client sends WINDOW_UPDATEs while the message
// is still incomplete, so the server can finish.
func TestLargeResponse(t *testing.T) {
	ct := startReady(t, Config{})
	p := ct.peer
	s := ct.unary([]byte("give me 3 MiB"))
	id, _ := p.wantHeaders()
	resp := pattern(3 << 20)
	r := startRecv(s)
	p.serveUnary(id, resp)
	r.wait(t)
	if r.err != nil || len(r.msgs) != 1 || !bytes.Equal(r.msgs[0], resp) {
		t.Fatalf("call: %d messages, err %v", len(r.msgs), r.err)
	}
	wus := p.stashed(isType(http2.FrameWindowUpdate, id))
	if len(wus) == 0 {
		t.Errorf("no stream WINDOW_UPDATE from the client")
	}
}

// TestReceiveBackpressure: while the application does not read, the client
// gives no stream window back for the messages waiting, so a fast server
// is held at the window; reading them opens it again.
func TestReceiveBackpressure(t *testing.T) {
	const win = 256 << 10
	ct := startReady(t, Config{InitialWindowSize: win})
	p := ct.peer
	s := ct.unary([]byte("stream to me"))
	id, _ := p.wantHeaders()
	p.wantMsg(id)
	p.writeResponseHeaders(id)

	// Messages smaller than a quarter of the window: the client never
	// credits part of one of them.
	const msgSize = 60000
	var all []byte
	for i := 0; i < 8; i++ {
		all = append(all, grpcFrame(bytes.Repeat([]byte{byte(i)}, msgSize))...)
	}
	// Exactly the stream window, which holds four whole messages and part
	// of a fifth.
	p.writeDataFlow(id, false, all[:win])
	p.ping([8]byte{1}) // every WINDOW_UPDATE the data caused is now read
	p.mu.Lock()
	left := p.sendStream[id]
	p.mu.Unlock()
	if left != 0 {
		t.Fatalf("the client granted %d bytes of stream window while the application read nothing", left)
	}
	for i := 0; i < 4; i++ {
		m, err := s.RecvMsg()
		if err != nil || len(m.Data) != msgSize || m.Data[0] != byte(i) {
			t.Fatalf("message %d: %d bytes, err %v", i, len(m.Data), err)
		}
	}
	// The window reopens: the rest goes through.
	r := startRecv(s)
	p.writeDataFlow(id, false, all[win:])
	p.writeTrailers(id, codes.OK, "")
	r.wait(t)
	if r.err != nil || len(r.msgs) != 4 {
		t.Fatalf("remaining messages: %d, err %v", len(r.msgs), r.err)
	}
	for i, m := range r.msgs {
		if len(m) != msgSize || m[0] != byte(i+4) {
			t.Errorf("message %d: %d bytes of %d", i+4, len(m), m[0])
		}
	}
}

// TestDataFramePadding is the negative interop case data_frame_padding (and
// its sanity twin): the response comes in DATA frames of 5 bytes plus 255
// bytes of padding, 16 MiB of flow-controlled bytes for a 314159-byte
// message; the client must credit the padding or the server stalls.
func TestDataFramePadding(t *testing.T) {
	for _, pad := range []int{255, 0} {
		t.Run(fmt.Sprintf("pad_%d", pad), func(t *testing.T) {
			ct := startReady(t, Config{})
			p := ct.peer
			s := ct.unary(make([]byte, 271828))
			id, _ := p.wantHeaders()
			if req, _ := p.wantMsg(id); len(req) != 271828 {
				t.Fatalf("request of %d bytes", len(req))
			}
			p.writeResponseHeaders(id)
			r := startRecv(s)
			resp := pattern(314159)
			data := grpcFrame(resp)
			for len(data) > 0 {
				n := min(5, len(data))
				flow := int64(n + pad)
				if pad > 0 {
					flow++ // the pad length byte
				}
				p.reserve(id, flow, true)
				chunk := data[:n]
				data = data[n:]
				p.wmu.Lock()
				var err error
				if pad > 0 {
					err = p.fw.WriteDataPadded(id, false, chunk, make([]byte, pad))
				} else {
					err = p.fw.WriteData(id, false, chunk)
				}
				p.wmu.Unlock()
				if err != nil {
					t.Fatalf("writing DATA: %v", err)
				}
			}
			p.writeTrailers(id, codes.OK, "")
			r.wait(t)
			if r.err != nil || len(r.msgs) != 1 || !bytes.Equal(r.msgs[0], resp) {
				t.Fatalf("call: %d messages, err %v", len(r.msgs), r.err)
			}
		})
	}
}

// TestStreamFlowControlViolation: a server that sends more than the
// client's stream window gets RST_STREAM(FLOW_CONTROL_ERROR) and the call
// fails INTERNAL; the connection stays usable.
func TestStreamFlowControlViolation(t *testing.T) {
	ct := startReady(t, Config{InitialWindowSize: 10000})
	p := ct.peer
	s := ct.unary([]byte("x"))
	id, _ := p.wantHeaders()
	p.wantMsg(id)
	p.writeResponseHeaders(id)
	p.writeData(id, false, grpcFrame(make([]byte, 16000)))
	r := startRecv(s).wait(t)
	wantCode(t, "stream", r.err, codes.Internal, "flow control")
	if c := p.wantRST(id); c != http2.ErrCodeFlowControl {
		t.Errorf("RST_STREAM %v, want FLOW_CONTROL_ERROR", c)
	}
	s2 := ct.unary([]byte("again"))
	id2, _ := p.wantHeaders()
	p.serveUnary(id2, []byte("fine"))
	if r := startRecv(s2).wait(t); r.err != nil {
		t.Fatalf("second call: %v", r.err)
	}
}

// TestSmallConnWindow: a connection window configured below HTTP/2's
// initial 65535 bytes cannot shrink the window the server starts with, so
// the client must accept what a compliant server sends within 65535 bytes.
func TestSmallConnWindow(t *testing.T) {
	ct := startReady(t, Config{InitialConnWindowSize: 10000})
	p := ct.peer
	s := ct.unary([]byte("x"))
	id, _ := p.wantHeaders()
	resp := pattern(48 << 10)
	r := startRecv(s)
	p.serveUnary(id, resp)
	r.wait(t)
	if r.err != nil || len(r.msgs) != 1 || !bytes.Equal(r.msgs[0], resp) {
		t.Fatalf("call: %d messages, err %v", len(r.msgs), r.err)
	}
}
