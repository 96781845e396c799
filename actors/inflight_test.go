package actors_test

import (
	"context"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/grpcactor/grpcactor/actors"
	"github.com/grpcactor/grpcactor/channel"
	"github.com/grpcactor/grpcactor/internal/leakcheck"
	"github.com/grpcactor/grpcactor/system_test/peers"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
)

const unaryCall = "/grpc.testing.TestService/UnaryCall"

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// 10,000 unary calls by message in flight from 100 actors add fewer than
// 50 goroutines and less than 2 KiB of heap per call.
func TestInFlightCallsCostNoGoroutine(t *testing.T) {
	const actorsN, perActor = 100, 100
	const calls = actorsN * perActor
	srv := peers.StartHeld(t)
	ch, err := channel.Insecure(srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	sys := quietSystem()
	unary := actors.Unary[*testgrpc.SimpleRequest, *testgrpc.SimpleResponse](ch, unaryCall)

	// Connect, and let the runtime start what it keeps running.
	srv.Release()
	if _, err := channel.UnaryUnary[*testgrpc.SimpleRequest, *testgrpc.SimpleResponse](ch, unaryCall).Call(context.Background(), &testgrpc.SimpleRequest{}); err != nil {
		t.Fatal(err)
	}
	base := srv.Hold()

	var replies sync.WaitGroup
	replies.Add(calls)
	var mu sync.Mutex
	failed := 0
	pids := make([]*actor.PID, actorsN)
	for i := range pids {
		pids[i] = sys.Root.Spawn(actor.PropsFromFunc(func(ctx actor.Context) {
			switch m := ctx.Message().(type) {
			case string:
				for range perActor {
					unary.Send(ctx, &testgrpc.SimpleRequest{})
				}
			case *actors.Reply[*testgrpc.SimpleResponse]:
				if m.Err != nil {
					mu.Lock()
					failed++
					mu.Unlock()
				}
				replies.Done()
			}
		}))
	}
	g0 := leakcheck.SettledGoroutines(0, 10*time.Second)
	h0 := heapInUse()
	for _, pid := range pids {
		sys.Root.Send(pid, "go")
	}
	srv.WaitCalls(base + calls)
	g1 := leakcheck.SettledGoroutines(g0+49, 10*time.Second)
	h1 := heapInUse()
	srv.Release()
	replies.Wait()
	for _, pid := range pids {
		_ = sys.Root.StopFuture(pid).Wait()
	}
	perCall := (int64(h1) - int64(h0)) / calls
	t.Logf("%d calls in flight: %d goroutines added, %d bytes of heap per call", calls, g1-g0, perCall)
	if g1-g0 >= 50 {
		t.Errorf("%d calls in flight added %d goroutines, want fewer than 50", calls, g1-g0)
	}
	if perCall >= 2048 {
		t.Errorf("%d calls in flight: %d bytes of heap per call, want less than 2048", calls, perCall)
	}
	if failed != 0 {
		t.Errorf("%d of %d calls failed", failed, calls)
	}
}

// The Future of every kind adds no goroutine per call while the call is
// in flight.
func TestFuturesHoldNoGoroutine(t *testing.T) {
	const n = 1000
	srv := peers.StartHeld(t)
	ch, err := channel.Insecure(srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	unary := channel.UnaryUnary[*testgrpc.SimpleRequest, *testgrpc.SimpleResponse](ch, unaryCall)
	client := channel.StreamUnary[*testgrpc.StreamingInputCallRequest, *testgrpc.StreamingInputCallResponse](ch, "/grpc.testing.TestService/StreamingInputCall")
	srv.Release()
	if _, err := unary.Call(context.Background(), &testgrpc.SimpleRequest{}); err != nil {
		t.Fatal(err)
	}
	base := srv.Hold()

	g0 := leakcheck.SettledGoroutines(0, 10*time.Second)
	var unaryFs []*channel.CallFuture[*testgrpc.SimpleResponse]
	var clientFs []*channel.CallFuture[*testgrpc.StreamingInputCallResponse]
	reqs := []*testgrpc.StreamingInputCallRequest{{}, {}, {}}
	for range n {
		unaryFs = append(unaryFs, unary.Future(context.Background(), &testgrpc.SimpleRequest{}))
		clientFs = append(clientFs, client.Future(context.Background(), slices.Values(reqs)))
	}
	srv.WaitCalls(base + 2*n)
	g1 := leakcheck.SettledGoroutines(g0+49, 10*time.Second)
	srv.Release()
	for i := range n {
		if _, err := unaryFs[i].Result(context.Background()); err != nil {
			t.Fatal(err)
		}
		if _, err := clientFs[i].Result(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d unary and %d client-streaming futures in flight: %d goroutines added", n, n, g1-g0)
	if g1-g0 >= 50 {
		t.Errorf("%d futures in flight added %d goroutines, want fewer than 50", 2*n, g1-g0)
	}
}
