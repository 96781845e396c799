package transport

import (
	"io"
	"net"
	"sync"

	"github.com/grpcactor/grpcactor/internal/bufpool"
)

// writeBufPool holds the write buffers of idle connections: a connection
// keeps one only while it has frames to flush, so an idle connection holds
// none (grpc-go's shared write buffer does the same).
var writeBufPool = sync.Pool{New: func() any { b := make([]byte, 0, defaultBufferSize); return &b }}

const (
	// refMin is the smallest payload WriteRef leaves in place: below it,
	// a copy costs less than an iovec entry.
	refMin = 4 << 10
	// maxRefBytes bounds the payload bytes waiting by reference: past it
	// the writer flushes (one writev of at most this much, plus headers).
	maxRefBytes = 1 << 20
)

// bufWriter is the connection actor's write buffer. Frames accumulate in a
// pooled buffer and go out in one write on Flush; a payload larger than
// the buffer goes straight to the socket after what is buffered. On a
// socket that has writev (TCP, Unix), WriteRef leaves large payloads in
// place: Flush writes the buffered bytes and those payloads, in order, with
// one writev (net.Buffers), so a large message's DATA frames leave straight
// from its encoded buffer, without a copy and in few system calls.
type bufWriter struct {
	w      io.Writer
	size   int
	buf    *[]byte
	writev bool // w is a socket whose net.Buffers writes use writev

	// refs are the payloads waiting by reference, each after the buffer's
	// bytes up to its end (and after the previous ref).
	refs     []bufRef
	refBytes int
	iov      net.Buffers // reused by flushBuf
}

type bufRef struct {
	end int // len(*buf) when the payload was queued
	p   []byte
}

func newBufWriter(w io.Writer, size int) *bufWriter {
	b := &bufWriter{w: w, size: size}
	switch w.(type) {
	case *net.TCPConn, *net.UnixConn:
		b.writev = true
	}
	return b
}

// Buffered returns the number of bytes waiting to be flushed.
func (b *bufWriter) Buffered() int {
	n := b.refBytes
	if b.buf != nil {
		n += len(*b.buf)
	}
	return n
}

func (b *bufWriter) Write(p []byte) (int, error) {
	if b.buf == nil {
		if len(p) >= b.size && len(b.refs) == 0 {
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

// WriteRef writes p like Write, but a large p on a writev socket is not
// copied: it is written by the next flush, so it must not change until
// then. It reports whether p was left in place (false: copied or written
// already, p is free again).
func (b *bufWriter) WriteRef(p []byte) (ref bool, err error) {
	if !b.writev || len(p) < refMin {
		_, err := b.Write(p)
		return false, err
	}
	if b.refBytes+len(p) > maxRefBytes {
		if err := b.flushBuf(); err != nil {
			return false, err
		}
	}
	if b.buf == nil {
		b.buf = writeBufPool.Get().(*[]byte)
	}
	b.refs = append(b.refs, bufRef{end: len(*b.buf), p: p})
	b.refBytes += len(p)
	return true, nil
}

// WriteString writes s.
func (b *bufWriter) WriteString(s string) (int, error) { return b.Write([]byte(s)) }

// flushBuf writes what is buffered and the payloads waiting by reference.
func (b *bufWriter) flushBuf() error {
	if len(b.refs) == 0 {
		if b.buf == nil || len(*b.buf) == 0 {
			return nil
		}
		_, err := b.w.Write(*b.buf)
		*b.buf = (*b.buf)[:0]
		return err
	}
	buf := *b.buf
	iov := b.iov[:0]
	from := 0
	for i, r := range b.refs {
		if r.end > from {
			iov = append(iov, buf[from:r.end])
			from = r.end
		}
		iov = append(iov, r.p)
		b.refs[i] = bufRef{}
	}
	if len(buf) > from {
		iov = append(iov, buf[from:])
	}
	all := iov // WriteTo consumes its receiver; all keeps the backing array
	_, err := iov.WriteTo(b.w)
	clear(all)
	b.iov = all[:0]
	b.refs = b.refs[:0]
	b.refBytes = 0
	*b.buf = buf[:0]
	return err
}

// Flush writes what is buffered and gives the buffer back to the pool.
func (b *bufWriter) Flush() error {
	err := b.flushBuf()
	if b.buf != nil {
		if cap(*b.buf) <= 4*defaultBufferSize {
			if bufpool.Poisoned {
				bufpool.Poison(*b.buf)
			}
			writeBufPool.Put(b.buf)
		}
		b.buf = nil
	}
	return err
}
