package transport

import (
	"context"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/grpcactor/grpcactor/codes"
	"golang.org/x/net/http2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/interop"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	grpcka "google.golang.org/grpc/keepalive"
)

// withFastKeepalive lowers gRFC A8's 10 s floor for the test.
func withFastKeepalive(t *testing.T) {
	old := minKeepaliveTime
	minKeepaliveTime = time.Millisecond
	t.Cleanup(func() { minKeepaliveTime = old })
}

// stallProxy forwards TCP between a client and target until stall is
// called, after which it silently drops everything (a server that stops
// answering, PINGs included).
type stallProxy struct {
	lis    net.Listener
	target string
	mu     sync.Mutex
	stall  bool
	conns  []net.Conn
	wg     sync.WaitGroup
}

func newStallProxy(t *testing.T, target string) *stallProxy {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &stallProxy{lis: lis, target: target}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

func (p *stallProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.lis.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, s)
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(c, s)
		go p.pipe(s, c)
	}
}

func (p *stallProxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if err != nil {
			return
		}
		p.mu.Lock()
		stalled := p.stall
		p.mu.Unlock()
		if stalled {
			continue
		}
		if _, err := dst.Write(buf[:n]); err != nil {
			return
		}
	}
}

func (p *stallProxy) setStall() {
	p.mu.Lock()
	p.stall = true
	p.mu.Unlock()
}

func (p *stallProxy) close() {
	p.lis.Close()
	p.mu.Lock()
	for _, c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

func startInteropOpts(t *testing.T, opts ...grpc.ServerOption) string {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer(opts...)
	testgrpc.RegisterTestServiceServer(s, interop.NewTestServer())
	go s.Serve(lis)
	t.Cleanup(s.Stop)
	return lis.Addr().String()
}

func TestKeepaliveDetectsStalledServer(t *testing.T) {
	withFastKeepalive(t)
	addr := startInteropOpts(t, grpc.KeepaliveEnforcementPolicy(grpcka.EnforcementPolicy{MinTime: time.Millisecond, PermitWithoutStream: true}))
	proxy := newStallProxy(t, addr)
	c, events, ctx := kaReady(t, Config{
		Address:                     proxy.lis.Addr().String(),
		KeepaliveTime:               50 * time.Millisecond,
		KeepaliveTimeout:            100 * time.Millisecond,
		KeepalivePermitWithoutCalls: true,
	})
	// A stream that stays open while the server goes silent.
	s, _ := c.NewStream(ctx, &CallHdr{Method: "/grpc.testing.TestService/FullDuplexCall"})
	proxy.setStall()
	closed := waitKAEvent[*EventClosed](ctx, t, events)
	if closed.Err == nil || closed.Err.Code() != codes.Unavailable || !strings.Contains(closed.Err.Details(), "keepalive") {
		t.Fatalf("closed with %v, want UNAVAILABLE keepalive", closed.Err)
	}
	if _, err := s.RecvMsg(); err == nil || err == io.EOF {
		t.Fatalf("stream on the dead connection: %v", err)
	}
	c.Wait()
}

func TestKeepaliveTooManyPings(t *testing.T) {
	withFastKeepalive(t)
	// grpc-go's default enforcement (5 min between pings) answers a client
	// that pings every few milliseconds with GOAWAY ENHANCE_YOUR_CALM.
	addr := startInteropOpts(t)
	c, events, ctx := kaReady(t, Config{
		Address:                     addr,
		KeepaliveTime:               5 * time.Millisecond,
		KeepalivePermitWithoutCalls: true,
	})
	ga := waitKAEvent[*EventGoAway](ctx, t, events)
	if ga.Code != http2.ErrCodeEnhanceYourCalm || ga.Debug != "too_many_pings" {
		t.Fatalf("GOAWAY %v %q", ga.Code, ga.Debug)
	}
	waitKAEvent[*EventClosed](ctx, t, events)
	c.Wait()
}

func TestKeepaliveWakesWhenAStreamOpens(t *testing.T) {
	withFastKeepalive(t)
	addr := startInteropOpts(t, grpc.KeepaliveEnforcementPolicy(grpcka.EnforcementPolicy{MinTime: time.Millisecond, PermitWithoutStream: true}))
	proxy := newStallProxy(t, addr)
	c, events, ctx := kaReady(t, Config{
		Address:          proxy.lis.Addr().String(),
		KeepaliveTime:    5 * time.Millisecond,
		KeepaliveTimeout: 50 * time.Millisecond,
	})
	proxy.setStall()
	// Without streams (and without PermitWithoutCalls) keepalive goes
	// dormant; opening a stream must wake it, so the silent server is
	// found out.
	s, _ := c.NewStream(ctx, &CallHdr{Method: "/grpc.testing.TestService/FullDuplexCall"})
	closed := waitKAEvent[*EventClosed](ctx, t, events)
	if closed.Err == nil || !strings.Contains(closed.Err.Details(), "keepalive") {
		t.Fatalf("closed with %v, want a keepalive failure", closed.Err)
	}
	if _, err := s.RecvMsg(); err == nil {
		t.Fatal("stream survived")
	}
	c.Wait()
}

// kaReady spawns a connection with cfg and waits until it is ready; the
// returned context bounds the test's waits.
func kaReady(t *testing.T, cfg Config) (*Conn, chan any, context.Context) {
	t.Helper()
	events := make(chan any, 8)
	cfg.OnEvent = func(ev any) { events <- ev }
	c, err := Spawn(quietSystem().Root, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	waitKAEvent[*EventReady](ctx, t, events)
	return c, events, ctx
}

func waitKAEvent[T any](ctx context.Context, t *testing.T, events chan any) T {
	t.Helper()
	for {
		select {
		case ev := <-events:
			if v, ok := ev.(T); ok {
				return v
			}
		case <-ctx.Done():
			var z T
			t.Fatalf("no %T event before the deadline", z)
			return z
		}
	}
}
