package system_test

// HTTP CONNECT proxies (gRFC A1): channels reach grpc-go's interop server
// through a CONNECT proxy written here, which resolves target names itself
// (from its own table) -- a call that succeeds to a name only the proxy
// knows went through it, unresolved by the client.

import (
	"bufio"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/grpcactor/grpcactor/channel"
	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/credentials"
	"github.com/grpcactor/grpcactor/system_test/peers"
)

// connectProxy is a small HTTP CONNECT proxy.
type connectProxy struct {
	lis    net.Listener
	hosts  map[string]string // target host -> IP, the proxy's own resolver
	auth   string            // wanted Proxy-Authorization; "" for none
	refuse string            // if set, the status line every CONNECT gets
	// early makes the proxy wait for the server's first bytes (grpc-go's
	// server sends its SETTINGS at once) and send them in the same write as
	// its 200 answer; earlyBytes counts them.
	early      bool
	earlyBytes atomic.Int64

	mu    sync.Mutex
	lines []string // every request line, in order
	conns []net.Conn
	wg    sync.WaitGroup
}

// startConnectProxy starts p on a loopback port; it stops when the test
// ends.
func startConnectProxy(t testing.TB, p *connectProxy) *connectProxy {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.lis, p.conns = lis, []net.Conn{}
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

func (p *connectProxy) Addr() string { return p.lis.Addr().String() }

// Lines returns the request lines the proxy has read.
func (p *connectProxy) Lines() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.lines...)
}

func (p *connectProxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conns == nil {
		c.Close()
		return false
	}
	p.conns = append(p.conns, c)
	return true
}

func (p *connectProxy) serve(c net.Conn) {
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
	host, port, _ := net.SplitHostPort(req.Host)
	ip, known := p.hosts[host]
	switch {
	case p.refuse != "":
		io.WriteString(c, p.refuse+"\r\nContent-Length: 0\r\n\r\n")
		return
	case req.Method != http.MethodConnect || req.Host != req.RequestURI:
		io.WriteString(c, "HTTP/1.1 400 Bad Request\r\n\r\n")
		return
	case p.auth != "" && req.Header.Get("Proxy-Authorization") != p.auth:
		io.WriteString(c, "HTTP/1.1 407 Proxy Authentication Required\r\n\r\n")
		return
	case !known:
		io.WriteString(c, "HTTP/1.1 502 Bad Gateway\r\n\r\n")
		return
	}
	back, err := net.Dial("tcp", net.JoinHostPort(ip, port))
	if err != nil || !p.track(back) {
		io.WriteString(c, "HTTP/1.1 502 Bad Gateway\r\n\r\n")
		return
	}
	defer back.Close()
	answer := []byte("HTTP/1.1 200 Connection established\r\n\r\n")
	if p.early {
		buf := make([]byte, 4096)
		back.SetReadDeadline(time.Now().Add(testTimeout))
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
		io.Copy(back, br)
		back.Close()
	}()
	io.Copy(c, back)
	c.Close()
	<-done
}

// proxyEnv sets the proxy variables of the environment for the test; the
// lower-case ones are cleared unless given.
func proxyEnv(t *testing.T, kv ...string) {
	for _, k := range []string{"HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy", "grpc_proxy", "http_proxy", "HTTP_PROXY"} {
		t.Setenv(k, "")
	}
	for i := 0; i+1 < len(kv); i += 2 {
		t.Setenv(kv[i], kv[i+1])
	}
}

func portOf(t testing.TB, addr string) string {
	t.Helper()
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return port
}

func wantLines(t *testing.T, p *connectProxy, want ...string) {
	t.Helper()
	got := p.Lines()
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("proxy saw request lines %q, want %q", got, want)
	}
}

// TestProxyFromEnvironment: HTTPS_PROXY with credentials; the client sends
// CONNECT with the unresolved name and Basic credentials, and every call
// form works through the tunnel.
func TestProxyFromEnvironment(t *testing.T) {
	addr := startServer(t, serverConfig{}).Addr()
	target := "backend.proxy.test:" + portOf(t, addr)
	p := startConnectProxy(t, &connectProxy{
		hosts: map[string]string{"backend.proxy.test": "127.0.0.1"},
		auth:  "Basic " + base64.StdEncoding.EncodeToString([]byte("alice:open sesame")),
	})
	proxyEnv(t, "HTTPS_PROXY", "http://alice:open%20sesame@"+p.Addr())
	s := dialStubs(t, target)
	doEmptyUnary(t, s)
	doLargeUnary(t, s)
	doClientStreaming(t, s)
	doServerStreaming(t, s)
	doPingPong(t, s)
	doCustomMetadata(t, s)
	wantLines(t, p, "CONNECT "+target+" HTTP/1.1")
}

// TestProxyEarlyBytes: the server's first bytes arrive in the same read as
// the proxy's answer; the connection must still see them (it reaches
// READY only with the server's SETTINGS).
func TestProxyEarlyBytes(t *testing.T) {
	addr := startServer(t, serverConfig{}).Addr()
	target := "backend.proxy.test:" + portOf(t, addr)
	p := startConnectProxy(t, &connectProxy{hosts: map[string]string{"backend.proxy.test": "127.0.0.1"}, early: true})
	proxyEnv(t, "HTTPS_PROXY", p.Addr())
	s := dialStubs(t, target)
	doEmptyUnary(t, s)
	doLargeUnary(t, s)
	if p.earlyBytes.Load() == 0 {
		t.Fatal("the server sent nothing before the client's preface: the test proved nothing")
	}
	wantLines(t, p, "CONNECT "+target+" HTTP/1.1")
}

