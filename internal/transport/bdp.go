package transport

import "time"

// BDP estimation: with Config.BDP the receive windows start small and grow
// to what the link needs, as grpc-go's BDP estimator does (the behaviour,
// not its code). The first DATA frame of a measurement cycle makes the
// client send a PING (payload bdpPing), at most one per bdpMinInterval; the bytes received from that frame
// until the PING's ack are a sample of the bandwidth-delay product. When a
// sample reaches two thirds of the current window while the bandwidth it
// shows (sample / (1.5 × rtt)) is the highest seen, the stream and
// connection windows grow to twice the sample, at most bdpLimit: the new
// stream window goes out as SETTINGS_INITIAL_WINDOW_SIZE, the connection's
// growth as a WINDOW_UPDATE. At the limit no more PINGs are sent.
//
// The reader counts the DATA bytes (it sees every frame) and reports the
// first frame of a cycle (bdpData) and the ack (a pingFrame carrying its
// byte count and time); the decision is the core's, here.

const (
	// bdpLimit caps the windows BDP estimation grows to (16 MiB, as
	// grpc-go).
	bdpLimit = 16 << 20
	// bdpStartWindow is the window BDP estimation starts from (HTTP/2's
	// initial 64 KiB, as grpc-go).
	bdpStartWindow = 65535
	// bdpAlpha weighs a new RTT sample after the first ten.
	bdpAlpha = 0.9
	// bdpBeta is the fraction of the window a sample must reach to grow it.
	bdpBeta = 0.66
	// bdpGamma is the window's size as a multiple of the sample.
	bdpGamma = 2
	// bdpMinInterval is the least time between two BDP PINGs (see
	// reader.bdpDue).
	bdpMinInterval = time.Millisecond
)

// bdpPing is the payload of BDP PINGs, to tell their acks from keepalive's.
var bdpPing = [8]byte{'b', 'd', 'p', '-', 'p', 'i', 'n', 'g'}

// bdpEstimator is the core's BDP state. It reads no clock: the times come
// in the messages.
type bdpEstimator struct {
	window  int64 // the current stream window (the estimate)
	conn    int64 // the current connection window
	sent    bool  // a BDP PING is outstanding
	start   uint64
	sentAt  time.Time
	samples int
	rtt     float64 // seconds, smoothed
	bwMax   float64 // bytes per second, the highest seen
}

// newBDPEstimator returns the estimator for cfg (with its defaults
// applied), nil when BDP estimation is off.
func newBDPEstimator(cfg *Config) *bdpEstimator {
	if !cfg.BDP {
		return nil
	}
	return &bdpEstimator{window: int64(cfg.InitialWindowSize), conn: int64(cfg.InitialConnWindowSize)}
}

// begin: the first DATA frame of a cycle arrived, the reader's byte count
// before it being start, at now. It reports whether to send a BDP PING.
func (b *bdpEstimator) begin(start uint64, now time.Time) bool {
	if b.sent || b.window >= bdpLimit {
		return false
	}
	b.sent = true
	b.start = start
	b.sentAt = now
	b.samples++
	return true
}

// ack: the BDP PING's ack arrived at at, when the reader had counted total
// DATA bytes. It returns the new stream window and the connection
// window's increment, or 0, 0 when the windows stay.
func (b *bdpEstimator) ack(total uint64, at time.Time) (window int64, connIncr int64) {
	if !b.sent {
		return 0, 0
	}
	b.sent = false
	rtt := at.Sub(b.sentAt).Seconds()
	if rtt <= 0 {
		rtt = 1e-6 // a clock that did not move: one microsecond
	}
	if b.samples < 10 {
		b.rtt += (rtt - b.rtt) / float64(b.samples)
	} else {
		b.rtt += (rtt - b.rtt) * bdpAlpha
	}
	sample := float64(total - b.start)
	bw := sample / (b.rtt * 1.5)
	if bw > b.bwMax {
		b.bwMax = bw
	}
	if sample < bdpBeta*float64(b.window) || bw < b.bwMax || b.window >= bdpLimit {
		return 0, 0
	}
	w := min(int64(bdpGamma*sample), bdpLimit)
	if w <= b.window {
		return 0, 0
	}
	b.window = w
	if w > b.conn {
		connIncr = w - b.conn
		b.conn = w
	}
	return w, connIncr
}
