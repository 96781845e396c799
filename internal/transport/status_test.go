package transport

import (
	"strings"
	"testing"

	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/status"
	"golang.org/x/net/http2"
)

// specialMessage is the interop special_status_message.
const specialMessage = "\t\ntest with whitespace\r\nand Unicode BMP ☺ and non-BMP 😈\t\n"

// TestStatus checks the status a call ends with for each way a server can
// end a stream.
func TestStatus(t *testing.T) {
	for _, tc := range []struct {
		name    string
		script  func(p *peer, id uint32)
		code    codes.Code
		msg     string   // exact status message, when set
		subs    []string // substrings of the status message
		msgs    int      // messages delivered
		trailer map[string]string
		rst     http2.ErrCode // RST_STREAM the client must send, 0xff for none
	}{
		{name: "ok", script: func(p *peer, id uint32) {
			p.writeResponseHeaders(id)
			p.writeMsg(id, []byte("resp"), false)
			p.writeTrailers(id, codes.OK, "", "x-t", "v")
		}, code: codes.OK, msgs: 1, trailer: map[string]string{"x-t": "v"}, rst: 0xff},
		{name: "padded DATA", script: func(p *peer, id uint32) {
			p.writeResponseHeaders(id)
			msg := grpcFrame([]byte("resp"))
			p.writeDataPadded(id, false, msg[:3], 200)
			p.writeDataPadded(id, false, msg[3:], 0)
			p.writeTrailers(id, codes.OK, "")
		}, code: codes.OK, msgs: 1, rst: 0xff},
		{name: "error after a message", script: func(p *peer, id uint32) {
			p.writeResponseHeaders(id)
			p.writeMsg(id, []byte("resp"), false)
			p.writeTrailers(id, codes.InvalidArgument, "bad argument: 100%", "x-t", "v")
		}, code: codes.InvalidArgument, msg: "bad argument: 100%", msgs: 1, trailer: map[string]string{"x-t": "v"}, rst: 0xff},
		{name: "special status message", script: func(p *peer, id uint32) {
			p.writeResponseHeaders(id)
			p.writeTrailers(id, codes.Unknown, specialMessage)
		}, code: codes.Unknown, msg: specialMessage, rst: 0xff},
		{name: "trailers-only error", script: func(p *peer, id uint32) {
			p.writeHeaders(id, hdrs(":status", "200", "content-type", "application/grpc", "grpc-status", "5", "grpc-message", "no such thing", "x-t", "v"), true)
		}, code: codes.NotFound, msg: "no such thing", trailer: map[string]string{"x-t": "v"}, rst: 0xff},
		{name: "trailers-only ok", script: func(p *peer, id uint32) {
			p.writeHeaders(id, hdrs(":status", "200", "content-type", "application/grpc", "grpc-status", "0"), true)
		}, code: codes.OK, rst: 0xff},
		{name: "non-gRPC 503 with a body", script: func(p *peer, id uint32) {
			p.writeHeaders(id, hdrs(":status", "503", "content-type", "text/html"), false)
			p.writeData(id, false, []byte("<html>overloaded, "))
			p.writeData(id, true, []byte("come back later</html>"))
		}, code: codes.Unavailable, subs: []string{"503", "text/html", "<html>overloaded, come back later</html>"}, rst: 0xff},
		{name: "non-gRPC 404 headers only", script: func(p *peer, id uint32) {
			p.writeHeaders(id, hdrs(":status", "404", "content-type", "text/plain"), true)
		}, code: codes.Unimplemented, subs: []string{"404"}, rst: 0xff},
		{name: "non-gRPC endless body", script: func(p *peer, id uint32) {
			p.writeHeaders(id, hdrs(":status", "502", "content-type", "text/plain"), false)
			p.writeDataFlow(id, false, []byte(strings.Repeat("x", 4096)))
		}, code: codes.Unavailable, subs: []string{"502", "xxxx"}, rst: http2.ErrCodeCancel},
		{name: "missing grpc-status", script: func(p *peer, id uint32) {
			p.writeResponseHeaders(id)
			p.writeMsg(id, []byte("resp"), false)
			p.writeHeaders(id, hdrs("x-t", "v"), true)
		}, code: codes.Unknown, msgs: 1, rst: 0xff},
		{name: "malformed grpc-status", script: func(p *peer, id uint32) {
			p.writeResponseHeaders(id)
			p.writeHeaders(id, hdrs("grpc-status", "abc"), true)
		}, code: codes.Unknown, subs: []string{"abc"}, rst: 0xff},
		{name: "unknown grpc-status", script: func(p *peer, id uint32) {
			p.writeResponseHeaders(id)
			p.writeTrailers(id, codes.Code(99), "from the future")
		}, code: codes.Unknown, subs: []string{"99", "from the future"}, rst: 0xff},
		{name: "DATA with END_STREAM and no trailers", script: func(p *peer, id uint32) {
			p.writeResponseHeaders(id)
			p.writeData(id, true, grpcFrame([]byte("resp")))
		}, code: codes.Internal, subs: []string{"trailers"}, msgs: 1, rst: 0xff},
		{name: "END_STREAM in the middle of a message", script: func(p *peer, id uint32) {
			p.writeResponseHeaders(id)
			p.writeData(id, false, grpcFrame([]byte("response"))[:7])
			p.writeTrailers(id, codes.OK, "")
		}, code: codes.Internal, rst: 0xff},
		{name: "informational headers first", script: func(p *peer, id uint32) {
			p.writeHeaders(id, hdrs(":status", "100"), false)
			p.writeResponseHeaders(id)
			p.writeMsg(id, []byte("resp"), false)
			p.writeTrailers(id, codes.OK, "")
		}, code: codes.OK, msgs: 1, rst: 0xff},
		{name: "second HEADERS without END_STREAM", script: func(p *peer, id uint32) {
			p.writeResponseHeaders(id)
			p.writeHeaders(id, hdrs("x-more", "headers"), false)
		}, code: codes.Internal, rst: http2.ErrCodeProtocol},
		{name: "DATA before HEADERS", script: func(p *peer, id uint32) {
			p.writeData(id, false, grpcFrame([]byte("resp")))
		}, code: codes.Internal, rst: http2.ErrCodeProtocol},
		{name: "invalid compressed flag", script: func(p *peer, id uint32) {
			p.writeResponseHeaders(id)
			p.writeData(id, false, []byte{7, 0, 0, 0, 1, 'x'})
		}, code: codes.Internal, subs: []string{"compressed flag"}, rst: http2.ErrCodeCancel},
		{name: "malformed binary trailer", script: func(p *peer, id uint32) {
			p.writeResponseHeaders(id)
			p.writeTrailers(id, codes.OK, "", "x-bin", "!!not base64!!")
		}, code: codes.Internal, subs: []string{"x-bin"}, rst: 0xff},
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
			wantCode(t, "call", r.err, tc.code, tc.subs...)
			if tc.msg != "" {
				st, _ := status.FromError(r.err)
				if st.Message() != tc.msg {
					t.Errorf("status message %q, want %q", st.Message(), tc.msg)
				}
			}
			if len(r.msgs) != tc.msgs {
				t.Errorf("%d messages delivered, want %d", len(r.msgs), tc.msgs)
			}
			tr := s.Trailer()
			for k, v := range tc.trailer {
				if got := tr[k]; len(got) != 1 || got[0] != v {
					t.Errorf("trailer %s = %q, want %q (trailer %v)", k, got, v, tr)
				}
				if st, ok := status.FromError(r.err); ok && st != nil {
					if got := st.TrailingMetadata()[k]; len(got) != 1 || got[0] != v {
						t.Errorf("status trailing metadata %s = %q, want %q", k, got, v)
					}
				}
			}
			p.ping([8]byte{1})
			rsts := p.stashed(isType(http2.FrameRSTStream, id))
			switch {
			case tc.rst == 0xff && len(rsts) != 0:
				t.Errorf("unexpected %v", summarize(rsts))
			case tc.rst != 0xff && (len(rsts) != 1 || rsts[0].Code != tc.rst):
				t.Errorf("client RST_STREAMs %v, want one with %v", summarize(rsts), tc.rst)
			}
		})
	}
}

