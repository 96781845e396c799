package channel

import (
	"reflect"
	"testing"
	"time"

	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/resolver"
	"github.com/grpcactor/grpcactor/status"
)

// TestCorePollTimer drives a Poll resolver with a PollInterval through the
// core with a fake clock and the poll timer as a message: every result
// arms the timer, each firing polls once (at once, whatever the rate limit
// says, but counted by it, so a re-resolution right after waits), stale
// firings and firings while IDLE, TRANSIENT_FAILURE with a backoff, or
// after Close poll nothing.
func TestCorePollTimer(t *testing.T) {
	pick := func() coreMsg { return msgPick{&pickReq{reply: make(chan pickResult, 1)}} }
	sub := func(id int, s Connectivity) coreMsg {
		m := msgSubState{id: id, state: s}
		if s == Ready {
			m.conn = conn(id)
		}
		return m
	}
	resolved := msgResolved{addrs: []address{{"tcp", "10.0.0.1:1"}}}
	resolved2 := msgResolved{addrs: []address{{"tcp", "a:1"}, {"tcp", "b:2"}}}
	failed := msgResolved{err: status.New(codes.Unavailable, "no such host")}
	tick := func(gen int) coreMsg { return msgPollTick{gen: gen} }
	type step struct {
		advance time.Duration // the clock moves first
		msg     coreMsg
		want    []string
	}
	tests := []struct {
		name  string
		lb    string
		every time.Duration
		steps []step
	}{
		{"each result arms the timer; each firing polls once", "pick_first", time.Second, []step{
			{0, pick(), []string{"IDLE->CONNECTING", "resolve"}},
			{0, resolved, []string{"poll-timer 1s gen=1", "new 0 10.0.0.1:1", "connect 0"}},
			{0, sub(0, Ready), []string{"CONNECTING->READY", "reply conn"}},
			{time.Second, tick(1), []string{"resolve"}},
			{0, resolved, []string{"poll-timer 1s gen=2"}},
			{0, tick(1), nil}, // stale
			{time.Second, tick(2), []string{"resolve"}},
			{0, resolved, []string{"poll-timer 1s gen=3"}},
			{time.Second, tick(3), []string{"resolve"}},
			{0, resolved, []string{"poll-timer 1s gen=4"}},
		}},
		{"a periodic poll is not held back by the rate limit but counts for it", "pick_first", time.Second, []step{
			{0, pick(), []string{"IDLE->CONNECTING", "resolve"}},
			{0, resolved, []string{"poll-timer 1s gen=1", "new 0 10.0.0.1:1", "connect 0"}},
			{0, sub(0, Ready), []string{"CONNECTING->READY", "reply conn"}},
			{time.Second, tick(1), []string{"resolve"}},
			{0, resolved, []string{"poll-timer 1s gen=2"}},
			// The connection is lost 10 s after the poll: the
			// re-resolution it asks for waits out the 30 s limit.
			{10 * time.Second, sub(0, Idle), []string{"shutdown 0", "READY->IDLE", "resolve-later 20s"}},
			{0, tick(2), nil}, // IDLE: no periodic poll
		}},
		{"a re-resolution the rate limit holds back is served by the next poll", "round_robin", time.Second, []step{
			{0, pick(), []string{"IDLE->CONNECTING", "resolve"}},
			{0, resolved2, []string{"poll-timer 1s gen=1", "new 0 a:1", "new 1 b:2", "connect 0", "connect 1"}},
			{0, sub(0, Ready), []string{"CONNECTING->READY", "reply conn"}},
			{0, sub(1, Ready), nil},
			// round_robin loses a connection, asks for a re-resolution:
			// held back, since the first lookup was just now.
			{100 * time.Millisecond, sub(1, Idle), []string{"connect 1", "resolve-later 29.9s"}},
			{900 * time.Millisecond, tick(1), []string{"resolve"}}, // the poll does not wait
			{0, resolved2, []string{"poll-timer 1s gen=2", "connect 1"}},
			{29 * time.Second, msgDoResolve{}, nil}, // served already
			{0, tick(2), []string{"resolve"}},
		}},
		{"a firing while a lookup is in flight polls nothing more", "pick_first", time.Second, []step{
			{0, pick(), []string{"IDLE->CONNECTING", "resolve"}},
			{0, tick(0), nil},
			{0, resolved, []string{"poll-timer 1s gen=1", "new 0 10.0.0.1:1", "connect 0"}},
		}},
		{"a failed poll with addresses keeps polling; without, the backoff retries", "pick_first", time.Second, []step{
			{0, pick(), []string{"IDLE->CONNECTING", "resolve"}},
			{0, failed, []string{"CONNECTING->TRANSIENT_FAILURE", "reply UNAVAILABLE", "resolve-timer 1s"}},
			{0, tick(0), nil}, // no poll timer is current
			{time.Second, msgResolveNow{gen: 1}, []string{"resolve"}},
			{0, resolved, []string{"poll-timer 1s gen=2", "new 0 10.0.0.1:1", "connect 0", "TRANSIENT_FAILURE->CONNECTING"}},
			{time.Second, tick(2), []string{"resolve"}},
			{0, failed, []string{"poll-timer 1s gen=3"}},
			{0, msgClose{}, []string{"CONNECTING->SHUTDOWN", "shutdown 0"}},
			{time.Second, tick(3), nil},
		}},
		{"no interval, no timer", "pick_first", 0, []step{
			{0, pick(), []string{"IDLE->CONNECTING", "resolve"}},
			{0, resolved, []string{"new 0 10.0.0.1:1", "connect 0"}},
			{0, tick(0), nil},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := testCore(tt.lb)
			c.rs.pollEvery, c.rl.MinInterval = tt.every, 30*time.Second
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

// TestCoreStaticTargetNeverResolves checks that a Static resolver's
// addresses are the core's fixed ones, as the built-in schemes' always
// were: no lookup, no re-resolution after a loss, no poll.
func TestCoreStaticTargetNeverResolves(t *testing.T) {
	c := testCore("pick_first", "a:1")
	c.rs.pollEvery = time.Second
	for i, s := range []struct {
		msg  coreMsg
		want []string
	}{
		{msgConnect{}, []string{"IDLE->CONNECTING", "new 0 a:1", "connect 0"}},
		{msgSubState{id: 0, state: Ready, conn: conn(0)}, []string{"CONNECTING->READY"}},
		{msgSubState{id: 0, state: Idle}, []string{"shutdown 0", "READY->IDLE"}},
		{msgPollTick{gen: 0}, nil},
		{msgConnect{}, []string{"IDLE->CONNECTING", "new 1 a:1", "connect 1"}},
	} {
		if got := describe(c.step(s.msg)); !reflect.DeepEqual(got, s.want) {
			t.Fatalf("step %d (%v): %q, want %q", i, s.msg, got, s.want)
		}
	}
}

// TestFixedAddrs checks that a Static resolver's addresses become the
// channel's fixed ones (tcp when no network is given) with what the
// resolver said of each for policies to read.
func TestFixedAddrs(t *testing.T) {
	r := resolver.Resolver{Static: []resolver.Address{
		{Addr: "a:1", Weight: 3, Attributes: map[string]string{"zone": "z"}},
		{Network: "unix", Addr: "/s"},
	}}
	addrs, info := fixedAddrs(r)
	if want := []address{{"tcp", "a:1"}, {"unix", "/s"}}; !reflect.DeepEqual(addrs, want) {
		t.Errorf("addresses %v, want %v", addrs, want)
	}
	if a := info[address{"tcp", "a:1"}]; a.Weight != 3 || a.Attributes["zone"] != "z" {
		t.Errorf("a:1's info %+v, want weight 3, zone z", a)
	}
	if addrs, info := fixedAddrs(resolver.Resolver{}); addrs != nil || info != nil {
		t.Errorf("no Static: %v, %v; want nil", addrs, info)
	}
}
