package main

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/grpcactor/grpcactor/actors"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
)

// The message form (package actors): each op sends a UnaryCall by message
// from the root context with ReplyTo a per-worker actor, which hands the
// *actors.Reply to the worker. grpc-go has no message form: its rows run
// its blocking call (a goroutine per call in flight, as its users do).

// msgWorkloads returns the message-form unary rows.
func msgWorkloads() []workload {
	var ws []workload
	for _, conc := range []int{64, 1024} {
		ws = append(ws, workload{
			key:  fmt.Sprintf("unary-msg/0B/c%d", conc),
			desc: fmt.Sprintf("UnaryCall 0B by message (grpcactor: actors.Unary Send, the Reply in an actor's mailbox; grpc-go: its blocking call), %d in flight (closed loop) on one channel", conc),
			conc: conc,
			open: unaryMsgOpen,
		})
	}
	return ws
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
	unary := actors.Unary[*testgrpc.SimpleRequest, *testgrpc.SimpleResponse](oc.ch, testService+"UnaryCall")
	var mu sync.Mutex
	var pids []*actor.PID
	return &session{
		newWorker: func(ctx context.Context) (worker, error) {
			replies := make(chan *actors.Reply[*testgrpc.SimpleResponse], 1)
			pid := sys.Root.Spawn(actor.PropsFromFunc(func(actx actor.Context) {
				if r, ok := actx.Message().(*actors.Reply[*testgrpc.SimpleResponse]); ok {
					replies <- r
				}
			}))
			mu.Lock()
			pids = append(pids, pid)
			mu.Unlock()
			req := unaryRequest(0)
			return worker{op: func() (time.Duration, error) {
				t0 := time.Now()
				unary.Send(sys.Root, req, actors.ReplyTo(pid))
				r := <-replies
				lat := time.Since(t0)
				if r.Err != nil {
					return 0, r.Err
				}
				return lat, checkUnary(r.Value, 0)
			}}, nil
		},
		close: func() error {
			for _, pid := range pids {
				_ = sys.Root.StopFuture(pid).Wait()
			}
			return c.close()
		},
	}, nil
}