// TestReceiveMessageTooLarge: a message whose length prefix exceeds
// MaxReceiveMessageSize fails the call RESOURCE_EXHAUSTED naming both
// sizes; the client resets the stream with CANCEL and ignores what the
// server still sends on it; the connection keeps working.
func TestReceiveMessageTooLarge(t *testing.T) {
	ct := startReady(t, Config{MaxReceiveMessageSize: 1024})
	p := ct.peer
	s := ct.unary([]byte("req"))
	id, _ := p.wantHeaders()
	p.wantMsg(id)
	p.writeResponseHeaders(id)
	big := grpcFrame(pattern(2048))
	p.writeData(id, false, big[:100])
	r := startRecv(s).wait(t)
	wantCode(t, "call", r.err, codes.ResourceExhausted, "2048", "1024")
	if len(r.msgs) != 0 {
		t.Errorf("%d messages delivered", len(r.msgs))
	}
	if c := p.wantRST(id); c != http2.ErrCodeCancel {
		t.Errorf("RST_STREAM %v, want CANCEL", c)
	}
	// The server had not seen the RST yet: the rest of its answer arrives
	// and must be ignored.
	p.writeData(id, false, big[100:])
	p.writeTrailers(id, codes.OK, "")

	s2 := ct.unary([]byte("req 2"))
	id2, _ := p.wantHeaders()
	exact := pattern(1024)
	p.serveUnary(id2, exact)
	r2 := startRecv(s2).wait(t)
	if r2.err != nil || len(r2.msgs) != 1 || len(r2.msgs[0]) != 1024 {
		t.Fatalf("second call: %d messages, err %v", len(r2.msgs), r2.err)
	}
}
