package chaos

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// chunkSize is the most a proxy reads from a socket at once; queueDepth is
// how many chunks one direction of a link buffers before it stops reading
// (so a stalled or throttled link pushes back on the sender through TCP
// flow control, as a slow network does).
const (
	chunkSize  = 16 << 10
	queueDepth = 16
)

// Proxy forwards loopback TCP connections to a backend address and injects
// faults into them. Its settings apply to every connection, current and
// future, unless a method says otherwise:
//
//   - [Proxy.SetLatency]: every byte is delivered that long after it was
//     read (one way; a round trip pays it twice);
//   - [Proxy.SetBandwidth]: each direction of each connection is paced to
//     that many bytes per second;
//   - [Proxy.Stall] / [Proxy.Resume]: nothing is delivered (sockets stay
//     open, bytes wait in the proxy and then in TCP's buffers) until Resume
//     delivers it all;
//   - [Proxy.Blackhole] / [Proxy.Heal]: everything is silently dropped, on
//     the connections open at the time for ever, and on new connections
//     until Heal;
//   - [Proxy.Cut]: every open connection is closed (FIN) on both sides;
//   - [Proxy.Reset]: every open connection is reset (RST) on both sides;
//   - [Proxy.Refuse] / [Proxy.Accept]: the listener is closed, so that
//     connecting fails with ECONNREFUSED, and opened again on the same port.
//
// [Proxy.SetTap] lets a test watch the bytes of new connections as the
// proxy reads them.
//
// A Proxy is safe for concurrent use.
type Proxy struct {
	backend string
	addr    string // fixed: the same port after Refuse and Accept

	accepted atomic.Int64

	mu        sync.Mutex
	lis       net.Listener // nil while refusing or closed
	latency   time.Duration
	rate      int64 // bytes per second per direction; 0 = unlimited
	stalled   bool
	blackhole bool
	changed   chan struct{} // closed and replaced when a setting changes
	newTap    func() (fromClient, fromServer func([]byte))
	links     map[*link]struct{}
	closed    bool
	wg        sync.WaitGroup // accept loops and pumps
}

// NewProxy starts a proxy on 127.0.0.1 (port chosen by the kernel) that
// forwards to backend ("host:port"). It is closed when the test ends.
func NewProxy(t testing.TB, backend string) *Proxy {
	t.Helper()
	p, err := Listen(backend)
	if err != nil {
		t.Fatalf("chaos: %v", err)
	}
	t.Cleanup(p.Close)
	return p
}

// Listen is [NewProxy] for use outside a test: the caller closes the proxy.
func Listen(backend string) (*Proxy, error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("proxy: listen: %w", err)
	}
	p := &Proxy{backend: backend, addr: lis.Addr().String(), lis: lis, changed: make(chan struct{}), links: map[*link]struct{}{}}
	p.wg.Add(1)
	go p.acceptLoop(lis)
	return p, nil
}

// Addr returns the proxy's address, "127.0.0.1:<port>". It does not change
// over Refuse and Accept.
func (p *Proxy) Addr() string { return p.addr }

// Accepted returns how many connections the proxy has accepted.
func (p *Proxy) Accepted() int64 { return p.accepted.Load() }

// Open returns how many connections are open through the proxy.
func (p *Proxy) Open() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.links)
}

// notifyLocked wakes every pump waiting for a setting to change.
func (p *Proxy) notifyLocked() {
	close(p.changed)
	p.changed = make(chan struct{})
}

// SetLatency delays every byte read from now on by d (0 removes the delay).
func (p *Proxy) SetLatency(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.latency = max(d, 0)
	p.notifyLocked()
}

// SetBandwidth limits each direction of each connection to bytesPerSecond
// (0 removes the limit).
func (p *Proxy) SetBandwidth(bytesPerSecond int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rate = max(bytesPerSecond, 0)
	p.notifyLocked()
}

// SetTap makes every connection accepted from now on call newTap once and
// show the two functions it returns every chunk of bytes the proxy reads:
// fromClient what the client sent, fromServer what the backend sent, each
// in order, on the goroutine that reads them, before any fault applies (a
// stalled, slowed or blackholed connection is still read until the
// proxy's buffer for it is full). The functions must not modify or keep
// the bytes. nil removes the tap for new connections.
func (p *Proxy) SetTap(newTap func() (fromClient, fromServer func([]byte))) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.newTap = newTap
}

