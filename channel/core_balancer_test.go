package channel

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/grpcactor/grpcactor/balancer"
	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/internal/transport"
	"github.com/grpcactor/grpcactor/status"
)

// scriptedPolicy is a policy whose picker answers what the test says.
type scriptedPolicy struct {
	sc     *balancer.SubConn
	answer func(balancer.PickInfo) (balancer.PickResult, error)
}

func (p *scriptedPolicy) UpdateAddresses(as []balancer.Address) balancer.Update {
	p.sc = balancer.NewSubConn(as[0])
	return balancer.Update{NewSubConns: []*balancer.SubConn{p.sc}, Connect: []*balancer.SubConn{p.sc}, State: Connecting}
}

func (p *scriptedPolicy) UpdateSubConnState(_ *balancer.SubConn, s balancer.SubConnState) balancer.Update {
	u := balancer.Update{State: s.State}
	if s.State == Ready {
		u.Picker = p
	}
	return u
}

func (p *scriptedPolicy) Pick(info balancer.PickInfo) (balancer.PickResult, error) {
	return p.answer(info)
}

type scriptedBuilder struct{ p *scriptedPolicy }

func (b scriptedBuilder) ParseConfig(json.RawMessage) (any, error) { return nil, nil }
func (b scriptedBuilder) Build(any) balancer.Policy                { return b.p }

// The core hands the picker the call's PickInfo, answers a pick with the
// picked subchannel's connection and Done, keeps it waiting on
// ErrNoSubConnAvailable or an unusable subchannel (telling Done), and
// fails it with the picker's error (UNAVAILABLE unless it is a status).
func TestCorePickerResults(t *testing.T) {
	p := &scriptedPolicy{}
	balancer.Register("test_scripted", scriptedBuilder{p})
	c := testCore("test_scripted", "a:1")
	var got []string
	draining := false
	c.usable = func(*transport.Conn) bool { return !draining }
	c.step(msgConnect{})
	c.step(msgSubState{id: 0, state: Ready, conn: conn(300)})
	done := func(balancer.DoneInfo) {}
	var doneErrs []error
	pick := func(answer func(balancer.PickInfo) (balancer.PickResult, error)) []string {
		p.answer = answer
		req := &pickReq{info: balancer.PickInfo{Method: "/s/M", HashKey: "k"}, reply: make(chan pickResult, 1)}
		effs := c.step(msgPick{req})
		for _, e := range effs {
			if r, ok := e.(effReply); ok && r.res.err == nil && (r.res.conn != conn(300) || r.res.done == nil) {
				t.Fatalf("answered with conn %p done %v", r.res.conn, r.res.done != nil)
			}
		}
		return describe(effs)
	}
	got = pick(func(info balancer.PickInfo) (balancer.PickResult, error) {
		if info.Method != "/s/M" || info.HashKey != "k" {
			t.Errorf("picker saw %+v", info)
		}
		return balancer.PickResult{SubConn: p.sc, Done: done}, nil
	})
	if !reflect.DeepEqual(got, []string{"reply conn"}) {
		t.Fatalf("a pick: %q", got)
	}
	if got = pick(func(balancer.PickInfo) (balancer.PickResult, error) {
		return balancer.PickResult{}, balancer.ErrNoSubConnAvailable
	}); got != nil {
		t.Fatalf("ErrNoSubConnAvailable: %q", got)
	}
	if got = pick(func(balancer.PickInfo) (balancer.PickResult, error) {
		return balancer.PickResult{}, errors.New("drop")
	}); !reflect.DeepEqual(got, []string{"reply UNAVAILABLE"}) {
		t.Fatalf("an error: %q", got)
	}
	if got = pick(func(balancer.PickInfo) (balancer.PickResult, error) {
		return balancer.PickResult{}, status.New(codes.ResourceExhausted, "quota")
	}); !reflect.DeepEqual(got, []string{"reply RESOURCE_EXHAUSTED"}) {
		t.Fatalf("a status error: %q", got)
	}
	draining = true
	if got = pick(func(balancer.PickInfo) (balancer.PickResult, error) {
		return balancer.PickResult{SubConn: p.sc, Done: func(d balancer.DoneInfo) { doneErrs = append(doneErrs, d.Err) }}, nil
	}); got != nil || len(doneErrs) != 1 || doneErrs[0] == nil {
		t.Fatalf("an unusable subchannel: %q, Done got %v", got, doneErrs)
	}
	// Two picks wait (ErrNoSubConnAvailable, unusable); a new picker that
	// picks answers both.
	draining = false
	p.answer = func(balancer.PickInfo) (balancer.PickResult, error) {
		return balancer.PickResult{SubConn: p.sc}, nil
	}
	if got = describe(c.step(msgSubState{id: 0, state: Ready, conn: conn(300)})); !reflect.DeepEqual(got, []string{"reply conn", "reply conn"}) {
		t.Fatalf("a new picker: %q", got)
	}
}
