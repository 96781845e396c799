package proxy_test

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/grpcactor/grpcactor/internal/proxy"
	"github.com/grpcactor/grpcactor/system_test/peers"
)

func tctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// expectGreeting reads greeting from c and checks an echo round trip.
func expectGreeting(t *testing.T, c net.Conn, greeting string) {
	t.Helper()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	buf := make([]byte, len(greeting))
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != greeting {
		t.Fatalf("read %q, %v through the tunnel; want %q", buf, err, greeting)
	}
	if _, err := io.WriteString(c, "ping"); err != nil {
		t.Fatal(err)
	}
	buf = make([]byte, 4)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("echo %q, %v through the tunnel; want ping", buf, err)
	}
}

func TestDialThroughProxy(t *testing.T) {
	backend := startEcho(t, "hello")
	_, port, _ := net.SplitHostPort(backend)
	p := peers.StartConnectProxy(t, &peers.ConnectProxy{Hosts: map[string]string{"backend.test": "127.0.0.1"}})
	u, err := proxy.ParseURL("http://" + p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	d := &proxy.Dialer{Proxy: u, UserAgent: "grpcactor-test/1"}
	target := net.JoinHostPort("backend.test", port)
	c, err := d.DialContext(tctx(t), "tcp", target)
	if err != nil {
		t.Fatalf("DialContext: %v", err)
	}
	defer c.Close()
	expectGreeting(t, c, "hello")
	req := <-p.Requests()
	if req.Method != "CONNECT" || req.RequestURI != target || req.Host != target || req.Proto != "HTTP/1.1" {
		t.Errorf("proxy saw %s %s %s (Host %q), want CONNECT %s HTTP/1.1", req.Method, req.RequestURI, req.Proto, req.Host, target)
	}
	if got := req.Header.Get("User-Agent"); got != "grpcactor-test/1" {
		t.Errorf("User-Agent %q, want grpcactor-test/1", got)
	}
	if got := req.Header.Get("Proxy-Authorization"); got != "" {
		t.Errorf("Proxy-Authorization %q sent to a proxy URL without credentials", got)
	}
}

func TestDialAuthenticated(t *testing.T) {
	backend := startEcho(t, "secret-hello")
	_, port, _ := net.SplitHostPort(backend)
	want := "Basic " + base64.StdEncoding.EncodeToString([]byte("alice:pa ss:word"))
	p := peers.StartConnectProxy(t, &peers.ConnectProxy{Hosts: map[string]string{"backend.test": "127.0.0.1"}, Auth: want})
	target := net.JoinHostPort("backend.test", port)

	t.Run("Credentials", func(t *testing.T) {
		u, err := proxy.ParseURL("http://alice:pa%20ss%3Aword@" + p.Addr())
		if err != nil {
			t.Fatal(err)
		}
		c, err := (&proxy.Dialer{Proxy: u}).DialContext(tctx(t), "tcp", target)
		if err != nil {
			t.Fatalf("DialContext: %v", err)
		}
		defer c.Close()
		expectGreeting(t, c, "secret-hello")
		if got := (<-p.Requests()).Header.Get("Proxy-Authorization"); got != want {
			t.Errorf("Proxy-Authorization %q, want %q", got, want)
		}
	})
	t.Run("WrongPassword", func(t *testing.T) {
		u, err := proxy.ParseURL("http://alice:wrong@" + p.Addr())
		if err != nil {
			t.Fatal(err)
		}
		_, err = (&proxy.Dialer{Proxy: u}).DialContext(tctx(t), "tcp", target)
		<-p.Requests()
		if err == nil {
			t.Fatal("DialContext with a wrong password succeeded")
		}
		msg := err.Error()
		for _, want := range []string{p.Addr(), target, "HTTP/1.1 407 Proxy Authentication Required"} {
			if !strings.Contains(msg, want) {
				t.Errorf("error %q does not name %q", msg, want)
			}
		}
		if strings.Contains(msg, "wrong") {
			t.Errorf("error %q shows the password", msg)
		}
	})
	t.Run("NoCredentials", func(t *testing.T) {
		u, _ := proxy.ParseURL(p.Addr())
		_, err := (&proxy.Dialer{Proxy: u}).DialContext(tctx(t), "tcp", target)
		<-p.Requests()
		if err == nil || !strings.Contains(err.Error(), "407") {
			t.Fatalf("DialContext without credentials = %v, want a 407 refusal", err)
		}
	})
}

func TestDialRefused(t *testing.T) {
	p := peers.StartConnectProxy(t, &peers.ConnectProxy{Refuse: "HTTP/1.1 403 Forbidden"})
	u, _ := proxy.ParseURL(p.Addr())
	_, err := (&proxy.Dialer{Proxy: u}).DialContext(tctx(t), "tcp", "backend.test:443")
	if err == nil {
		t.Fatal("DialContext through a refusing proxy succeeded")
	}
	want := "HTTP proxy " + p.Addr() + " refused CONNECT backend.test:443: HTTP/1.1 403 Forbidden"
	if err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
}

func TestDialUnknownHost(t *testing.T) {
	p := peers.StartConnectProxy(t, &peers.ConnectProxy{})
	u, _ := proxy.ParseURL(p.Addr())
	_, err := (&proxy.Dialer{Proxy: u}).DialContext(tctx(t), "tcp", "nowhere.test:443")
	if err == nil || !strings.Contains(err.Error(), "502 Bad Gateway") {
		t.Fatalf("DialContext to a host the proxy cannot reach = %v, want its 502", err)
	}
}

func TestDialNoProxyListening(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	u, _ := proxy.ParseURL(addr)
	_, err = (&proxy.Dialer{Proxy: u}).DialContext(tctx(t), "tcp", "backend.test:443")
	if err == nil || !strings.Contains(err.Error(), "HTTP proxy "+addr) {
		t.Fatalf("DialContext to a dead proxy = %v, want an error naming it", err)
	}
}

func TestDialCustomDialer(t *testing.T) {
	backend := startEcho(t, "hi")
	_, port, _ := net.SplitHostPort(backend)
	p := peers.StartConnectProxy(t, &peers.ConnectProxy{Hosts: map[string]string{"backend.test": "127.0.0.1"}})
	u, _ := proxy.ParseURL("proxy.test:3128") // only the custom dialer knows it
	var dialed []string
	d := &proxy.Dialer{Proxy: u, Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
		dialed = append(dialed, network+" "+addr)
		var nd net.Dialer
		return nd.DialContext(ctx, "tcp", p.Addr())
	}}
	c, err := d.DialContext(tctx(t), "tcp", net.JoinHostPort("backend.test", port))
	if err != nil {
		t.Fatalf("DialContext: %v", err)
	}
	defer c.Close()
	expectGreeting(t, c, "hi")
	if len(dialed) != 1 || dialed[0] != "tcp proxy.test:3128" {
		t.Errorf("custom dialer called with %q, want [tcp proxy.test:3128]", dialed)
	}
}

