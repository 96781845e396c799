package channel

import (
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/grpcactor/grpcactor/balancer"
	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/resolver"
	"github.com/grpcactor/grpcactor/status"
)

// TestCorePushResolver drives the core with the messages a push resolver
// (an actor of package resolver, such as resolver.Manual) makes: updates
// applied whenever they come, re-resolution requests that do not make the
// channel wait, service configs good and bad, errors, and the resolver's
// end.
func TestCorePushResolver(t *testing.T) {
	pick := func(wfr bool) coreMsg { return msgPick{&pickReq{waitForReady: wfr, reply: make(chan pickResult, 1)}} }
	sub := func(id int, s Connectivity) coreMsg {
		m := msgSubState{id: id, state: s}
		if s == Ready {
			m.conn = conn(id)
		}
		if s == TransientFailure {
			m.err = status.New(codes.Unavailable, "connection refused")
		}
		return m
	}
	update := func(sc string, addrs ...string) coreMsg {
		u := &resolver.Update{ServiceConfig: sc}
		for _, a := range addrs {
			u.Addresses = append(u.Addresses, resolver.Address{Addr: a, Weight: 3})
		}
		return msgResolved(toResolved("push:///svc", u))
	}
	failed := msgResolved(toResolved("push:///svc", &resolver.Update{Err: errors.New("registry unreachable")}))
	gone := msgResolverGone{err: status.New(codes.Unavailable, `the resolver of target "push:///svc" stopped`)}
	const rr = `{"loadBalancingConfig":[{"round_robin":{}}]}`
	type step struct {
		advance time.Duration // the clock moves first
		msg     coreMsg
		want    []string
	}
	tests := []struct {
		name  string
		lb    string
		limit time.Duration
		steps []step
	}{
		{"the first exit from IDLE starts the resolver; addresses come when it sends them", "pick_first", 0, []step{
			{0, pick(false), []string{"IDLE->CONNECTING", "resolve"}},
			{0, update("", "a:1", "b:2"), []string{"new 0 a:1", "new 1 b:2", "connect 0"}},
			{0, sub(0, Ready), []string{"shutdown 1", "CONNECTING->READY", "reply conn"}},
			// Unasked, while READY: pick_first keeps its subchannel.
			{0, update("", "a:1", "c:3"), nil},
			{0, update("", "c:3"), []string{"new 2 c:3", "shutdown 0", "connect 2", "READY->IDLE", "IDLE->CONNECTING"}},
		}},
		{"updates in IDLE are kept for the next exit, which asks nothing", "pick_first", 0, []step{
			{0, msgConnect{}, []string{"IDLE->CONNECTING", "resolve"}},
			{0, update("", "a:1"), []string{"new 0 a:1", "connect 0"}},
			{0, msgEnterIdle{}, []string{"shutdown 0", "CONNECTING->IDLE"}},
			{0, update("", "b:2"), nil},
			{0, msgConnect{}, []string{"IDLE->CONNECTING", "new 1 b:2", "connect 1"}},
		}},
		{"re-resolution requests are rate-limited hints; round_robin does not wait for them", "round_robin", 30 * time.Second, []step{
			{0, msgConnect{}, []string{"IDLE->CONNECTING", "resolve"}},
			{0, update("", "a:1"), []string{"new 0 a:1", "connect 0"}},
			{10 * time.Second, sub(0, TransientFailure), []string{"resolve-later 20s", "CONNECTING->TRANSIENT_FAILURE"}},
			{0, sub(0, Idle), []string{"connect 0"}},
			{0, sub(0, TransientFailure), nil}, // the timer is armed already
			{20 * time.Second, msgDoResolve{}, []string{"resolve"}},
			// The resolver does not answer; the next request is still sent.
			{30 * time.Second, sub(0, TransientFailure), []string{"resolve"}},
		}},
		{"a service config applies; an invalid one is reported and the last good one stays", "pick_first", 0, []step{
			{0, msgConnect{}, []string{"IDLE->CONNECTING", "resolve"}},
			{0, update(rr, "a:1", "b:2"), []string{"service config", "new 0 a:1", "new 1 b:2", "connect 0", "connect 1"}},
			{0, sub(1, Ready), []string{"CONNECTING->READY"}},
			{0, update(`{"loadBalancingConfig":[{"no_such_policy":{}}]}`, "a:1", "b:2"), []string{
				`bad service config: loadBalancingConfig: no supported policy in ["no_such_policy"] (supported: ` + strings.Join(balancer.Names(), ", ") + `)`,
				"connect 0"}}, // round_robin connects its IDLE subchannel again
			// A config alone, with no address list, keeps the addresses;
			// another policy starts over with them.
			{0, update(`{}`), []string{"service config", "shutdown 0", "shutdown 1", "new 2 a:1", "new 3 b:2", "connect 2", "READY->IDLE", "IDLE->CONNECTING"}},
		}},
		{"an error keeps the addresses; with none it is TRANSIENT_FAILURE and a retry", "pick_first", 0, []step{
			{0, pick(false), []string{"IDLE->CONNECTING", "resolve"}},
			{0, failed, []string{"CONNECTING->TRANSIENT_FAILURE", "reply UNAVAILABLE", "resolve-timer 1s"}},
			{time.Second, msgResolveNow{gen: 1}, []string{"resolve"}},
			{0, update("", "a:1"), []string{"new 0 a:1", "connect 0", "TRANSIENT_FAILURE->CONNECTING"}},
			{0, sub(0, Ready), []string{"CONNECTING->READY"}},
			{0, failed, nil},
			{0, pick(false), []string{"reply conn"}},
		}},
		{"the resolver's end fails every call, waiting or later, and keeps the channel in TRANSIENT_FAILURE", "pick_first", 0, []step{
			{0, pick(true), []string{"IDLE->CONNECTING", "resolve"}},
			{0, update("", "a:1"), []string{"new 0 a:1", "connect 0"}},
			{0, gone, []string{"shutdown 0", "CONNECTING->TRANSIENT_FAILURE", "reply UNAVAILABLE"}},
			{0, pick(true), []string{"reply UNAVAILABLE"}},
			{0, msgResetBoff{}, nil},
			{0, update("", "a:1"), nil},
			{0, msgClose{}, []string{"TRANSIENT_FAILURE->SHUTDOWN"}},
		}},
		{"a resolver that ends while IDLE leaves it through CONNECTING", "pick_first", 0, []step{
			{0, msgConnect{}, []string{"IDLE->CONNECTING", "resolve"}},
			{0, msgEnterIdle{}, []string{"CONNECTING->IDLE"}},
			{0, gone, []string{"IDLE->CONNECTING", "CONNECTING->TRANSIENT_FAILURE"}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := testCore(tt.lb)
			c.rs.push = true
			c.rl.MinInterval = tt.limit
			now := time.Unix(1000, 0)
			c.now = func() time.Time { return now }
			for i, s := range tt.steps {
				now = now.Add(s.advance)
				if got := describe(c.step(s.msg)); !reflect.DeepEqual(got, s.want) {
					t.Fatalf("step %d (%v): %q, want %q", i, s.msg, got, s.want)
				}
			}
		})
	}
}

// TestCoreResolverState checks what the core keeps of a resolver's
// updates: the last good service config, the error of a bad one, and each
// address's weight and attributes.
func TestCoreResolverState(t *testing.T) {
	c := testCore("pick_first")
	c.rs.push = true
	c.step(msgConnect{})
	good := `{"methodConfig":[{"name":[{"service":"s"}],"timeout":"1s"}]}`
	c.step(msgResolved(toResolved("t", &resolver.Update{
		ServiceConfig: good,
		Addresses:     []resolver.Address{{Addr: "a:1", Weight: 5, Attributes: map[string]string{"zone": "z1"}}, {Network: "unix", Addr: "/s"}},
	})))
	sc := c.rs.sc
	if sc == nil || c.rs.scErr != nil {
		t.Fatalf("after a good config: sc %v, error %v", sc, c.rs.scErr)
	}
	if info, ok := c.addressInfo(address{"tcp", "a:1"}); !ok || info.Weight != 5 || info.Attributes["zone"] != "z1" {
		t.Errorf("addressInfo(a:1) = %+v, %v; want weight 5, zone z1", info, ok)
	}
	if _, ok := c.addressInfo(address{"unix", "/s"}); !ok {
		t.Errorf("addressInfo(unix /s) not found")
	}
	c.step(msgResolved(toResolved("t", &resolver.Update{ServiceConfig: `{"methodConfig":`})))
	if c.rs.sc != sc || c.rs.scErr == nil || !strings.Contains(c.rs.scErr.Error(), "JSON") && !strings.Contains(c.rs.scErr.Error(), "json") {
		t.Errorf("after a bad config: sc changed %v, error %v", c.rs.sc != sc, c.rs.scErr)
	}
	if got := len(c.subs); got != 2 {
		t.Errorf("a bad config alone changed the subchannels: %d, want 2", got)
	}
}

func TestParseTargetWith(t *testing.T) {
	custom := resolver.NewManual()
	resolver.Register("chantest", resolver.NewManual())
	tests := []struct {
		target  string
		custom  bool
		want    resolver.Target
		auth    string // the default :authority
		builder bool   // a resolver takes the target
		err     string
	}{
		{"my:///svc", true, resolver.Target{Scheme: "my", Endpoint: "svc"}, "svc", true, ""},
		{"my://zone-a/svc", true, resolver.Target{Scheme: "my", Authority: "zone-a", Endpoint: "svc"}, "svc", true, ""},
		{"my://zone-a", true, resolver.Target{Scheme: "my", Authority: "zone-a"}, "localhost", true, ""},
		{"file:///tmp/list.txt", true, resolver.Target{Scheme: "file", Endpoint: "tmp/list.txt"}, "localhost", true, ""},
		{"localhost:50051", true, resolver.Target{Scheme: "dns", Endpoint: "localhost:50051"}, "localhost:50051", true, ""},
		{"dns://8.8.8.8/example.com:80", true, resolver.Target{Scheme: "dns", Authority: "8.8.8.8", Endpoint: "example.com:80"}, "example.com:80", true, ""},
		{"dns:///bad host:80", true, resolver.Target{}, "", false, "has ' '"},
		{"chantest:svc", false, resolver.Target{Scheme: "chantest", Endpoint: "svc"}, "svc", true, ""},
		{"chantest:///svc", false, resolver.Target{Scheme: "chantest", Endpoint: "svc"}, "svc", true, ""},
		{"localhost:50051", false, resolver.Target{Scheme: "dns", Endpoint: "localhost:50051"}, "localhost:50051", false, ""},
		{"my:///svc", false, resolver.Target{}, "", false, `unknown scheme "my"`},
	}
	for _, tt := range tests {
		var b resolver.Builder
		if tt.custom {
			b = custom
		}
		pt, got, err := parseTargetWith(tt.target, b)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%q: error %v, want one with %q", tt.target, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tt.target, err)
			continue
		}
		tt.want.Raw = tt.target
		if rt := pt.resolverTarget(tt.target); rt != tt.want || pt.defAuth != tt.auth || (got != nil) != tt.builder {
			t.Errorf("%q: %+v, authority %q, resolver %v; want %+v, %q, %v", tt.target, rt, pt.defAuth, got != nil, tt.want, tt.auth, tt.builder)
		}
	}
}

