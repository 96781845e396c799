package wire_test

import (
	"bytes"
	"math"
	"math/bits"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/internal/wire"
	"github.com/grpcactor/grpcactor/status"
)

// FuzzDeframer feeds arbitrary bytes in arbitrary pieces (each byte of
// splits is the length of the next piece) and checks that the messages are
// those of one whole Feed and re-encode to the input they consumed.
func FuzzDeframer(f *testing.F) {
	f.Add(frame([]byte("hello"), []byte{}, []byte("world")), []byte{1, 2, 3}, int32(-1))
	f.Add(frame([]byte("abc")), []byte{5}, int32(3))
	f.Add(frame([]byte("abcd")), []byte{5}, int32(3))
	f.Add([]byte{2, 0, 0, 0, 0}, []byte{}, int32(10))
	f.Add([]byte{1, 0, 0, 0, 3, 'a', 'b'}, []byte{0, 6}, int32(100))
	f.Add([]byte{0, 0xff, 0xff, 0xff, 0xff, 0}, []byte{1}, int32(1000))
	f.Fuzz(func(t *testing.T, in, splits []byte, limit int32) {
		maxSize := int(limit) % (1 << 16)
		if limit < 0 {
			maxSize = -1
		}
		// The reference: everything in one Feed.
		var want []wire.Message
		ref := wire.Deframer{MaxSize: maxSize}
		wantErr := ref.Feed(in, func(m wire.Message) { want = append(want, m) })

		d := wire.Deframer{MaxSize: maxSize}
		var got []wire.Message
		var err error
		for p, i := in, 0; len(p) > 0 && err == nil; i++ {
			n := len(p)
			if i < len(splits) {
				n = min(int(splits[i]), len(p))
			}
			err = d.Feed(p[:n], func(m wire.Message) { got = append(got, m) })
			p = p[n:]
		}
		if (err == nil) != (wantErr == nil) || (err != nil && err.Error() != wantErr.Error()) {
			t.Fatalf("split Feed error %v, whole Feed error %v", err, wantErr)
		}
		if len(got) != len(want) {
			t.Fatalf("split Feed gave %d messages, whole Feed %d", len(got), len(want))
		}
		var re []byte
		for i, m := range got {
			if m.Compressed != want[i].Compressed || !bytes.Equal(m.Data, want[i].Data) || m.Data == nil {
				t.Fatalf("message %d: split %+v, whole %+v", i, m, want[i])
			}
			if maxSize >= 0 && len(m.Data) > maxSize {
				t.Fatalf("message %d has %d bytes, above the %d limit", i, len(m.Data), maxSize)
			}
			re = wire.AppendMsgHeader(re, m.Compressed, len(m.Data))
			re = append(re, m.Data...)
		}
		switch {
		case !bytes.HasPrefix(in, re):
			t.Fatalf("re-encoded messages are not a prefix of the input")
		case err == nil && !d.Partial() && !bytes.Equal(re, in):
			t.Fatalf("well-formed input of %d bytes re-encodes to %d bytes", len(in), len(re))
		case err == nil && d.Partial() && len(re) == len(in):
			t.Fatalf("Partial with every byte emitted")
		}
	})
}

// FuzzDecodeTimeout checks that DecodeTimeout never panics, accepts exactly
// 1-8 digits and a unit, computes the value right (clamped), and that
// encoding the result gives a value that decodes to no less.
func FuzzDecodeTimeout(f *testing.F) {
	for _, s := range []string{"", "1", "0n", "1S", "99999999H", "2562048H", "123456789n", "-1S", "1x", "00000000m"} {
		f.Add(s)
	}
	units := map[byte]time.Duration{'n': 1, 'u': time.Microsecond, 'm': time.Millisecond,
		'S': time.Second, 'M': time.Minute, 'H': time.Hour}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := wire.DecodeTimeout(s)
		valid := len(s) >= 2 && len(s) <= 9 && units[s[len(s)-1]] != 0 &&
			strings.Trim(s[:len(s)-1], "0123456789") == ""
		if valid != (err == nil) {
			t.Fatalf("DecodeTimeout(%q) = %v, %v; valid = %v", s, d, err, valid)
		}
		if err != nil {
			if !strings.Contains(err.Error(), "grpc-timeout") {
				t.Fatalf("error %q", err)
			}
			return
		}
		var v uint64
		for _, c := range []byte(s[:len(s)-1]) {
			v = v*10 + uint64(c-'0')
		}
		hi, lo := bits.Mul64(v, uint64(units[s[len(s)-1]]))
		want := time.Duration(math.MaxInt64)
		if hi == 0 && lo <= math.MaxInt64 {
			want = time.Duration(lo)
		}
		if d != want {
			t.Fatalf("DecodeTimeout(%q) = %d, want %d", s, d, want)
		}
		checkEncodeTimeout(t, d, units)
	})
}

