package main

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/grpcactor/grpcactor/actors"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
)

// The message form (package actors), as an actor system runs it: msgActors
// actors each keep conc/msgActors unary calls in flight by message
// (actors.Unary(...).Send from Receive); each *actors.Reply arrives in
// the actor's mailbox, which records it and sends the next call. No
// goroutine waits for a call. grpc-go has no message form: its rows run
// its blocking call with conc goroutines (a goroutine per call in
// flight, as its users do).

// msgActors is how many actors make the message-form rows' calls.
const msgActors = 16

// msgWorkloads returns the message-form unary rows.
func msgWorkloads() []workload {
	var ws []workload
	for _, conc := range []int{64, 1024} {
		ws = append(ws, workload{
			key:  fmt.Sprintf("unary-msg/0B/c%d", conc),
			desc: fmt.Sprintf("UnaryCall 0B by message, %d in flight on one channel (grpcactor: %d actors each keep %d calls in flight with actors.Unary Send, sending the next from Receive when a Reply arrives, no goroutine per call; grpc-go: %d goroutines in its blocking call)", conc, msgActors, conc/msgActors, conc),
			conc: conc,
			open: unaryMsgOpen,
		})
	}
	return ws
}

// driver runs a workload's own closed loop, with no goroutine per op:
// it keeps conc ops in flight, starting the next as one ends, until stop
// is set; it returns once the last op has ended, with the ops' count, the
// failed ones and the first failure, their latencies merged into h.
type driver func(ctx context.Context, conc int, stop *atomic.Bool, h *histogram) (ops, errs uint64, firstErr error)

// msgStart starts a message-form run on one actor.
type msgStart struct {
	calls int
	stop  *atomic.Bool
	ended func(msgTally)
}

// msgTally is one actor's share of a run.
type msgTally struct {
	ops, errs uint64
	err       error
	h         *histogram
}

func unaryMsgOpen(ctx context.Context, im impl, srv *serverProc) (*session, error) {
	if im.name != ours.name {
		return unaryOpen(0)(ctx, im, srv) // grpc-go: its blocking call
	}
	c, err := dialReady(ctx, im, srv.addr)
	if err != nil {
		return nil, err
	}
	oc := c.(*oursClient)
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(slog.DiscardHandler)
	}))
	type resp = testgrpc.SimpleResponse
	unary := actors.Unary[*testgrpc.SimpleRequest, *resp](oc.ch, testService+"UnaryCall")
	req := unaryRequest(0)
	pids := make([]*actor.PID, msgActors)
	for i := range pids {
		var run *msgStart
		var t msgTally
		inFlight := 0
		started := map[*actors.Ref]time.Time{}
		pids[i] = sys.Root.Spawn(actor.PropsFromFunc(func(actx actor.Context) {
			switch m := actx.Message().(type) {
			case *msgStart:
				run, t, inFlight = m, msgTally{h: new(histogram)}, m.calls
				for range m.calls {
					started[unary.Send(actx, req)] = time.Now()
				}
			case *actors.Reply[*resp]:
				lat := time.Since(started[m.Ref])
				delete(started, m.Ref)
				err := m.Err
				if err == nil {
					err = checkUnary(m.Value, 0)
				}
				if err != nil {
					t.errs++
					if t.err == nil {
						t.err = err
					}
				} else {
					t.h.record(lat)
					t.ops++
				}
				if !run.stop.Load() && t.errs < maxWorkerErrors {
					started[unary.Send(actx, req)] = time.Now()
					return
				}
				if inFlight--; inFlight == 0 {
					run.ended(t)
				}
			}
		}))
	}
	return &session{
		drive: func(ctx context.Context, conc int, stop *atomic.Bool, h *histogram) (ops, errs uint64, firstErr error) {
			var mu sync.Mutex
			var wg sync.WaitGroup
			wg.Add(len(pids))
			for _, pid := range pids {
				sys.Root.Send(pid, &msgStart{calls: conc / len(pids), stop: stop, ended: func(t msgTally) {
					mu.Lock()
					ops += t.ops
					errs += t.errs
					if firstErr == nil {
						firstErr = t.err
					}
					h.merge(t.h)
					mu.Unlock()
					wg.Done()
				}})
			}
			wg.Wait()
			return ops, errs, firstErr
		},
		close: func() error {
			for _, pid := range pids {
				_ = sys.Root.StopFuture(pid).Wait()
			}
			return c.close()
		},
	}, nil
}

// measureDriven is measure for a session with its own driver: the same
// clock, CPU and allocation counters around one run of the driver.
func measureDriven(parent context.Context, s *session, conc int, d time.Duration) result {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	var stop atomic.Bool
	all := new(histogram)
	type outcome struct {
		ops, errs uint64
		err       error
	}
	done := make(chan outcome, 1)

	runtime.GC()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	c0 := countsBefore()
	t0 := time.Now()
	go func() {
		ops, errs, err := s.drive(ctx, conc, &stop, all)
		done <- outcome{ops, errs, err}
	}()
	timer := time.AfterFunc(d, func() { stop.Store(true) })
	defer timer.Stop()
	var o outcome
	select {
	case o = <-done:
	case <-time.After(d + hangGrace):
		stop.Store(true)
		cancel()
		return result{err: fmt.Errorf("%w: calls still in progress %v after the end of the run", errHung, hangGrace)}
	}
	elapsed := time.Since(t0)
	c1 := countsAfter()
	runtime.ReadMemStats(&m1)

	r := result{ops: o.ops, elapsed: elapsed}
	r.setCounts(c0, c1)
	r.mallocs = m1.Mallocs - m0.Mallocs
	r.allocated = m1.TotalAlloc - m0.TotalAlloc
	r.p50 = all.quantile(0.50)
	r.p99 = all.quantile(0.99)
	if o.err != nil {
		r.failedOps = o.errs
		r.firstFail = describeErr(o.err)
		if r.ops == 0 {
			r.err = fmt.Errorf("no op succeeded (%d failed); first error: %w", o.errs, r.firstFail)
		}
	}
	return r
}
