package actors_test

import (
	"context"
	"testing"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/grpcactor/grpcactor/actors"
	"github.com/grpcactor/grpcactor/channel"
	"github.com/grpcactor/grpcactor/interceptors"
)

// BenchmarkMiddlewareHandOff is the cost of one hand-off to a middleware
// actor that answers Proceed at once (no RPC: the continuation returns).
func BenchmarkMiddlewareHandOff(b *testing.B) {
	sys := quietSystem()
	pid := sys.Root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
		if _, ok := c.Message().(*actors.Intercept); ok {
			c.Respond(&actors.Proceed{})
		}
	}))
	defer func() { _ = sys.Root.StopFuture(pid).Wait() }()
	ch, err := channel.Insecure("localhost:1", channel.WithActorSystem(sys))
	if err != nil {
		b.Fatal(err)
	}
	defer ch.Close()
	m := actors.Interceptor(pid).BindChannel(ch).(interceptors.UnaryUnary)
	next := func(context.Context, *interceptors.ClientCallDetails, any) (any, interceptors.Call, error) {
		return nil, nil, nil
	}
	d := &interceptors.ClientCallDetails{Method: "/s/M"}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := m.InterceptUnaryUnary(ctx, d, nil, next); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRequestFuture is the same round trip through protoactor's
// RequestFuture, for comparison.
func BenchmarkRequestFuture(b *testing.B) {
	sys := quietSystem()
	pid := sys.Root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
		if _, ok := c.Message().(*actors.Intercept); ok {
			c.Respond(&actors.Proceed{})
		}
	}))
	defer func() { _ = sys.Root.StopFuture(pid).Wait() }()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := sys.Root.RequestFuture(pid, &actors.Intercept{}, mwBound).Result(); err != nil {
			b.Fatal(err)
		}
	}
}