// FuzzEncodeTimeout checks EncodeTimeout on any duration.
func FuzzEncodeTimeout(f *testing.F) {
	for _, n := range []int64{math.MinInt64, -1, 0, 1, 99_999_999, 100_000_000, math.MaxInt64} {
		f.Add(n)
	}
	units := map[byte]time.Duration{'n': 1, 'u': time.Microsecond, 'm': time.Millisecond,
		'S': time.Second, 'M': time.Minute, 'H': time.Hour}
	f.Fuzz(func(t *testing.T, n int64) { checkEncodeTimeout(t, time.Duration(n), units) })
}

// checkEncodeTimeout checks that EncodeTimeout(d) is at most 8 digits and a
// unit, and decodes to d rounded up to that unit.
func checkEncodeTimeout(t *testing.T, d time.Duration, units map[byte]time.Duration) {
	e := wire.EncodeTimeout(d)
	if len(e) < 2 || len(e) > 9 {
		t.Fatalf("EncodeTimeout(%d) = %q", d, e)
	}
	back, err := wire.DecodeTimeout(e)
	if err != nil {
		t.Fatalf("DecodeTimeout(EncodeTimeout(%d) = %q): %v", d, e, err)
	}
	if d <= 0 {
		if e != "0n" {
			t.Fatalf("EncodeTimeout(%d) = %q, want 0n", d, e)
		}
		return
	}
	unit := units[e[len(e)-1]]
	if back < d || (back != math.MaxInt64 && back-d >= unit) {
		t.Fatalf("EncodeTimeout(%d) = %q decodes to %d: not d rounded up", d, e, back)
	}
	// The finest unit is used: one unit finer would need more than 8 digits.
	if unit > 1 {
		finer := map[byte]time.Duration{'u': 1, 'm': time.Microsecond, 'S': time.Millisecond,
			'M': time.Second, 'H': time.Minute}[e[len(e)-1]]
		if (d+finer-1)/finer <= 99_999_999 && d <= math.MaxInt64-finer {
			t.Fatalf("EncodeTimeout(%d) = %q: a finer unit would fit", d, e)
		}
	}
}

// FuzzGrpcMessage checks that percent-encoding round-trips every string and
// that decoding never panics or grows its input.
func FuzzGrpcMessage(f *testing.F) {
	for _, s := range []string{"", "plain", interopMessage, "%", "%4", "%zz", "%41", "%%41", "100%", "\xff\x00", "raw ☺ %E2%98%BA"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		enc := wire.EncodeGrpcMessage(s)
		for i := 0; i < len(enc); i++ {
			if c := enc[i]; c < 0x20 || c > 0x7e {
				t.Fatalf("EncodeGrpcMessage(%q) = %q: byte 0x%02x", s, enc, c)
			}
		}
		if back := wire.DecodeGrpcMessage(enc); back != s {
			t.Fatalf("DecodeGrpcMessage(EncodeGrpcMessage(%q)) = %q", s, back)
		}
		if again := wire.EncodeGrpcMessage(wire.DecodeGrpcMessage(enc)); again != enc {
			t.Fatalf("Encode(Decode(Encode(%q))) = %q, want %q", s, again, enc)
		}
		dec := wire.DecodeGrpcMessage(s)
		if len(dec) > len(s) {
			t.Fatalf("DecodeGrpcMessage(%q) = %q: longer than its input", s, dec)
		}
		if !strings.Contains(s, "%") && dec != s {
			t.Fatalf("DecodeGrpcMessage(%q) = %q without a %%", s, dec)
		}
		if utf8.ValidString(s) && !strings.Contains(s, "%") && !utf8.ValidString(dec) {
			t.Fatalf("DecodeGrpcMessage broke valid UTF-8 %q", s)
		}
	})
}

