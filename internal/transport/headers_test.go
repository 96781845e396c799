package transport

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/internal/wire"
	"github.com/grpcactor/grpcactor/metadata"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// timeoutUnit is the unit of a grpc-timeout value.
func timeoutUnit(v string) time.Duration {
	switch v[len(v)-1] {
	case 'H':
		return time.Hour
	case 'M':
		return time.Minute
	case 'S':
		return time.Second
	case 'm':
		return time.Millisecond
	case 'u':
		return time.Microsecond
	}
	return time.Nanosecond
}

// checkFieldOrder fails if a pseudo-header follows a regular header or a
// name is not lower-case.
func checkFieldOrder(t *testing.T, fields []hpack.HeaderField) {
	t.Helper()
	regular := false
	for _, f := range fields {
		if f.Name != strings.ToLower(f.Name) {
			t.Errorf("header name %q is not lower-case", f.Name)
		}
		if strings.HasPrefix(f.Name, ":") {
			if regular {
				t.Errorf("pseudo-header %q after a regular header", f.Name)
			}
			continue
		}
		regular = true
	}
}

// one returns the single value of header name, failing if there is not
// exactly one.
func one(t *testing.T, f *frame, name string) string {
	t.Helper()
	vs := f.field(name)
	if len(vs) != 1 {
		t.Errorf("header %q: got values %q, want exactly one", name, vs)
		if len(vs) == 0 {
			return ""
		}
	}
	return vs[0]
}

