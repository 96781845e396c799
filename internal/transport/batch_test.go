package transport

import (
	"bytes"
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

// gatedConn counts the socket writes of the connection actor, and can hold
// one of them until released.
type gatedConn struct {
	net.Conn
	mu      sync.Mutex
	writes  [][]byte      // a copy of every write, in order
	hold    bool          // the next write blocks until release
	held    chan struct{} // closed once a write is blocked
	release chan struct{}
}

func (g *gatedConn) Write(b []byte) (int, error) {
	g.mu.Lock()
	g.writes = append(g.writes, bytes.Clone(b))
	hold := g.hold
	g.hold = false
	g.mu.Unlock()
	if hold {
		close(g.held)
		<-g.release
	}
	return g.Conn.Write(b)
}

func (g *gatedConn) holdNext() {
	g.mu.Lock()
	g.hold, g.held, g.release = true, make(chan struct{}), make(chan struct{})
	g.mu.Unlock()
}

func (g *gatedConn) writeCount() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.writes)
}

func (g *gatedConn) writesFrom(i int) [][]byte {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([][]byte(nil), g.writes[i:]...)
}

// countHeaders counts the HEADERS frames in a byte stream of whole frames.
func countHeaders(t *testing.T, b []byte) int {
	t.Helper()
	fr := http2.NewFramer(nil, bytes.NewReader(b))
	n := 0
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			return n
		}
		if f.Header().Type == http2.FrameHeaders {
			n++
		}
	}
}

// TestWriteBatching: the connection actor is the only writer and flushes
// when its mailbox runs empty, so the frames of calls started while it was
// busy leave in one socket write. Here the actor is held in a write; ten
// calls start meanwhile; once it is released, all ten calls' HEADERS go
// out in a single write.
func TestWriteBatching(t *testing.T) {
	var g *gatedConn
	ct := startConnWrapped(t, Config{}, func(c net.Conn) net.Conn {
		g = &gatedConn{Conn: c}
		return g
	})
	ct.peer.handshake()
	waitEvent[*EventReady](t, ct.ev)
	ct.peer.ping([8]byte{1})

	g.holdNext()
	first := ct.newStream(context.Background(), nil)
	if err := first.CloseSend(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-g.held:
	case <-time.After(testTimeout):
		t.Fatal("the first call's HEADERS were never written")
	}
	mark := g.writeCount() // the held write is counted before mark
	const n = 10
	for range n {
		s := ct.newStream(context.Background(), nil)
		if err := s.CloseSend(); err != nil {
			t.Fatal(err)
		}
	}
	close(g.release)
	for i := 0; i < n+1; i++ {
		ct.peer.wantHeaders()
	}
	var headers []int
	for _, w := range g.writesFrom(mark) {
		headers = append(headers, countHeaders(t, w))
	}
	if len(headers) != 1 || headers[0] != n {
		t.Errorf("the %d calls started while the actor was writing went out in %d writes with %v HEADERS frames; want one write with all %d", n, len(headers), headers, n)
	}
}
