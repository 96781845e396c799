package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/grpcactor/grpcactor/channel"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
)

// The slow-link rows (issue 12): large responses through a link with
// 10 ms of latency each way (a 20 ms round trip) and 100 MB/s each way,
// emulated by a proxy in this process (slowLink), so that the bandwidth-
// delay product (2 MB) is larger than a 64 KiB HTTP/2 window. grpcactor
// runs with BDP estimation (its default) and, in the rows ending in
// "/fixed", with it off (its fixed 4 MiB stream and 16 MiB connection
// windows, the default before BDP estimation); grpc-go runs with its
// defaults (BDP estimation) in those rows. The row ending in "/64KiB"
// gives both clients fixed 64 KiB windows: what the link allows without
// window growth. Both clients accept messages of up to 16 MiB.

const (
	slowLinkDelay = 10 * time.Millisecond // one way
	slowLinkRate  = 100e6                 // bytes per second, each way
	slowLinkMax   = 16 << 20              // the clients' receive limit
)

// slowWindows is how the clients' HTTP/2 receive windows are set in a
// slow-link row.
type slowWindows int

const (
	bdpWindows   slowWindows = iota // grpcactor: its default, BDP estimation
	fixedWindows                    // grpcactor: BDP off, its fixed 4 MiB / 16 MiB windows
	smallWindows                    // both clients: fixed 64 KiB windows, BDP off
)

// slowLinkWorkloads returns the slow-link rows.
func slowLinkWorkloads() []workload {
	var ws []workload
	link := fmt.Sprintf("through a %v-latency (each way), %d MB/s link emulated in the client process (CPU/op includes the proxy)", slowLinkDelay, int(slowLinkRate/1e6))
	for _, win := range []slowWindows{bdpWindows, fixedWindows} {
		suffix, how := "", "grpcactor with BDP estimation (its default) vs grpc-go's defaults (BDP estimation)"
		if win == fixedWindows {
			suffix, how = "/fixed", "grpcactor with BDP estimation off (fixed 4 MiB stream, 16 MiB connection windows) vs grpc-go's defaults (BDP estimation)"
		}
		for _, size := range []int{1 << 20, 4 << 20} {
			ws = append(ws, slowStreamRow(size, suffix, link, how, win))
		}
		for _, size := range []int{1 << 20, 4 << 20} {
			ws = append(ws, workload{
				key:       "slowlink/unary/" + sizeName(size) + suffix,
				desc:      fmt.Sprintf("UnaryCall, small request, %s response, concurrency 1, %s; %s", sizeName(size), link, how),
				conc:      1,
				respBytes: size,
				open:      slowLinkOpen(win, largeUnaryOpen(size)),
			})
		}
	}
	// What the link allows without window growth: both clients with fixed
	// 64 KiB windows (HTTP/2's default), one window per round trip.
	ws = append(ws, slowStreamRow(1<<20, "/64KiB", link, "both clients with fixed 64 KiB stream and connection windows (BDP off)", smallWindows))
	return ws
}

func slowStreamRow(size int, suffix, link, how string, win slowWindows) workload {
	count := max(4, (16<<20)/size)
	return workload{
		key:       "slowlink/stream/" + sizeName(size) + suffix,
		desc:      fmt.Sprintf("StreamingOutputCall asking for %d responses of %s, call after call, %s; %s; op = one message received", count, sizeName(size), link, how),
		conc:      1,
		respBytes: size,
		open:      slowLinkOpen(win, serverStreamOpen(size, count)),
	}
}

// slowLinkOpen runs open's workload through a new slow link to the
// server, with the clients' windows set as win says.
func slowLinkOpen(win slowWindows, open func(context.Context, impl, *serverProc) (*session, error)) func(context.Context, impl, *serverProc) (*session, error) {
	return func(ctx context.Context, im impl, srv *serverProc) (*session, error) {
		link, err := newSlowLink(srv.addr, slowLinkDelay, slowLinkRate)
		if err != nil {
			return nil, err
		}
		slow := impl{name: im.name, dial: func(addr string) (client, error) { return dialGRPCGoSlowLink(addr, win) }}
		if im.name == ours.name {
			slow.dial = func(addr string) (client, error) { return dialOursSlowLink(addr, win) }
		}
		s, err := open(ctx, slow, &serverProc{addr: link.addr(), echoAddr: srv.echoAddr})
		if err != nil {
			link.close()
			return nil, err
		}
		closeClient := s.close
		s.close = func() error {
			err := closeClient()
			link.close()
			return err
		}
		return s, nil
	}
}

// dialOursSlowLink is dialOurs with the receive limit raised and the
// windows set as win says.
func dialOursSlowLink(addr string, win slowWindows) (client, error) {
	opts := []channel.Option{channel.WithMaxReceiveMessageSize(slowLinkMax)}
	switch win {
	case fixedWindows:
		opts = append(opts, channel.WithBDPProbe(false))
	case smallWindows:
		opts = append(opts, channel.WithInitialWindowSize(64<<10), channel.WithInitialConnWindowSize(64<<10))
	}
	ch, err := channel.Insecure(addr, opts...)
	if err != nil {
		return nil, err
	}
	return &oursClient{
		ch:     ch,
		unaryC: channel.UnaryUnary[*testgrpc.SimpleRequest, *testgrpc.SimpleResponse](ch, testService+"UnaryCall"),
		bidiC:  channel.StreamStream[*testgrpc.StreamingOutputCallRequest, *testgrpc.StreamingOutputCallResponse](ch, testService+"FullDuplexCall"),
		ssC:    channel.UnaryStream[*testgrpc.StreamingOutputCallRequest, *testgrpc.StreamingOutputCallResponse](ch, testService+"StreamingOutputCall"),
	}, nil
}

