package channel

import (
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/internal/transport"
	"github.com/grpcactor/grpcactor/status"
)

func testCore(lb string, static ...string) *core {
	o := defaultOptions()
	var as []address
	for _, a := range static {
		as = append(as, address{"tcp", a})
	}
	c := newCore(as, lb, &o)
	c.resolveBo.Jitter = func() float64 { return 0 }
	// The rows below test connectivity: no rate limit between lookups and
	// no idle timer (TestCoreIdle and TestCoreLookups test those).
	c.rl.MinInterval = 0
	c.idleTimeout = 0
	return c
}

func describe(effs []effect) []string {
	var out []string
	for _, e := range effs {
		out = append(out, e.String())
	}
	return out
}

// conns stands in for ready connections; the core only compares pointers.
var conns = map[int]*transport.Conn{}

func conn(id int) *transport.Conn {
	if conns[id] == nil {
		conns[id] = new(transport.Conn)
	}
	return conns[id]
}

func TestCoreShuffle(t *testing.T) {
	c := testCore("pick_first", "a:1", "b:2", "c:3")
	c.shuffle = func(as []address) { as[0], as[2] = as[2], as[0] }
	got := describe(c.step(msgConnect{}))
	want := []string{"IDLE->CONNECTING", "new 0 c:3", "new 1 b:2", "new 2 a:1", "connect 0"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%q, want %q", got, want)
	}
}

