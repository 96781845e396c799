package compression_test

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/grpcactor/grpcactor/compression"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestGzipRoundTrip(t *testing.T) {
	inputs := [][]byte{
		nil,
		{},
		[]byte("a"),
		[]byte(strings.Repeat("gRPC over HTTP/2 ", 10000)),
		bytes.Repeat([]byte{0}, 1<<20),
	}
	for _, in := range inputs {
		prefix := []byte("prefix")
		out, err := compression.Gzip.Compress(prefix, in)
		if err != nil {
			t.Fatalf("Compress(%d bytes): %v", len(in), err)
		}
		if !bytes.HasPrefix(out, []byte("prefix")) {
			t.Fatalf("Compress did not append to dst")
		}
		got, err := compression.Gzip.Decompress(out[len("prefix"):], -1)
		if err != nil || !bytes.Equal(got, in) {
			t.Fatalf("Decompress(Compress(%d bytes)) = %d bytes, %v", len(in), len(got), err)
		}
		// Exactly at the limit is fine.
		got, err = compression.Gzip.Decompress(out[len("prefix"):], len(in))
		if err != nil || !bytes.Equal(got, in) {
			t.Fatalf("Decompress with max %d: %d bytes, %v", len(in), len(got), err)
		}
		// The standard library reads it too.
		zr, err := gzip.NewReader(bytes.NewReader(out[len("prefix"):]))
		if err != nil {
			t.Fatal(err)
		}
		var std bytes.Buffer
		if _, err := std.ReadFrom(zr); err != nil || !bytes.Equal(std.Bytes(), in) {
			t.Fatalf("compress/gzip reads %d bytes, %v", std.Len(), err)
		}
	}
}

func TestGzipDecompressStandardStream(t *testing.T) {
	// A stream from compress/gzip with a header name and two members.
	var buf bytes.Buffer
	for _, part := range []string{"first member, ", "second member"} {
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		zw.Name = "x.txt"
		zw.Write([]byte(part))
		zw.Close()
	}
	got, err := compression.Gzip.Decompress(buf.Bytes(), 100)
	if err != nil || string(got) != "first member, second member" {
		t.Fatalf("Decompress = %q, %v", got, err)
	}
}

// bytesPerCall returns the bytes f allocates per call, averaged over a few
// calls after a warm-up one (which fills the pools).
func bytesPerCall(f func()) uint64 {
	const runs = 5
	f()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range runs {
		f()
	}
	runtime.ReadMemStats(&after)
	return (after.TotalAlloc - before.TotalAlloc) / runs
}

func TestGzipDecompressLimit(t *testing.T) {
	const max = 1 << 20
	bomb, err := compression.Gzip.Compress(nil, make([]byte, 10<<20))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("10 MiB of zeros compress to %d bytes", len(bomb))
	var got []byte
	allocs := testing.AllocsPerRun(5, func() {
		got, err = compression.Gzip.Decompress(bomb, max)
	})
	var se *compression.SizeError
	if !errors.As(err, &se) || se.Max != max {
		t.Fatalf("Decompress error = %v, want *SizeError{Max: %d}", err, max)
	}
	if got != nil {
		t.Errorf("Decompress returned %d bytes with the error", len(got))
	}
	if want := "decompressed message larger than max (1048576)"; err.Error() != want {
		t.Errorf("Error() = %q, want %q", err, want)
	}
	t.Logf("%v allocations per call", allocs)
	// Measure the bytes: at most about max, not 10 MiB.
	if per := bytesPerCall(func() { compression.Gzip.Decompress(bomb, max) }); per > max+64<<10 {
		t.Errorf("Decompress allocated %d bytes per call, want about %d", per, max)
	}
	// One byte over the limit fails too; no limit succeeds.
	small, _ := compression.Gzip.Compress(nil, []byte("12345"))
	if _, err := compression.Gzip.Decompress(small, 4); !errors.As(err, &se) {
		t.Errorf("5 bytes with max 4: %v", err)
	}
	if _, err := compression.Gzip.Decompress(small, 0); !errors.As(err, &se) {
		t.Errorf("5 bytes with max 0: %v", err)
	}
	if out, err := compression.Gzip.Decompress(bomb, -1); err != nil || len(out) != 10<<20 {
		t.Errorf("no limit: %d bytes, %v", len(out), err)
	}
}

// TestGzipDecompressLyingTrailer checks that a trailer claiming a huge size
// does not make Decompress allocate it.
func TestGzipDecompressLyingTrailer(t *testing.T) {
	z, _ := compression.Gzip.Compress(nil, []byte("tiny"))
	z[len(z)-1], z[len(z)-2] = 0x7f, 0xff // ISIZE about 2 GiB
	// Trusting the trailer would allocate 2 GiB. What is allocated is the
	// size hint (bounded by the input's length times the maximum ratio)
	// and, whenever sync.Pool has dropped the pooled reader (it drops a
	// quarter of them at random under -race), a fresh gzip reader of
	// about 45 KiB: bound it well above both, far below the lie.
	if per := bytesPerCall(func() { compression.Gzip.Decompress(z, -1) }); per > 1<<20 {
		t.Errorf("allocated %d bytes per call for a 4-byte message", per)
	}
	if _, err := compression.Gzip.Decompress(z, -1); err == nil {
		t.Error("a wrong ISIZE went unnoticed")
	}
}