// TestCoreResolverWeightsReachPolicy checks that the weight and the
// attributes a resolver gives an address are the policy's
// balancer.Address, and that a later weight for the same address reaches
// it too.
func TestCoreResolverWeightsReachPolicy(t *testing.T) {
	c := testCore(balancer.WeightedRoundRobin)
	c.rs.push = true
	c.step(msgConnect{})
	c.step(msgResolved(toResolved("t", &resolver.Update{
		Addresses: []resolver.Address{{Addr: "a:1", Weight: 5, Attributes: map[string]string{"zone": "z1"}}, {Addr: "b:2"}},
	})))
	if len(c.subs) != 2 {
		t.Fatalf("%d subchannels, want 2", len(c.subs))
	}
	got := map[string]balancer.Address{}
	for _, s := range c.subs {
		got[s.sc.Address().Addr] = s.sc.Address()
	}
	if a := got["a:1"]; a.Weight != 5 || a.Attributes["zone"] != "z1" {
		t.Errorf("a:1 reached the policy as %+v; want weight 5, zone z1", a)
	}
	if b := got["b:2"]; b.Weight != 0 || b.Attributes != nil {
		t.Errorf("b:2 reached the policy as %+v; want no weight, no attributes", b)
	}
	addrs := c.toBalancerAddrs([]address{{"tcp", "a:1"}})
	c.step(msgResolved(toResolved("t", &resolver.Update{Addresses: []resolver.Address{{Addr: "a:1", Weight: 7}}})))
	if addrs[0].Weight != 5 {
		t.Fatalf("toBalancerAddrs before the update: weight %d, want 5", addrs[0].Weight)
	}
	if addrs = c.toBalancerAddrs([]address{{"tcp", "a:1"}}); addrs[0].Weight != 7 || addrs[0].Attributes != nil {
		t.Errorf("toBalancerAddrs after the update: %+v, want weight 7, no attributes", addrs[0])
	}
}

