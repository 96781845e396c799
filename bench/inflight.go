package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/grpcactor/grpcactor/actors"
	"github.com/grpcactor/grpcactor/channel"
	gacodes "github.com/grpcactor/grpcactor/codes"
	gastatus "github.com/grpcactor/grpcactor/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/interop"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/status"
)

// The in-flight row (issue 9): what a unary call costs the client while
// the server holds it. inflightCalls calls are started and held by the
// server (a UnaryCall whose payload is holdBody waits for its context to
// end); once the server holds them all, the growth of the goroutine
// count, of the live heap (HeapAlloc) and of goroutine stacks
// (StackInuse) since before the calls, each ÷ inflightCalls, after GC.
// The calls are then cancelled and must all end CANCELLED.

const (
	inflightKey    = "inflight/10000"
	inflightCalls  = 10000
	inflightActors = 100 // the message form's calling actors
	holdBody       = "hold"
	heldCountBody  = "held?" // answered with the held calls' count as Username
)

// benchServer is the interop TestService with the hold behaviour.
type benchServer struct {
	testgrpc.TestServiceServer
	held atomic.Int64
}

func newBenchServer() *benchServer {
	return &benchServer{TestServiceServer: interop.NewTestServer()}
}

func (s *benchServer) UnaryCall(ctx context.Context, req *testgrpc.SimpleRequest) (*testgrpc.SimpleResponse, error) {
	switch string(req.GetPayload().GetBody()) {
	case holdBody:
		s.held.Add(1)
		defer s.held.Add(-1)
		<-ctx.Done()
		return nil, status.FromContextError(ctx.Err()).Err()
	case heldCountBody:
		return &testgrpc.SimpleResponse{Username: strconv.FormatInt(s.held.Load(), 10)}, nil
	}
	return s.TestServiceServer.UnaryCall(ctx, req)
}

// inflightForm is one way of holding calls in flight.
type inflightForm struct {
	name string
	impl impl
	// prepare sets up what the form keeps regardless of the calls (the
	// calling actors), before the baseline; start starts n held calls;
	// release cancels them and returns once every one has ended
	// CANCELLED.
	prepare func(c client) (start func(n int), release func() error)
}

var inflightForms = []inflightForm{
	{name: "grpcactor message form", impl: ours, prepare: inflightMessages},
	{name: "grpcactor Future", impl: ours, prepare: inflightFutures},
	{name: "grpcactor blocking Call", impl: ours, prepare: inflightGoroutines},
	{name: "grpc-go blocking call", impl: theirs, prepare: inflightGoroutines},
}

func holdRequest() *testgrpc.SimpleRequest {
	return &testgrpc.SimpleRequest{Payload: &testgrpc.Payload{Body: []byte(holdBody)}}
}

// wantCancelled checks that a held call (of either client) ended
// CANCELLED.
func wantCancelled(err error) error {
	if status.Code(err) == codes.Canceled || gastatus.Code(err) == gacodes.Canceled {
		return nil
	}
	return fmt.Errorf("a held call ended with %v, want CANCELLED", err)
}

