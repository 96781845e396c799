package system_test

// HTTP CONNECT proxies (gRFC A1): channels reach grpc-go's interop server
// through a CONNECT proxy written here, which resolves target names itself
// (from its own table) -- a call that succeeds to a name only the proxy
// knows went through it, unresolved by the client.

import (
	"encoding/base64"
	"net"
	"strings"
	"testing"

	"github.com/grpcactor/grpcactor/channel"
	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/credentials"
	"github.com/grpcactor/grpcactor/system_test/peers"
)

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

func wantLines(t *testing.T, p *peers.ConnectProxy, want ...string) {
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
	p := peers.StartConnectProxy(t, &peers.ConnectProxy{
		Hosts: map[string]string{"backend.proxy.test": "127.0.0.1"},
		Auth:  "Basic " + base64.StdEncoding.EncodeToString([]byte("alice:open sesame")),
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
	p := peers.StartConnectProxy(t, &peers.ConnectProxy{Hosts: map[string]string{"backend.proxy.test": "127.0.0.1"}, EarlyServerBytes: true})
	proxyEnv(t, "HTTPS_PROXY", p.Addr())
	s := dialStubs(t, target)
	doEmptyUnary(t, s)
	doLargeUnary(t, s)
	if p.EarlyBytes() == 0 {
		t.Fatal("the server sent nothing before the client's preface: the test proved nothing")
	}
	wantLines(t, p, "CONNECT "+target+" HTTP/1.1")
}

// TestProxyOption: grpc.http_proxy given as an option, with https_proxy in
// the environment naming another (dead) proxy that must not be used.
func TestProxyOption(t *testing.T) {
	addr := startServer(t, serverConfig{}).Addr()
	target := "dns:///backend.proxy.test:" + portOf(t, addr)
	p := peers.StartConnectProxy(t, &peers.ConnectProxy{Hosts: map[string]string{"backend.proxy.test": "127.0.0.1"}})
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
	p := peers.StartConnectProxy(t, &peers.ConnectProxy{Hosts: map[string]string{"api.test.example.com": "127.0.0.1"}})
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
		p      *peers.ConnectProxy
		url    func(p *peers.ConnectProxy) string
		status string
	}{
		{"Forbidden", &peers.ConnectProxy{Refuse: "HTTP/1.1 403 Forbidden"},
			func(p *peers.ConnectProxy) string { return p.Addr() }, "HTTP/1.1 403 Forbidden"},
		{"WrongCredentials", &peers.ConnectProxy{Auth: "Basic " + base64.StdEncoding.EncodeToString([]byte("alice:right"))},
			func(p *peers.ConnectProxy) string { return "http://alice:wrong@" + p.Addr() }, "HTTP/1.1 407 Proxy Authentication Required"},
		{"UnknownHost", &peers.ConnectProxy{},
			func(p *peers.ConnectProxy) string { return p.Addr() }, "HTTP/1.1 502 Bad Gateway"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := peers.StartConnectProxy(t, tc.p)
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
	p := peers.StartConnectProxy(t, &peers.ConnectProxy{Hosts: map[string]string{"direct.proxy.test": "127.0.0.1"}})
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