// TestCoreResolverSwitchesPolicy checks that a resolver's service config
// puts its policy in force with the config it gives (not the policy's
// default), that another config for the same policy rebuilds it, and that
// a config naming none goes back to the channel's default.
func TestCoreResolverSwitchesPolicy(t *testing.T) {
	c := testCore("pick_first")
	c.rs.push = true
	c.step(msgConnect{})
	c.step(msgResolved(toResolved("t", &resolver.Update{Addresses: []resolver.Address{{Addr: "a:1"}, {Addr: "b:2"}}})))
	first := c.policy
	ring := func(n int) string {
		return `{"loadBalancingConfig":[{"ring_hash":{"minRingSize":` + strconv.Itoa(n) + `}}]}`
	}
	c.step(msgResolved(toResolved("t", &resolver.Update{ServiceConfig: ring(16)})))
	if c.lb != balancer.RingHash || c.policy == first || c.policy == nil {
		t.Fatalf("after a ring_hash config: policy %q (rebuilt %v)", c.lb, c.policy != first)
	}
	if want := c.rs.sc.LBConfig; !reflect.DeepEqual(c.lbConfig, want) {
		t.Errorf("ring_hash config in force %+v, want the resolver's %+v", c.lbConfig, want)
	}
	second := c.policy
	c.step(msgResolved(toResolved("t", &resolver.Update{ServiceConfig: ring(16)})))
	if c.policy != second {
		t.Errorf("the same config again rebuilt the policy")
	}
	c.step(msgResolved(toResolved("t", &resolver.Update{ServiceConfig: ring(32)})))
	if c.policy == second || c.policy == nil || !reflect.DeepEqual(c.lbConfig, c.rs.sc.LBConfig) {
		t.Errorf("another ring_hash config: rebuilt %v, config %+v", c.policy != second, c.lbConfig)
	}
	c.step(msgResolved(toResolved("t", &resolver.Update{ServiceConfig: `{}`})))
	if c.lb != balancer.PickFirst || c.policy == nil {
		t.Errorf("a config naming no policy: %q in force, want pick_first", c.lb)
	}
}