// inflightMessages: inflightActors actors each send n/inflightActors
// calls with actors.Unary Send; release makes each cancel its calls
// (Ref.Cancel) and waits for every Reply.
func inflightMessages(c client) (func(int), func() error) {
	oc := c.(*oursClient)
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(slog.DiscardHandler)
	}))
	type resp = testgrpc.SimpleResponse
	unary := actors.Unary[*testgrpc.SimpleRequest, *resp](oc.ch, testService+"UnaryCall")
	req := holdRequest()
	var replies sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	type startMsg struct{ n int }
	type releaseMsg struct{}
	pids := make([]*actor.PID, inflightActors)
	for i := range pids {
		refs := map[*actors.Ref]struct{}{}
		pids[i] = sys.Root.Spawn(actor.PropsFromFunc(func(ctx actor.Context) {
			switch m := ctx.Message().(type) {
			case startMsg:
				for range m.n {
					refs[unary.Send(ctx, req)] = struct{}{}
				}
			case releaseMsg:
				for r := range refs {
					r.Cancel()
				}
			case *actors.Reply[*resp]:
				delete(refs, m.Ref)
				if m.Code != gacodes.Canceled || m.Err == nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("a held call ended with code %v (%v), want CANCELLED", m.Code, m.Err)
					}
					mu.Unlock()
				}
				replies.Done()
			}
		}))
	}
	stopAll := func() {
		for _, pid := range pids {
			_ = sys.Root.StopFuture(pid).Wait()
		}
	}
	start := func(n int) {
		replies.Add(n)
		for _, pid := range pids {
			sys.Root.Send(pid, startMsg{n / len(pids)})
		}
	}
	release := func() error {
		defer stopAll()
		for _, pid := range pids {
			sys.Root.Send(pid, releaseMsg{})
		}
		if err := withTimeout(30*time.Second, func() error { replies.Wait(); return nil }); err != nil {
			return fmt.Errorf("waiting for the cancelled calls' Replies: %w", err)
		}
		return firstErr
	}
	return start, release
}

// inflightFutures: n Futures on one context, cancelled by release.
func inflightFutures(c client) (func(int), func() error) {
	oc := c.(*oursClient)
	ctx, cancel := context.WithCancel(context.Background())
	var fs []*channel.CallFuture[*testgrpc.SimpleResponse]
	req := holdRequest()
	start := func(n int) {
		for range n {
			fs = append(fs, oc.unaryC.Future(ctx, req))
		}
	}
	release := func() error {
		cancel()
		var first error
		for _, f := range fs {
			_, err := f.Result(context.Background())
			if e := wantCancelled(err); e != nil && first == nil {
				first = e
			}
		}
		return first
	}
	return start, release
}

// inflightGoroutines: n goroutines in the client's blocking call, as
// grpc-go's users do.
func inflightGoroutines(c client) (func(int), func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	req := holdRequest()
	start := func(n int) {
		wg.Add(n)
		for range n {
			go func() {
				defer wg.Done()
				_, err := c.unary(ctx, req)
				if e := wantCancelled(err); e != nil {
					mu.Lock()
					if first == nil {
						first = e
					}
					mu.Unlock()
				}
			}()
		}
	}
	release := func() error {
		cancel()
		wg.Wait()
		return first
	}
	return start, release
}

// inflightResult is one form's cost per held call, in one round.
type inflightResult struct {
	goroutines, heap, stack float64 // per call
	err                     error
}

// heldCount asks the server how many calls it holds.
func heldCount(ctx context.Context, c client) (int, error) {
	r, err := c.unary(ctx, &testgrpc.SimpleRequest{Payload: &testgrpc.Payload{Body: []byte(heldCountBody)}})
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(r.GetUsername())
}

// measureInFlight measures one form: a fresh client, its form prepared,
// GC, the baseline; n calls started, held; GC, the growth.
func measureInFlight(ctx context.Context, f inflightForm, addr string, n int) inflightResult {
	c, err := dialReady(ctx, f.impl, addr)
	if err != nil {
		return inflightResult{err: err}
	}
	defer c.close()
	start, release := f.prepare(c)
	settle := func() runtime.MemStats {
		time.Sleep(200 * time.Millisecond)
		runtime.GC()
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m
	}
	m0 := settle()
	g0 := runtime.NumGoroutine()
	start(n)
	deadline := time.Now().Add(60 * time.Second) // a failure bound only
	for {
		held, err := heldCount(ctx, c)
		if err != nil {
			release()
			return inflightResult{err: fmt.Errorf("asking the server: %w", err)}
		}
		if held >= n {
			break
		}
		if time.Now().After(deadline) {
			release()
			return inflightResult{err: fmt.Errorf("the server holds %d of %d calls after 60s", held, n)}
		}
		time.Sleep(20 * time.Millisecond)
	}
	m1 := settle()
	g1 := runtime.NumGoroutine()
	r := inflightResult{
		goroutines: float64(g1-g0) / float64(n),
		heap:       (float64(m1.HeapAlloc) - float64(m0.HeapAlloc)) / float64(n),
		stack:      (float64(m1.StackInuse) - float64(m0.StackInuse)) / float64(n),
	}
	if err := release(); err != nil {
		r.err = err
	}
	return r
}

