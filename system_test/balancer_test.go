package system_test

// The load-balancing policies of package balancer over three grpc-go
// servers: least_request, ring_hash and weighted_round_robin (round_robin
// and pick_first are in connectivity_lb_test.go).

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	testgrpc "google.golang.org/grpc/interop/grpc_testing"

	"github.com/grpcactor/grpcactor/balancer"
	"github.com/grpcactor/grpcactor/channel"
	"github.com/grpcactor/grpcactor/resolver"
)

// A server that holds its calls gets fewer of them under least_request:
// of the two subchannels a pick samples, the one with fewer calls in
// flight wins, so the slow server is chosen only when both samples are it
// (1 in 9 with three servers) — against 1 in 3 under round robin. The
// calls are made one at a time; each either finishes (a fast server) or
// is seen arriving at the slow server, which keeps it until the end.
func TestBalancerLeastRequestAvoidsTheLoadedServer(t *testing.T) {
	var (
		mu      sync.Mutex
		slowOn  bool
		release = make(chan struct{})
		arrived = make(chan struct{}, 1000)
	)
	var srvs []*testServer
	target := "ipv4:"
	for i := range 3 {
		cfg := serverConfig{}
		if i == 0 {
			cfg.Hook = func(ctx context.Context, method string) error {
				mu.Lock()
				slow := slowOn
				mu.Unlock()
				if !slow {
					return nil
				}
				arrived <- struct{}{}
				select {
				case <-release:
				case <-ctx.Done():
				}
				return nil
			}
		}
		s := startServer(t, cfg)
		srvs = append(srvs, s)
		if i > 0 {
			target += ","
		}
		target += s.Addr()
	}
	ch := dial(t, target, channel.WithServiceConfig(`{"loadBalancingConfig": [{"least_request": {"choiceCount": 2}}]}`))
	lbWarmUp(t, ch, srvs)
	base := serverCalls(srvs)
	mu.Lock()
	slowOn = true
	mu.Unlock()

	const calls = 300
	empty := newStubs(ch).empty
	ctx := ctxWithin(t, 2*testTimeout)
	var held []*channel.CallFuture[*testgrpc.Empty]
	slow := 0
	for i := range calls {
		f := empty.Future(ctx, &testgrpc.Empty{})
		select {
		case <-f.Done():
			if _, err := f.Result(ctx); err != nil {
				t.Fatalf("call %d: %v", i, err)
			}
		case <-arrived:
			slow++
			held = append(held, f)
		}
	}
	close(release)
	for _, f := range held {
		if _, err := f.Result(ctx); err != nil {
			t.Fatalf("a held call: %v", err)
		}
	}
	c := callsSince(serverCalls(srvs), base)
	t.Logf("calls per server (server 0 holds its calls): %v", c)
	if int64(slow) != c[0] {
		t.Fatalf("%d calls seen at the slow server, it counted %d", slow, c[0])
	}
	// Expected about 300/9 = 33 (binomial, sd 5.4); round robin would give 100.
	if c[0] > 60 {
		t.Errorf("the slow server got %d of %d calls, want at most 60 (about 33 expected)", c[0], calls)
	}
	if c[1] < 100 || c[2] < 100 {
		t.Errorf("the fast servers got %d and %d of %d calls, want at least 100 each", c[1], c[2], calls)
	}
}

// ring_hash sends every call with the same channel.HashKey to the same
// server; when a server goes away, its keys move to the others and no
// other key moves.
func TestBalancerRingHashKeyAffinity(t *testing.T) {
	srvs, target := threeServers(t)
	ch := dial(t, target, channel.WithServiceConfig(`{"loadBalancingConfig": [{"ring_hash": {}}]}`))
	lbWarmUp(t, ch, srvs) // keyless calls hash at random
	byAddr := map[string]int{}
	for i, s := range srvs {
		byAddr[s.Addr()] = i
	}
	empty := newStubs(ch).empty
	owners := func() []int {
		out := make([]int, 100)
		for k := range out {
			_, call, err := empty.WithCall(tctx(t), &testgrpc.Empty{}, channel.HashKey([]byte(fmt.Sprint("shard-", k))), channel.WaitForReady(true))
			if err != nil {
				t.Fatalf("key %d: %v", k, err)
			}
			i, ok := byAddr[call.Peer()]
			if !ok {
				t.Fatalf("key %d went to %q, not one of the servers", k, call.Peer())
			}
			out[k] = i
		}
		return out
	}
	first := owners()
	per := make([]int, 3)
	for _, o := range first {
		per[o]++
	}
	t.Logf("keys per server: %v", per)
	if again := owners(); fmt.Sprint(again) != fmt.Sprint(first) {
		t.Fatalf("the same keys went to other servers:\n%v\n%v", first, again)
	}
	// Take away the server with the most keys.
	gone := 0
	for i := range per {
		if per[i] > per[gone] {
			gone = i
		}
	}
	srvs[gone].Stop()
	// Until the channel has seen it go (a key of it lands elsewhere).
	var goneKey int
	for k, o := range first {
		if o == gone {
			goneKey = k
			break
		}
	}
	deadline := time.Now().Add(testTimeout)
	for {
		_, call, err := empty.WithCall(tctx(t), &testgrpc.Empty{}, channel.HashKey([]byte(fmt.Sprint("shard-", goneKey))), channel.WaitForReady(true))
		if err == nil && byAddr[call.Peer()] != gone {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("key %d still fails or goes to the stopped server: %v", goneKey, err)
		}
	}
	after := owners()
	for k := range first {
		switch {
		case first[k] == gone && after[k] == gone:
			t.Errorf("key %d still goes to the stopped server %d", k, gone)
		case first[k] != gone && after[k] != first[k]:
			t.Errorf("key %d moved from server %d to %d, though only server %d went away", k, first[k], after[k], gone)
		}
	}
}

// weighted_round_robin sends each server calls in proportion to its
// address's weight, as a resolver (here a resolver.Manual) gives it: the
// picker is deterministic, so 600 calls over weights 1, 2 and 3 are
// exactly 100, 200 and 300.
func TestBalancerWeightedRoundRobin(t *testing.T) {
	srvs, _ := threeServers(t)
	r := resolver.NewManual()
	var addrs []resolver.Address
	for i, s := range srvs {
		addrs = append(addrs, resolver.Address{Addr: s.Addr(), Weight: uint32(i + 1)})
	}
	r.Update(resolver.Update{Addresses: addrs})
	ch := dial(t, "manual:///weighted", channel.WithResolver(r), channel.WithLBPolicy(balancer.WeightedRoundRobin))
	lbWarmUp(t, ch, srvs)
	base := serverCalls(srvs)
	empty := newStubs(ch).empty
	for i := range 600 {
		if _, err := empty.Call(tctx(t), &testgrpc.Empty{}); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	c := callsSince(serverCalls(srvs), base)
	t.Logf("calls per server with weights 1, 2, 3: %v", c)
	if c[0] != 100 || c[1] != 200 || c[2] != 300 {
		t.Errorf("calls per server %v, want exactly [100 200 300]", c)
	}
}
