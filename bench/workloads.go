package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"time"

	testgrpc "google.golang.org/grpc/interop/grpc_testing"
)

// workload is one row of the table.
type workload struct {
	key  string // what -rows matches, and the row's name
	desc string // what one op is
	conc int    // closed-loop workers
	// respBytes is the response payload per op, for the MB/s column (0: none).
	respBytes int
	// open makes a client's session: connections made and READY.
	open func(ctx context.Context, im impl, srv *serverProc) (*session, error)
}

const (
	streamMessages = 1000 // 1 KiB responses per server-streaming call
	churnChannels  = 100  // channels in the churn row
	churnCalls     = 10   // unary calls per channel in the churn row
	idleChannels   = 200  // channels in the idle-memory measure
)

func sizeName(n int) string {
	switch {
	case n == 0:
		return "0B"
	case n%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", n>>20)
	case n%(1<<10) == 0:
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return fmt.Sprintf("%dB", n)
}

// workloads returns every row, in table order.
func workloads() []workload {
	var ws []workload
	for _, size := range []int{0, 1 << 10, 64 << 10, 1 << 20} {
		for _, conc := range []int{1, 8, 64} {
			ws = append(ws, workload{
				key:       fmt.Sprintf("unary/%s/c%d", sizeName(size), conc),
				desc:      fmt.Sprintf("UnaryCall, %s request and response, concurrency %d (closed loop) on one channel", sizeName(size), conc),
				conc:      conc,
				respBytes: size,
				open:      unaryOpen(size),
			})
		}
	}
	ws = append(ws, msgWorkloads()...)
	ws = append(ws, slowLinkWorkloads()...)
	for _, size := range []int{0, 1 << 10} {
		ws = append(ws, workload{
			key:       "pingpong/" + sizeName(size),
			desc:      fmt.Sprintf("one FullDuplexCall stream, send one %s request, receive one %s response; op = one round trip", sizeName(size), sizeName(size)),
			conc:      1,
			respBytes: size,
			open:      pingPongOpen(size),
		})
	}
	ws = append(ws, workload{
		key:       "serverstream/1KiB",
		desc:      fmt.Sprintf("StreamingOutputCall asking for %d responses of 1 KiB, call after call; op = one message received", streamMessages),
		conc:      1,
		respBytes: 1 << 10,
		open:      serverStreamOpen(1<<10, streamMessages),
	})
	ws = append(ws, workload{
		key:  fmt.Sprintf("channels/%d", churnChannels),
		desc: fmt.Sprintf("%d workers, each: open a new channel, %d unary 0B calls, close it; op = one channel's life (latency: its whole life)", churnChannels, churnCalls),
		conc: churnChannels,
		open: churnOpen,
	})
	ws = append(ws, workload{
		key:  "connect",
		desc: "new channel to first successful 0B unary call (then close, not timed); op = one channel",
		conc: 1,
		open: connectOpen,
	})
	return ws
}

// floorWorkload is the loopback TCP round trip: one byte to the server
// process's echo listener and back, over a plain socket.
var floorWorkload = workload{
	key:  "floor/tcp",
	desc: "1-byte ping-pong over a plain loopback TCP socket to an echo goroutine in the server process",
	conc: 1,
	open: func(ctx context.Context, _ impl, srv *serverProc) (*session, error) {
		return &session{
			newWorker: func(ctx context.Context) (worker, error) {
				c, err := net.Dial("tcp", srv.echoAddr)
				if err != nil {
					return worker{}, err
				}
				c.(*net.TCPConn).SetNoDelay(true)
				b := make([]byte, 1)
				return worker{
					op: func() (time.Duration, error) {
						t0 := time.Now()
						if _, err := c.Write(b); err != nil {
							return 0, err
						}
						if _, err := io.ReadFull(c, b); err != nil {
							return 0, err
						}
						return time.Since(t0), nil
					},
					stop: c.Close,
				}, nil
			},
			close: func() error { return nil },
		}, nil
	},
}

func unaryRequest(size int) *testgrpc.SimpleRequest {
	req := &testgrpc.SimpleRequest{ResponseSize: int32(size)}
	if size > 0 {
		req.Payload = &testgrpc.Payload{Body: make([]byte, size)}
	}
	return req
}

func checkUnary(resp *testgrpc.SimpleResponse, size int) error {
	if n := len(resp.GetPayload().GetBody()); n != size {
		return fmt.Errorf("response payload %d bytes, want %d", n, size)
	}
	return nil
}

// dialReady opens a client and makes one 0B call so that it is READY.
func dialReady(ctx context.Context, im impl, addr string) (client, error) {
	c, err := im.dial(addr)
	if err != nil {
		return nil, fmt.Errorf("opening a channel: %w", err)
	}
	if _, err := c.unary(ctx, unaryRequest(0)); err != nil {
		c.close()
		return nil, fmt.Errorf("first call on a new channel: %w", err)
	}
	return c, nil
}

func unaryOpen(size int) func(context.Context, impl, *serverProc) (*session, error) {
	return func(ctx context.Context, im impl, srv *serverProc) (*session, error) {
		if im.unaryOpen != nil {
			return im.unaryOpen(ctx, srv.addr, size)
		}
		c, err := dialReady(ctx, im, srv.addr)
		if err != nil {
			return nil, err
		}
		return &session{
			newWorker: func(ctx context.Context) (worker, error) {
				req := unaryRequest(size)
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

func pingPongOpen(size int) func(context.Context, impl, *serverProc) (*session, error) {
	return func(ctx context.Context, im impl, srv *serverProc) (*session, error) {
		c, err := dialReady(ctx, im, srv.addr)
		if err != nil {
			return nil, err
		}
		return &session{
			newWorker: func(ctx context.Context) (worker, error) {
				s, err := c.openBidi(ctx)
				if err != nil {
					return worker{}, fmt.Errorf("opening FullDuplexCall: %w", err)
				}
				req := &testgrpc.StreamingOutputCallRequest{ResponseParameters: []*testgrpc.ResponseParameters{{Size: int32(size)}}}
				if size > 0 {
					req.Payload = &testgrpc.Payload{Body: make([]byte, size)}
				}
				return worker{
					op: func() (time.Duration, error) {
						t0 := time.Now()
						if err := s.Send(req); err != nil {
							return 0, fmt.Errorf("sending: %w", err)
						}
						resp, err := s.Recv()
						lat := time.Since(t0)
						if err != nil {
							return 0, fmt.Errorf("receiving: %w", err)
						}
						if n := len(resp.GetPayload().GetBody()); n != size {
							return 0, fmt.Errorf("response payload %d bytes, want %d", n, size)
						}
						return lat, nil
					},
					stop: func() error {
						if err := s.CloseSend(); err != nil {
							return fmt.Errorf("CloseSend: %w", err)
						}
						for {
							if _, err := s.Recv(); err == io.EOF {
								return nil
							} else if err != nil {
								return fmt.Errorf("receiving after CloseSend: %w", err)
							}
						}
					},
				}, nil
			},
			close: c.close,
		}, nil
	}
}

func serverStreamOpen(size, count int) func(context.Context, impl, *serverProc) (*session, error) {
	return func(ctx context.Context, im impl, srv *serverProc) (*session, error) {
		c, err := dialReady(ctx, im, srv.addr)
		if err != nil {
			return nil, err
		}
		req := &testgrpc.StreamingOutputCallRequest{}
		for range count {
			req.ResponseParameters = append(req.ResponseParameters, &testgrpc.ResponseParameters{Size: int32(size)})
		}
		return &session{
			newWorker: func(ctx context.Context) (worker, error) {
				var s recvStream
				got := 0
				recv := func() error {
					for {
						if s == nil {
							var err error
							if s, err = c.serverStream(ctx, req); err != nil {
								return fmt.Errorf("starting StreamingOutputCall: %w", err)
							}
							got = 0
						}
						resp, err := s.Recv()
						if err == io.EOF {
							if got != count {
								return fmt.Errorf("stream ended after %d responses, want %d", got, count)
							}
							s = nil
							continue
						}
						if err != nil {
							return fmt.Errorf("receiving response %d: %w", got, err)
						}
						if n := len(resp.GetPayload().GetBody()); n != size {
							return fmt.Errorf("response payload %d bytes, want %d", n, size)
						}
						got++
						return nil
					}
				}
				return worker{
					op: func() (time.Duration, error) {
						t0 := time.Now()
						err := recv()
						return time.Since(t0), err
					},
					stop: func() error {
						// Drain the call in progress so that it ends cleanly.
						for s != nil {
							if _, err := s.Recv(); err == io.EOF {
								return nil
							} else if err != nil {
								return fmt.Errorf("draining StreamingOutputCall: %w", err)
							}
						}
						return nil
					},
				}, nil
			},
			close: c.close,
		}, nil
	}
}

func churnOpen(ctx context.Context, im impl, srv *serverProc) (*session, error) {
	return &session{
		newWorker: func(ctx context.Context) (worker, error) {
			req := unaryRequest(0)
			return worker{op: func() (time.Duration, error) {
				t0 := time.Now()
				c, err := im.dial(srv.addr)
				if err != nil {
					return 0, fmt.Errorf("opening a channel: %w", err)
				}
				for i := range churnCalls {
					resp, err := c.unary(ctx, req)
					if err == nil {
						err = checkUnary(resp, 0)
					}
					if err != nil {
						c.close()
						return 0, fmt.Errorf("call %d on a new channel: %w", i+1, err)
					}
				}
				if err := c.close(); err != nil {
					return 0, fmt.Errorf("closing a channel: %w", err)
				}
				return time.Since(t0), nil
			}}, nil
		},
		close: func() error { return nil },
	}, nil
}

func connectOpen(ctx context.Context, im impl, srv *serverProc) (*session, error) {
	return &session{
		newWorker: func(ctx context.Context) (worker, error) {
			req := unaryRequest(0)
			return worker{op: func() (time.Duration, error) {
				t0 := time.Now()
				c, err := im.dial(srv.addr)
				if err != nil {
					return 0, fmt.Errorf("opening a channel: %w", err)
				}
				_, err = c.unary(ctx, req)
				lat := time.Since(t0)
				cerr := c.close()
				if err != nil {
					return 0, fmt.Errorf("first call on a new channel: %w", err)
				}
				if cerr != nil {
					return 0, fmt.Errorf("closing a channel: %w", cerr)
				}
				return lat, nil
			}}, nil
		},
		close: func() error { return nil },
	}, nil
}

// idleResult is the cost of idle READY channels of one client.
type idleResult struct {
	heapInuse  float64 // bytes of HeapInuse per channel
	heapAlloc  float64 // bytes of live heap (HeapAlloc) per channel
	goroutines float64 // goroutines per channel
	err        error
}

// measureIdle opens n channels, makes one call on each, lets them settle,
// forces GC and returns the growth of the heap and of the goroutine count
// per channel. One channel is opened and closed first, so that one-time
// costs (a library's global state) are not counted.
func measureIdle(ctx context.Context, im impl, addr string, n int) idleResult {
	if c, err := dialReady(ctx, im, addr); err != nil {
		return idleResult{err: err}
	} else {
		c.close()
	}
	settle := func() {
		time.Sleep(300 * time.Millisecond)
		runtime.GC()
		runtime.GC()
	}
	settle()
	h0, a0 := heapStats()
	g0 := runtime.NumGoroutine()
	clients := make([]client, 0, n)
	defer func() {
		for _, c := range clients {
			c.close()
		}
	}()
	for i := range n {
		c, err := dialReady(ctx, im, addr)
		if err != nil {
			return idleResult{err: fmt.Errorf("channel %d of %d: %w", i+1, n, err)}
		}
		clients = append(clients, c)
	}
	settle()
	h1, a1 := heapStats()
	g1 := runtime.NumGoroutine()
	r := idleResult{
		heapInuse:  (float64(h1) - float64(h0)) / float64(n),
		heapAlloc:  (float64(a1) - float64(a0)) / float64(n),
		goroutines: float64(g1-g0) / float64(n),
	}
	// A channel that did not stay READY while idle is a failure too.
	for i, c := range clients {
		if _, err := c.unary(ctx, unaryRequest(0)); err != nil {
			r.err = fmt.Errorf("call on idle channel %d of %d after the measure: %w", i+1, n, err)
			break
		}
	}
	return r
}

var errNoRows = errors.New("no row matches -rows")

func heapStats() (inuse, alloc uint64) {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse, m.HeapAlloc
}
