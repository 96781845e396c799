package actors_test

import (
	"context"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/grpcactor/grpcactor/actors"
	"github.com/grpcactor/grpcactor/channel"
)

// The per-call cost of the message form against the callback form under
// it (channel's Start): b.N unary calls, 64 in flight, against grpc-go's
// server in this process (so ns/op and allocs/op include the server's
// share, the same in both). The difference between the two is the
// message path: Send, the Ref, the owner's registry and the Reply's
// delivery to the actor's mailbox.
const benchInFlight = 64

// BenchmarkUnarySend: 8 actors each keep 8 calls in flight by message,
// sending the next call from Receive when a Reply arrives.
func BenchmarkUnarySend(b *testing.B) {
	_, addr := startTestServer(b)
	ch, err := channel.Insecure(addr)
	if err != nil {
		b.Fatal(err)
	}
	defer ch.Close()
	sys := quietSystem()
	unary := actors.Unary[*simpleReq, *simpleResp](ch, unaryCall)
	req := &simpleReq{}
	const actorsN = 8
	var left atomic.Int64
	var done sync.WaitGroup
	var failed atomic.Int64
	pids := make([]*actor.PID, actorsN)
	for i := range pids {
		pids[i] = sys.Root.Spawn(actor.PropsFromFunc(func(ctx actor.Context) {
			switch m := ctx.Message().(type) {
			case string:
				for range benchInFlight / actorsN {
					if left.Add(-1) >= 0 {
						unary.Send(ctx, req)
					} else {
						done.Done()
					}
				}
			case *actors.Reply[*simpleResp]:
				if m.Err != nil {
					failed.Add(1)
				}
				if left.Add(-1) >= 0 {
					unary.Send(ctx, req)
				} else {
					done.Done()
				}
			}
		}))
	}
	defer func() {
		for _, pid := range pids {
			_ = sys.Root.StopFuture(pid).Wait()
		}
	}()
	run := func(n int) {
		left.Store(int64(n))
		done.Add(benchInFlight)
		for _, pid := range pids {
			sys.Root.Send(pid, "go")
		}
		done.Wait()
	}
	run(benchInFlight) // connect
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := processCPU()
	run(b.N)
	b.StopTimer()
	b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "cpu-ns/op")
	if n := failed.Load(); n != 0 {
		b.Fatalf("%d calls failed", n)
	}
}

// BenchmarkUnaryStart: 64 calls kept in flight with channel's Start, the
// next call started from the done callback.
func BenchmarkUnaryStart(b *testing.B) {
	_, addr := startTestServer(b)
	ch, err := channel.Insecure(addr)
	if err != nil {
		b.Fatal(err)
	}
	defer ch.Close()
	unary := channel.UnaryUnary[*simpleReq, *simpleResp](ch, unaryCall)
	req := &simpleReq{}
	var left atomic.Int64
	var done sync.WaitGroup
	var failed atomic.Int64
	var next func(*simpleResp, *channel.Call, error)
	next = func(_ *simpleResp, _ *channel.Call, err error) {
		if err != nil {
			failed.Add(1)
		}
		if left.Add(-1) >= 0 {
			unary.Start(context.Background(), req, next)
		} else {
			done.Done()
		}
	}
	run := func(n int) {
		left.Store(int64(n))
		done.Add(benchInFlight)
		for range benchInFlight {
			if left.Add(-1) >= 0 {
				unary.Start(context.Background(), req, next)
			} else {
				done.Done()
			}
		}
		done.Wait()
	}
	run(benchInFlight)
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := processCPU()
	run(b.N)
	b.StopTimer()
	b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "cpu-ns/op")
	if n := failed.Load(); n != 0 {
		b.Fatalf("%d calls failed", n)
	}
}

// processCPU is this process's user and system CPU time so far: on a
// shared machine, wall time per op says more about the neighbours.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
