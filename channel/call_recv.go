package channel

import (
	"errors"
	"io"

	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/compression"
	"github.com/grpcactor/grpcactor/internal/bufpool"
	"github.com/grpcactor/grpcactor/internal/transport"
	"github.com/grpcactor/grpcactor/internal/wire"
	"github.com/grpcactor/grpcactor/status"
)

// The receive side of a call: what follows the end of an attempt is
// decided in call_retry.go (attemptEnded), what a received message
// becomes in received; recvMsg (blocking) and tryRecv (a started call's
// pump, async_call.go) only wire them to their way of waiting.

// recvMsg returns the next response payload, decompressed and checked
// against the receive limit. At the end it returns io.EOF for OK or the
// status error, and finishes the call.
func (cs *callState) recvMsg() ([]byte, error) {
	cs.ctxEnded()
	if err := cs.awaitStreamingHedge(); err != nil {
		return nil, cs.finish(failStatus(err))
	}
	for {
		s := cs.cur()
		m, err := s.RecvMsg()
		if err == nil {
			return cs.received(s, m)
		}
		switch next, delay := cs.attemptEnded(s, err); next {
		case retryTransparent:
			serr := cs.restart(s)
			if serr == nil {
				continue
			}
			// Not retried after all (another goroutine's view of the
			// attempt won): the policy may still retry.
			err = serr
			if next, delay = cs.policyOrEnd(s, toStatus(err)); next == retryPolicy {
				if err = cs.retryAfter(s, delay); err == nil {
					continue
				}
			}
		case retryPolicy:
			if err = cs.retryAfter(s, delay); err == nil {
				continue
			}
		}
		// The call's final status: a Close or cancel that finished the
		// call first (while the stream ended in its own way) wins.
		st := cs.finish(toStatus(err))
		if st == nil {
			return nil, io.EOF
		}
		return nil, st
	}
}

// received is what becomes of a message the attempt on s received: the
// call commits (a response arrived, gRFC A6), the attempt's stats count
// it, and its payload is decompressed and checked against the receive
// limit (an error fails the call).
func (cs *callState) received(s *transport.Stream, m wire.Message) ([]byte, error) {
	if !cs.recvSeen {
		cs.mu.Lock()
		cs.recvSeen = true
		cs.commitLocked()
		cs.mu.Unlock()
	}
	if a := cs.attemptStats(); a != nil {
		a.InMessage(len(m.Data))
	}
	if !m.Compressed {
		return m.Data, nil
	}
	data, st := decompress(m.Data, s.RecvCompress(), cs.maxRecv())
	if st != nil {
		return nil, cs.fail(st)
	}
	return data, nil
}

// decompress returns a compressed message's payload, decompressed with
// enc (the response's grpc-encoding) and checked against maxRecv, or the
// status that fails the call.
func decompress(data []byte, enc string, maxRecv int) ([]byte, *status.Error) {
	if enc == "" || enc == "identity" {
		return nil, status.New(codes.Internal, "server sent a compressed message without a grpc-encoding")
	}
	c, ok := compression.Get(enc)
	if !ok {
		return nil, status.Errorf(codes.Internal, "server sent a message compressed with unsupported grpc-encoding %q", enc)
	}
	out, err := c.Decompress(data, maxRecv)
	if err != nil {
		var se *compression.SizeError
		if errors.As(err, &se) {
			// Decompress stops once the output passes the limit, so the
			// size is known only to be over it.
			return nil, status.Errorf(codes.ResourceExhausted, "grpc: received message larger than max after decompression (at least %d vs. %d bytes; %d bytes compressed with %s)", maxRecv+1, maxRecv, len(data), enc)
		}
		return nil, status.Errorf(codes.Internal, "decompressing response with %s: %v", enc, err)
	}
	if c == compression.Gzip {
		// gzip's output never shares the input's memory; a custom
		// decompressor's might, so only this one is recycled.
		bufpool.Put(data)
	}
	return out, nil
}