// TestProxyOption: grpc.http_proxy given as an option, with https_proxy in
// the environment naming another (dead) proxy that must not be used.
func TestProxyOption(t *testing.T) {
	addr := startServer(t, serverConfig{}).Addr()
	target := "dns:///backend.proxy.test:" + portOf(t, addr)
	p := startConnectProxy(t, &connectProxy{hosts: map[string]string{"backend.proxy.test": "127.0.0.1"}})
	proxyEnv(t, "https_proxy", "http://"+deadPort(t))
	s := dialStubs(t, target, channel.WithOption("grpc.http_proxy", "http://"+p.Addr()))
	doEmptyUnary(t, s)
	doLargeUnary(t, s)
	wantLines(t, p, "CONNECT backend.proxy.test:"+portOf(t, addr)+" HTTP/1.1")
}

// TestProxySecure: TLS runs inside the tunnel, checked against the
// target's name (the server's certificate is for *.test.example.com).
func TestProxySecure(t *testing.T) {
	addr, _ := startTLSServer(t, nil)
	target := "api.test.example.com:" + portOf(t, addr)
	p := startConnectProxy(t, &connectProxy{hosts: map[string]string{"api.test.example.com": "127.0.0.1"}})
	proxyEnv(t, "HTTPS_PROXY", p.Addr())
	s := dialSecure(t, target, tlsCreds(t, credentials.TLSConfig{RootCAs: readTestdata(t, "x509/server_ca_cert.pem")}))
	doEmptyUnary(t, s)
	doLargeUnary(t, s)
	wantLines(t, p, "CONNECT "+target+" HTTP/1.1")
}

// TestProxyRefused: a proxy's refusal fails calls UNAVAILABLE with a
// message naming the proxy and its status line.
func TestProxyRefused(t *testing.T) {
	for _, tc := range []struct {
		name   string
		p      *connectProxy
		url    func(p *connectProxy) string
		status string
	}{
		{"Forbidden", &connectProxy{refuse: "HTTP/1.1 403 Forbidden"},
			func(p *connectProxy) string { return p.Addr() }, "HTTP/1.1 403 Forbidden"},
		{"WrongCredentials", &connectProxy{auth: "Basic " + base64.StdEncoding.EncodeToString([]byte("alice:right"))},
			func(p *connectProxy) string { return "http://alice:wrong@" + p.Addr() }, "HTTP/1.1 407 Proxy Authentication Required"},
		{"UnknownHost", &connectProxy{},
			func(p *connectProxy) string { return p.Addr() }, "HTTP/1.1 502 Bad Gateway"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := startConnectProxy(t, tc.p)
			proxyEnv(t, "HTTPS_PROXY", tc.url(p))
			s := dialStubs(t, "backend.proxy.test:443")
			_, err := s.empty.Call(tctx(t), &empty{})
			st := wantStatus(t, "call through a refusing proxy", err, codes.Unavailable, "")
			msg := st.Details()
			t.Logf("message: %s", msg)
			if !containsAll(msg, "HTTP proxy "+p.Addr(), "backend.proxy.test:443", tc.status) {
				t.Errorf("message %q does not name the proxy %s, the target and the status %q", msg, p.Addr(), tc.status)
			}
			if strings.Contains(msg, "wrong") {
				t.Errorf("message %q shows the proxy password", msg)
			}
		})
	}
}

// TestProxyNotUsed: NO_PROXY matches, grpc.enable_http_proxy=0, unix
// sockets and loopback addresses reach the server directly, the proxy
// seeing nothing. The name is resolved by a DNS server of the test's.
func TestProxyNotUsed(t *testing.T) {
	addr := startServer(t, serverConfig{}).Addr()
	port := portOf(t, addr)
	dns := startDNS(t, map[string]string{"direct.proxy.test": "127.0.0.1"})
	named := "dns://" + dns.Addr() + "/direct.proxy.test:" + port
	p := startConnectProxy(t, &connectProxy{hosts: map[string]string{"direct.proxy.test": "127.0.0.1"}})
	sock := peers.StartGoInteropUnix(t)
	for _, tc := range []struct {
		name   string
		env    []string
		target string
		opts   []channel.Option
	}{
		{"NO_PROXY", []string{"HTTPS_PROXY", p.Addr(), "NO_PROXY", "other.test,.proxy.test"}, named, nil},
		{"no_proxy star", []string{"HTTPS_PROXY", p.Addr(), "no_proxy", "*"}, named, nil},
		{"grpc.enable_http_proxy=0", []string{"HTTPS_PROXY", p.Addr()}, named, []channel.Option{channel.WithOption("grpc.enable_http_proxy", 0)}},
		{"unix", []string{"HTTPS_PROXY", p.Addr()}, "unix://" + sock, nil},
		{"loopback", []string{"HTTPS_PROXY", p.Addr()}, addr, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			proxyEnv(t, tc.env...)
			doEmptyUnary(t, dialStubs(t, tc.target, tc.opts...))
			wantLines(t, p)
		})
	}
	// The same name without the exception goes through the proxy.
	t.Run("Control", func(t *testing.T) {
		proxyEnv(t, "HTTPS_PROXY", p.Addr())
		doEmptyUnary(t, dialStubs(t, named))
		wantLines(t, p, "CONNECT direct.proxy.test:"+port+" HTTP/1.1")
	})
}
