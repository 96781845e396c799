package channel

import (
	"reflect"
	"testing"
	"time"

	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/status"
	"github.com/grpcactor/grpcactor/transport"
)

func testCore(addrs ...string) *core {
	o := defaultOptions()
	var as []address
	for _, a := range addrs {
		as = append(as, address{"tcp", a})
	}
	c := newCore(as, &o)
	c.bo.jitter = func() float64 { return 0 }
	return c
}

// conns are stand-in connection handles: the core only compares pointers
// and reads State, which is CONNECTING for a zero Conn.
func fakeConn() *transport.Conn { return new(transport.Conn) }

func kinds(effs []any) []string {
	var out []string
	for _, e := range effs {
		switch e := e.(type) {
		case effSpawn:
			out = append(out, "spawn "+e.addr.addr)
		case effCloseConn:
			out = append(out, "close")
		case effReply:
			if e.res.err != nil {
				out = append(out, "reply "+e.res.err.Code().String())
			} else {
				out = append(out, "reply conn")
			}
		case effTimer:
			out = append(out, "timer "+e.d.String())
		case effState:
			out = append(out, e.from.String()+"->"+e.to.String())
		}
	}
	return out
}

func TestCoreTransitions(t *testing.T) {
	type step struct {
		msg  func(c *core) any
		want []string
	}
	pick := func(wfr bool) func(*core) any {
		return func(*core) any { return msgPick{&pickReq{waitForReady: wfr, reply: make(chan pickResult, 1)}} }
	}
	ready := func(c *core) any { return &transport.EventReady{Conn: c.conn} }
	failed := func(c *core) any {
		return &transport.EventClosed{Conn: c.conn, Err: status.New(codes.Unavailable, "refused")}
	}
	lost := func(c *core) any { return &transport.EventClosed{Conn: c.conn, Established: true} }
	goaway := func(c *core) any { return &transport.EventGoAway{Conn: c.conn} }
	backoffFired := func(c *core) any { return msgBackoff{gen: c.timerGen} }
	connect := func(*core) any { return msgConnect{} }
	closeMsg := func(*core) any { return msgClose{} }

	tests := []struct {
		name  string
		addrs []string
		steps []step
	}{
		{"first call connects, reply on READY", []string{"a:1"}, []step{
			{pick(false), []string{"IDLE->CONNECTING", "spawn a:1"}},
			{pick(false), nil},
			{ready, []string{"CONNECTING->READY", "reply conn", "reply conn"}},
		}},
		{"State(true) connects without a call", []string{"a:1"}, []step{
			{connect, []string{"IDLE->CONNECTING", "spawn a:1"}},
			{connect, nil},
			{ready, []string{"CONNECTING->READY"}},
		}},
		{"failure fails fast calls, keeps wait-for-ready ones, backs off", []string{"a:1"}, []step{
			{pick(false), []string{"IDLE->CONNECTING", "spawn a:1"}},
			{pick(true), nil},
			{failed, []string{"CONNECTING->TRANSIENT_FAILURE", "reply UNAVAILABLE", "timer 1s"}},
			{pick(false), []string{"reply UNAVAILABLE"}},
			{backoffFired, []string{"spawn a:1"}},
			{failed, []string{"timer 1.6s"}},
			{backoffFired, []string{"spawn a:1"}},
			{ready, []string{"TRANSIENT_FAILURE->READY", "reply conn"}},
		}},
		{"tries every address before TRANSIENT_FAILURE", []string{"a:1", "b:2"}, []step{
			{pick(false), []string{"IDLE->CONNECTING", "spawn a:1"}},
			{failed, []string{"spawn b:2"}},
			{failed, []string{"CONNECTING->TRANSIENT_FAILURE", "reply UNAVAILABLE", "timer 1s"}},
		}},
		{"losing READY goes IDLE, next call reconnects", []string{"a:1"}, []step{
			{pick(false), []string{"IDLE->CONNECTING", "spawn a:1"}},
			{ready, []string{"CONNECTING->READY", "reply conn"}},
			{lost, []string{"READY->IDLE"}},
			{pick(false), []string{"IDLE->CONNECTING", "spawn a:1"}},
		}},
		{"GOAWAY goes IDLE", []string{"a:1"}, []step{
			{connect, []string{"IDLE->CONNECTING", "spawn a:1"}},
			{ready, []string{"CONNECTING->READY"}},
			{goaway, []string{"READY->IDLE"}},
		}},
		{"stale backoff timer is ignored", []string{"a:1"}, []step{
			{connect, []string{"IDLE->CONNECTING", "spawn a:1"}},
			{failed, []string{"CONNECTING->TRANSIENT_FAILURE", "timer 1s"}},
			{func(c *core) any { return msgBackoff{gen: c.timerGen - 1} }, nil},
		}},
		{"close fails waiting calls and closes the connection", []string{"a:1"}, []step{
			{pick(true), []string{"IDLE->CONNECTING", "spawn a:1"}},
			{closeMsg, []string{"CONNECTING->SHUTDOWN", "reply CANCELLED", "close"}},
			{pick(true), []string{"reply CANCELLED"}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := testCore(tt.addrs...)
			for i, s := range tt.steps {
				effs := c.step(s.msg(c))
				for _, e := range effs {
					if _, ok := e.(effSpawn); ok {
						c.setConn(fakeConn())
					}
				}
				if got := kinds(effs); !reflect.DeepEqual(got, s.want) {
					t.Fatalf("step %d: effects %q, want %q", i, got, s.want)
				}
			}
		})
	}
}

func TestBackoffSequence(t *testing.T) {
	b := backoff{initial: time.Second, max: 120 * time.Second, jitter: func() float64 { return 0 }}
	want := []time.Duration{1000, 1600, 2560, 4096, 6553, 10485}
	for i, w := range want {
		if got := b.next().Milliseconds(); got != int64(w) {
			t.Fatalf("attempt %d: %dms, want %dms", i, got, w)
		}
	}
	for i := 0; i < 20; i++ {
		b.next()
	}
	if got := b.next(); got != 120*time.Second {
		t.Fatalf("capped backoff %v", got)
	}
	b.jitter = func() float64 { return 1 }
	if got := b.next(); got != 144*time.Second {
		t.Fatalf("+20%% jitter %v", got)
	}
	b.reset()
	b.jitter = func() float64 { return -1 }
	if got := b.next(); got != 800*time.Millisecond {
		t.Fatalf("-20%% jitter %v", got)
	}
}