// TestRequestHeaders checks the request HEADERS against gRPC's
// PROTOCOL-HTTP2: pseudo-headers, content-type, te, user-agent,
// grpc-timeout, grpc-encoding, custom and binary metadata, reserved keys
// dropped; and that binary metadata echoed by the server is decoded.
func TestRequestHeaders(t *testing.T) {
	ct := startReady(t, Config{})
	p := ct.peer
	binVal := string([]byte{0, 1, 2, 0xfa, 0xfb, 0xfc, 0xfd, 0xfe, 0xff, '\n'})
	md := metadata.MD{
		"x-custom":  {"a", "b c"},
		"trace-bin": {binVal},
		// Reserved: the transport owns these.
		"content-type":               {"text/plain"},
		"te":                         {"gzip"},
		"user-agent":                 {"evil/1.0"},
		"grpc-timeout":               {"1n"},
		"grpc-encoding":              {"zip"},
		"grpc-accept-encoding":       {"zip"},
		"grpc-status":                {"3"},
		"grpc-message":               {"injected"},
		"grpc-previous-rpc-attempts": {"9"},
		"connection":                 {"close"},
		"host":                       {"evil.example"},
		"transfer-encoding":          {"chunked"},
		"upgrade":                    {"h2c"},
		"keep-alive":                 {"1"},
		"proxy-connection":           {"x"},
		":path":                      {"/evil/Path"},
		":authority":                 {"evil.example"},
	}
	deadline := time.Now().Add(time.Hour)
	before := time.Now()
	s := ct.newStream(context.Background(), &CallHdr{
		Method:         "/grpc.testing.TestService/UnaryCall",
		Deadline:       deadline,
		Metadata:       md,
		SendCompress:   "gzip",
		AcceptEncoding: "gzip,deflate",
	})
	hf := p.wantHeadersFrame()
	after := time.Now()
	id := hf.StreamID
	if id != 1 {
		t.Errorf("first stream id %d, want 1", id)
	}
	checkFieldOrder(t, hf.Fields)

	for _, want := range [][2]string{
		{":method", "POST"},
		{":scheme", "http"},
		{":path", "/grpc.testing.TestService/UnaryCall"},
		{":authority", testAddr},
		{"content-type", "application/grpc"},
		{"te", "trailers"},
		{"grpc-encoding", "gzip"},
		{"grpc-accept-encoding", "gzip,deflate"},
	} {
		if got := one(t, hf, want[0]); got != want[1] {
			t.Errorf("header %s = %q, want %q", want[0], got, want[1])
		}
	}
	for _, f := range hf.Fields {
		switch f.Name {
		case ":method", ":scheme", ":path", ":authority":
		default:
			if strings.HasPrefix(f.Name, ":") {
				t.Errorf("unexpected pseudo-header %q", f.Name)
			}
		}
	}
	if ua := one(t, hf, "user-agent"); !strings.HasPrefix(ua, "grpcactor-go/") {
		t.Errorf("user-agent %q does not start with grpcactor-go/", ua)
	}
	tv := one(t, hf, "grpc-timeout")
	d, err := wire.DecodeTimeout(tv)
	if err != nil {
		t.Fatalf("grpc-timeout %q: %v", tv, err)
	}
	// The value is computed when HEADERS is written (between before and
	// after) and rounded up by at most one unit.
	if max := deadline.Sub(before) + timeoutUnit(tv); d > max {
		t.Errorf("grpc-timeout %q (%v) is larger than the time left to the deadline (%v)", tv, d, max)
	}
	if min := deadline.Sub(after); d < min {
		t.Errorf("grpc-timeout %q (%v) is shorter than the time left when it arrived (%v)", tv, d, min)
	}
	if got := hf.field("x-custom"); len(got) != 2 || got[0] != "a" || got[1] != "b c" {
		t.Errorf("x-custom = %q, want [a, b c]", got)
	}
	wireBin := one(t, hf, "trace-bin")
	if strings.ContainsAny(wireBin, "\x00\n") {
		t.Errorf("trace-bin sent raw: %q", wireBin)
	}
	if dec, err := base64.RawStdEncoding.DecodeString(wireBin); err != nil || string(dec) != binVal {
		t.Errorf("trace-bin on the wire %q: decodes (unpadded base64) to %q, %v; want %q", wireBin, dec, err, binVal)
	}
	for _, name := range []string{"grpc-status", "grpc-message", "grpc-previous-rpc-attempts", "connection", "host", "transfer-encoding", "upgrade", "keep-alive", "proxy-connection"} {
		if vs := hf.field(name); len(vs) != 0 {
			t.Errorf("reserved header %s sent from metadata: %q", name, vs)
		}
	}

	// The server echoes the binary value, padded, in its headers and
	// trailers; the client decodes both.
	if err := s.Write(grpcFrame([]byte("ping")), true); err != nil {
		t.Fatal(err)
	}
	p.wantMsg(id)
	p.writeResponseHeaders(id, "x-initial", "iv", "resp-bin", b64([]byte(binVal)))
	p.writeMsg(id, []byte("pong"), false)
	p.writeTrailers(id, codes.OK, "", "trace-bin", b64([]byte(binVal)), "x-trailer", "tv")
	r := startRecv(s).wait(t)
	if r.err != nil || len(r.msgs) != 1 || string(r.msgs[0]) != "pong" {
		t.Fatalf("call: msgs %q err %v", r.msgs, r.err)
	}
	h, err := s.Header()
	if err != nil {
		t.Fatal(err)
	}
	if got := h["x-initial"]; len(got) != 1 || got[0] != "iv" {
		t.Errorf("header x-initial = %q", got)
	}
	if got := h["resp-bin"]; len(got) != 1 || got[0] != binVal {
		t.Errorf("header resp-bin = %q, want %q", got, binVal)
	}
	tr := s.Trailer()
	if got := tr["trace-bin"]; len(got) != 1 || got[0] != binVal {
		t.Errorf("trailer trace-bin = %q, want %q", got, binVal)
	}
	if got := tr["x-trailer"]; len(got) != 1 || got[0] != "tv" {
		t.Errorf("trailer x-trailer = %q", got)
	}
	if _, ok := tr["grpc-status"]; ok {
		t.Errorf("grpc-status leaked into the trailer metadata: %v", tr)
	}

	// Without a deadline or compression: no grpc-timeout, no
	// grpc-encoding; identity is not announced either.
	s2 := ct.newStream(context.Background(), &CallHdr{Method: "/a.B/C", SendCompress: "identity", Authority: "override.example", ContentSubtype: "proto"})
	hf2 := p.wantHeadersFrame()
	if hf2.StreamID != 3 {
		t.Errorf("second stream id %d, want 3", hf2.StreamID)
	}
	checkFieldOrder(t, hf2.Fields)
	for _, name := range []string{"grpc-timeout", "grpc-encoding", "grpc-accept-encoding"} {
		if vs := hf2.field(name); len(vs) != 0 {
			t.Errorf("%s sent without a reason: %q", name, vs)
		}
	}
	if got := one(t, hf2, ":authority"); got != "override.example" {
		t.Errorf(":authority = %q, want the CallHdr override", got)
	}
	if got := one(t, hf2, "content-type"); got != "application/grpc+proto" {
		t.Errorf("content-type = %q, want application/grpc+proto", got)
	}
	s2.Cancel(nil)
	p.wantRST(hf2.StreamID)
}

