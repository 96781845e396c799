package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"runtime"
	"sync"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/protobuf/proto"
)

// The "limit" row: not a client anyone would use, but a floor under the
// unary rows. One connection to the same server; the HEADERS block and the
// framed request are encoded once; a call appends its two frames to a
// shared buffer and whichever caller finds no write in progress writes
// everything pending in one write (so concurrent calls share writes); one
// reader goroutine reads the frames, keeps the HPACK decoder in step and
// completes a call on its trailers, with no protobuf decode. Whatever a
// real client spends per call beyond this is its own overhead.

// limitMaxSize is the largest request the limit client sends: one DATA
// frame, well inside the server's initial stream window.
const limitMaxSize = 1 << 10

// limitWindow is the receive window the limit client advertises, per stream
// and for the connection; the connection's is topped up as data arrives.
const limitWindow = 1 << 30

type limitConn struct {
	nc net.Conn

	mu      sync.Mutex // guards the fields below
	cond    sync.Cond  // on mu: the send window grew, or the connection failed
	pending []byte     // frames waiting to be written
	spare   []byte
	writing bool
	sendWin int64 // the connection's send window
	nextID  uint32
	err     error

	cmu   sync.Mutex
	calls map[uint32]*limitCall

	done chan struct{} // closed when the reader has exited
}

type limitCall struct {
	done chan error
}

func openLimit(ctx context.Context, addr string, size int) (*session, error) {
	if size > limitMaxSize {
		return nil, fmt.Errorf("limit client: %d-byte requests are larger than its %d-byte limit", size, limitMaxSize)
	}
	msg, err := proto.Marshal(unaryRequest(size))
	if err != nil {
		return nil, err
	}
	framed := make([]byte, 5+len(msg))
	binary.BigEndian.PutUint32(framed[1:], uint32(len(msg)))
	copy(framed[5:], msg)

	var hb []byte
	henc := hpack.NewEncoder(&sliceWriter{&hb})
	for _, f := range [][2]string{
		{":method", "POST"}, {":scheme", "http"}, {":path", testService + "UnaryCall"},
		{":authority", addr}, {"content-type", "application/grpc"}, {"te", "trailers"},
	} {
		// Never indexed: the block does not change the server's
		// dynamic table, so the same bytes serve every call.
		if err := henc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1], Sensitive: true}); err != nil {
			return nil, err
		}
	}

	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	c := &limitConn{nc: nc, sendWin: 65535, nextID: 1, calls: make(map[uint32]*limitCall), done: make(chan struct{})}
	c.cond.L = &c.mu
	var start []byte
	start = append(start, http2.ClientPreface...)
	fr := http2.NewFramer(&sliceWriter{&start}, nil)
	fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: limitWindow}, http2.Setting{ID: http2.SettingEnablePush, Val: 0})
	fr.WriteWindowUpdate(0, limitWindow-65535)
	if _, err := nc.Write(start); err != nil {
		nc.Close()
		return nil, err
	}
	go c.read()

	newWorker := func(ctx context.Context) (worker, error) {
		call := &limitCall{done: make(chan error, 1)}
		return worker{op: func() (time.Duration, error) {
			t0 := time.Now()
			if err := c.call(call, hb, framed); err != nil {
				return 0, err
			}
			return time.Since(t0), nil
		}}, nil
	}
	s := &session{
		newWorker: newWorker,
		close: func() error {
			nc.Close()
			<-c.done
			return nil
		},
	}
	// One call first, as dialReady does for the clients.
	w, _ := newWorker(ctx)
	if _, err := w.op(); err != nil {
		s.close()
		return nil, fmt.Errorf("first call: %w", err)
	}
	return s, nil
}

type sliceWriter struct{ b *[]byte }

func (w *sliceWriter) Write(p []byte) (int, error) {
	*w.b = append(*w.b, p...)
	return len(p), nil
}

// appendFrameHeader appends an HTTP/2 frame header.
func appendFrameHeader(b []byte, n int, t http2.FrameType, flags http2.Flags, id uint32) []byte {
	return append(b, byte(n>>16), byte(n>>8), byte(n), byte(t), byte(flags),
		byte(id>>24), byte(id>>16), byte(id>>8), byte(id))
}

func (c *limitConn) call(call *limitCall, block, msg []byte) error {
	c.mu.Lock()
	for c.err == nil && c.sendWin < int64(len(msg)) {
		c.cond.Wait()
	}
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		return err
	}
	c.sendWin -= int64(len(msg))
	id := c.nextID
	c.nextID += 2
	c.cmu.Lock()
	c.calls[id] = call
	others := len(c.calls) > 1
	c.cmu.Unlock()
	c.pending = appendFrameHeader(c.pending, len(block), http2.FrameHeaders, http2.FlagHeadersEndHeaders, id)
	c.pending = append(c.pending, block...)
	c.pending = appendFrameHeader(c.pending, len(msg), http2.FrameData, http2.FlagDataEndStream, id)
	c.pending = append(c.pending, msg...)
	c.flushLocked(others)
	c.mu.Unlock()
	return <-call.done
}