// Stall stops delivering bytes in both directions of every connection,
// current and new; the sockets stay open. Resume delivers what was held.
func (p *Proxy) Stall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stalled = true
	p.notifyLocked()
}

// Resume ends a Stall.
func (p *Proxy) Resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stalled = false
	p.notifyLocked()
}

// Blackhole drops every byte of the connections open now, for as long as
// they stay open, and of every connection accepted until Heal. The sockets
// stay open: the peers see silence, as behind a dead router.
func (p *Proxy) Blackhole() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.blackhole = true
	for l := range p.links {
		l.blackholed.Store(true)
	}
	p.notifyLocked()
}

// Heal ends a Blackhole for new connections. Connections that were
// blackholed stay so (they have lost bytes): their peers must give up on
// them.
func (p *Proxy) Heal() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.blackhole = false
	p.notifyLocked()
}

// Cut closes every open connection on both sides (each peer reads EOF).
func (p *Proxy) Cut() int { return p.closeLinks(false) }

// Reset resets every open connection on both sides (each peer gets
// ECONNRESET).
func (p *Proxy) Reset() int { return p.closeLinks(true) }

// closeLinks closes (or resets) every open link and returns how many.
func (p *Proxy) closeLinks(reset bool) int {
	p.mu.Lock()
	links := make([]*link, 0, len(p.links))
	for l := range p.links {
		links = append(links, l)
	}
	p.mu.Unlock()
	for _, l := range links {
		l.close(reset)
	}
	return len(links)
}

// Refuse closes the proxy's listener: connecting to Addr fails with
// ECONNREFUSED until Accept. Connections the proxy has accepted are left
// alone. A connection still in the listen backlog (connected as far as its
// client knows, not yet accepted) is reset by the kernel, as it would be by
// any server that closes its listener.
func (p *Proxy) Refuse() {
	p.mu.Lock()
	lis := p.lis
	p.lis = nil
	p.mu.Unlock()
	if lis != nil {
		lis.Close()
	}
}

// Accept listens on Addr again after Refuse. It returns an error if the
// port cannot be bound again within a few seconds.
func (p *Proxy) Accept() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.lis != nil {
		return nil
	}
	lis, err := listenRetry(p.addr, 5*time.Second)
	if err != nil {
		return fmt.Errorf("proxy: listening again on %s: %w", p.addr, err)
	}
	p.lis = lis
	p.wg.Add(1)
	go p.acceptLoop(lis)
	return nil
}

// Close closes the listener and every connection and waits for the proxy's
// goroutines to end. It is idempotent.
func (p *Proxy) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	lis := p.lis
	p.lis = nil
	p.notifyLocked()
	p.mu.Unlock()
	if lis != nil {
		lis.Close()
	}
	p.closeLinks(false)
	p.wg.Wait()
}

// listenRetry listens on addr, retrying while the port is still in use.
func listenRetry(addr string, limit time.Duration) (net.Listener, error) {
	deadline := time.Now().Add(limit)
	for {
		lis, err := net.Listen("tcp", addr)
		if err == nil || !errors.Is(err, syscall.EADDRINUSE) || time.Now().After(deadline) {
			return lis, err
		}
		time.Sleep(20 * time.Millisecond) // the kernel frees the port by itself; nothing to wait on
	}
}

func (p *Proxy) acceptLoop(lis net.Listener) {
	defer p.wg.Done()
	for {
		c, err := lis.Accept()
		if err != nil {
			return
		}
		p.accepted.Add(1)
		b, err := net.Dial("tcp", p.backend)
		if err != nil {
			// The backend refuses: so does the proxy, as far as it can
			// once it has accepted (a reset).
			resetConn(c)
			continue
		}
		l := &link{p: p, client: c.(*net.TCPConn), server: b.(*net.TCPConn), done: make(chan struct{})}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			l.close(false)
			return
		}
		l.blackholed.Store(p.blackhole)
		p.links[l] = struct{}{}
		p.wg.Add(4)
		newTap := p.newTap
		p.mu.Unlock()
		var fromClient, fromServer func([]byte)
		if newTap != nil {
			fromClient, fromServer = newTap()
		}
		l.client.SetNoDelay(true)
		l.server.SetNoDelay(true)
		go l.pump(l.server, l.client, fromClient)
		go l.pump(l.client, l.server, fromServer)
	}
}