// dialGRPCGoSlowLink is dialGRPCGo with the receive limit raised and, for
// smallWindows, fixed 64 KiB windows; otherwise its defaults.
func dialGRPCGoSlowLink(addr string, win slowWindows) (client, error) {
	opts := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(slowLinkMax))}
	if win == smallWindows {
		opts = append(opts, grpc.WithInitialWindowSize(64<<10), grpc.WithInitialConnWindowSize(64<<10))
	}
	cc, err := grpc.NewClient(addr, opts...)
	if err != nil {
		return nil, err
	}
	return &goClient{cc: cc, tc: testgrpc.NewTestServiceClient(cc)}, nil
}

// largeUnaryOpen makes UnaryCalls with a small request and a response of
// size bytes.
func largeUnaryOpen(size int) func(context.Context, impl, *serverProc) (*session, error) {
	return func(ctx context.Context, im impl, srv *serverProc) (*session, error) {
		c, err := dialReady(ctx, im, srv.addr)
		if err != nil {
			return nil, err
		}
		return &session{
			newWorker: func(ctx context.Context) (worker, error) {
				req := &testgrpc.SimpleRequest{ResponseSize: int32(size)}
				return worker{op: func() (time.Duration, error) {
					t0 := time.Now()
					resp, err := c.unary(ctx, req)
					lat := time.Since(t0)
					if err != nil {
						return 0, err
					}
					return lat, checkUnary(resp, size)
				}}, nil
			},
			close: c.close,
		}, nil
	}
}

// slowLink is a TCP proxy on 127.0.0.1 that emulates a network path to a
// backend. Each direction of each connection is a bottleneck of rate
// bytes per second followed by delay of propagation: bytes read at t leave
// the bottleneck at d = max(t, when the previous bytes left) + n/rate and
// are written to the other side at d + delay. At most one bandwidth-delay
// product plus as much again (the bottleneck's buffer) is held per
// direction; beyond that the proxy stops reading, and TCP's flow control
// holds the sender back, as a full router queue would (without the loss).
type slowLink struct {
	lis     net.Listener
	backend string
	delay   time.Duration
	rate    float64
	limit   int // bytes held per direction

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

func newSlowLink(backend string, delay time.Duration, rate float64) (*slowLink, error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("slow link: %w", err)
	}
	l := &slowLink{lis: lis, backend: backend, delay: delay, rate: rate,
		limit: 2 * int(rate*delay.Seconds()), conns: map[net.Conn]struct{}{}}
	l.wg.Add(1)
	go l.accept()
	return l, nil
}

func (l *slowLink) addr() string { return l.lis.Addr().String() }

// close stops the listener, closes every connection and waits for the
// proxy's goroutines.
func (l *slowLink) close() {
	l.lis.Close()
	l.mu.Lock()
	l.closed = true
	for c := range l.conns {
		c.Close()
	}
	l.mu.Unlock()
	l.wg.Wait()
}

// track adds c to the connections close closes; false if closed already.
func (l *slowLink) track(c net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		c.Close()
		return false
	}
	l.conns[c] = struct{}{}
	return true
}

func (l *slowLink) accept() {
	defer l.wg.Done()
	for {
		client, err := l.lis.Accept()
		if err != nil {
			return
		}
		server, err := net.Dial("tcp", l.backend)
		if err != nil {
			client.Close()
			continue
		}
		if !l.track(client) || !l.track(server) {
			client.Close()
			server.Close()
			return
		}
		l.wg.Add(2)
		go l.direction(server, client)
		go l.direction(client, server)
	}
}

// bufPool holds the proxy's read buffers, so that the proxy adds few
// allocations to the client process's counts.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 64<<10); return &b }}

// piece is bytes on their way, with the time they are due at the other
// side.
type piece struct {
	b   []byte
	due time.Time
}

// direction carries src to dst: this goroutine reads and schedules, a
// second one delivers on time. When src ends, what was read is delivered
// and dst's write side is closed; an error closes both.
func (l *slowLink) direction(dst, src net.Conn) {
	defer l.wg.Done()
	var (
		mu     sync.Mutex
		cond   = sync.NewCond(&mu)
		held   int
		failed bool
	)
	q := make(chan piece, 1<<12)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for p := range q {
			if !failed {
				if d := time.Until(p.due); d > 0 {
					time.Sleep(d)
				}
				if _, err := dst.Write(p.b); err != nil {
					failed = true
					src.Close()
					dst.Close()
				}
			}
			mu.Lock()
			held -= len(p.b)
			cond.Signal()
			mu.Unlock()
			b := p.b[:cap(p.b)]
			bufPool.Put(&b)
		}
		if tc, ok := dst.(*net.TCPConn); ok && !failed {
			tc.CloseWrite()
		}
	}()
	var left time.Time // when the last byte read leaves the bottleneck
	for {
		buf := *(bufPool.Get().(*[]byte))
		n, err := src.Read(buf)
		if n > 0 {
			mu.Lock()
			for held+n > l.limit && held > 0 {
				cond.Wait()
			}
			held += n
			mu.Unlock()
			now := time.Now()
			left = later(now, left).Add(time.Duration(float64(n) / l.rate * float64(time.Second)))
			q <- piece{b: buf[:n], due: left.Add(l.delay)}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				dst.Close()
			}
			break
		}
	}
	close(q)
	<-done
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
