package transport

import (
	"bytes"
	"strings"
	"testing"

	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/internal/wire"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// TestBlockCache is a table test of the cache of decoded header blocks:
// what it keeps, what it finds, what it evicts and what reset forgets.
func TestBlockCache(t *testing.T) {
	blk := func(code codes.Code) *wire.HeaderBlock {
		return &wire.HeaderBlock{HasStatus: true, StatusCode: code}
	}
	type op struct {
		put   []byte     // keep this block as wire code …
		code  codes.Code // … this code
		get   []byte     // or look this block up …
		want  codes.Code // … wanting this code (-1: not kept)
		reset bool       // or forget everything
	}
	const none = codes.Code(1 << 30)
	for _, tc := range []struct {
		name string
		ops  []op
	}{
		{"empty", []op{{get: []byte{0xbe}, want: none}}},
		{"kept and found", []op{
			{put: []byte{0xbe}, code: codes.OK},
			{put: []byte{0x88, 0xbf}, code: codes.Internal},
			{get: []byte{0xbe}, want: codes.OK},
			{get: []byte{0x88, 0xbf}, want: codes.Internal},
			{get: []byte{0x88}, want: none},
			{get: []byte{0xbe, 0xbe}, want: none},
		}},
		{"reset forgets", []op{
			{put: []byte{0xbe}, code: codes.OK},
			{reset: true},
			{get: []byte{0xbe}, want: none},
			{put: []byte{0xbe}, code: codes.Aborted},
			{get: []byte{0xbe}, want: codes.Aborted},
		}},
		{"the oldest goes first", []op{
			{put: []byte{0x81}, code: 1},
			{put: []byte{0x82}, code: 2},
			{put: []byte{0x83}, code: 3},
			{put: []byte{0x84}, code: 4},
			{put: []byte{0x85}, code: 5},
			{get: []byte{0x81}, want: none},
			{get: []byte{0x82}, want: 2},
			{get: []byte{0x85}, want: 5},
			{put: []byte{0x86}, code: 6},
			{get: []byte{0x82}, want: none},
			{get: []byte{0x83}, want: 3},
			{get: []byte{0x86}, want: 6},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c blockCache
			for i, o := range tc.ops {
				switch {
				case o.reset:
					c.reset()
				case o.put != nil:
					c.put(o.put, blk(o.code))
				default:
					got := c.get(o.get)
					switch {
					case o.want == none && got != nil:
						t.Fatalf("op %d: get(% x) = code %v, want nothing kept", i, o.get, got.StatusCode)
					case o.want != none && got == nil:
						t.Fatalf("op %d: get(% x) = nothing, want code %v", i, o.get, o.want)
					case o.want != none && got.StatusCode != o.want:
						t.Fatalf("op %d: get(% x) = code %v, want %v", i, o.get, got.StatusCode, o.want)
					}
				}
			}
		})
	}
}

// TestCacheable is a table test of which whole blocks may be kept.
func TestCacheable(t *testing.T) {
	for _, tc := range []struct {
		name  string
		block []byte
		want  bool
	}{
		{"empty", nil, false},
		{"indexed", []byte{0x88, 0xbe}, true},
		{"the longest kept", bytes.Repeat([]byte{0xbe}, maxCachedBlock), true},
		{"too long", bytes.Repeat([]byte{0xbe}, maxCachedBlock+1), false},
		{"a literal", []byte{0x88, 0x40, 0x01, 'k', 0x01, 'v'}, false},
		{"a table size update", []byte{0x20, 0x88}, false},
	} {
		if got := cacheable(tc.block); got != tc.want {
			t.Errorf("%s: cacheable(% x) = %v, want %v", tc.name, tc.block, got, tc.want)
		}
	}
}

// blockEncoder returns a function that HPACK-encodes name, value pairs
// into one header block with an encoder of its own, as a server would.
func blockEncoder(tb testing.TB) func(kv ...string) []byte {
	var buf bytes.Buffer
	enc := hpack.NewEncoder(&buf)
	return func(kv ...string) []byte {
		buf.Reset()
		for _, f := range hdrs(kv...) {
			if err := enc.WriteField(f); err != nil {
				tb.Fatal(err)
			}
		}
		return bytes.Clone(buf.Bytes())
	}
}

// TestResponseBlockCacheFollowsTable sends response header blocks whose
// bytes repeat while the server's HPACK table changes under them: the
// same one-byte trailers first mean grpc-status 0, then, after a block
// that inserts grpc-status 13 at the same index, grpc-status 13. Each call
// must end with what its own trailers say, however often the bytes were
// seen before; a block with metadata is never reused.
func TestResponseBlockCacheFollowsTable(t *testing.T) {
	ct := startReady(t, Config{})
	p := ct.peer
	encode := blockEncoder(t) // the server's table, mirrored by the client's decoder
	send := func(id uint32, block []byte, end bool) {
		t.Helper()
		if end {
			p.serverEnded(id, false)
		}
		p.write("HEADERS", func(fr *http2.Framer) error {
			return fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: block, EndStream: end, EndHeaders: true})
		})
	}
	okStatus := []string{":status", "200", "content-type", "application/grpc"}
	call := func(step int, trailers func() []byte, want codes.Code, wantMsg string, wantMD string) {
		t.Helper()
		s := ct.unary([]byte("q"))
		hf := p.wantHeadersFrame()
		p.wantMsg(hf.StreamID)
		send(hf.StreamID, encode(okStatus...), false)
		p.writeMsg(hf.StreamID, []byte("a"), false)
		send(hf.StreamID, trailers(), true)
		r := startRecv(s).wait(t)
		if code(r.err) != want || (wantMsg != "" && !strings.Contains(r.err.Error(), wantMsg)) {
			t.Fatalf("step %d: ended with %v, want code %v %q", step, r.err, want, wantMsg)
		}
		if want == codes.OK && len(r.msgs) != 1 {
			t.Fatalf("step %d: %d messages, want 1", step, len(r.msgs))
		}
		if got := s.Trailer()["x-md"]; wantMD != "" && (len(got) != 1 || got[0] != wantMD) {
			t.Fatalf("step %d: trailer x-md = %q, want %q", step, got, wantMD)
		}
	}
	status0 := func() []byte { return encode("grpc-status", "0") }
	// Inserts grpc-message, then grpc-status 13 at index 62, where
	// grpc-status 0 was.
	status13 := func() []byte { return encode("grpc-message", "boom", "grpc-status", "13") }
	index62 := func() []byte { return []byte{0xbe} }
	call(1, status0, codes.OK, "", "") // literals: grpc-status 0 is now index 62
	for step := 2; step <= 4; step++ {
		call(step, index62, codes.OK, "", "") // indexed: decoded, then reused
	}
	call(5, status13, codes.Internal, "boom", "")
	call(6, index62, codes.Internal, "", "") // the same byte, now grpc-status 13
	call(7, index62, codes.Internal, "", "")
	// A block with metadata: grpc-status 0 and x-md, then both indexed.
	withMD := func() []byte { return encode("grpc-status", "0", "x-md", "v") }
	call(8, withMD, codes.OK, "", "v")
	for step := 9; step <= 10; step++ {
		call(step, withMD, codes.OK, "", "v")
	}
}