func TestGzipDecompressCorrupt(t *testing.T) {
	good, _ := compression.Gzip.Compress(nil, []byte(strings.Repeat("hello ", 100)))
	flipped := bytes.Clone(good)
	flipped[len(flipped)/2] ^= 0xff
	badCRC := bytes.Clone(good)
	badCRC[len(badCRC)-8] ^= 0xff
	for name, in := range map[string][]byte{
		"empty":     nil,
		"not gzip":  []byte("plain text, not gzip"),
		"truncated": good[:len(good)-4],
		"header":    good[:10],
		"flipped":   flipped,
		"bad crc":   badCRC,
	} {
		got, err := compression.Gzip.Decompress(in, -1)
		if err == nil {
			t.Errorf("%s: Decompress = %d bytes, want an error", name, len(got))
			continue
		}
		var se *compression.SizeError
		if errors.As(err, &se) || !strings.Contains(err.Error(), "gzip") {
			t.Errorf("%s: error %v", name, err)
		}
	}
}

func TestGzipConcurrent(t *testing.T) {
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 50 {
				in := []byte(fmt.Sprintf("goroutine %d message %d %s", i, j, strings.Repeat("x", j*10)))
				z, err := compression.Gzip.Compress(nil, in)
				if err != nil {
					t.Error(err)
					return
				}
				out, err := compression.Gzip.Decompress(z, 1<<20)
				if err != nil || !bytes.Equal(out, in) {
					t.Errorf("round trip: %q, %v", out, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestIdentity(t *testing.T) {
	c := compression.Identity
	if c.Name() != "identity" {
		t.Errorf("Name = %q", c.Name())
	}
	out, err := c.Compress([]byte("a"), []byte("bc"))
	if err != nil || string(out) != "abc" {
		t.Errorf("Compress = %q, %v", out, err)
	}
	out, err = c.Decompress([]byte("abc"), 3)
	if err != nil || string(out) != "abc" {
		t.Errorf("Decompress = %q, %v", out, err)
	}
	var se *compression.SizeError
	if _, err := c.Decompress([]byte("abcd"), 3); !errors.As(err, &se) || se.Max != 3 {
		t.Errorf("Decompress over max: %v", err)
	}
}

// rot13 is a toy compressor for the registry tests.
type rot13 struct{ name string }

func (r rot13) Name() string { return r.name }
func (rot13) Compress(dst, src []byte) ([]byte, error) {
	for _, c := range src {
		dst = append(dst, c^13)
	}
	return dst, nil
}
func (r rot13) Decompress(src []byte, maxSize int) ([]byte, error) {
	if maxSize >= 0 && len(src) > maxSize {
		return nil, &compression.SizeError{Max: maxSize}
	}
	return r.Compress(nil, src)
}

func TestRegistry(t *testing.T) {
	for _, name := range []string{"gzip", "identity"} {
		c, ok := compression.Get(name)
		if !ok || c.Name() != name {
			t.Errorf("Get(%q) = %v, %v", name, c, ok)
		}
	}
	for _, name := range []string{"", "deflate", "GZIP", "snappy"} {
		if c, ok := compression.Get(name); ok {
			t.Errorf("Get(%q) = %v, want none", name, c)
		}
	}
	// Other tests may have registered more (with -count > 1, this one).
	before := compression.AcceptEncoding()
	if !strings.HasPrefix(before, "gzip") || strings.Contains(before, "identity") {
		t.Errorf("AcceptEncoding() = %q, want gzip first and no identity", before)
	}

	// Concurrent Get while registering.
	var wg sync.WaitGroup
	wg.Go(func() {
		for range 1000 {
			if _, ok := compression.Get("gzip"); !ok {
				t.Error("gzip vanished")
				return
			}
			_ = compression.AcceptEncoding()
		}
	})
	compression.Register(rot13{"x-rot"})
	compression.Register(rot13{"x-rot"}) // again: replaces, no duplicate
	compression.Register(rot13{"x-other"})
	wg.Wait()
	want := "gzip,x-rot,x-other"
	if strings.Contains(before, "x-rot") {
		want = before
	}
	if got := compression.AcceptEncoding(); got != want {
		t.Errorf("AcceptEncoding() = %q, want %q", got, want)
	}
	c, ok := compression.Get("x-rot")
	if !ok {
		t.Fatal("x-rot not registered")
	}
	z, _ := c.Compress(nil, []byte("hi"))
	if out, _ := c.Decompress(z, -1); string(out) != "hi" {
		t.Errorf("x-rot round trip = %q", out)
	}

	for _, bad := range []compression.Compressor{nil, rot13{""}, rot13{"a,b"}, rot13{"a b"}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Register(%v) did not panic", bad)
				}
			}()
			compression.Register(bad)
		}()
	}
}

func BenchmarkGzipCompress(b *testing.B) {
	in := []byte(strings.Repeat("a fairly compressible gRPC message ", 30)) // about 1 KiB
	dst := make([]byte, 0, 2048)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if dst, err = compression.Gzip.Compress(dst[:0], in); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGzipDecompress(b *testing.B) {
	in := []byte(strings.Repeat("a fairly compressible gRPC message ", 30))
	z, _ := compression.Gzip.Compress(nil, in)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := compression.Gzip.Decompress(z, 4<<20); err != nil {
			b.Fatal(err)
		}
	}
}
