package system_test

import (
	"context"
	"fmt"
	"net"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"

	"github.com/grpcactor/grpcactor/channel"
	"github.com/grpcactor/grpcactor/status"
	"github.com/grpcactor/grpcactor/system_test/peers"
)

// countingListener counts the connections a server accepts.
type countingListener struct {
	net.Listener
	accepted atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.accepted.Add(1)
	}
	return c, err
}

// TestGoAwayStormLosesNoCall: a grpc-go server that ages its connections
// out every 200 ms (keepalive MaxConnectionAge, grace 1 s: the usual way
// services rebalance behind a load balancer) sends GOAWAY after GOAWAY
// while 8 workers make unary calls for 10 s. No call may fail: a call that
// picks a connection as it starts draining has sent nothing, so it waits
// for the next connection instead of failing UNAVAILABLE. The calls do not
// use wait-for-ready; each has a 10 s deadline, far beyond any reconnect.
func TestGoAwayStormLosesNoCall(t *testing.T) {
	const (
		workers  = 8
		duration = 10 * time.Second
	)
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lis := &countingListener{Listener: inner}
	srv := peers.NewGoInterop(grpc.KeepaliveParams(keepalive.ServerParameters{
		MaxConnectionAge: 200 * time.Millisecond,
		// The grace bounds a draining connection's calls: ample, so that a
		// call starved of CPU on a loaded machine is not cut off.
		MaxConnectionAgeGrace: 10 * time.Second,
	}))
	served := make(chan struct{})
	go func() { defer close(served); _ = srv.Serve(lis) }()
	defer func() { srv.Stop(); <-served }()

	ch := dial(t, lis.Addr().String())
	defer ch.Close() // before the server stops: no reconnect attempt outlives the test
	unary := channel.UnaryUnary[*simpleReq, *simpleResp](ch, mUnaryCall)

	var (
		ok      atomic.Int64
		mu      sync.Mutex
		byError = map[string]int{}
		wg      sync.WaitGroup
	)
	stop := time.Now().Add(duration)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := &simpleReq{ResponseSize: 8, Payload: zeros(8)}
			for time.Now().Before(stop) {
				ctx, cancel := context.WithTimeout(context.Background(), testTimeout/2)
				resp, err := unary.Call(ctx, req)
				cancel()
				if err == nil && len(resp.GetPayload().GetBody()) != 8 {
					err = fmt.Errorf("response of %d bytes, want 8", len(resp.GetPayload().GetBody()))
				}
				if err != nil {
					key := err.Error()
					if st, isSt := status.FromError(err); isSt && st != nil {
						key = st.Code().String() + ": " + st.Details()
					}
					mu.Lock()
					byError[key]++
					mu.Unlock()
					continue
				}
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	conns := lis.accepted.Load()
	t.Logf("%d calls succeeded over %d connections in %v", ok.Load(), conns, duration)
	if len(byError) > 0 {
		var lines []string
		failed := 0
		for k, n := range byError {
			lines = append(lines, fmt.Sprintf("  %d× %s", n, k))
			failed += n
		}
		sort.Strings(lines)
		t.Errorf("%d of %d calls failed during the GOAWAY storm:\n%s", failed, failed+int(ok.Load()), strings.Join(lines, "\n"))
	}
	if conns < 3 {
		// The server ages connections out every 200 ms (±10%): over 10 s
		// there are dozens; fewer than 3 means no storm was tested.
		t.Errorf("the server accepted %d connections in %v; the test needs several GOAWAYs", conns, duration)
	}
}
