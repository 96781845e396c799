package main

// The soak (-soak DURATION): one grpcactor channel carrying unary,
// server-streaming, client-streaming and bidi calls without pause while
// its server (a child process, as for the benchmark) is killed and started
// again on the same port every -soak-restart; a line every -soak-report
// with calls, failures by code, p99, goroutines and heap.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"maps"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/grpcactor/grpcactor/channel"
	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/status"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
)

// soakConfig is the soak's part of the command line.
type soakConfig struct {
	duration time.Duration // 0: no soak
	restart  time.Duration
	report   time.Duration
	timeout  time.Duration // each call's deadline
	quiet    time.Duration // a failure further than this from a restart is "away"
}

// soakKinds are the call kinds, with how many workers make each.
var soakKinds = []struct {
	name    string
	workers int
}{
	{"unary", 4},
	{"server-streaming", 1},
	{"client-streaming", 1},
	{"bidi", 2},
}

// soakStats collects what the workers did; safe for concurrent use.
type soakStats struct {
	mu        sync.Mutex
	calls     int64
	byCode    map[codes.Code]int64 // failures
	interval  histogram            // latencies since the last report
	total     histogram
	failTimes []time.Time      // when each failure happened (bounded: the first 100,000)
	messages  map[string]int64 // failures by kind and message (bounded: 20 distinct)
}

func (s *soakStats) record(kind string, d time.Duration, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if err != nil {
		code := codes.Unknown
		if st, ok := status.FromError(err); ok && st != nil {
			code = st.Code()
		}
		s.byCode[code]++
		msg := kind + ": " + code.String() + ": " + err.Error()
		if st, ok := status.FromError(err); ok && st != nil {
			msg = kind + ": " + code.String() + ": " + st.Details()
		}
		if _, ok := s.messages[msg]; ok || len(s.messages) < 20 {
			s.messages[msg]++
		}
		if len(s.failTimes) < 100_000 {
			s.failTimes = append(s.failTimes, time.Now())
		}
		return
	}
	s.interval.record(d)
	s.total.record(d)
}

// snapshot returns the counts so far and the interval's p99, and starts a
// new interval.
func (s *soakStats) snapshot() (calls int64, byCode map[codes.Code]int64, p99 time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p99 = s.interval.quantile(0.99)
	s.interval = histogram{}
	return s.calls, maps.Clone(s.byCode), p99
}

func fmtCodes(m map[codes.Code]int64) string {
	if len(m) == 0 {
		return "none"
	}
	var parts []string
	for _, c := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%v %d", c, m[c]))
	}
	return strings.Join(parts, ", ")
}

// soakClient is the soak's one channel and its four callables.
type soakClient struct {
	ch     *channel.Channel
	unary  *channel.UnaryUnaryCallable[*testgrpc.SimpleRequest, *testgrpc.SimpleResponse]
	out    *channel.UnaryStreamCallable[*testgrpc.StreamingOutputCallRequest, *testgrpc.StreamingOutputCallResponse]
	in     *channel.StreamUnaryCallable[*testgrpc.StreamingInputCallRequest, *testgrpc.StreamingInputCallResponse]
	duplex *channel.StreamStreamCallable[*testgrpc.StreamingOutputCallRequest, *testgrpc.StreamingOutputCallResponse]
}

const soakPayload = 1024

func payload() *testgrpc.Payload { return &testgrpc.Payload{Body: make([]byte, soakPayload)} }