func TestCoreTransitions(t *testing.T) {
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
	resolved := func(addrs ...string) coreMsg {
		var as []address
		for _, a := range addrs {
			as = append(as, address{"tcp", a})
		}
		return msgResolved{addrs: as}
	}
	type step struct {
		msg  coreMsg
		want []string
	}
	tests := []struct {
		name   string
		lb     string
		static []string
		steps  []step
	}{
		{"pick_first: first call connects the first address", "pick_first", []string{"a:1", "b:2"}, []step{
			{pick(false), []string{"IDLE->CONNECTING", "new 0 a:1", "new 1 b:2", "connect 0"}},
			{sub(0, Connecting), nil},
			{sub(0, Ready), []string{"shutdown 1", "CONNECTING->READY", "reply conn"}},
			{pick(false), []string{"reply conn"}},
		}},
		{"pick_first: tries every address, then sticky TRANSIENT_FAILURE", "pick_first", []string{"a:1", "b:2"}, []step{
			{pick(true), []string{"IDLE->CONNECTING", "new 0 a:1", "new 1 b:2", "connect 0"}},
			{pick(false), nil},
			{sub(0, TransientFailure), []string{"connect 1"}},
			{sub(1, TransientFailure), []string{"CONNECTING->TRANSIENT_FAILURE", "reply UNAVAILABLE"}},
			{pick(false), []string{"reply UNAVAILABLE"}},
			{sub(0, Idle), []string{"connect 0"}},
			{sub(0, Connecting), nil},
			{sub(0, TransientFailure), nil},
			{sub(1, Idle), []string{"connect 1"}},
			{sub(1, Ready), []string{"shutdown 0", "TRANSIENT_FAILURE->CONNECTING", "CONNECTING->READY", "reply conn"}},
		}},
		{"pick_first: losing the connection goes IDLE, the next call reconnects", "pick_first", []string{"a:1"}, []step{
			{msgConnect{}, []string{"IDLE->CONNECTING", "new 0 a:1", "connect 0"}},
			{sub(0, Ready), []string{"CONNECTING->READY"}},
			{sub(0, Idle), []string{"shutdown 0", "READY->IDLE"}},
			{pick(false), []string{"IDLE->CONNECTING", "new 1 a:1", "connect 1"}},
		}},
		{"dns: resolves on exit from IDLE, re-resolves on loss", "pick_first", nil, []step{
			{pick(false), []string{"IDLE->CONNECTING", "resolve"}},
			{resolved("10.0.0.1:1"), []string{"new 0 10.0.0.1:1", "connect 0"}},
			{sub(0, Ready), []string{"CONNECTING->READY", "reply conn"}},
			{sub(0, Idle), []string{"shutdown 0", "READY->IDLE", "resolve"}},
		}},
		{"dns: re-resolving the same address keeps the sticky failure retrying", "pick_first", nil, []step{
			{pick(false), []string{"IDLE->CONNECTING", "resolve"}},
			{resolved("10.0.0.1:1"), []string{"new 0 10.0.0.1:1", "connect 0"}},
			{sub(0, TransientFailure), []string{"resolve", "CONNECTING->TRANSIENT_FAILURE", "reply UNAVAILABLE"}},
			{resolved("10.0.0.1:1"), nil},
			{sub(0, Idle), []string{"connect 0"}},
			{sub(0, Ready), []string{"TRANSIENT_FAILURE->CONNECTING", "CONNECTING->READY"}},
		}},
		{"dns: a failed lookup is TRANSIENT_FAILURE with a retry", "pick_first", nil, []step{
			{pick(false), []string{"IDLE->CONNECTING", "resolve"}},
			{msgResolved{err: status.New(codes.Unavailable, "no such host")}, []string{"CONNECTING->TRANSIENT_FAILURE", "reply UNAVAILABLE", "resolve-timer 1s"}},
			{msgResolveNow{gen: 1}, []string{"resolve"}},
			{resolved("10.0.0.1:1"), []string{"new 0 10.0.0.1:1", "connect 0", "TRANSIENT_FAILURE->CONNECTING"}},
		}},
		{"round_robin: connects all, READY when one is", "round_robin", []string{"a:1", "b:2", "c:3"}, []step{
			{pick(false), []string{"IDLE->CONNECTING", "new 0 a:1", "new 1 b:2", "new 2 c:3", "connect 0", "connect 1", "connect 2"}},
			{sub(0, Connecting), nil},
			{sub(1, Ready), []string{"CONNECTING->READY", "reply conn"}},
			{sub(0, TransientFailure), nil},
			{sub(0, Idle), []string{"connect 0"}},
			{sub(1, Idle), []string{"connect 1", "READY->IDLE", "IDLE->CONNECTING"}},
			{sub(2, TransientFailure), nil},
			{sub(1, TransientFailure), []string{"CONNECTING->TRANSIENT_FAILURE"}},
		}},
		{"idle timeout shuts subchannels down", "pick_first", []string{"a:1"}, []step{
			{msgConnect{}, []string{"IDLE->CONNECTING", "new 0 a:1", "connect 0"}},
			{sub(0, Ready), []string{"CONNECTING->READY"}},
			{msgEnterIdle{}, []string{"shutdown 0", "READY->IDLE"}},
			{msgConnect{}, []string{"IDLE->CONNECTING", "new 1 a:1", "connect 1"}},
		}},
		{"ResetConnectBackoff resets every subchannel", "round_robin", []string{"a:1", "b:2"}, []step{
			{msgConnect{}, []string{"IDLE->CONNECTING", "new 0 a:1", "new 1 b:2", "connect 0", "connect 1"}},
			{msgResetBoff{}, []string{"reset [0 1]"}},
		}},
		{"idle timeout while CONNECTING with no call goes IDLE", "pick_first", []string{"a:1"}, []step{
			{msgConnect{}, []string{"IDLE->CONNECTING", "new 0 a:1", "connect 0"}},
			{msgEnterIdle{}, []string{"shutdown 0", "CONNECTING->IDLE"}},
		}},
		{"idle timeout while CONNECTING with a call waiting is refused", "pick_first", []string{"a:1"}, []step{
			{pick(true), []string{"IDLE->CONNECTING", "new 0 a:1", "connect 0"}},
			{msgEnterIdle{}, nil},
		}},
		{"idle timeout in TRANSIENT_FAILURE is refused (no TRANSIENT_FAILURE->IDLE edge)", "pick_first", []string{"a:1"}, []step{
			{msgConnect{}, []string{"IDLE->CONNECTING", "new 0 a:1", "connect 0"}},
			{sub(0, TransientFailure), []string{"CONNECTING->TRANSIENT_FAILURE"}},
			{msgEnterIdle{}, nil},
			{sub(0, Idle), []string{"connect 0"}},
			{sub(0, Ready), []string{"TRANSIENT_FAILURE->CONNECTING", "CONNECTING->READY"}},
		}},
		{"round_robin: sticky TRANSIENT_FAILURE ends through CONNECTING", "round_robin", []string{"a:1", "b:2"}, []step{
			{msgConnect{}, []string{"IDLE->CONNECTING", "new 0 a:1", "new 1 b:2", "connect 0", "connect 1"}},
			{sub(0, TransientFailure), nil},
			{sub(1, TransientFailure), []string{"CONNECTING->TRANSIENT_FAILURE"}},
			{sub(1, Idle), []string{"connect 1"}},
			{sub(1, Ready), []string{"TRANSIENT_FAILURE->CONNECTING", "CONNECTING->READY"}},
		}},
		{"IDLE->SHUTDOWN", "pick_first", []string{"a:1"}, []step{
			{msgClose{}, []string{"IDLE->SHUTDOWN"}},
		}},
		{"READY->SHUTDOWN", "pick_first", []string{"a:1"}, []step{
			{msgConnect{}, []string{"IDLE->CONNECTING", "new 0 a:1", "connect 0"}},
			{sub(0, Ready), []string{"CONNECTING->READY"}},
			{msgClose{}, []string{"READY->SHUTDOWN", "shutdown 0"}},
		}},
		{"TRANSIENT_FAILURE->SHUTDOWN fails calls waiting for ready", "pick_first", []string{"a:1"}, []step{
			{pick(true), []string{"IDLE->CONNECTING", "new 0 a:1", "connect 0"}},
			{sub(0, TransientFailure), []string{"CONNECTING->TRANSIENT_FAILURE"}},
			{msgClose{}, []string{"TRANSIENT_FAILURE->SHUTDOWN", "reply CANCELLED", "shutdown 0"}},
		}},
		{"close fails waiting calls and shuts subchannels down", "pick_first", []string{"a:1"}, []step{
			{pick(true), []string{"IDLE->CONNECTING", "new 0 a:1", "connect 0"}},
			{msgClose{}, []string{"CONNECTING->SHUTDOWN", "reply CANCELLED", "shutdown 0"}},
			{pick(true), []string{"reply CANCELLED"}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := testCore(tt.lb, tt.static...)
			for i, s := range tt.steps {
				if got := describe(c.step(s.msg)); !reflect.DeepEqual(got, s.want) {
					t.Fatalf("step %d (%T): %q, want %q", i, s.msg, got, s.want)
				}
			}
		})
	}
}

// docAllowed holds the transitions of gRPC's connectivity-semantics
// document (besides any state to SHUTDOWN).
var docAllowed = map[Connectivity][]Connectivity{
	Idle:             {Connecting},
	Connecting:       {Ready, TransientFailure, Idle},
	Ready:            {TransientFailure, Idle},
	TransientFailure: {Connecting},
}

// TestCoreOnlyDocumentedTransitions drives the core with every sequence of
// subchannel states (and idle checks) up to a length, for both policies,
// and checks that every transition it reports is one the
// connectivity-semantics document allows.
func TestCoreOnlyDocumentedTransitions(t *testing.T) {
	states := []Connectivity{Idle, Connecting, Ready, TransientFailure}
	var msgs []coreMsg
	for id := 0; id < 2; id++ {
		for _, st := range states {
			m := msgSubState{id: id, state: st}
			if st == Ready {
				m.conn = conn(id)
			}
			if st == TransientFailure {
				m.err = status.New(codes.Unavailable, "connection refused")
			}
			msgs = append(msgs, m)
		}
	}
	msgs = append(msgs, msgEnterIdle{}, msgConnect{})
	const depth = 5
	checked := 0
	for _, lb := range []string{"pick_first", "round_robin"} {
		var walk func(prefix []int)
		walk = func(prefix []int) {
			if len(prefix) == depth {
				return
			}
			for i := range msgs {
				seq := append(append([]int(nil), prefix...), i)
				c := testCore(lb, "a:1", "b:2")
				var trace []string
				c.step(msgConnect{})
				for _, j := range seq {
					for _, e := range c.step(msgs[j]) {
						st, ok := e.(effState)
						if !ok {
							continue
						}
						trace = append(trace, st.from.String()+"->"+st.to.String())
						if !allowedMove(st.from, st.to) {
							t.Fatalf("%s, messages %v: transition %v->%v is not in the document (trace %q)", lb, seq, st.from, st.to, trace)
						}
					}
				}
				checked++
				walk(seq)
			}
		}
		walk(nil)
	}
	if checked == 0 {
		t.Fatal("no sequence checked")
	}
}

func allowedMove(from, to Connectivity) bool {
	if to == Shutdown {
		return from != Shutdown
	}
	for _, s := range docAllowed[from] {
		if s == to {
			return true
		}
	}
	return false
}

// A waiting pick whose caller gave up is dropped when the caller's
// msgAbandoned arrives, not only at the next pick: the core keeps no
// pending pick of an ended caller, and an idle check then succeeds.
func TestCoreAbandonedPicks(t *testing.T) {
	c := testCore("pick_first", "a:1")
	kept := &pickReq{waitForReady: true, reply: make(chan pickResult, 1)}
	gone := &pickReq{waitForReady: true, reply: make(chan pickResult, 1)}
	c.step(msgPick{kept})
	c.step(msgPick{gone})
	if len(c.pending) != 2 {
		t.Fatalf("%d pending picks, want 2", len(c.pending))
	}
	gone.abandoned.Store(true)
	c.step(msgAbandoned{})
	if len(c.pending) != 1 || c.pending[0] != kept {
		t.Fatalf("after msgAbandoned: %d pending picks, want only the live one", len(c.pending))
	}
	kept.abandoned.Store(true)
	c.step(msgAbandoned{})
	if len(c.pending) != 0 {
		t.Fatalf("after both gave up: %d pending picks", len(c.pending))
	}
	if got := describe(c.step(msgEnterIdle{})); !reflect.DeepEqual(got, []string{"shutdown 0", "CONNECTING->IDLE"}) {
		t.Errorf("idle check with no live pick: %q", got)
	}
}

// TestCoreIdleAndLookups covers the state the core took over from the
// actor: the idle timer (grpc.client_idle_timeout_ms) and the name lookups
// (one in flight at a time, grpc.dns_min_time_between_resolutions_ms
// between them).
func TestCoreIdleAndLookups(t *testing.T) {
	idleCheck := func(gen, active int, armedStarts, starts uint64) coreMsg {
		return msgIdleCheck{gen: gen, active: active, armedStarts: armedStarts, starts: starts}
	}
	pick := func(wfr bool) coreMsg { return msgPick{&pickReq{waitForReady: wfr, reply: make(chan pickResult, 1)}} }
	sub := func(id int, s Connectivity) coreMsg {
		m := msgSubState{id: id, state: s}
		if s == Ready {
			m.conn = conn(id)
		}
		return m
	}
	resolved := msgResolved{addrs: []address{{"tcp", "10.0.0.1:1"}}}
	type step struct {
		advance time.Duration // the clock moves first
		msg     coreMsg
		want    []string
	}
	tests := []struct {
		name        string
		static      []string
		idle, limit time.Duration
		steps       []step
	}{
		{"idle: leaving IDLE arms the timer, a quiet check enters IDLE", []string{"a:1"}, 30 * time.Minute, 0, []step{
			{0, msgConnect{}, []string{"IDLE->CONNECTING", "idle-timer 30m0s gen=1", "new 0 a:1", "connect 0"}},
			{0, sub(0, Ready), []string{"CONNECTING->READY"}},
			{0, idleCheck(1, 0, 5, 5), []string{"shutdown 0", "READY->IDLE"}},
		}},
		{"idle: calls since arming, or in progress, check again later", []string{"a:1"}, 30 * time.Minute, 0, []step{
			{0, msgConnect{}, []string{"IDLE->CONNECTING", "idle-timer 30m0s gen=1", "new 0 a:1", "connect 0"}},
			{0, idleCheck(1, 0, 5, 6), []string{"idle-timer 30m0s gen=2"}},
			{0, idleCheck(1, 0, 6, 6), nil}, // stale
			{0, idleCheck(2, 1, 6, 6), []string{"idle-timer 30m0s gen=3"}},
			{0, idleCheck(3, 0, 6, 6), []string{"shutdown 0", "CONNECTING->IDLE"}},
			{0, msgConnect{}, []string{"IDLE->CONNECTING", "idle-timer 30m0s gen=5", "new 1 a:1", "connect 1"}},
		}},
		{"idle: waiting picks keep the channel out of IDLE", []string{"a:1"}, 30 * time.Minute, 0, []step{
			{0, pick(true), []string{"IDLE->CONNECTING", "idle-timer 30m0s gen=1", "new 0 a:1", "connect 0"}},
			{0, msgEnterIdle{}, nil}, // the timer is armed already
			{0, idleCheck(1, 0, 0, 0), []string{"idle-timer 30m0s gen=2"}},
		}},
		{"idle: disabled arms nothing", []string{"a:1"}, 0, 0, []step{
			{0, msgConnect{}, []string{"IDLE->CONNECTING", "new 0 a:1", "connect 0"}},
			{0, msgEnterIdle{}, []string{"shutdown 0", "CONNECTING->IDLE"}},
		}},
		{"lookups: re-resolution is rate-limited, one lookup in flight", nil, 0, 30 * time.Second, []step{
			{0, pick(false), []string{"IDLE->CONNECTING", "resolve"}},
			{0, resolved, []string{"new 0 10.0.0.1:1", "connect 0"}},
			{0, sub(0, Ready), []string{"CONNECTING->READY", "reply conn"}},
			{10 * time.Second, sub(0, Idle), []string{"shutdown 0", "READY->IDLE", "resolve-later 20s"}},
			{20 * time.Second, msgDoResolve{}, []string{"resolve"}},
			// Leaving IDLE while that lookup is in flight: its result
			// serves, and another lookup follows it, rate-limited.
			{0, msgConnect{}, []string{"IDLE->CONNECTING"}},
			{0, resolved, []string{"new 1 10.0.0.1:1", "connect 1", "resolve-later 30s"}},
			{30 * time.Second, msgDoResolve{}, []string{"resolve"}},
		}},
		{"lookups: a retry after a failed lookup is not rate-limited", nil, 0, 30 * time.Second, []step{
			{0, pick(false), []string{"IDLE->CONNECTING", "resolve"}},
			{0, msgResolved{err: status.New(codes.Unavailable, "no such host")}, []string{"CONNECTING->TRANSIENT_FAILURE", "reply UNAVAILABLE", "resolve-timer 1s"}},
			{time.Second, msgResolveNow{gen: 1}, []string{"resolve"}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := testCore("pick_first", tt.static...)
			c.idleTimeout, c.rl.MinInterval = tt.idle, tt.limit
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

// A connection that received GOAWAY is skipped as soon as it knows, before
// its subchannel's report reaches the channel: picks wait for the next
// usable connection instead of being handed one that refuses them (the
// GOAWAY storm of issue 8, where calls burned their transparent retries on
// a draining connection in milliseconds).
func TestCoreSkipsDrainingConnections(t *testing.T) {
	type step struct {
		msg   coreMsg
		drain int // before the message, mark this connection draining (-1: none)
		want  []string
		conn  int // the connection every reply of the step must carry (-1: any)
	}
	pick := func() coreMsg { return msgPick{&pickReq{reply: make(chan pickResult, 1)}} }
	ready := func(id, cn int) coreMsg { return msgSubState{id: id, state: Ready, conn: conn(cn)} }
	idle := func(id int) coreMsg { return msgSubState{id: id, state: Idle} }
	tests := []struct {
		name   string
		lb     string
		static []string
		steps  []step
	}{
		{"pick_first: a pick waits for the next connection", "pick_first", []string{"a:1"}, []step{
			{msgConnect{}, -1, []string{"IDLE->CONNECTING", "new 0 a:1", "connect 0"}, -1},
			{ready(0, 100), -1, []string{"CONNECTING->READY"}, -1},
			{pick(), -1, []string{"reply conn"}, 100},
			{pick(), 100, nil, -1}, // draining, not yet reported: waits
			{pick(), -1, nil, -1},
			{idle(0), -1, []string{"shutdown 0", "READY->IDLE", "IDLE->CONNECTING", "new 1 a:1", "connect 1"}, -1},
			{ready(1, 101), -1, []string{"CONNECTING->READY", "reply conn", "reply conn"}, 101},
		}},
		{"round_robin: picks go to the connections still usable", "round_robin", []string{"a:1", "b:2"}, []step{
			{msgConnect{}, -1, []string{"IDLE->CONNECTING", "new 0 a:1", "new 1 b:2", "connect 0", "connect 1"}, -1},
			{ready(0, 110), -1, []string{"CONNECTING->READY"}, -1},
			{ready(1, 111), 110, nil, -1},
			{pick(), -1, []string{"reply conn"}, 111},
			{pick(), -1, []string{"reply conn"}, 111},
			{pick(), 111, nil, -1}, // both draining: waits
			{idle(0), -1, []string{"connect 0"}, -1},
			{ready(0, 112), -1, []string{"reply conn"}, 112},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := testCore(tt.lb, tt.static...)
			draining := map[*transport.Conn]bool{}
			c.usable = func(cn *transport.Conn) bool { return !draining[cn] }
			for i, s := range tt.steps {
				if s.drain >= 0 {
					draining[conn(s.drain)] = true
				}
				effs := c.step(s.msg)
				if got := describe(effs); !reflect.DeepEqual(got, s.want) {
					t.Fatalf("step %d (%T): %q, want %q", i, s.msg, got, s.want)
				}
				for _, e := range effs {
					if r, ok := e.(effReply); ok && r.res.err == nil {
						if r.res.conn == nil || draining[r.res.conn] {
							t.Fatalf("step %d: a pick was answered with an unusable connection", i)
						}
						if s.conn >= 0 && r.res.conn != conn(s.conn) {
							t.Fatalf("step %d: a pick was answered with another connection than %d", i, s.conn)
						}
					}
				}
				if pub := c.readyConns(); slices.ContainsFunc(pub, func(cn *transport.Conn) bool { return draining[cn] }) {
					t.Fatalf("step %d: the published connections include a draining one", i)
				}
			}
		})
	}
}
