package transport

import "math"

// HTTP/2 flow control (RFC 9113 §5.2, §6.9) as two small pure types, one
// per direction. Neither knows about frames or goroutines: whoever owns a
// window (the core for send windows, the reader for the connection's
// receive window, the stream for its own) calls them and acts on the
// numbers they return.

// maxWindow is the largest a flow-control window may grow (2^31-1).
const maxWindow = math.MaxInt32

// inFlow is a receive window: the bytes the peer sent and that were not
// yet credited back with WINDOW_UPDATE, and how many of those were
// consumed, so may be credited. Credit goes back in batches of at least a
// quarter of the window, so a stream of small frames does not cost a
// WINDOW_UPDATE each.
type inFlow struct {
	window   int64 // the window advertised to the peer
	received int64 // received and not yet credited back (the peer's bytes in flight)
	consumed int64 // of received, consumed and not yet credited back
}

func newInFlow(window int64) inFlow { return inFlow{window: window} }

// receive records n flow-controlled bytes (padding included) from the
// peer. It reports false when they pass the window: the peer violated
// flow control. The bytes are counted either way, so received then tells
// by how much.
func (f *inFlow) receive(n int64) bool {
	f.received += n
	return f.received <= f.window
}

// consume marks n received bytes consumed and returns the credit to send
// now: every consumed byte once they add up to a quarter of the window,
// else 0.
func (f *inFlow) consume(n int64) int64 {
	f.consumed += n
	if f.consumed < f.window/4 || f.consumed <= 0 {
		return 0
	}
	c := f.consumed
	f.consumed = 0
	f.received -= c
	return c
}

// flush returns every consumed byte not yet credited back, whatever the
// batch size (BDP estimation sends it with its PING, so that the server is
// not held up by credit waiting for a batch while the sample is taken).
func (f *inFlow) flush() int64 {
	c := f.consumed
	f.consumed = 0
	f.received -= c
	return c
}

// consumeAll marks every received byte consumed; it returns what consume
// returns.
func (f *inFlow) consumeAll() int64 { return f.consume(f.received - f.consumed) }

// outFlow is a send window: how many bytes may be sent before the peer
// grants more. It can be negative after the peer shrinks its initial
// window with SETTINGS (RFC 9113 §6.9.2).
type outFlow struct{ n int64 }

func newOutFlow(n int64) outFlow { return outFlow{n: n} }

// available returns how many bytes may be sent now (never negative).
func (f *outFlow) available() int64 { return max(f.n, 0) }

// take spends n bytes of the window.
func (f *outFlow) take(n int64) { f.n -= n }

// add grows (or, for a negative SETTINGS delta, shrinks) the window. It
// reports false when the window passes 2^31-1, a flow-control error; the
// window then holds the overflowed value, for the error message.
func (f *outFlow) add(n int64) bool {
	f.n += n
	return f.n <= maxWindow
}