// BenchmarkResponseBlock measures what the reader does with a response's
// two header blocks once the server has indexed their fields (":status:
// 200" and the content type, then "grpc-status: 0"): decoded each time
// (the cache emptied before each block) or found in the cache.
func BenchmarkResponseBlock(b *testing.B) {
	encode := blockEncoder(b)
	headers := []string{":status", "200", "content-type", "application/grpc"}
	trailers := []string{"grpc-status", "0"}
	first := [][]byte{encode(headers...), encode(trailers...)}
	blocks := [][]byte{encode(headers...), encode(trailers...)}
	for _, cached := range []bool{false, true} {
		b.Run(map[bool]string{false: "decoded", true: "cached"}[cached], func(b *testing.B) {
			r := &reader{maxList: 16 << 20}
			r.hdec = hpack.NewDecoder(4096, r.emitField)
			read := func(frag []byte) wire.HeaderBlock {
				r.hf = http2.HeadersFrame{FrameHeader: http2.FrameHeader{Type: http2.FrameHeaders, Flags: http2.FlagHeadersEndHeaders, StreamID: 1}}
				f, err := r.readHeaders(nil, &r.hf, frag)
				if err != nil {
					b.Fatal(err)
				}
				return r.block(f.(*http2.MetaHeadersFrame))
			}
			for _, blk := range first {
				read(blk)
			}
			b.ReportAllocs()
			for b.Loop() {
				for _, blk := range blocks {
					if !cached {
						r.blocks.reset()
					}
					if hb := read(blk); hb.HTTPStatus != 200 && !hb.HasStatus {
						b.Fatalf("decoded % x as %+v", blk, hb)
					}
				}
			}
		})
	}
}
