package system_test

// Load balancing over several grpc-go servers (round_robin, pick_first)
// and a server's graceful stop (GOAWAY) under load.

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	grpcmd "google.golang.org/grpc/metadata"

	"github.com/grpcactor/grpcactor/channel"
)

// round_robin, chosen by grpc.lb_policy_name or by the service config's
// loadBalancingConfig, spreads 300 calls evenly over three servers once
// all three are connected; pick_first sends every call to the first.
func TestConnectivityLoadBalancing(t *testing.T) {
	for _, tc := range []struct {
		name string
		opt  channel.Option
	}{
		{"WithLBPolicy", channel.WithLBPolicy("round_robin")},
		{"OptionKey", channel.WithOption("grpc.lb_policy_name", "round_robin")},
		{"ServiceConfig", channel.WithServiceConfig(`{"loadBalancingConfig":[{"round_robin":{}}]}`)},
	} {
		t.Run("RoundRobin/"+tc.name, func(t *testing.T) {
			srvs, target := threeServers(t)
			ch := dial(t, target, tc.opt)
			rec := subscribeStates(ch, false)
			empty := newStubs(ch).empty
			if _, err := channel.ReadyFuture(ch).Result(tctx(t)); err != nil {
				t.Fatal(err)
			}
			lbWarmUp(t, ch, srvs) // until every server has seen a call (every subchannel is up)
			base := serverCalls(srvs)
			for i := range 300 {
				if _, err := empty.Call(tctx(t), &testgrpc.Empty{}); err != nil {
					t.Fatalf("call %d: %v", i, err)
				}
			}
			c := serverCalls(srvs)
			for i := range c {
				n := c[i] - base[i]
				if n < 80 || n > 120 {
					t.Errorf("server %d handled %d of 300 calls, want 80..120 (all: %v)", i, n, callsSince(c, base))
				}
			}
			t.Logf("calls per server: %v", callsSince(c, base))
			checkSequence(t, "round_robin subscriber", rec.States(), channel.Idle, false)
		})
	}

	for _, tc := range []struct {
		name string
		opts []channel.Option
	}{
		{"Default", nil},
		{"WithLBPolicy", []channel.Option{channel.WithLBPolicy("pick_first")}},
		{"ServiceConfig", []channel.Option{channel.WithServiceConfig(`{"loadBalancingConfig":[{"pick_first":{}}]}`)}},
	} {
		t.Run("PickFirst/"+tc.name, func(t *testing.T) {
			srvs, target := threeServers(t)
			ch := dial(t, target, tc.opts...)
			empty := newStubs(ch).empty
			for i := range 300 {
				if _, err := empty.Call(tctx(t), &testgrpc.Empty{}); err != nil {
					t.Fatalf("call %d: %v", i, err)
				}
			}
			if c := serverCalls(srvs); c[0] != 300 || c[1] != 0 || c[2] != 0 {
				t.Errorf("calls per server %v, want [300 0 0]", c)
			}
		})
	}
}

// A server's graceful stop (GOAWAY) while 50 calls are in flight on it and
// more keep coming loses no call: those in flight finish on it, later ones
// go to the second server of the target, transparently retried when they
// raced the GOAWAY. No call uses wait-for-ready. With pick_first (the
// brief's case) and with round_robin.
func TestConnectivityGracefulStopLosesNoCall(t *testing.T) {
	for _, lb := range []string{"pick_first", "round_robin"} {
		t.Run(lb, func(t *testing.T) { testGracefulStop(t, lb) })
	}
}

