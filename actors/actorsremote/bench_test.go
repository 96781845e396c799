package actorsremote_test

import (
	"slices"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/grpcactor/grpcactor/actors"
	"github.com/grpcactor/grpcactor/actors/actorsremote"
	"github.com/grpcactor/grpcactor/channel"
)

// BenchmarkUnary compares a unary call by message made directly on a
// local channel with the same call made from another node through a
// gateway (caller node -> gateway node -> gRPC server, all on loopback):
// one actor keeps 64 calls in flight; ops/s and the median latency are
// reported.
//
//	go test -run '^$' -bench Unary -benchtime 3s ./actors/actorsremote/
func BenchmarkUnary(b *testing.B) {
	s := newSetup(b)
	ch, err := channel.Insecure(s.srvAddr)
	if err != nil {
		b.Fatal(err)
	}
	defer ch.Close()
	for _, c := range []struct {
		name  string
		unary actors.Sender[*simpleReq]
	}{
		{"direct", actors.Unary[*simpleReq, *simpleResp](ch, unaryCall)},
		{"remote", actorsremote.Unary[*simpleReq, *simpleResp](s.remoteCh, unaryCall)},
	} {
		b.Run(c.name, func(b *testing.B) {
			const inFlight = 64
			lat := make([]time.Duration, 0, b.N)
			done := make(chan error, 1)
			started := map[*actors.Ref]time.Time{}
			sent := 0
			send := func(ctx actor.Context) {
				started[c.unary.Send(ctx, &simpleReq{ResponseSize: 10})] = time.Now()
				sent++
			}
			b.ResetTimer()
			t0 := time.Now()
			pid := s.cl.sys.Root.Spawn(actor.PropsFromFunc(func(ctx actor.Context) {
				switch m := ctx.Message().(type) {
				case *actor.Started:
					for sent < min(inFlight, b.N) {
						send(ctx)
					}
				case *actors.Reply[*simpleResp]:
					if m.Err != nil {
						done <- m.Err
						return
					}
					lat = append(lat, time.Since(started[m.Ref]))
					delete(started, m.Ref)
					if len(lat) == b.N {
						done <- nil
					} else if sent < b.N {
						send(ctx)
					}
				}
			}))
			if err := <-done; err != nil {
				b.Fatal(err)
			}
			elapsed := time.Since(t0)
			b.StopTimer()
			_ = s.cl.sys.Root.StopFuture(pid).Wait()
			slices.Sort(lat)
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "ops/s")
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
		})
	}
}