// TestDeadlineAlreadyPassed: a stream whose deadline passed before its
// HEADERS could be written ends DEADLINE_EXCEEDED and sends nothing.
func TestDeadlineAlreadyPassed(t *testing.T) {
	ct := startReady(t, Config{})
	p := ct.peer
	s := ct.newStream(context.Background(), &CallHdr{Method: "/a.B/C", Deadline: time.Now().Add(-time.Second)})
	waitDone(t, s)
	if _, err := s.RecvMsg(); code(err) != codes.DeadlineExceeded {
		t.Errorf("RecvMsg: %v, want DEADLINE_EXCEEDED", err)
	}
	p.ping([8]byte{9})
	if hs := p.stashed(func(f *frame) bool { return f.Type == http2.FrameHeaders || f.Type == http2.FrameRSTStream }); len(hs) != 0 {
		t.Errorf("frames sent for an expired stream: %v", summarize(hs))
	}
}

// TestRequestHeadersContinuation: a header block larger than the server's
// SETTINGS_MAX_FRAME_SIZE is split into HEADERS and CONTINUATION frames
// within that size, and the server decodes it whole.
func TestRequestHeadersContinuation(t *testing.T) {
	for _, maxFrame := range []uint32{0, 20000} {
		t.Run(fmt.Sprintf("max_frame_%d", maxFrame), func(t *testing.T) {
			var settings []http2.Setting
			limit := uint32(16384)
			if maxFrame != 0 {
				settings = append(settings, http2.Setting{ID: http2.SettingMaxFrameSize, Val: maxFrame})
				limit = maxFrame
			}
			ct := startReady(t, Config{}, settings...)
			p := ct.peer
			rng := rand.New(rand.NewPCG(1, 2))
			const alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
			md := metadata.MD{}
			total := 0
			for i := 0; total < 40<<10; i++ {
				v := make([]byte, 1024)
				for j := range v {
					v[j] = alnum[rng.IntN(len(alnum))]
				}
				md[fmt.Sprintf("x-big-%02d", i)] = []string{string(v)}
				total += len(v)
			}
			for round := 0; round < 2; round++ {
				s := ct.newStream(context.Background(), &CallHdr{Method: "/a.B/C", Metadata: md})
				hf := p.wantHeadersFrame()
				if len(hf.Fragments) < 2 {
					t.Fatalf("a %d-byte header block was sent in %d frame(s), want HEADERS + CONTINUATION", total, len(hf.Fragments))
				}
				for i, n := range hf.Fragments {
					if n > limit {
						t.Errorf("header frame %d carries %d bytes, more than the server's max frame size %d", i, n, limit)
					}
				}
				for k, v := range md {
					if got := hf.field(k); len(got) != 1 || got[0] != v[0] {
						t.Fatalf("metadata %s did not arrive intact", k)
					}
				}
				if err := s.Write(grpcFrame([]byte("x")), true); err != nil {
					t.Fatal(err)
				}
				p.serveUnary(hf.StreamID, []byte("y"))
				if r := startRecv(s).wait(t); r.err != nil {
					t.Fatalf("call %d: %v", round, r.err)
				}
			}
		})
	}
}

