package compression_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/grpcactor/grpcactor/compression"
)

// FuzzGzipDecompress checks that Decompress never panics on arbitrary
// input, never returns more than maxSize bytes, and that Compress output
// of the same bytes round-trips.
func FuzzGzipDecompress(f *testing.F) {
	z, _ := compression.Gzip.Compress(nil, []byte("hello hello hello"))
	f.Add(z, int32(100))
	f.Add(z, int32(3))
	f.Add([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff}, int32(-1))
	f.Add([]byte("not gzip"), int32(10))
	f.Fuzz(func(t *testing.T, in []byte, limit int32) {
		maxSize := int(limit) % (1 << 20)
		if limit < 0 {
			maxSize = -1
		}
		if out, err := compression.Gzip.Decompress(in, 1<<20); err == nil && len(out) > 1032*len(in) {
			t.Fatalf("%d bytes from %d: more than deflate can expand", len(out), len(in))
		}
		out, err := compression.Gzip.Decompress(in, maxSize)
		var se *compression.SizeError
		switch {
		case err == nil && maxSize >= 0 && len(out) > maxSize:
			t.Fatalf("%d bytes returned with max %d", len(out), maxSize)
		case errors.As(err, &se) && se.Max != maxSize:
			t.Fatalf("SizeError.Max = %d, want %d", se.Max, maxSize)
		}
		z, err := compression.Gzip.Compress(nil, in)
		if err != nil {
			t.Fatal(err)
		}
		back, err := compression.Gzip.Decompress(z, -1)
		if err != nil || !bytes.Equal(back, in) {
			t.Fatalf("round trip of %d bytes: %d bytes, %v", len(in), len(back), err)
		}
	})
}
