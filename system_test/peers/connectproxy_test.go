package peers_test

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/grpcactor/grpcactor/system_test/peers"
)

// connectThrough sends CONNECT target to p on a fresh connection and
// returns the answer's status line and a reader of what follows it.
func connectThrough(t *testing.T, p *peers.ConnectProxy, target string) (string, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(20 * time.Second))
	fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", target, target)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil {
		t.Fatalf("reading the proxy's answer: %v", err)
	}
	return resp.Proto + " " + resp.Status, br
}

// The proxy tunnels to the hosts of its table, with the target's first
// bytes in the 200 answer's write when asked, records every request, and
// refuses unknown hosts and missing credentials.
func TestConnectProxy(t *testing.T) {
	_, port, _ := net.SplitHostPort(peers.StartGoInterop(t))
	p := peers.StartConnectProxy(t, &peers.ConnectProxy{Hosts: map[string]string{"backend.test": "127.0.0.1"}, EarlyServerBytes: true})
	target := net.JoinHostPort("backend.test", port)
	status, br := connectThrough(t, p, target)
	if status != "HTTP/1.1 200 Connection established" {
		t.Fatalf("CONNECT %s: %q, want 200", target, status)
	}
	// grpc-go's server speaks first (its SETTINGS): those bytes came with
	// the answer.
	if _, err := br.ReadByte(); err != nil {
		t.Fatalf("reading the server's first bytes: %v", err)
	}
	if p.EarlyBytes() == 0 {
		t.Error("EarlyBytes() = 0 with EarlyServerBytes set")
	}
	if req := <-p.Requests(); req.Method != http.MethodConnect || req.Host != target {
		t.Errorf("request %s %s, want CONNECT %s", req.Method, req.Host, target)
	}

	if status, _ := connectThrough(t, p, "elsewhere.test:1"); status != "HTTP/1.1 502 Bad Gateway" {
		t.Errorf("CONNECT to an unknown host: %q, want 502", status)
	}
	if got, want := p.Lines(), []string{"CONNECT " + target + " HTTP/1.1", "CONNECT elsewhere.test:1 HTTP/1.1"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Lines() = %q, want %q", got, want)
	}

	locked := peers.StartConnectProxy(t, &peers.ConnectProxy{Hosts: map[string]string{"backend.test": "127.0.0.1"}, Auth: "Basic x"})
	if status, _ := connectThrough(t, locked, target); status != "HTTP/1.1 407 Proxy Authentication Required" {
		t.Errorf("CONNECT without credentials: %q, want 407", status)
	}
}
