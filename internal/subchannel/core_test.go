package subchannel

import (
	"reflect"
	"testing"
	"time"

	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/internal/leakcheck"
	"github.com/grpcactor/grpcactor/internal/transport"
	"github.com/grpcactor/grpcactor/status"
	"golang.org/x/net/http2"
)

func TestMain(m *testing.M) { leakcheck.VerifyTestMain(m) }

func describe(effs []effect) []string {
	var out []string
	for _, e := range effs {
		out = append(out, e.String())
	}
	return out
}

var connForTest *transport.Conn

func TestCoreTransitions(t *testing.T) {
	ready := func(c *core) coreMsg { return msgConnReady{&transport.EventReady{Conn: c.conn}} }
	failed := func(c *core) coreMsg {
		return msgConnClosed{&transport.EventClosed{Conn: c.conn, Err: status.New(codes.Unavailable, "refused")}}
	}
	lost := func(c *core) coreMsg { return msgConnClosed{&transport.EventClosed{Conn: c.conn, Established: true}} }
	goaway := func(c *core) coreMsg { return msgConnGoAway{&transport.EventGoAway{Conn: c.conn}} }
	calm := func(c *core) coreMsg {
		return msgConnGoAway{&transport.EventGoAway{Conn: c.conn, Code: http2.ErrCodeEnhanceYourCalm, Debug: "too_many_pings"}}
	}
	fire := func(c *core) coreMsg { return msgBackoffDone{gen: c.gen} }
	stale := func(c *core) coreMsg { return msgBackoffDone{gen: c.gen - 1} }
	m := func(msg coreMsg) func(*core) coreMsg { return func(*core) coreMsg { return msg } }

	type step struct {
		msg  func(*core) coreMsg
		want []string
	}
	tests := []struct {
		name      string
		keepalive time.Duration
		steps     []step
	}{
		{"connect and ready", 0, []step{
			{m(msgConnect{}), []string{"report CONNECTING", "dial 20s"}},
			{m(msgConnect{}), nil},
			{ready, []string{"report READY"}},
		}},
		{"failures back off with growing delays, then IDLE", 0, []step{
			{m(msgConnect{}), []string{"report CONNECTING", "dial 20s"}},
			{failed, []string{"report TRANSIENT_FAILURE UNAVAILABLE", "timer 1s"}},
			{stale, nil},
			{fire, []string{"report IDLE"}},
			{m(msgConnect{}), []string{"report CONNECTING", "dial 20s"}},
			{failed, []string{"report TRANSIENT_FAILURE UNAVAILABLE", "timer 1.6s"}},
			{fire, []string{"report IDLE"}},
			{m(msgConnect{}), []string{"report CONNECTING", "dial 20s"}},
			{ready, []string{"report READY"}},
		}},
		{"backoff resets when SETTINGS arrive", 0, []step{
			{m(msgConnect{}), []string{"report CONNECTING", "dial 20s"}},
			{failed, []string{"report TRANSIENT_FAILURE UNAVAILABLE", "timer 1s"}},
			{fire, []string{"report IDLE"}},
			{m(msgConnect{}), []string{"report CONNECTING", "dial 20s"}},
			{ready, []string{"report READY"}},
			{lost, []string{"report IDLE"}},
			{m(msgConnect{}), []string{"report CONNECTING", "dial 20s"}},
			{failed, []string{"report TRANSIENT_FAILURE UNAVAILABLE", "timer 1s"}},
		}},
		{"ResetConnectBackoff ends a backoff", 0, []step{
			{m(msgConnect{}), []string{"report CONNECTING", "dial 20s"}},
			{failed, []string{"report TRANSIENT_FAILURE UNAVAILABLE", "timer 1s"}},
			{m(msgResetBackoff{}), []string{"report IDLE"}},
			{fire, nil},
		}},
		{"GOAWAY on a ready connection goes IDLE", 0, []step{
			{m(msgConnect{}), []string{"report CONNECTING", "dial 20s"}},
			{ready, []string{"report READY"}},
			{goaway, []string{"report IDLE"}},
		}},
		{"too_many_pings doubles keepalive", 10 * time.Second, []step{
			{m(msgConnect{}), []string{"report CONNECTING", "dial 20s"}},
			{ready, []string{"report READY"}},
			{calm, []string{"too_many_pings 20s", "report IDLE"}},
		}},
		{"shutdown while connecting closes the connection and stops", 0, []step{
			{m(msgConnect{}), []string{"report CONNECTING", "dial 20s"}},
			{m(msgShutdown{}), []string{"close", "stop"}},
			{m(msgConnect{}), nil},
		}},
		{"shutdown when ready drains, stops when the connection has closed", 0, []step{
			{m(msgConnect{}), []string{"report CONNECTING", "dial 20s"}},
			{ready, []string{"report READY"}},
			{func(c *core) coreMsg { connForTest = c.conn; return msgShutdown{} }, []string{"drain"}},
			{func(c *core) coreMsg { return msgConnClosed{&transport.EventClosed{Conn: connForTest}} }, []string{"stop"}},
		}},
		{"stopping closes everything at once", 0, []step{
			{m(msgConnect{}), []string{"report CONNECTING", "dial 20s"}},
			{ready, []string{"report READY"}},
			{goaway, []string{"report IDLE"}},
			{m(msgStopNow{}), []string{"close"}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCore(Backoff{Initial: time.Second, Max: 120 * time.Second, Jitter: func() float64 { return 0 }}, 20*time.Second, tt.keepalive)
			t0 := time.Unix(1000, 0)
			c.now = func() time.Time { return t0 }
			for i, s := range tt.steps {
				effs := c.step(s.msg(c))
				for _, e := range effs {
					if _, ok := e.(effDial); ok {
						c.setConn(new(transport.Conn))
					}
				}
				if got := describe(effs); !reflect.DeepEqual(got, s.want) {
					t.Fatalf("step %d: %q, want %q", i, got, s.want)
				}
			}
		})
	}
}

func TestBackoffCountsFromAttemptStart(t *testing.T) {
	c := newCore(Backoff{Initial: time.Second, Max: 120 * time.Second, Jitter: func() float64 { return 0 }}, 20*time.Second, 0)
	clock := time.Unix(1000, 0)
	c.now = func() time.Time { return clock }
	c.step(msgConnect{})
	c.setConn(new(transport.Conn))
	clock = clock.Add(300 * time.Millisecond) // the attempt took 300 ms
	effs := c.step(msgConnClosed{&transport.EventClosed{Conn: c.conn}})
	if d := effs[len(effs)-1].(effTimer).d; d != 700*time.Millisecond {
		t.Fatalf("backoff after a 300 ms attempt: %v, want 700ms", d)
	}
	c.step(msgBackoffDone{gen: c.gen})
	c.step(msgConnect{})
	c.setConn(new(transport.Conn))
	clock = clock.Add(20 * time.Second) // a connect timeout longer than the backoff
	effs = c.step(msgConnClosed{&transport.EventClosed{Conn: c.conn}})
	if d := effs[len(effs)-1].(effTimer).d; d != 0 {
		t.Fatalf("backoff after a 20 s attempt: %v, want 0", d)
	}
}

func TestBackoffSequence(t *testing.T) {
	b := Backoff{Initial: time.Second, Max: 120 * time.Second, Jitter: func() float64 { return 0 }}
	want := []int64{1000, 1600, 2560, 4096, 6553, 10485}
	for i, w := range want {
		if got := b.Next().Milliseconds(); got != w {
			t.Fatalf("attempt %d: %dms, want %dms", i, got, w)
		}
	}
	for i := 0; i < 20; i++ {
		b.Next()
	}
	if got := b.Next(); got != 120*time.Second {
		t.Fatalf("cap: %v", got)
	}
	b.Jitter = func() float64 { return 1 }
	if got := b.Next(); got != 144*time.Second {
		t.Fatalf("+20%%: %v", got)
	}
	b.Reset()
	b.Jitter = func() float64 { return -1 }
	if got := b.Next(); got != 800*time.Millisecond {
		t.Fatalf("-20%%: %v", got)
	}
	// The connect timeout is the larger of 20 s and the current backoff.
	c := newCore(Backoff{Initial: time.Second, Max: 120 * time.Second, Jitter: func() float64 { return 0 }}, 20*time.Second, 0)
	for range 8 { // 1.6^8 s ≈ 43 s
		c.bo.Next()
	}
	c.step(msgConnect{})
	if d := c.effects[1].(effDial).connectTimeout; d < 42*time.Second || d > 43*time.Second {
		t.Fatalf("connect timeout %v", d)
	}
}