// call makes one call of kind and returns its error. Every call waits for
// the channel to be ready (so calls made while the server restarts wait
// rather than fail at once) within the call's deadline.
func (c *soakClient) call(ctx context.Context, kind string, timeout time.Duration) error {
	opts := []channel.CallOption{channel.WaitForReady(true), channel.Timeout(timeout)}
	params := func() []*testgrpc.ResponseParameters {
		ps := make([]*testgrpc.ResponseParameters, 10)
		for i := range ps {
			ps[i] = &testgrpc.ResponseParameters{Size: soakPayload}
		}
		return ps
	}
	switch kind {
	case "unary":
		_, err := c.unary.Call(ctx, &testgrpc.SimpleRequest{ResponseSize: soakPayload, Payload: payload()}, opts...)
		return err
	case "server-streaming":
		st, err := c.out.Call(ctx, &testgrpc.StreamingOutputCallRequest{ResponseParameters: params()}, opts...)
		if err != nil {
			return err
		}
		n := 0
		for _, err := range st.All() {
			if err != nil {
				return err
			}
			n++
		}
		if n != 10 {
			return fmt.Errorf("server-streaming: %d responses, want 10", n)
		}
		return nil
	case "client-streaming":
		reqs := iter.Seq[*testgrpc.StreamingInputCallRequest](func(yield func(*testgrpc.StreamingInputCallRequest) bool) {
			for range 10 {
				if !yield(&testgrpc.StreamingInputCallRequest{Payload: payload()}) {
					return
				}
			}
		})
		resp, err := c.in.Call(ctx, reqs, opts...)
		if err == nil && resp.GetAggregatedPayloadSize() != 10*soakPayload {
			return fmt.Errorf("client-streaming: aggregated %d bytes, want %d", resp.GetAggregatedPayloadSize(), 10*soakPayload)
		}
		return err
	case "bidi":
		bs, err := c.duplex.Open(ctx, opts...)
		if err != nil {
			return err
		}
		for range 10 {
			if err := bs.Send(&testgrpc.StreamingOutputCallRequest{ResponseParameters: []*testgrpc.ResponseParameters{{Size: soakPayload}}, Payload: payload()}); err != nil {
				break // the error comes from Recv
			}
			if _, err := bs.Recv(); err != nil {
				return err
			}
		}
		bs.CloseSend()
		if _, err := bs.Recv(); err != io.EOF {
			if err == nil {
				err = errors.New("bidi: a response after the last one")
			}
			return err
		}
		return nil
	}
	panic("unknown kind " + kind)
}