// inflightRow is the row's results: per form, one per round.
type inflightRow struct {
	results [][]inflightResult // by form
}

// runInFlight measures every form, rounds times, alternating forms.
func runInFlight(ctx context.Context, rounds int, addr string, progress io.Writer) *inflightRow {
	row := &inflightRow{results: make([][]inflightResult, len(inflightForms))}
	for round := range rounds {
		for i, f := range inflightForms {
			if ctx.Err() != nil {
				return row
			}
			r := measureInFlight(ctx, f, addr, inflightCalls)
			row.results[i] = append(row.results[i], r)
			if r.err != nil {
				fmt.Fprintf(progress, "bench: %s round %d/%d %s: FAIL %v\n", inflightKey, round+1, rounds, f.name, r.err)
			} else {
				fmt.Fprintf(progress, "bench: %s round %d/%d %s: %.3f goroutines, %s heap, %s stack per call\n", inflightKey, round+1, rounds, f.name, r.goroutines, fmtBytes(r.heap), fmtBytes(r.stack))
			}
		}
	}
	return row
}

type inflightSummary struct {
	goroutines, heap, stack float64
	err                     error
}

func summarizeInFlight(rs []inflightResult) inflightSummary {
	var s inflightSummary
	var g, h, st []float64
	for _, r := range rs {
		if r.err != nil {
			if s.err == nil {
				s.err = r.err
			}
			continue
		}
		g, h, st = append(g, r.goroutines), append(h, r.heap), append(st, r.stack)
	}
	s.goroutines, s.heap, s.stack = median(g), median(h), median(st)
	return s
}

func (row *inflightRow) failures() int {
	n := 0
	for _, rs := range row.results {
		if summarizeInFlight(rs).err != nil {
			n++
		}
	}
	return n
}

func (row *inflightRow) failureLines() []string {
	var l []string
	for i, rs := range row.results {
		if s := summarizeInFlight(rs); s.err != nil {
			l = append(l, fmt.Sprintf("%s, %s: %v", inflightKey, inflightForms[i].name, s.err))
		}
	}
	return l
}

func (row *inflightRow) table(errWidth int) *table {
	t := &table{header: []string{"unary calls in flight", "client", "goroutines/call", "live heap/call", "stack/call", "heap+stack/call"}}
	sums := make([]inflightSummary, len(row.results))
	for i, rs := range row.results {
		s := summarizeInFlight(rs)
		sums[i] = s
		name := ""
		if i == 0 {
			name = fmt.Sprintf("%d held by the server", inflightCalls)
		}
		if s.err != nil {
			t.add(name, inflightForms[i].name, "FAIL: "+shortErr(s.err.Error(), errWidth))
			continue
		}
		t.add(name, inflightForms[i].name, fmt.Sprintf("%.3f", s.goroutines), fmtBytes(s.heap), fmtBytes(s.stack), fmtBytes(s.heap+s.stack))
	}
	o, g := sums[0], sums[len(sums)-1]
	if o.err == nil && g.err == nil {
		t.add("", "message form/grpc-go", fmtRatio(o.goroutines, g.goroutines), fmtRatio(o.heap, g.heap), fmtRatio(o.stack, g.stack), fmtRatio(o.heap+o.stack, g.heap+g.stack))
	}
	return t
}

func inflightLegend() string {
	return fmt.Sprintf("%s: %d unary calls started and held by the server until cancelled (the message form: %d actors × %d calls with actors.Unary Send; Future: unary Future; blocking: a goroutine per call in the blocking call, as grpc-go's users do); once the server holds them all, after GC, the growth of the goroutine count, of the live heap (HeapAlloc) and of goroutine stacks (StackInuse) ÷ %d; the calls must then all end CANCELLED", inflightKey, inflightCalls, inflightActors, inflightCalls/inflightActors, inflightCalls)
}
