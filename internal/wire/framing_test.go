package wire_test

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"runtime"
	"strings"
	"testing"

	"github.com/grpcactor/grpcactor/internal/wire"
)

// frame returns the wire form of the given messages, uncompressed.
func frame(msgs ...[]byte) []byte {
	var b []byte
	for _, m := range msgs {
		b = wire.AppendMsgHeader(b, false, len(m))
		b = append(b, m...)
	}
	return b
}

// collect feeds the chunks to a Deframer with the given limit and returns
// the messages emitted and the first error.
func collect(maxSize int, chunks ...[]byte) ([]wire.Message, error) {
	d := wire.Deframer{MaxSize: maxSize}
	var got []wire.Message
	for _, c := range chunks {
		if err := d.Feed(c, func(m wire.Message) { got = append(got, m) }); err != nil {
			return got, err
		}
	}
	if d.Partial() {
		return got, errors.New("partial message left")
	}
	return got, nil
}

func TestAppendMsgHeader(t *testing.T) {
	tests := []struct {
		compressed bool
		n          int
		want       []byte
	}{
		{false, 0, []byte{0, 0, 0, 0, 0}},
		{true, 1, []byte{1, 0, 0, 0, 1}},
		{false, 0x01020304, []byte{0, 1, 2, 3, 4}},
		{true, math.MaxUint32, []byte{1, 0xff, 0xff, 0xff, 0xff}},
	}
	for _, tt := range tests {
		got := wire.AppendMsgHeader([]byte("x"), tt.compressed, tt.n)
		if !bytes.Equal(got, append([]byte("x"), tt.want...)) {
			t.Errorf("AppendMsgHeader(%v, %d) = %v, want x + %v", tt.compressed, tt.n, got, tt.want)
		}
	}
	for _, n := range []int{-1, math.MaxUint32 + 1} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("AppendMsgHeader(%d) did not panic", n)
				}
			}()
			wire.AppendMsgHeader(nil, false, n)
		}()
	}
}

func TestDeframerMessages(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789"), 1000)
	tests := []struct {
		name string
		msgs [][]byte
	}{
		{"zero-length", [][]byte{{}}},
		{"one", [][]byte{[]byte("hello")}},
		{"many", [][]byte{[]byte("a"), {}, []byte("bc"), {}, {}, big, []byte("def")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := frame(tt.msgs...)
			got, err := collect(-1, in)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.msgs) {
				t.Fatalf("got %d messages, want %d", len(got), len(tt.msgs))
			}
			for i, m := range got {
				if m.Compressed || !bytes.Equal(m.Data, tt.msgs[i]) || m.Data == nil {
					t.Errorf("message %d = %+v, want %q", i, m, tt.msgs[i])
				}
			}
		})
	}
}

