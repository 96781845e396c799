package balancer_test

import (
	"encoding/json"
	"fmt"

	"github.com/grpcactor/grpcactor/balancer"
	"github.com/grpcactor/grpcactor/connectivity"
)

// A policy is a pure state machine: give it addresses and subchannel
// states, read what it asks for, and pick with its picker. Here the
// built-in weighted_round_robin, driven by hand as a table test would.
func Example() {
	b, _ := balancer.Get(balancer.WeightedRoundRobin)
	cfg, _ := b.ParseConfig(nil)
	p := b.Build(cfg)

	u := p.UpdateAddresses([]balancer.Address{
		{Network: "tcp", Addr: "10.0.0.1:50051", Weight: 1},
		{Network: "tcp", Addr: "10.0.0.2:50051", Weight: 3},
	})
	fmt.Println("create", len(u.NewSubConns), "connect", len(u.Connect), "state", u.State)
	for _, sc := range u.NewSubConns {
		u = p.UpdateSubConnState(sc, balancer.SubConnState{State: connectivity.Ready})
	}
	fmt.Println("state", u.State)
	for range 4 {
		res, _ := u.Picker.Pick(balancer.PickInfo{Method: "/echo.Echo/Say"})
		fmt.Println(res.SubConn.Address().Addr)
	}
	// Output:
	// create 2 connect 2 state CONNECTING
	// state READY
	// 10.0.0.2:50051
	// 10.0.0.1:50051
	// 10.0.0.2:50051
	// 10.0.0.2:50051
}

// A policy of one's own, registered by name: it takes another policy
// (round_robin) and hands it only the addresses whose port is 443. A
// channel chooses it with channel.WithLBPolicy("tls_only") or with
// {"loadBalancingConfig": [{"tls_only": {}}]}.
func ExampleRegister() {
	balancer.Register("tls_only", tlsOnly{})
	b, _ := balancer.Get("tls_only")
	p := b.Build(nil)
	u := p.UpdateAddresses([]balancer.Address{{Addr: "a:80"}, {Addr: "b:443"}})
	for _, sc := range u.NewSubConns {
		fmt.Println("subchannel for", sc.Address().Addr)
	}
	// Output: subchannel for b:443
}

type tlsOnly struct{}

func (tlsOnly) ParseConfig(json.RawMessage) (any, error) { return nil, nil }

func (tlsOnly) Build(any) balancer.Policy {
	rr, _ := balancer.Get(balancer.RoundRobin)
	return filter{rr.Build(nil)}
}

type filter struct{ balancer.Policy }

func (f filter) UpdateAddresses(addrs []balancer.Address) balancer.Update {
	var kept []balancer.Address
	for _, a := range addrs {
		if len(a.Addr) > 4 && a.Addr[len(a.Addr)-4:] == ":443" {
			kept = append(kept, a)
		}
	}
	return f.Policy.UpdateAddresses(kept)
}
