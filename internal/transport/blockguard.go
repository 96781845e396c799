package transport

import (
	"encoding/binary"
	"fmt"
	"io"

	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/status"
	"golang.org/x/net/http2"
)

// blockGuard sits between the socket and the reader's Framer and watches
// the frame headers go by, to end a header block that never ends. The
// Framer reads a whole header block (HEADERS or PUSH_PROMISE and its
// CONTINUATION frames) before it returns, and bounds only the decoded
// size, so a server sending empty CONTINUATION frames for ever would hold
// the reader, and every call on the connection, with no error. The guard
// fails the read once a block has more frames than a header list of the
// client's limit could need, a connection error (RFC 9113 §6.10 gives no
// bound; this is the client's).
type blockGuard struct {
	r         io.Reader
	addr      string
	maxFrames int

	hdr     [9]byte
	nhdr    int    // bytes of the current frame header seen
	skip    uint32 // payload bytes of the current frame still to pass
	inBlock bool
	stream  uint32 // the block's stream
	frames  int    // frames of the current block
	err     error  // sticky: io.ReadFull drops an error that comes with the bytes it wanted
}

// newBlockGuard bounds header blocks to what maxHeaderList bytes of header
// list could take in frames of HTTP/2's minimum size, twice over, plus a
// margin: a compliant server fills its CONTINUATION frames.
func newBlockGuard(r io.Reader, addr string, maxHeaderList uint32) *blockGuard {
	return &blockGuard{r: r, addr: addr, maxFrames: int(maxHeaderList/defaultMaxFrame)*2 + 16}
}

func (g *blockGuard) Read(p []byte) (int, error) {
	if g.err != nil {
		return 0, g.err
	}
	n, err := g.r.Read(p)
	b := p[:n]
	for len(b) > 0 {
		if g.skip > 0 {
			k := uint32(len(b))
			if k > g.skip {
				k = g.skip
			}
			b = b[k:]
			g.skip -= k
			continue
		}
		k := copy(g.hdr[g.nhdr:], b)
		g.nhdr += k
		b = b[k:]
		if g.nhdr < len(g.hdr) {
			break
		}
		g.nhdr = 0
		if g.err = g.frame(); g.err != nil {
			return n, g.err
		}
	}
	return n, err
}

// frame looks at one frame header.
func (g *blockGuard) frame() error {
	length := uint32(g.hdr[0])<<16 | uint32(g.hdr[1])<<8 | uint32(g.hdr[2])
	typ, flags := http2.FrameType(g.hdr[3]), http2.Flags(g.hdr[4])
	id := binary.BigEndian.Uint32(g.hdr[5:]) & (1<<31 - 1)
	g.skip = length
	switch {
	case typ == http2.FrameHeaders || typ == http2.FramePushPromise:
		g.inBlock, g.stream, g.frames = !flags.Has(http2.FlagHeadersEndHeaders), id, 1
	case typ == http2.FrameContinuation && g.inBlock:
		g.frames++
		if flags.Has(http2.FlagContinuationEndHeaders) {
			g.inBlock = false
		} else if g.frames > g.maxFrames {
			return &protocolError{code: http2.ErrCodeProtocol, st: status.New(codes.Internal, fmt.Sprintf(
				"connection to %s: the server's header block for stream %d did not end after %d frames (a CONTINUATION flood)", g.addr, g.stream, g.frames))}
		}
	}
	return nil
}
