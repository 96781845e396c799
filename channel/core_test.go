package channel

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/status"
	"github.com/grpcactor/grpcactor/transport"
)

func testCore(lb string, static ...string) *core {
	o := defaultOptions()
	var as []address
	for _, a := range static {
		as = append(as, address{"tcp", a})
	}
	c := newCore(as, lb, &o)
	c.resolveBo.Jitter = func() float64 { return 0 }
	return c
}

func describe(effs []any) []string {
	var out []string
	for _, e := range effs {
		switch e := e.(type) {
		case effResolve:
			out = append(out, "resolve")
		case effNewSub:
			out = append(out, fmt.Sprintf("new %d %s", e.id, e.addr.addr))
		case effConnectSub:
			out = append(out, fmt.Sprintf("connect %d", e.id))
		case effShutdownSub:
			out = append(out, fmt.Sprintf("shutdown %d", e.id))
		case effResetSubs:
			out = append(out, fmt.Sprintf("reset %v", e.ids))
		case effReply:
			if e.res.err != nil {
				out = append(out, "reply "+e.res.err.Code().String())
			} else {
				out = append(out, "reply conn")
			}
		case effResolveTimer:
			out = append(out, "resolve-timer "+e.d.String())
		case effState:
			out = append(out, e.from.String()+"->"+e.to.String())
		}
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
	pick := func(wfr bool) any { return msgPick{&pickReq{waitForReady: wfr, reply: make(chan pickResult, 1)}} }
	sub := func(id int, s Connectivity) any {
		m := msgSubState{id: id, state: s}
		if s == Ready {
			m.conn = conn(id)
		}
		if s == TransientFailure {
			m.err = status.New(codes.Unavailable, "connection refused")
		}
		return m
	}
	resolved := func(addrs ...string) any {
		var as []address
		for _, a := range addrs {
			as = append(as, address{"tcp", a})
		}
		return msgResolved{addrs: as}
	}
	type step struct {
		msg  any
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
			{sub(1, Ready), []string{"shutdown 0", "TRANSIENT_FAILURE->READY", "reply conn"}},
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
			{sub(0, Ready), []string{"TRANSIENT_FAILURE->READY"}},
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
			{sub(1, Idle), []string{"connect 1", "READY->CONNECTING"}},
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