// TestServerHeaderTableSize: a server SETTINGS_HEADER_TABLE_SIZE of 0 makes
// the client's HPACK encoder stop indexing; the peer's decoder, limited to
// 0, still decodes every block.
func TestServerHeaderTableSize(t *testing.T) {
	ct := startConn(t, Config{})
	p := ct.peer
	p.handshake(http2.Setting{ID: http2.SettingHeaderTableSize, Val: 0})
	waitEvent[*EventReady](t, ct.ev)
	md := metadata.MD{"x-repeat": {strings.Repeat("v", 100)}}
	for i := 0; i < 3; i++ {
		s := ct.newStream(context.Background(), &CallHdr{Method: "/a.B/C", Metadata: md})
		hf := p.wantHeadersFrame()
		if got := hf.field("x-repeat"); len(got) != 1 || got[0] != md["x-repeat"][0] {
			t.Fatalf("x-repeat = %q", got)
		}
		if err := s.Write(grpcFrame(nil), true); err != nil {
			t.Fatal(err)
		}
		p.serveUnary(hf.StreamID, nil)
		if r := startRecv(s).wait(t); r.err != nil || len(r.msgs) != 1 || !bytes.Equal(r.msgs[0], []byte{}) {
			t.Fatalf("call %d: msgs %q err %v", i, r.msgs, r.err)
		}
	}
}

// TestServerMaxHeaderListSize: a request whose header list is over the
// server's SETTINGS_MAX_HEADER_LIST_SIZE fails INTERNAL without a frame
// of it reaching the server (grpc-go's behaviour); a stream in progress and
// a later call on the same connection are not affected.
func TestServerMaxHeaderListSize(t *testing.T) {
	ct := startReady(t, Config{}, http2.Setting{ID: http2.SettingMaxHeaderListSize, Val: 8 << 10})
	p := ct.peer

	inFlight := ct.newStream(context.Background(), &CallHdr{Method: "/test/Stream"})
	id, _ := p.wantHeaders()

	big := ct.newStream(context.Background(), &CallHdr{Method: "/test/Big", Metadata: metadata.Pairs("big", strings.Repeat("x", 16<<10))})
	waitDone(t, big)
	_, err := big.RecvMsg()
	wantCode(t, "call over the limit", err, codes.Internal, "header list size to send violates the maximum size (8192 bytes)")
	if big.Unprocessed() {
		t.Errorf("the failed call may be retried transparently; it would fail the same way")
	}
	if err := big.Write(grpcFrame([]byte("req")), true); code(err) != codes.Internal {
		t.Errorf("Write after the failure: %v, want the call's INTERNAL status", err)
	}

	// The stream in progress goes on; the next stream's HEADERS is the
	// next frame the server sees (nothing of the big one was sent).
	r := startRecv(inFlight)
	p.writeResponseHeaders(id)
	p.writeMsg(id, []byte("still here"), false)
	s := ct.unary([]byte("after"))
	id2, _ := p.wantHeaders()
	if id2 != id+2 {
		t.Errorf("next stream id %d, want %d (no id used by the refused call)", id2, id+2)
	}
	p.serveUnary(id2, []byte("ok"))
	if _, err := s.RecvMsg(); err != nil {
		t.Fatalf("call after the refused one: %v", err)
	}
	p.writeTrailers(id, codes.OK, "")
	if r.wait(t); r.err != nil || len(r.msgs) != 1 {
		t.Fatalf("stream in flight: %d messages, err %v", len(r.msgs), r.err)
	}
	if ct.conn.State() != Ready {
		t.Errorf("connection state %v, want READY", ct.conn.State())
	}
}