// heapLive returns the live heap after a garbage collection.
func heapLive() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// runSoak runs the soak and prints its report lines on stdout. It returns
// an error if the soak could not run or if a call failed other than around
// a restart.
func runSoak(ctx context.Context, sc soakConfig, stdout, stderr io.Writer) error {
	srv, err := startServer(stderr)
	if err != nil {
		return err
	}
	var srvMu sync.Mutex
	defer func() {
		srvMu.Lock()
		srv.stop()
		srvMu.Unlock()
	}()
	addr := srv.addr
	ch, err := channel.Insecure(addr, channel.WithConnectBackoff(100*time.Millisecond, time.Second, 20*time.Second))
	if err != nil {
		return err
	}
	c := &soakClient{
		ch:     ch,
		unary:  channel.UnaryUnary[*testgrpc.SimpleRequest, *testgrpc.SimpleResponse](ch, testService+"UnaryCall"),
		out:    channel.UnaryStream[*testgrpc.StreamingOutputCallRequest, *testgrpc.StreamingOutputCallResponse](ch, testService+"StreamingOutputCall"),
		in:     channel.StreamUnary[*testgrpc.StreamingInputCallRequest, *testgrpc.StreamingInputCallResponse](ch, testService+"StreamingInputCall"),
		duplex: channel.StreamStream[*testgrpc.StreamingOutputCallRequest, *testgrpc.StreamingOutputCallResponse](ch, testService+"FullDuplexCall"),
	}
	stats := &soakStats{byCode: map[codes.Code]int64{}, messages: map[string]int64{}}
	fmt.Fprintf(stdout, "soak: %v, one channel to %s, workers: ", sc.duration, addr)
	for i, k := range soakKinds {
		if i > 0 {
			fmt.Fprint(stdout, ", ")
		}
		fmt.Fprintf(stdout, "%d %s", k.workers, k.name)
	}
	fmt.Fprintf(stdout, "; %d-byte messages, %v deadline, wait-for-ready; server killed (SIGKILL) and restarted every %v\n", soakPayload, sc.timeout, sc.restart)

	runCtx, stop := context.WithTimeout(ctx, sc.duration)
	defer stop()
	var wg sync.WaitGroup
	for _, k := range soakKinds {
		for range k.workers {
			wg.Go(func() {
				for runCtx.Err() == nil {
					start := time.Now()
					err := c.call(context.Background(), k.name, sc.timeout)
					stats.record(k.name, time.Since(start), err)
				}
			})
		}
	}

	started := time.Now()
	var restarts []time.Time
	var restartErr error
	restartTick := time.NewTicker(sc.restart)
	reportTick := time.NewTicker(sc.report)
	defer restartTick.Stop()
	defer reportTick.Stop()
	var lastCalls int64
	lastFailed := map[codes.Code]int64{}
	line := func() {
		calls, byCode, p99 := stats.snapshot()
		var failed, newFailed int64
		delta := map[codes.Code]int64{}
		for code, n := range byCode {
			failed += n
			if d := n - lastFailed[code]; d > 0 {
				delta[code] = d
				newFailed += d
			}
		}
		el := time.Since(started).Round(time.Second)
		fmt.Fprintf(stdout, "soak %8v  calls %9d (+%7d)  failed %5d (+%4d: %s)  p99 %-8s  goroutines %4d  heap %s  restarts %d\n",
			el, calls, calls-lastCalls, failed, newFailed, fmtCodes(delta), fmtDur(float64(p99)), runtime.NumGoroutine(), fmtBytes(float64(heapLive())), len(restarts))
		lastCalls, lastFailed = calls, byCode
	}
loop:
	for {
		select {
		case <-runCtx.Done():
			break loop
		case <-restartTick.C:
			restarts = append(restarts, time.Now())
			srvMu.Lock()
			srv.stop()
			srv, err = startServerAt(stderr, addr)
			srvMu.Unlock()
			if err != nil {
				restartErr = fmt.Errorf("restarting the server: %w", err)
				stop()
				srv = &serverProc{} // nothing to stop
				break loop
			}
		case <-reportTick.C:
			line()
		}
	}
	wg.Wait()
	stats.mu.Lock()
	more := stats.calls != lastCalls
	stats.mu.Unlock()
	if more {
		line() // the last interval, unless the last line covered it
	}
	closeErr := ch.Close()

	// Which failures happened away from every restart?
	stats.mu.Lock()
	away := 0
	for _, ft := range stats.failTimes {
		near := false
		for _, r := range restarts {
			if d := ft.Sub(r); d > -time.Second && d < sc.quiet {
				near = true
				break
			}
		}
		if !near {
			away++
		}
	}
	calls, byCode, total, messages := stats.calls, maps.Clone(stats.byCode), stats.total, maps.Clone(stats.messages)
	stats.mu.Unlock()
	var failed int64
	for _, n := range byCode {
		failed += n
	}
	fmt.Fprintf(stdout, "soak done: %v, %d calls, %d failed (%s), %d of them more than %v after a restart; %d restarts; p50 %s p99 %s p99.9 %s\n",
		time.Since(started).Round(time.Second), calls, failed, fmtCodes(byCode), away, sc.quiet, len(restarts),
		fmtDur(float64(total.quantile(0.5))), fmtDur(float64(total.quantile(0.99))), fmtDur(float64(total.quantile(0.999))))
	for _, m := range slices.Sorted(maps.Keys(messages)) {
		fmt.Fprintf(stdout, "soak failures: %6d  %s\n", messages[m], m)
	}
	switch {
	case restartErr != nil:
		return restartErr
	case closeErr != nil:
		return fmt.Errorf("closing the channel: %w", closeErr)
	case away > 0:
		return fmt.Errorf("%d calls failed away from any restart", away)
	case calls == 0 || calls == failed:
		return errors.New("no call succeeded")
	}
	return nil
}
