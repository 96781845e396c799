package channel_test

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/grpcactor/grpcactor/channel"
	"github.com/grpcactor/grpcactor/system_test/peers"
	"google.golang.org/grpc"
	"google.golang.org/grpc/interop"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
)

// logCapture is a slog.Handler that keeps every record as "msg k=v ..."
// and lets a test wait for one that contains all of some substrings.
type logCapture struct {
	mu      sync.Mutex
	lines   []string
	changed chan struct{}
	level   slog.Level
}

func newLogCapture(level slog.Level) *logCapture {
	return &logCapture{changed: make(chan struct{}), level: level}
}

func (c *logCapture) Enabled(_ context.Context, l slog.Level) bool { return l >= c.level }
func (c *logCapture) WithAttrs([]slog.Attr) slog.Handler           { return c }
func (c *logCapture) WithGroup(string) slog.Handler                { return c }

func (c *logCapture) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Level.String() + " " + r.Message)
	r.Attrs(func(a slog.Attr) bool {
		b.WriteString(" " + a.Key + "=" + a.Value.String())
		return true
	})
	c.mu.Lock()
	c.lines = append(c.lines, b.String())
	close(c.changed)
	c.changed = make(chan struct{})
	c.mu.Unlock()
	return nil
}

// wait returns the first line that contains every one of parts, failing
// the test if none comes within a generous bound.
func (c *logCapture) wait(t *testing.T, parts ...string) string {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		c.mu.Lock()
		for _, l := range c.lines {
			ok := true
			for _, p := range parts {
				ok = ok && strings.Contains(l, p)
			}
			if ok {
				c.mu.Unlock()
				return l
			}
		}
		ch := c.changed
		c.mu.Unlock()
		select {
		case <-ch:
		case <-deadline:
			c.mu.Lock()
			defer c.mu.Unlock()
			t.Fatalf("no log line with %q; got:\n%s", parts, strings.Join(c.lines, "\n"))
			return ""
		}
	}
}

func TestLoggerConnectionFailure(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close() // nothing listens: connections are refused
	logs := newLogCapture(slog.LevelDebug)
	ch, err := channel.Insecure(addr, channel.WithLogger(slog.New(logs)))
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	ch.State(true)
	logs.wait(t, "INFO channel connectivity changed", "from=IDLE", "to=CONNECTING", "target="+addr)
	logs.wait(t, "WARN connection failed", "address="+addr, "refused")
	logs.wait(t, "WARN channel connectivity changed", "to=TRANSIENT_FAILURE", "cause=", "refused")
}

func TestLoggerGoAwayAndRetry(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	testgrpc.RegisterTestServiceServer(srv, interop.NewTestServer())
	served := make(chan struct{})
	go func() { defer close(served); srv.Serve(lis) }()
	defer func() { srv.Stop(); <-served }()

	logs := newLogCapture(slog.LevelDebug)
	addr := lis.Addr().String()
	ch, err := channel.Insecure(addr, channel.WithLogger(slog.New(logs)), channel.WithServiceConfig(`{"methodConfig": [{
		"name": [{"service": "grpc.testing.TestService"}],
		"retryPolicy": {"maxAttempts": 2, "initialBackoff": "0.001s", "maxBackoff": "0.001s",
			"backoffMultiplier": 1, "retryableStatusCodes": ["UNAVAILABLE"]}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	unary := channel.UnaryUnary[*testgrpc.SimpleRequest, *testgrpc.SimpleResponse](ch, svc+"UnaryCall")
	_, err = unary.Call(context.Background(), &testgrpc.SimpleRequest{ResponseStatus: &testgrpc.EchoStatus{Code: 14, Message: "try again"}})
	if err == nil {
		t.Fatal("want UNAVAILABLE")
	}
	logs.wait(t, "DEBUG retrying call", "method="+svc+"UnaryCall", "attempt=2", "try again")
	logs.wait(t, "DEBUG connection ready", "address="+addr)
	logs.wait(t, "INFO channel connectivity changed", "to=READY")

	stopped := make(chan struct{})
	go func() { srv.GracefulStop(); close(stopped) }()
	logs.wait(t, "INFO server sent GOAWAY", "address="+addr, "code=NO_ERROR")
	logs.wait(t, "INFO channel connectivity changed", "from=READY", "to=IDLE")
	<-stopped
}

func TestLoggerDisabledLevelsSilent(t *testing.T) {
	addr := peers.StartGoInterop(t)
	logs := newLogCapture(slog.LevelError)
	ch, err := channel.Insecure(addr, channel.WithLogger(slog.New(logs)))
	if err != nil {
		t.Fatal(err)
	}
	unary := channel.UnaryUnary[*testgrpc.SimpleRequest, *testgrpc.SimpleResponse](ch, svc+"UnaryCall")
	if _, err := unary.Call(context.Background(), &testgrpc.SimpleRequest{}); err != nil {
		t.Fatal(err)
	}
	ch.Close()
	logs.mu.Lock()
	defer logs.mu.Unlock()
	if len(logs.lines) != 0 {
		t.Fatalf("logged below the handler's level: %q", logs.lines)
	}
}

func TestLoggerResolverResults(t *testing.T) {
	addr := peers.StartGoInterop(t)
	_, port, _ := net.SplitHostPort(addr)
	logs := newLogCapture(slog.LevelDebug)
	target := "dns:///localhost:" + port
	ch, err := channel.Insecure(target, channel.WithLogger(slog.New(logs)))
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	ch.State(true)
	logs.wait(t, "DEBUG name resolved", "target="+target, "127.0.0.1:"+port)

	// A name that cannot resolve: a Warn with the error.
	bad := "dns:///no-such-host.invalid:443"
	ch2, err := channel.Insecure(bad, channel.WithLogger(slog.New(logs)))
	if err != nil {
		t.Fatal(err)
	}
	defer ch2.Close()
	ch2.State(true)
	logs.wait(t, "WARN name resolution failed", "target="+bad, "no-such-host.invalid")
	logs.wait(t, "WARN channel connectivity changed", "target="+bad, "to=TRANSIENT_FAILURE", "cause=name resolution failed")
}