func testGracefulStop(t *testing.T, lb string) {
	const inflight = 50 // on the first server
	gate := make(chan struct{})
	arrived := make(chan struct{}, 4096)
	first := startServer(t, serverConfig{Hook: func(ctx context.Context, method string) error {
		if method == "/grpc.testing.TestService/UnaryCall" {
			arrived <- struct{}{}
			select {
			case <-gate:
			case <-ctx.Done():
			}
		}
		return nil
	}})
	secondSeen := make(chan struct{}, 4096)
	second := startServer(t, serverConfig{Hook: func(ctx context.Context, _ string) error {
		if md, _ := grpcmd.FromIncomingContext(ctx); len(md.Get("x-cx-late")) > 0 {
			select {
			case secondSeen <- struct{}{}:
			default:
			}
		}
		return nil
	}})
	ch := dial(t, "ipv4:"+first.Addr()+","+second.Addr(), channel.WithLBPolicy(lb),
		channel.WithConnectBackoff(20*time.Millisecond, 100*time.Millisecond, time.Second))
	rec := subscribeStates(ch, false)
	unary := newStubs(ch).unary
	empty := newStubs(ch).empty
	if _, err := empty.Call(tctx(t), &testgrpc.Empty{}); err != nil {
		t.Fatal(err)
	}
	initial := inflight
	switch lb {
	case "pick_first":
		if first.calls.Load() != 1 {
			t.Fatalf("pick_first did not use the first address (calls %d, %d)", first.calls.Load(), second.calls.Load())
		}
	case "round_robin":
		// Both connected: calls alternate, so twice as many put 50 on
		// the first server.
		for i := 0; first.calls.Load() == 0 || second.calls.Load() == 0; i++ {
			if i == 100 {
				t.Fatalf("round_robin did not reach both servers in %d calls", i)
			}
			if _, err := empty.Call(tctx(t), &testgrpc.Empty{}, channel.WaitForReady(true)); err != nil {
				t.Fatal(err)
			}
		}
		initial = 2 * inflight
	}
	base := first.calls.Load()

	var wg sync.WaitGroup
	errs := make(chan error, 4096)
	call := func(i int, opts ...channel.CallOption) {
		defer wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		resp, err := unary.Call(ctx, &testgrpc.SimpleRequest{ResponseSize: 10}, opts...)
		if err == nil && len(resp.GetPayload().GetBody()) != 10 {
			err = fmt.Errorf("response of %d bytes, want 10", len(resp.GetPayload().GetBody()))
		}
		if err != nil {
			errs <- fmt.Errorf("call %d: %w", i, err)
		}
	}
	for i := range initial {
		wg.Add(1)
		go call(i)
	}
	timer := time.NewTimer(2 * testTimeout)
	defer timer.Stop()
	for range inflight {
		select {
		case <-arrived:
		case <-timer.C:
			t.Fatal("the 50 calls did not all reach the first server")
		}
	}

	// More calls keep coming, one every millisecond, until the first
	// server has stopped gracefully.
	late := channel.Metadata(map[string][]string{"x-cx-late": {"1"}})
	stopSpawning := make(chan struct{})
	spawned := make(chan int, 1)
	go func() {
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		i := initial
		defer func() { spawned <- i - initial }()
		for ; i < 2000; i++ {
			select {
			case <-stopSpawning:
				return
			case <-tick.C:
			}
			wg.Add(1)
			go call(i, late)
		}
	}()
	stopped := make(chan struct{})
	go func() { first.GracefulStop(); close(stopped) }()

	// Once the second server has handled 50 of the new calls, let the
	// first server's calls finish; stop the new calls once it has stopped.
	for n := 0; n < 50; n++ {
		select {
		case <-secondSeen:
		case <-timer.C:
			close(stopSpawning)
			close(gate)
			t.Fatalf("the second server handled %d new calls within %v of the first one's GOAWAY", n, testTimeout)
		}
	}
	close(gate)
	waitFor(t, "GracefulStop of the first server", stopped, testTimeout)
	close(stopSpawning)
	more := <-spawned
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	waitFor(t, "the calls", done, testTimeout)
	close(errs)
	n := 0
	for err := range errs {
		if n < 10 {
			t.Error(err)
		}
		n++
	}
	if n > 0 {
		t.Errorf("%d of %d calls failed across the graceful stop", n, initial+more)
	}
	t.Logf("%d calls started + %d more; first server handled %d, second %d", initial, more, first.calls.Load()-base, second.calls.Load())
	if s := ch.State(false); s != channel.Ready {
		t.Errorf("State after the graceful stop = %v, want READY (on the second server)", s)
	}
	rec.WaitFor(t, channel.Ready, testTimeout)
	checkSequence(t, lb+" subscriber across the graceful stop", rec.States(), channel.Idle, false)
}
