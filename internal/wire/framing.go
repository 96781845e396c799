package wire

import (
	"encoding/binary"
	"fmt"
	"math"
)

// MsgHeaderLen is the length of the prefix before every gRPC message: a
// 1-byte compressed flag and a 4-byte big-endian length.
const MsgHeaderLen = 5

// AppendMsgHeader appends the 5-byte prefix of a message of n bytes to dst:
// flag 1 if compressed, else 0, then n as a big-endian uint32. It panics if
// n is negative or above math.MaxUint32, which no caller may send.
func AppendMsgHeader(dst []byte, compressed bool, n int) []byte {
	if n < 0 || uint64(n) > math.MaxUint32 {
		panic(fmt.Sprintf("wire: message length %d out of range", n))
	}
	var flag byte
	if compressed {
		flag = 1
	}
	return append(dst, flag, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
}

// Message is one gRPC message as received: its compressed flag and body.
type Message struct {
	// Compressed is true when the flag byte was 1: Data is compressed with
	// the stream's grpc-encoding.
	Compressed bool
	// Data is the message body. It belongs to the receiver: the Deframer
	// keeps no reference to it.
	Data []byte
}

// SizeError reports a message whose length prefix exceeds the receive
// limit. The call layer turns it into RESOURCE_EXHAUSTED.
type SizeError struct {
	Size int // the length the prefix announced
	Max  int // the limit, Deframer.MaxSize
}

// Error returns "received message larger than max (Size vs. Max)", grpc-go's
// wording.
func (e *SizeError) Error() string {
	return fmt.Sprintf("received message larger than max (%d vs. %d)", e.Size, e.Max)
}

// maxUnlimitedPrealloc bounds the first allocation for a message body when
// MaxSize is unlimited, so that a length prefix alone cannot make the
// client allocate 4 GiB; larger bodies grow geometrically as bytes arrive.
const maxUnlimitedPrealloc = 4 << 20

// Deframer splits a stream of DATA payloads into gRPC messages. Set MaxSize
// before the first Feed: -1 for no limit (a zero MaxSize accepts only empty
// messages). A Deframer belongs to one stream and is not safe for
// concurrent use.
type Deframer struct {
	// MaxSize is the largest message body accepted, in bytes; a negative
	// value means no limit. A larger length prefix makes Feed fail with a
	// *SizeError before any of the body is buffered.
	MaxSize int
	// Alloc, if set, returns the buffer for a message body of n bytes (for
	// example from a pool); the Deframer overwrites all of it. Default
	// make.
	Alloc func(n int) []byte

	// hdr, nhdr and compressed share a word (a Deframer is part of every
	// stream's state).
	hdr        [MsgHeaderLen]byte
	nhdr       uint8  // bytes of hdr filled; MsgHeaderLen while reading a body
	compressed bool   // flag of the body being read
	size       int    // announced length of the body being read
	body       []byte // the body being read, len = bytes received so far
	err        error  // sticky: set once Feed fails
}

// Feed consumes p, which it does not retain, and calls emit for each
// message completed by it, in order. It checks a message's length against
// MaxSize as soon as its 5-byte prefix is complete, before buffering any of
// its body, and returns a *SizeError if it is too large; a flag byte other
// than 0 or 1 is an error too. After an error the Deframer is unusable and
// every later Feed returns the same error. emit must not call Feed.
func (d *Deframer) Feed(p []byte, emit func(Message)) error {
	if d.err != nil {
		return d.err
	}
	for len(p) > 0 {
		if d.nhdr < MsgHeaderLen {
			var hdr []byte
			if d.nhdr == 0 && len(p) >= MsgHeaderLen {
				hdr, p = p[:MsgHeaderLen], p[MsgHeaderLen:]
			} else {
				n := copy(d.hdr[d.nhdr:], p)
				d.nhdr += uint8(n)
				p = p[n:]
				if d.nhdr < MsgHeaderLen {
					return nil
				}
				hdr = d.hdr[:]
			}
			if err := d.startMessage(hdr); err != nil {
				d.err = err
				return err
			}
			if d.size == 0 {
				d.finish(emit)
				continue
			}
			if len(p) >= d.size {
				// The whole body is here: one allocation, no buffering.
				data := d.alloc(d.size)
				copy(data, p)
				p = p[d.size:]
				d.nhdr = 0
				emit(Message{Compressed: d.compressed, Data: data})
				continue
			}
			if d.MaxSize >= 0 {
				d.body = d.alloc(d.size)[:0]
			} else {
				d.body = make([]byte, 0, d.initialCap())
			}
		}
		n := min(d.size-len(d.body), len(p))
		d.grow(n)
		d.body = append(d.body, p[:n]...)
		p = p[n:]
		if len(d.body) == d.size {
			d.finish(emit)
		}
	}
	return nil
}

func (d *Deframer) alloc(n int) []byte {
	if d.Alloc != nil {
		return d.Alloc(n)
	}
	return make([]byte, n)
}

// startMessage validates a complete prefix and records what it announces.
func (d *Deframer) startMessage(hdr []byte) error {
	switch hdr[0] {
	case 0:
		d.compressed = false
	case 1:
		d.compressed = true
	default:
		return fmt.Errorf("invalid gRPC message compressed flag %d (want 0 or 1)", hdr[0])
	}
	n := binary.BigEndian.Uint32(hdr[1:])
	if uint64(n) > math.MaxInt || (d.MaxSize >= 0 && uint64(n) > uint64(d.MaxSize)) {
		return &SizeError{Size: int(min(uint64(n), math.MaxInt)), Max: d.MaxSize}
	}
	d.size = int(n)
	d.nhdr = MsgHeaderLen
	d.body = nil
	return nil
}

// initialCap is the capacity allocated for a body that spans several Feeds:
// all of it when a limit bounds it, else at most maxUnlimitedPrealloc.
func (d *Deframer) initialCap() int {
	if d.MaxSize >= 0 {
		return d.size
	}
	return min(d.size, maxUnlimitedPrealloc)
}

// grow makes room for n more body bytes, doubling the capacity but never
// beyond the announced size. Only unlimited Deframers ever need it.
func (d *Deframer) grow(n int) {
	if cap(d.body)-len(d.body) >= n {
		return
	}
	c := min(max(2*cap(d.body), len(d.body)+n), d.size)
	nb := make([]byte, len(d.body), c)
	copy(nb, d.body)
	d.body = nb
}

// finish emits the message being read and resets for the next prefix.
func (d *Deframer) finish(emit func(Message)) {
	data := d.body
	if data == nil {
		data = []byte{}
	}
	d.body = nil
	d.nhdr = 0
	d.size = 0
	emit(Message{Compressed: d.compressed, Data: data})
}

// Partial reports whether the Deframer holds part of a message: some bytes
// of a prefix, or a prefix and part of its body. A stream that ends while
// Partial is true was cut in the middle of a message.
func (d *Deframer) Partial() bool { return d.nhdr > 0 }
