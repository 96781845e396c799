package transport

import (
	"io"
	"sync"
)

// writeBufPool holds the write buffers of idle connections: a connection
// keeps one only while it has frames to flush, so an idle connection holds
// none (grpc-go's shared write buffer does the same).
var writeBufPool = sync.Pool{New: func() any { b := make([]byte, 0, DefaultBufferSize); return &b }}

// bufWriter is the connection actor's write buffer. Frames accumulate in a
// pooled buffer and go out in one write on Flush; a payload larger than
// the buffer goes straight to the socket after what is buffered.
type bufWriter struct {
	w    io.Writer
	size int
	buf  *[]byte
}

func newBufWriter(w io.Writer, size int) *bufWriter { return &bufWriter{w: w, size: size} }

// Buffered returns the number of bytes waiting to be flushed.
func (b *bufWriter) Buffered() int {
	if b.buf == nil {
		return 0
	}
	return len(*b.buf)
}

func (b *bufWriter) Write(p []byte) (int, error) {
	if b.buf == nil {
		if len(p) >= b.size {
			return b.w.Write(p)
		}
		b.buf = writeBufPool.Get().(*[]byte)
	}
	if len(*b.buf)+len(p) > b.size {
		if err := b.flushBuf(); err != nil {
			return 0, err
		}
		if len(p) >= b.size {
			return b.w.Write(p)
		}
	}
	*b.buf = append(*b.buf, p...)
	return len(p), nil
}

// WriteString writes s.
func (b *bufWriter) WriteString(s string) (int, error) { return b.Write([]byte(s)) }

func (b *bufWriter) flushBuf() error {
	if b.buf == nil || len(*b.buf) == 0 {
		return nil
	}
	_, err := b.w.Write(*b.buf)
	*b.buf = (*b.buf)[:0]
	return err
}

// Flush writes what is buffered and gives the buffer back to the pool.
func (b *bufWriter) Flush() error {
	err := b.flushBuf()
	if b.buf != nil {
		if cap(*b.buf) <= 4*DefaultBufferSize {
			writeBufPool.Put(b.buf)
		}
		b.buf = nil
	}
	return err
}
