package transport

import (
	"bufio"
	"io"
	"net"
	"sync"
	"syscall"
)

// readBufPool holds read buffers. A connection's reader takes one only
// when the socket has data, and gives it back once the data is consumed,
// so an idle connection holds no read buffer (grpc-go reads the same way).
var readBufPool = sync.Pool{New: func() any { b := make([]byte, DefaultBufferSize); return &b }}

// newConnReader returns the reader the frame reader reads from: a
// pool-backed one for sockets the runtime can poll, a plain bufio.Reader
// otherwise (net.Pipe in tests, TLS connections).
func newConnReader(c net.Conn, size int) io.Reader {
	if sc, ok := c.(syscall.Conn); ok && size == DefaultBufferSize {
		if raw, err := sc.SyscallConn(); err == nil && rawReadSupported {
			return &pooledReader{raw: raw}
		}
	}
	return bufio.NewReaderSize(c, size)
}

// pooledReader reads a socket through its syscall.RawConn: it waits for
// readability holding no buffer, then reads into a pooled one.
type pooledReader struct {
	raw  syscall.RawConn
	buf  *[]byte
	r, w int
}

func (p *pooledReader) Read(dst []byte) (int, error) {
	if p.buf == nil {
		if len(dst) >= DefaultBufferSize {
			return p.readInto(dst)
		}
		if err := p.fill(); err != nil {
			return 0, err
		}
	}
	n := copy(dst, (*p.buf)[p.r:p.w])
	p.r += n
	if p.r == p.w {
		readBufPool.Put(p.buf)
		p.buf = nil
	}
	return n, nil
}

// fill reads what the socket has into a pooled buffer.
func (p *pooledReader) fill() error {
	var n int
	var rerr error
	err := p.raw.Read(func(fd uintptr) bool {
		b := readBufPool.Get().(*[]byte)
		n, rerr = rawRead(fd, *b)
		if rerr == syscall.EAGAIN || rerr == syscall.EINTR {
			readBufPool.Put(b)
			return false // wait for readability, holding no buffer
		}
		if rerr != nil || n <= 0 {
			readBufPool.Put(b)
			return true
		}
		p.buf = b
		return true
	})
	switch {
	case err != nil:
		return err
	case rerr != nil:
		return rerr
	case n <= 0:
		return io.EOF
	}
	p.r, p.w = 0, n
	return nil
}

// readInto reads straight into dst (large reads need no buffer).
func (p *pooledReader) readInto(dst []byte) (int, error) {
	var n int
	var rerr error
	err := p.raw.Read(func(fd uintptr) bool {
		n, rerr = rawRead(fd, dst)
		return !(rerr == syscall.EAGAIN || rerr == syscall.EINTR)
	})
	switch {
	case err != nil:
		return 0, err
	case rerr != nil:
		return 0, rerr
	case n <= 0:
		return 0, io.EOF
	}
	return n, nil
}
