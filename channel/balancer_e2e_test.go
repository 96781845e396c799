package channel_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"

	testgrpc "google.golang.org/grpc/interop/grpc_testing"

	"github.com/grpcactor/grpcactor/balancer"
	"github.com/grpcactor/grpcactor/channel"
	"github.com/grpcactor/grpcactor/interceptors"
	"github.com/grpcactor/grpcactor/metadata"
	"github.com/grpcactor/grpcactor/system_test/peers"
)

// counting wraps round_robin's pickers: it counts picks and Done calls
// and records the hash keys the pickers saw.
type counting struct {
	mu    sync.Mutex
	picks int
	dones int
	keys  []string
	md    []string
}

func (c *counting) ParseConfig(json.RawMessage) (any, error) { return nil, nil }

func (c *counting) Build(any) balancer.Policy {
	rr, _ := balancer.Get(balancer.RoundRobin)
	return countingPolicy{rr.Build(nil), c}
}

type countingPolicy struct {
	balancer.Policy
	c *counting
}

func (p countingPolicy) wrap(u balancer.Update) balancer.Update {
	if u.Picker != nil {
		u.Picker = countingPicker{u.Picker, p.c}
	}
	return u
}

func (p countingPolicy) UpdateAddresses(as []balancer.Address) balancer.Update {
	return p.wrap(p.Policy.UpdateAddresses(as))
}

func (p countingPolicy) UpdateSubConnState(sc *balancer.SubConn, s balancer.SubConnState) balancer.Update {
	return p.wrap(p.Policy.UpdateSubConnState(sc, s))
}

type countingPicker struct {
	balancer.Picker
	c *counting
}

func (p countingPicker) Pick(info balancer.PickInfo) (balancer.PickResult, error) {
	res, err := p.Picker.Pick(info)
	if err != nil {
		return res, err
	}
	p.c.mu.Lock()
	p.c.picks++
	p.c.keys = append(p.c.keys, info.HashKey)
	p.c.md = append(p.c.md, info.Metadata.Get("shard")...)
	p.c.mu.Unlock()
	res.Done = func(balancer.DoneInfo) {
		p.c.mu.Lock()
		p.c.dones++
		p.c.mu.Unlock()
	}
	return res, nil
}

// Every call form gives the picker the call's hash key and metadata (an
// intercepted channel too) and ends each pick with Done.
func TestBalancerPickInfoAndDone(t *testing.T) {
	c := &counting{}
	balancer.Register("test_counting", c)
	addr := peers.StartGoInterop(t)
	base, err := channel.Insecure(addr, channel.WithLBPolicy("test_counting"))
	if err != nil {
		t.Fatal(err)
	}
	defer base.Close()
	ic, err := channel.Intercept(base, interceptors.UnaryUnaryFunc(func(ctx context.Context, d *interceptors.ClientCallDetails, req any, next interceptors.UnaryInvoker) (any, interceptors.Call, error) {
		return next(ctx, d, req)
	}))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	opts := []channel.CallOption{channel.HashKey([]byte("user-7")), channel.Metadata(metadata.Pairs("shard", "s1")), channel.WaitForReady(true)}
	for _, ch := range []*channel.Channel{base, ic} {
		empty := channel.UnaryUnary[*testgrpc.Empty, *testgrpc.Empty](ch, svc+"EmptyCall")
		if _, err := empty.Call(ctx, &testgrpc.Empty{}, opts...); err != nil {
			t.Fatal(err)
		}
		if _, err := empty.Future(ctx, &testgrpc.Empty{}, opts...).Result(ctx); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		empty.Start(ctx, &testgrpc.Empty{}, func(_ *testgrpc.Empty, _ *channel.Call, err error) { done <- err }, opts...)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		ss := channel.UnaryStream[*testgrpc.StreamingOutputCallRequest, *testgrpc.StreamingOutputCallResponse](ch, svc+"StreamingOutputCall")
		rs, err := ss.Call(ctx, &testgrpc.StreamingOutputCallRequest{ResponseParameters: []*testgrpc.ResponseParameters{{Size: 1}}}, opts...)
		if err != nil {
			t.Fatal(err)
		}
		for _, err := range rs.All() {
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	// 8 calls; a pick whose connection was found unusable is picked
	// again, so there may be more picks, each with its Done.
	if c.picks < 8 || c.dones != c.picks {
		t.Errorf("%d picks, %d Done calls; want at least 8, and as many Done calls", c.picks, c.dones)
	}
	for i, k := range c.keys {
		if k != "user-7" || c.md[i] != "s1" {
			t.Errorf("pick %d saw hash key %q, metadata shard %q", i, k, c.md[i])
		}
	}
}