// flushLocked writes what is pending unless another caller is writing (it
// will write this too); if other calls are in flight (yield), it yields
// once first. Called with mu held; returns with it held.
func (c *limitConn) flushLocked(yield bool) {
	if c.writing {
		return
	}
	c.writing = true
	// As grpc-go's writer: yield once before a small write, so that
	// callers about to add their frames share it (not with one call in
	// flight: nobody else will add any).
	if yield && len(c.pending) < 1000 {
		c.mu.Unlock()
		runtime.Gosched()
		c.mu.Lock()
	}
	for len(c.pending) > 0 && c.err == nil {
		buf := c.pending
		c.pending = c.spare[:0]
		c.mu.Unlock()
		_, err := c.nc.Write(buf)
		c.mu.Lock()
		c.spare = buf
		if err != nil && c.err == nil {
			c.err = err
		}
	}
	c.writing = false
}

// send queues a control frame (a SETTINGS or PING ack, a WINDOW_UPDATE).
func (c *limitConn) send(f func(fr *http2.Framer)) {
	c.mu.Lock()
	f(http2.NewFramer(&sliceWriter{&c.pending}, nil))
	c.flushLocked(false)
	c.mu.Unlock()
}

func (c *limitConn) read() {
	defer close(c.done)
	fr := http2.NewFramer(nil, bufio.NewReaderSize(c.nc, 32<<10))
	fr.SetReuseFrames()
	var failed error // the grpc-status of the header block being decoded
	dec := hpack.NewDecoder(4096, func(f hpack.HeaderField) {
		if f.Name == "grpc-status" && f.Value != "0" {
			failed = fmt.Errorf("grpc-status %s", f.Value)
		}
	})
	var unacked int64
	err := func() error {
		for {
			f, err := fr.ReadFrame()
			if err != nil {
				return err
			}
			switch f := f.(type) {
			case *http2.DataFrame:
				if unacked += int64(f.Length); unacked >= limitWindow/2 {
					n := uint32(unacked)
					unacked = 0
					c.send(func(fr *http2.Framer) { fr.WriteWindowUpdate(0, n) })
				}
				if f.StreamEnded() {
					c.finish(f.StreamID, errors.New("response without trailers"))
				}
			case *http2.HeadersFrame:
				failed = nil
				if _, err := dec.Write(f.HeaderBlockFragment()); err != nil {
					return err
				}
				if !f.HeadersEnded() {
					return errors.New("limit client: CONTINUATION not supported")
				}
				if f.StreamEnded() {
					c.finish(f.StreamID, failed)
				}
			case *http2.SettingsFrame:
				if !f.IsAck() {
					c.send(func(fr *http2.Framer) { fr.WriteSettingsAck() })
				}
			case *http2.PingFrame:
				if !f.IsAck() {
					// The ack goes out with the next call's frames
					// (or now, if no call is in flight).
					data := f.Data
					c.cmu.Lock()
					idle := len(c.calls) == 0
					c.cmu.Unlock()
					c.mu.Lock()
					http2.NewFramer(&sliceWriter{&c.pending}, nil).WritePing(true, data)
					if idle {
						c.flushLocked(false)
					}
					c.mu.Unlock()
				}
			case *http2.WindowUpdateFrame:
				if f.StreamID == 0 {
					c.mu.Lock()
					c.sendWin += int64(f.Increment)
					c.cond.Broadcast()
					c.mu.Unlock()
				}
			case *http2.RSTStreamFrame:
				c.finish(f.StreamID, fmt.Errorf("RST_STREAM %v", f.ErrCode))
			case *http2.GoAwayFrame:
				return fmt.Errorf("GOAWAY %v", f.ErrCode)
			}
		}
	}()
	c.mu.Lock()
	if c.err == nil {
		c.err = err
	}
	c.cond.Broadcast()
	c.mu.Unlock()
	c.cmu.Lock()
	calls := c.calls
	c.calls = map[uint32]*limitCall{}
	c.cmu.Unlock()
	for _, call := range calls {
		call.done <- err
	}
}

func (c *limitConn) finish(id uint32, err error) {
	c.cmu.Lock()
	call := c.calls[id]
	delete(c.calls, id)
	c.cmu.Unlock()
	if call != nil {
		call.done <- err
	}
}