// parseBlocks turns fuzz input into (initial, final, body): three parts
// separated by '|', a part "nil" is a nil block, fields separated by '\n',
// names and values by the first '=' after the first byte.
func parseBlocks(s string) (initial, final *wire.HeaderBlock, body []byte) {
	parts := strings.SplitN(s, "|", 3)
	for len(parts) < 3 {
		parts = append([]string{"nil"}, parts...)
	}
	parse := func(p string) *wire.HeaderBlock {
		if p == "nil" {
			return nil
		}
		var kv []string
		for _, line := range strings.Split(p, "\n") {
			if line == "" {
				continue
			}
			name, value := line, ""
			if i := strings.IndexByte(line[1:], '='); i >= 0 {
				name, value = line[:i+1], line[i+2:]
			}
			kv = append(kv, name, value)
		}
		return block(kv...)
	}
	return parse(parts[0]), parse(parts[1]), []byte(parts[2])
}

// FuzzResponseStatus decodes arbitrary header lists and checks that
// ResponseStatus never panics, says OK only when a well-formed grpc-status
// 0 is present, returns only valid non-OK codes otherwise, and carries the
// blocks' metadata.
func FuzzResponseStatus(f *testing.F) {
	for _, s := range []string{
		":status=200\ncontent-type=application/grpc|grpc-status=0|",
		"nil|:status=200\ncontent-type=application/grpc\ngrpc-status=5\ngrpc-message=x%20y|",
		":status=503\ncontent-type=text/html|nil|<html>",
		"nil|:status=404|",
		"nil|:status=502\ngrpc-status=3\ngrpc-message=bad|",
		":status=200\ncontent-type=application/grpc\nx-bin=!!|grpc-status=0\ny-bin=AQ|",
		":status=200\ncontent-type=application/grpc|grpc-status=abc|",
		":status=200\ncontent-type=application/grpc|nil|",
		"nil|nil|",
		":status=1x0|grpc-status=99\ngrpc-message=%FF|",
		":status=200\n:status=200\ncontent-type=application/grpc+proto|grpc-status=00|",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		initial, final, body := parseBlocks(s)
		st := wire.ResponseStatus(initial, final, body)
		okStatus := func(hb *wire.HeaderBlock) bool {
			return hb != nil && hb.HasStatus && hb.StatusCode == codes.OK && !strings.Contains(hb.Malformed, "grpc-status")
		}
		if st == nil {
			if !okStatus(final) && !okStatus(initial) {
				t.Fatalf("OK without a grpc-status 0: initial %+v, final %+v", initial, final)
			}
			for _, hb := range []*wire.HeaderBlock{initial, final} {
				// A grpc-status in headers that are not the trailers is
				// ignored, malformed or not.
				if hb == nil {
					continue
				}
				ignored := hb == initial && initial != final && strings.Contains(hb.Malformed, "grpc-status")
				if hb.Malformed != "" && !ignored {
					t.Fatalf("OK despite %q", hb.Malformed)
				}
			}
			return
		}
		if st.Code() == codes.OK || !st.Code().Valid() {
			t.Fatalf("status with code %v", st.Code())
		}
		if len(st.Message()) > 8<<10+4*len(s) {
			t.Fatalf("message of %d bytes", len(st.Message()))
		}
		if final != nil && final != initial && st.TrailingMetadata().String() != final.Metadata.String() {
			t.Fatalf("trailing metadata %v, want %v", st.TrailingMetadata(), final.Metadata)
		}
		if initial != nil && st.InitialMetadata().String() != initial.Metadata.String() {
			t.Fatalf("initial metadata %v, want %v", st.InitialMetadata(), initial.Metadata)
		}
		if _, ok := status.FromError(st); !ok {
			t.Fatal("not a status")
		}
		// A clean gRPC response with grpc-status 0 must be OK.
		first := initial
		if first == nil {
			first = final
		}
		if first != nil && final != nil && first.HTTPStatus == 200 && wire.IsGRPCContentType(first.ContentType) &&
			first.Malformed == "" && final.Malformed == "" && final.HasStatus && final.StatusCode == codes.OK {
			t.Fatalf("clean OK response gave %v", st)
		}
	})
}
