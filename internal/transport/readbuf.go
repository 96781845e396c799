package transport

import (
	"bufio"
	"io"
	"net"
	"runtime"
	"sync"
	"syscall"

	"github.com/grpcactor/grpcactor/internal/bufpool"
)

// readBufPool holds read buffers. A connection's reader takes one only
// when the socket has data, and gives it back once the data is consumed,
// so an idle connection holds no read buffer (grpc-go reads the same way).
var readBufPool = sync.Pool{New: func() any { b := make([]byte, defaultBufferSize); return &b }}

// putReadBuf gives a read buffer back to readBufPool (poisoned first in
// builds that poison recycled buffers: bufpool.Poisoned).
func putReadBuf(b *[]byte) {
	if bufpool.Poisoned {
		bufpool.Poison(*b)
	}
	readBufPool.Put(b)
}

// newConnReader returns the reader the frame reader reads from: a
// pool-backed one for sockets the runtime can poll, a plain bufio.Reader
// otherwise (net.Pipe in tests, TLS connections).
func newConnReader(c net.Conn, size int) io.Reader {
	if sc, ok := c.(syscall.Conn); ok && size == defaultBufferSize {
		if raw, err := sc.SyscallConn(); err == nil && rawReadSupported {
			return newPooledReader(raw)
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

	// The read callback and its results, kept here so that no closure is
	// allocated per read.
	readFn func(fd uintptr) bool
	dst    []byte // nil: read into a pooled buffer
	n      int
	rerr   error

	// yieldNext is set by the frame reader when it has just ended a
	// stream or handed a streaming call a message, which readied the
	// goroutine waiting for it (a unary caller, a RecvMsg). The next read
	// from the socket then yields the processor first: the readied
	// goroutine, next in line on this processor, runs at once instead of
	// after a read that finds nothing and the wait for readability, and
	// what arrives meanwhile comes in one read.
	yieldNext bool
}

func newPooledReader(raw syscall.RawConn) *pooledReader {
	p := &pooledReader{raw: raw}
	p.readFn = p.readFd
	return p
}

func (p *pooledReader) Read(dst []byte) (int, error) {
	if p.buf == nil {
		if p.yieldNext {
			p.yieldNext = false
			runtime.Gosched()
		}
		if len(dst) >= defaultBufferSize {
			p.dst = dst
			n, err := p.read()
			p.dst = nil
			return n, err
		}
		n, err := p.read()
		if err != nil {
			return 0, err
		}
		p.r, p.w = 0, n
	}
	n := copy(dst, (*p.buf)[p.r:p.w])
	p.r += n
	if p.r == p.w {
		putReadBuf(p.buf)
		p.buf = nil
	}
	return n, nil
}

// read runs one read: into p.dst if set, else into a pooled buffer that
// becomes p.buf.
func (p *pooledReader) read() (int, error) {
	p.n, p.rerr = 0, nil
	err := p.raw.Read(p.readFn)
	switch {
	case err != nil:
		return 0, err
	case p.rerr != nil:
		return 0, p.rerr
	case p.n <= 0:
		return 0, io.EOF
	}
	return p.n, nil
}

// readFd is the RawConn.Read callback: false means "wait until the socket
// is readable and call again", with no buffer held meanwhile.
func (p *pooledReader) readFd(fd uintptr) bool {
	if p.dst != nil {
		p.n, p.rerr = rawRead(fd, p.dst)
		return !(p.rerr == syscall.EAGAIN || p.rerr == syscall.EINTR)
	}
	b := readBufPool.Get().(*[]byte)
	p.n, p.rerr = rawRead(fd, *b)
	if p.rerr == syscall.EAGAIN || p.rerr == syscall.EINTR {
		putReadBuf(b)
		return false
	}
	if p.rerr != nil || p.n <= 0 {
		putReadBuf(b)
		return true
	}
	p.buf = b
	return true
}