// pipeProxy runs answer on the proxy side of a net.Pipe after reading the
// CONNECT request, and returns the client side.
func pipeProxy(t *testing.T, answer func(c net.Conn, req *http.Request)) net.Conn {
	client, server := net.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer server.Close()
		req, err := http.ReadRequest(bufio.NewReader(server))
		if err != nil {
			return
		}
		answer(server, req)
	}()
	t.Cleanup(func() {
		client.Close()
		<-done
	})
	return client
}

func TestHandshakeKeepsEarlyBytes(t *testing.T) {
	// The proxy's answer and the server's first bytes come in one write:
	// the bytes read past the answer are the tunnel's first.
	c := pipeProxy(t, func(c net.Conn, _ *http.Request) {
		io.WriteString(c, "HTTP/1.1 200 OK\r\nX-Proxy: test\r\n\r\nPRI * early bytes")
		io.WriteString(c, " and later ones")
	})
	u, _ := proxy.ParseURL("p:1")
	tc, err := (&proxy.Dialer{Proxy: u}).Handshake(tctx(t), c, "backend.test:443")
	if err != nil {
		t.Fatalf("Handshake: %v", err)
	}
	got := make([]byte, len("PRI * early bytes and later ones"))
	if _, err := io.ReadFull(tc, got); err != nil || string(got) != "PRI * early bytes and later ones" {
		t.Fatalf("tunnel read %q, %v; want the bytes after the answer, none lost", got, err)
	}
}

func TestHandshakeNoEarlyBytesReturnsConn(t *testing.T) {
	c := pipeProxy(t, func(c net.Conn, _ *http.Request) {
		io.WriteString(c, "HTTP/1.0 200 Connection established\r\n\r\n")
	})
	u, _ := proxy.ParseURL("p:1")
	tc, err := (&proxy.Dialer{Proxy: u}).Handshake(tctx(t), c, "backend.test:443")
	if err != nil {
		t.Fatalf("Handshake: %v", err)
	}
	if tc != c {
		t.Errorf("Handshake returned %T, want the connection itself when nothing was read past the answer", tc)
	}
}

func TestHandshakeCancelled(t *testing.T) {
	got := make(chan struct{})
	c := pipeProxy(t, func(c net.Conn, _ *http.Request) {
		close(got)
		io.Copy(io.Discard, c) // never answers
	})
	u, _ := proxy.ParseURL("p:1")
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-got
		cancel()
	}()
	_, err := (&proxy.Dialer{Proxy: u}).Handshake(ctx, c, "backend.test:443")
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "HTTP proxy p:1") {
		t.Fatalf("Handshake with a cancelled context = %v, want context.Canceled naming the proxy", err)
	}
}

func TestHandshakeBadAnswers(t *testing.T) {
	tests := []struct {
		answer, want string
	}{
		{"", "no answer"},
		{"HTTP/1.1 200 OK\r\n", "cut short"},
		{"SSH-2.0-OpenSSH\r\n\r\n", "not an HTTP/1.x status line"},
		{"HTTP/1.1 2x0 OK\r\n\r\n", "no 3-digit status code"},
		{"HTTP/1.1 2000 OK\r\n\r\n", "no 3-digit status code"},
		{"HTTP/2 200\r\n\r\n", "not an HTTP/1.x status line"},
		{"HTTP/1.1 200 OK\r\nX: " + strings.Repeat("a", 70<<10) + "\r\n\r\n", "longer than"},
		{"HTTP/1.1 200 OK\r\nX: " + strings.Repeat("a", 5<<10) + "\r\n\r\n", "answer has a line longer than 4096 bytes"},
		{"HTTP/1.1 200 OK\r\n" + strings.Repeat("X: "+strings.Repeat("a", 1000)+"\r\n", 70) + "\r\n", "answer longer than 65536 bytes"},
		{"HTTP/1.1 301 Moved Permanently\r\nLocation: x\r\n\r\n", "refused CONNECT backend.test:443: HTTP/1.1 301 Moved Permanently"},
	}
	for _, tt := range tests {
		c := pipeProxy(t, func(c net.Conn, _ *http.Request) { io.WriteString(c, tt.answer) })
		u, _ := proxy.ParseURL("p:1")
		_, err := (&proxy.Dialer{Proxy: u}).Handshake(tctx(t), c, "backend.test:443")
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("answer %.40q: error %v, want one containing %q", tt.answer, err, tt.want)
		}
	}
}
