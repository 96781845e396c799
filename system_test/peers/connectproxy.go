package peers

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// ConnectProxy is a small HTTP CONNECT proxy (RFC 9110 §9.3.6) on
// 127.0.0.1, the kind a client reaches through HTTPS_PROXY or grpc_proxy.
// It resolves target host names through its own table, Hosts, so a client
// that reaches a target by a name nothing else resolves went through it.
// Set the fields, then start it with [StartConnectProxy].
type ConnectProxy struct {
	// Hosts maps target host names to IP addresses; a CONNECT to any other
	// host is answered 502 Bad Gateway.
	Hosts map[string]string
	// Auth, if set, is the Proxy-Authorization value the proxy wants; a
	// CONNECT without it is answered 407 Proxy Authentication Required.
	Auth string
	// Refuse, if set, is the status line ("HTTP/1.1 403 Forbidden") the
	// proxy answers every request with.
	Refuse string
	// EarlyServerBytes makes the proxy wait for the target's first bytes
	// (a gRPC server sends its SETTINGS at once) and send them in the same
	// write as its 200 answer; EarlyBytes counts them.
	EarlyServerBytes bool

	lis        net.Listener
	requests   chan *http.Request
	earlyBytes atomic.Int64

	mu    sync.Mutex
	lines []string   // every request line, in order
	conns []net.Conn // nil once closed
	wg    sync.WaitGroup
}

// StartConnectProxy starts p on a loopback port chosen by the kernel and
// returns it; it is closed, with every connection through it, when the
// test ends.
func StartConnectProxy(t testing.TB, p *ConnectProxy) *ConnectProxy {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("peers: connect proxy: listen: %v", err)
	}
	p.lis, p.conns = lis, []net.Conn{}
	p.requests = make(chan *http.Request, 100)
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := lis.Accept()
			if err != nil || !p.track(c) {
				return
			}
			p.wg.Add(1)
			go p.serve(c)
		}
	}()
	t.Cleanup(func() {
		lis.Close()
		p.mu.Lock()
		for _, c := range p.conns {
			c.Close()
		}
		p.conns = nil
		p.mu.Unlock()
		p.wg.Wait()
	})
	return p
}

// Addr returns the proxy's address, "127.0.0.1:<port>".
func (p *ConnectProxy) Addr() string { return p.lis.Addr().String() }

// Requests delivers the requests the proxy reads, in order, as they
// arrive; beyond 100 unread ones, later requests are not delivered.
func (p *ConnectProxy) Requests() <-chan *http.Request { return p.requests }

// Lines returns the request lines ("CONNECT host:port HTTP/1.1") the proxy
// has read, in order.
func (p *ConnectProxy) Lines() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.lines...)
}

// EarlyBytes returns how many of the target's bytes went out with the 200
// answers (see EarlyServerBytes).
func (p *ConnectProxy) EarlyBytes() int64 { return p.earlyBytes.Load() }

// track adds c to the connections closed at the end; false (and c closed)
// once the proxy is closed.
func (p *ConnectProxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conns == nil {
		c.Close()
		return false
	}
	p.conns = append(p.conns, c)
	return true
}

func (p *ConnectProxy) serve(c net.Conn) {
	defer p.wg.Done()
	defer c.Close()
	br := bufio.NewReader(c)
	req, err := http.ReadRequest(br)
	if err != nil {
		return
	}
	p.mu.Lock()
	p.lines = append(p.lines, req.Method+" "+req.RequestURI+" "+req.Proto)
	p.mu.Unlock()
	select {
	case p.requests <- req:
	default: // nobody reads them
	}
	switch {
	case p.Refuse != "":
		io.WriteString(c, p.Refuse+"\r\nContent-Length: 0\r\n\r\n")
		return
	case req.Method != http.MethodConnect:
		io.WriteString(c, "HTTP/1.1 405 Method Not Allowed\r\n\r\n")
		return
	case req.Host != req.RequestURI:
		io.WriteString(c, "HTTP/1.1 400 Bad Request\r\n\r\n")
		return
	case p.Auth != "" && req.Header.Get("Proxy-Authorization") != p.Auth:
		io.WriteString(c, "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"test\"\r\n\r\n")
		return
	}
	host, port, err := net.SplitHostPort(req.Host)
	if err != nil {
		io.WriteString(c, "HTTP/1.1 400 Bad Request\r\n\r\n")
		return
	}
	ip, known := p.Hosts[host]
	if !known {
		io.WriteString(c, "HTTP/1.1 502 Bad Gateway\r\n\r\n")
		return
	}
	back, err := net.Dial("tcp", net.JoinHostPort(ip, port))
	if err != nil {
		io.WriteString(c, "HTTP/1.1 502 Bad Gateway\r\n\r\n")
		return
	}
	if !p.track(back) {
		return
	}
	defer back.Close()
	answer := []byte("HTTP/1.1 200 Connection established\r\n\r\n")
	if p.EarlyServerBytes {
		buf := make([]byte, 4096)
		back.SetReadDeadline(time.Now().Add(20 * time.Second))
		n, _ := back.Read(buf)
		back.SetReadDeadline(time.Time{})
		p.earlyBytes.Add(int64(n))
		answer = append(answer, buf[:n]...)
	}
	if _, err := c.Write(answer); err != nil {
		return
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		io.Copy(back, br) // what the client sent after its request included
		back.Close()
	}()
	io.Copy(c, back)
	c.Close()
	<-done
}
