package compression

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"io"
	"sync"
)

// Gzip is the "gzip" encoding (RFC 1952, compress/gzip at the default
// level). Its writers and readers are pooled, so compressing a message
// allocates little beyond the output.
var Gzip Compressor = &gzipCompressor{}

type gzipCompressor struct {
	writers sync.Pool // *gzipWriter
	readers sync.Pool // *gzipReader
}

// gzipWriter is a pooled gzip.Writer writing into an appendable slice.
type gzipWriter struct {
	zw  *gzip.Writer
	out appendWriter
}

// appendWriter is an io.Writer that appends to a byte slice.
type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

// gzipReader is a pooled gzip.Reader with the bytes.Reader it reads from.
type gzipReader struct {
	zr  gzip.Reader
	src bytes.Reader
}

func (*gzipCompressor) Name() string { return "gzip" }

// Compress appends the gzip form of src to dst.
func (g *gzipCompressor) Compress(dst, src []byte) ([]byte, error) {
	w, _ := g.writers.Get().(*gzipWriter)
	if w == nil {
		w = &gzipWriter{}
		w.zw = gzip.NewWriter(&w.out)
	}
	w.out.b = dst
	w.zw.Reset(&w.out)
	_, err := w.zw.Write(src)
	if err == nil {
		err = w.zw.Close()
	}
	out := w.out.b
	w.out.b = nil
	g.writers.Put(w)
	if err != nil {
		return dst, fmt.Errorf("gzip compress: %w", err)
	}
	return out, nil
}

// maxRatio bounds deflate's expansion (about 1032:1); with the size the
// gzip trailer claims, it sizes the output buffer without trusting either.
const maxRatio = 1032

// Decompress returns the decompressed form of src. It reads at most
// maxSize+1 bytes (maxSize < 0: no limit) and fails with a *SizeError if
// there are more, so a small zip bomb cannot make it allocate much more
// than maxSize.
func (g *gzipCompressor) Decompress(src []byte, maxSize int) ([]byte, error) {
	r, _ := g.readers.Get().(*gzipReader)
	if r == nil {
		r = &gzipReader{}
	}
	defer func() {
		r.src.Reset(nil) // do not keep src alive in the pool
		g.readers.Put(r)
	}()
	r.src.Reset(src)
	if err := r.zr.Reset(&r.src); err != nil {
		return nil, fmt.Errorf("gzip decompress: %w", err)
	}
	out := make([]byte, 0, sizeHint(src, maxSize))
	for {
		if len(out) == cap(out) {
			// Full: probe for one more byte before growing, so an exact
			// size hint costs no second allocation.
			var one [1]byte
			n, err := io.ReadFull(&r.zr, one[:])
			if n == 0 {
				if err == io.EOF {
					return out, nil
				}
				return nil, fmt.Errorf("gzip decompress: %w", err)
			}
			if maxSize >= 0 && len(out) >= maxSize {
				return nil, &SizeError{Max: maxSize}
			}
			newCap := max(2*cap(out), 512)
			if maxSize >= 0 {
				newCap = min(newCap, maxSize)
			}
			out = append(make([]byte, 0, newCap), out...)
			out = append(out, one[0])
			continue
		}
		n, err := r.zr.Read(out[len(out):cap(out)])
		out = out[:len(out)+n]
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("gzip decompress: %w", err)
		}
	}
}

// sizeHint guesses the decompressed size from the gzip trailer (the size
// of the last member, modulo 2^32), bounded by deflate's largest ratio and
// by maxSize.
func sizeHint(src []byte, maxSize int) int {
	hint := 512
	if len(src) >= 18 { // smallest gzip member: 10-byte header, 8-byte trailer
		hint = int(binary.LittleEndian.Uint32(src[len(src)-4:]))
	}
	hint = min(hint, len(src)*maxRatio)
	if maxSize >= 0 {
		hint = min(hint, maxSize)
	}
	return max(hint, 0)
}