// resetConn closes c with an RST instead of a FIN.
func resetConn(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	c.Close()
}

// link is one proxied connection: the client's socket and the proxy's
// socket to the backend.
type link struct {
	p          *Proxy
	client     *net.TCPConn
	server     *net.TCPConn
	blackholed atomic.Bool
	done       chan struct{}
	once       sync.Once
}

// close closes both sockets (with RST if reset) and wakes the pumps.
func (l *link) close(reset bool) {
	l.once.Do(func() {
		close(l.done)
		if reset {
			resetConn(l.client)
			resetConn(l.server)
		} else {
			l.client.Close()
			l.server.Close()
		}
		l.p.mu.Lock()
		delete(l.p.links, l)
		l.p.mu.Unlock()
	})
}

// chunk is bytes read from one side, with when they were read.
type chunk struct {
	b    []byte
	read time.Time
}

// pump forwards src to dst: a reader (this goroutine) and a writer that
// applies the proxy's faults. tap, if not nil, sees every chunk read. When
// src ends, what was read is delivered and the link is closed (reset, if
// src was reset).
func (l *link) pump(dst, src *net.TCPConn, tap func([]byte)) {
	defer l.p.wg.Done()
	q := make(chan chunk, queueDepth)
	go l.deliver(dst, q)
	defer close(q)
	for {
		buf := make([]byte, chunkSize)
		n, err := src.Read(buf)
		if n > 0 {
			if tap != nil {
				tap(buf[:n])
			}
			select {
			case q <- chunk{b: buf[:n], read: time.Now()}:
			case <-l.done:
				return
			}
		}
		if err != nil {
			if errors.Is(err, syscall.ECONNRESET) {
				l.close(true)
			}
			return
		}
	}
}

// deliver writes the chunks of q to dst as the proxy's settings allow,
// then closes the link.
func (l *link) deliver(dst *net.TCPConn, q <-chan chunk) {
	defer l.p.wg.Done()
	defer l.close(false)
	var next time.Time // when the bandwidth limit allows the next byte
	for c := range q {
		b := c.b
		for len(b) > 0 {
			latency, rate, drop, ok := l.await()
			if !ok {
				return
			}
			if drop {
				b = nil
				break
			}
			if latency > 0 && !l.sleepUntil(c.read.Add(latency)) {
				return
			}
			piece := b
			if rate > 0 {
				// Pieces of about 20 ms each keep the pace smooth.
				piece = b[:min(len(b), max(int(rate/50), 512))]
				start := time.Now()
				if start.Before(next) {
					start = next
				}
				if !l.sleepUntil(start) {
					return
				}
				next = start.Add(time.Duration(float64(len(piece)) / float64(rate) * float64(time.Second)))
			}
			if _, err := dst.Write(piece); err != nil {
				return
			}
			b = b[len(piece):]
		}
	}
}

// await waits while the proxy is stalled and returns its settings: the
// latency, the rate, and whether bytes are to be dropped. ok is false once
// the link is closed.
func (l *link) await() (latency time.Duration, rate int64, drop, ok bool) {
	for {
		if l.blackholed.Load() {
			return 0, 0, true, true
		}
		l.p.mu.Lock()
		stalled, changed := l.p.stalled && !l.p.closed, l.p.changed
		latency, rate = l.p.latency, l.p.rate
		l.p.mu.Unlock()
		if !stalled {
			return latency, rate, false, true
		}
		select {
		case <-changed:
		case <-l.done:
			return 0, 0, false, false
		}
	}
}

// sleepUntil waits until t; false if the link closed first.
func (l *link) sleepUntil(t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		select {
		case <-l.done:
			return false
		default:
			return true
		}
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-l.done:
		return false
	}
}

// String describes the proxy's settings, for test logs.
func (p *Proxy) String() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return fmt.Sprintf("proxy %s -> %s (latency %v, rate %d B/s, stalled %v, blackhole %v, %d open, %d accepted)",
		p.addr, p.backend, p.latency, p.rate, p.stalled, p.blackhole, len(p.links), p.accepted.Load())
}