func TestDeframerCompressedFlag(t *testing.T) {
	in := wire.AppendMsgHeader(nil, true, 3)
	in = append(in, "zip"...)
	in = wire.AppendMsgHeader(in, false, 2)
	in = append(in, "no"...)
	got, err := collect(10, in)
	if err != nil {
		t.Fatal(err)
	}
	want := []wire.Message{{Compressed: true, Data: []byte("zip")}, {Data: []byte("no")}}
	if fmt.Sprint(got) != fmt.Sprint(want) || !got[0].Compressed || got[1].Compressed {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

// TestDeframerEverySplit feeds a sample in two and in three pieces at every
// split point, and one byte at a time.
func TestDeframerEverySplit(t *testing.T) {
	msgs := [][]byte{[]byte("first"), {}, []byte("x"), []byte("the last one")}
	in := frame(msgs...)
	check := func(desc string, chunks ...[]byte) {
		t.Helper()
		got, err := collect(-1, chunks...)
		if err != nil {
			t.Fatalf("%s: %v", desc, err)
		}
		if len(got) != len(msgs) {
			t.Fatalf("%s: got %d messages, want %d", desc, len(got), len(msgs))
		}
		for k, m := range got {
			if !bytes.Equal(m.Data, msgs[k]) {
				t.Fatalf("%s: message %d = %q, want %q", desc, k, m.Data, msgs[k])
			}
		}
	}
	for i := 0; i <= len(in); i++ {
		for j := i; j <= len(in); j++ {
			check(fmt.Sprintf("split at %d, %d", i, j), in[:i], in[i:j], in[j:])
		}
	}
	var bytewise [][]byte
	for i := range in {
		bytewise = append(bytewise, in[i:i+1])
	}
	check("byte by byte", bytewise...)
}

func TestDeframerDoesNotAlias(t *testing.T) {
	in := frame([]byte("abc"), []byte("defgh"))
	var got []wire.Message
	d := wire.Deframer{MaxSize: -1}
	if err := d.Feed(in[:10], func(m wire.Message) { got = append(got, m) }); err != nil {
		t.Fatal(err)
	}
	if err := d.Feed(in[10:], func(m wire.Message) { got = append(got, m) }); err != nil {
		t.Fatal(err)
	}
	for i := range in {
		in[i] = '!'
	}
	if string(got[0].Data) != "abc" || string(got[1].Data) != "defgh" {
		t.Errorf("messages changed with the input: %q %q", got[0].Data, got[1].Data)
	}
}

func TestDeframerPartial(t *testing.T) {
	in := frame([]byte("hello"), []byte{})
	d := wire.Deframer{MaxSize: -1}
	steps := []struct {
		feed    []byte
		partial bool
		emitted int
	}{
		{nil, false, 0},
		{in[:3], true, 0},     // part of the prefix
		{in[3:5], true, 0},    // the whole prefix
		{in[5:7], true, 0},    // part of the body
		{in[7:10], false, 1},  // the first message
		{in[10:14], true, 1},  // part of an empty message's prefix
		{in[14:15], false, 2}, // the empty message
		{[]byte{}, false, 2},  // nothing
		{frame([]byte("x"))[:5], true, 2},
	}
	emitted := 0
	for i, s := range steps {
		if err := d.Feed(s.feed, func(wire.Message) { emitted++ }); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if d.Partial() != s.partial || emitted != s.emitted {
			t.Errorf("step %d: Partial() = %v, emitted %d; want %v, %d", i, d.Partial(), emitted, s.partial, s.emitted)
		}
	}
}

func TestDeframerSizeLimit(t *testing.T) {
	const max = 10
	// Exactly max is accepted.
	if got, err := collect(max, frame(bytes.Repeat([]byte("a"), max))); err != nil || len(got) != 1 {
		t.Fatalf("message of max bytes: %d messages, %v", len(got), err)
	}
	// max+1 fails as soon as the prefix is complete, before any body byte.
	for _, chunks := range [][][]byte{
		{wire.AppendMsgHeader(nil, false, max+1)},
		{wire.AppendMsgHeader(nil, true, max+1)[:2], wire.AppendMsgHeader(nil, true, max+1)[2:]},
	} {
		var d wire.Deframer
		d.MaxSize = max
		var err error
		for _, c := range chunks {
			if err = d.Feed(c, func(m wire.Message) { t.Errorf("emitted %+v", m) }); err != nil {
				break
			}
		}
		var se *wire.SizeError
		if !errors.As(err, &se) || se.Size != max+1 || se.Max != max {
			t.Fatalf("Feed error = %v, want *SizeError{%d, %d}", err, max+1, max)
		}
		if want := "received message larger than max (11 vs. 10)"; err.Error() != want {
			t.Errorf("Error() = %q, want %q", err, want)
		}
		// The Deframer stays failed.
		if err2 := d.Feed(frame([]byte("ok")), func(wire.Message) { t.Error("emitted after an error") }); err2 != err {
			t.Errorf("Feed after error = %v, want %v", err2, err)
		}
	}
	// MaxSize 0 accepts only empty messages; the largest prefix is caught
	// with no limit too on 32-bit platforms only, so test it with a limit.
	if _, err := collect(0, frame([]byte{})); err != nil {
		t.Errorf("empty message with MaxSize 0: %v", err)
	}
	_, err := collect(4<<20, wire.AppendMsgHeader(nil, false, math.MaxUint32))
	var se *wire.SizeError
	if !errors.As(err, &se) || se.Size != math.MaxUint32 {
		t.Errorf("4 GiB prefix: %v", err)
	}
}

func TestDeframerBadFlag(t *testing.T) {
	for _, flag := range []byte{2, 0x80, 0xff} {
		in := append([]byte{flag}, 0, 0, 0, 1, 'x')
		msgs, err := collect(-1, frame([]byte("ok")), in)
		if err == nil || !strings.Contains(err.Error(), fmt.Sprint(flag)) {
			t.Errorf("flag %d: error %v does not name it", flag, err)
		}
		if len(msgs) != 1 {
			t.Errorf("flag %d: %d messages before the error, want 1", flag, len(msgs))
		}
	}
}

// TestDeframerLargeMessageOneAllocation feeds a 16 MiB message 16 KiB at a
// time and checks that its body is allocated once, at its final size.
func TestDeframerLargeMessageOneAllocation(t *testing.T) {
	const size = 16 << 20
	in := wire.AppendMsgHeader(nil, false, size)
	in = append(in, bytes.Repeat([]byte{7}, size)...)
	for _, maxSize := range []int{size, 64 << 20} {
		var got []byte
		emit := func(m wire.Message) { got = m.Data }
		d := &wire.Deframer{MaxSize: maxSize}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		allocs := testing.AllocsPerRun(1, func() {
			for p := in; len(p) > 0; {
				n := min(16<<10, len(p))
				if err := d.Feed(p[:n], emit); err != nil {
					t.Fatal(err)
				}
				p = p[n:]
			}
		})
		runtime.ReadMemStats(&after)
		if allocs > 1 {
			t.Errorf("MaxSize %d: %v allocations, want 1", maxSize, allocs)
		}
		// AllocsPerRun runs the function twice (one warm-up).
		if b := after.TotalAlloc - before.TotalAlloc; b > 2*(size+4096) {
			t.Errorf("MaxSize %d: allocated %d bytes for two %d-byte messages", maxSize, b, size)
		}
		if len(got) != size || cap(got) != size || got[size-1] != 7 {
			t.Errorf("MaxSize %d: got len %d cap %d", maxSize, len(got), cap(got))
		}
	}
}

// TestDeframerUnlimitedGrows checks that without a limit a large body is
// not allocated at once from the prefix alone, yet ends at its exact size.
func TestDeframerUnlimitedGrows(t *testing.T) {
	const size = 16 << 20
	in := wire.AppendMsgHeader(nil, false, size)
	in = append(in, bytes.Repeat([]byte{7}, size)...)
	var got []byte
	d := &wire.Deframer{MaxSize: -1}
	allocs := testing.AllocsPerRun(1, func() {
		for p := in; len(p) > 0; {
			n := min(16<<10, len(p))
			if err := d.Feed(p[:n], func(m wire.Message) { got = m.Data }); err != nil {
				t.Fatal(err)
			}
			p = p[n:]
		}
	})
	if allocs > 4 {
		t.Errorf("%v allocations, want at most 4 (4, 8, 16 MiB)", allocs)
	}
	if len(got) != size || cap(got) != size || !bytes.Equal(got, in[5:]) {
		t.Errorf("got len %d cap %d", len(got), cap(got))
	}
}

// TestDeframerSmallMessagesOneAllocationEach checks that messages wholly
// inside one Feed cost one allocation each.
func TestDeframerSmallMessagesOneAllocationEach(t *testing.T) {
	var msgs [][]byte
	for i := range 100 {
		msgs = append(msgs, bytes.Repeat([]byte{byte(i)}, i+1))
	}
	in := frame(msgs...)
	n := 0
	emit := func(wire.Message) { n++ }
	d := &wire.Deframer{MaxSize: 4 << 20}
	allocs := testing.AllocsPerRun(10, func() {
		if err := d.Feed(in, emit); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 100 {
		t.Errorf("%v allocations for 100 messages, want 100", allocs)
	}
	if n != 11*100 {
		t.Errorf("emitted %d messages, want %d", n, 11*100)
	}
}

func BenchmarkDeframerFeed(b *testing.B) {
	msg := bytes.Repeat([]byte("x"), 1024)
	const perFeed = 16
	var in []byte
	for range perFeed {
		in = wire.AppendMsgHeader(in, false, len(msg))
		in = append(in, msg...)
	}
	// Split into 16 KiB DATA-frame-sized chunks, as a transport sees them.
	var chunks [][]byte
	for p := in; len(p) > 0; {
		n := min(16<<10, len(p))
		chunks = append(chunks, p[:n])
		p = p[n:]
	}
	d := &wire.Deframer{MaxSize: 4 << 20}
	emit := func(wire.Message) {}
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		for _, c := range chunks {
			if err := d.Feed(c, emit); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*perFeed), "ns/msg")
}

func BenchmarkAppendMsgHeader(b *testing.B) {
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	for b.Loop() {
		buf = wire.AppendMsgHeader(buf[:0], true, 1024)
	}
	if len(buf) != wire.MsgHeaderLen {
		b.Fatal(len(buf))
	}
}