// TestHeaderBlockReuse: a method's header list, once all of it is in the
// encoder's dynamic table, is written from its kept encoding (one byte
// per field); every block still decodes to the right fields on the peer
// while calls with metadata, deadlines, another method and two smaller
// table sizes change the table under it. grpc-timeout is never indexed.
func TestHeaderBlockReuse(t *testing.T) {
	ct := startReady(t, Config{UserAgent: "ua/1"})
	p := ct.peer
	type step struct {
		method    string
		md        metadata.MD
		deadline  bool
		tableSize int // not 0: the peer sends SETTINGS_HEADER_TABLE_SIZE first (-1 for 0 bytes)
		indexed   bool
	}
	steps := []step{
		{method: "/a.B/C"},
		{method: "/a.B/C", indexed: true},
		{method: "/a.B/C", indexed: true},
		{method: "/a.B/C", md: metadata.Pairs("x-k", "v1")},
		{method: "/a.B/C", indexed: true},
		{method: "/a.B/C", deadline: true},
		{method: "/a.B/C", deadline: true},
		{method: "/a.B/D"},
		{method: "/a.B/D", indexed: true},
		{method: "/a.B/C", indexed: true},
		{method: "/a.B/C", md: metadata.Pairs("x-k", "v2")},
		{method: "/a.B/C", tableSize: 100},
		{method: "/a.B/C"},
		{method: "/a.B/D"},
		{method: "/a.B/C"},
		{method: "/a.B/C", tableSize: 4096},
		{method: "/a.B/C"},                // x/net's encoder keeps its smaller table: fields still evict each other
		{method: "/a.B/C", tableSize: -1}, // 0 bytes: nothing indexed any more
		{method: "/a.B/C"},
		{method: "/a.B/C", deadline: true},
	}
	for i, st := range steps {
		if st.tableSize != 0 {
			p.writeSettings(http2.Setting{ID: http2.SettingHeaderTableSize, Val: uint32(max(st.tableSize, 0))})
		}
		hdr := &CallHdr{Method: st.method, Metadata: st.md}
		if st.deadline {
			hdr.Deadline = time.Now().Add(time.Hour)
		}
		s := ct.newStream(context.Background(), hdr)
		hf := p.wantHeadersFrame()
		want := map[string]string{":method": "POST", ":path": st.method, "content-type": "application/grpc", "te": "trailers", "user-agent": "ua/1"}
		for k, v := range st.md {
			want[k] = v[0]
		}
		for k, v := range want {
			if got := hf.field(k); len(got) != 1 || got[0] != v {
				t.Fatalf("step %d: %s = %q, want %q (fields %v)", i, k, got, v, hf.Fields)
			}
		}
		if got := hf.field("x-k"); st.md == nil && got != nil {
			t.Fatalf("step %d: x-k = %q from an earlier call", i, got)
		}
		timeouts := 0
		for _, f := range hf.Fields {
			if f.Name == "grpc-timeout" {
				timeouts++
				if !f.Sensitive {
					t.Errorf("step %d: grpc-timeout sent as an indexable field", i)
				}
			}
		}
		if want := map[bool]int{true: 1}[st.deadline]; timeouts != want {
			t.Fatalf("step %d: %d grpc-timeout fields, want %d", i, timeouts, want)
		}
		if st.indexed && int(hf.Length) != len(hf.Fields) {
			t.Errorf("step %d: %d-byte block for %d fields, want one indexed byte each", i, hf.Length, len(hf.Fields))
		}
		if err := s.Write(grpcFrame(nil), true); err != nil {
			t.Fatal(err)
		}
		p.serveUnary(hf.StreamID, []byte("ok"))
		if r := startRecv(s).wait(t); r.err != nil || len(r.msgs) != 1 {
			t.Fatalf("step %d: msgs %q err %v", i, r.msgs, r.err)
		}
	}
}

// TestAllIndexed is a table test of the check that decides whether an
// encoded header block may be reused.
func TestAllIndexed(t *testing.T) {
	for _, tc := range []struct {
		name  string
		block []byte
		want  bool
	}{
		{"empty", nil, true},
		{"static indexes", []byte{0x83, 0x86, 0xbe}, true},
		{"index 127 and over", []byte{0xff, 0x00, 0xff, 0x81, 0x01, 0x82}, true},
		{"literal with indexing", []byte{0x83, 0x44, 0x01, 'x'}, false},
		{"literal without indexing", []byte{0x04, 0x01, 'x'}, false},
		{"never indexed", []byte{0x10, 0x01, 'k', 0x01, 'v'}, false},
		{"table size update", []byte{0x20, 0x83}, false},
		{"truncated long index", []byte{0xff, 0x81}, false},
	} {
		if got := allIndexed(tc.block); got != tc.want {
			t.Errorf("%s: allIndexed(% x) = %v, want %v", tc.name, tc.block, got, tc.want)
		}
	}
}
