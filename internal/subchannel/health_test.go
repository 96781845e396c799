package subchannel

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/internal/health"
	"github.com/grpcactor/grpcactor/internal/transport"
	"github.com/grpcactor/grpcactor/status"
)

func TestCoreHealth(t *testing.T) {
	ready := func(c *core) coreMsg { return msgConnReady{&transport.EventReady{Conn: c.conn}} }
	says := func(s health.Status) func(*core) coreMsg {
		return func(c *core) coreMsg { return msgHealthStatus{conn: c.conn, gen: c.health.gen, status: s} }
	}
	ended := func(code codes.Code) func(*core) coreMsg {
		return func(c *core) coreMsg {
			var err *status.Error
			if code != codes.OK {
				err = status.New(code, "from the test")
			}
			return msgHealthEnded{conn: c.conn, gen: c.health.gen, err: err}
		}
	}
	staleSays := func(c *core) coreMsg {
		return msgHealthStatus{conn: c.conn, gen: c.health.gen - 1, status: health.Serving}
	}
	otherConn := func(c *core) coreMsg {
		return msgHealthStatus{conn: new(transport.Conn), gen: c.health.gen, status: health.Serving}
	}
	retry := func(c *core) coreMsg { return msgHealthRetry{gen: c.health.gen} }
	staleRetry := func(c *core) coreMsg { return msgHealthRetry{gen: c.health.gen - 1} }
	goaway := func(c *core) coreMsg { return msgConnGoAway{&transport.EventGoAway{Conn: c.conn}} }
	lost := func(c *core) coreMsg { return msgConnClosed{&transport.EventClosed{Conn: c.conn, Established: true}} }
	m := func(msg coreMsg) func(*core) coreMsg { return func(*core) coreMsg { return msg } }
	connect := step{m(msgConnect{}), []string{"report CONNECTING", "dial 20s"}, ""}
	watching := step{ready, []string{`watch health "svc" gen=1`}, ""}

	tests := []struct {
		name    string
		service *string // nil: health checking off
		steps   []step
	}{
		{"off: READY when the connection is", nil, []step{
			connect,
			{ready, []string{"report READY"}, ""},
			{says(health.NotServing), nil, ""}, // no stream: nothing to act on
		}},
		{"CONNECTING until the first answer, then READY while SERVING", ptr("svc"), []step{
			connect,
			watching,
			{says(health.Serving), []string{"report READY"}, ""},
			{says(health.Serving), nil, ""},
			{says(health.NotServing), []string{"report TRANSIENT_FAILURE UNAVAILABLE"},
				`connection to 10.0.0.1:50051 is up but its health check says NOT_SERVING for service "svc"`},
			{says(health.NotServing), nil, ""}, // repeated: not reported again
			{says(health.ServiceUnknown), []string{"report TRANSIENT_FAILURE UNAVAILABLE"}, "says SERVICE_UNKNOWN"},
			{says(health.Unknown), []string{"report TRANSIENT_FAILURE UNAVAILABLE"}, "says UNKNOWN"},
			{says(health.Serving), []string{"report READY"}, ""},
		}},
		{"first answer NOT_SERVING", ptr("svc"), []step{
			connect,
			watching,
			{says(health.NotServing), []string{"report TRANSIENT_FAILURE UNAVAILABLE"}, "NOT_SERVING"},
			// A health TRANSIENT_FAILURE keeps its connection: no
			// reconnection backoff applies.
			{m(msgResetBackoff{}), nil, ""},
			{m(msgBackoffDone{gen: 0}), nil, ""},
			{m(msgConnect{}), nil, ""},
		}},
		{"UNIMPLEMENTED disables the check for the connection", ptr("svc"), []step{
			connect,
			watching,
			{ended(codes.Unimplemented), []string{"health disabled", "report READY"}, ""},
			{retry, nil, ""},
		}},
		{"UNIMPLEMENTED after answers is READY too", ptr("svc"), []step{
			connect,
			watching,
			{says(health.NotServing), []string{"report TRANSIENT_FAILURE UNAVAILABLE"}, ""},
			{ended(codes.Unimplemented), []string{"health disabled", "report READY"}, ""},
		}},
		{"a stream without answers is retried after a growing backoff", ptr("svc"), []step{
			connect,
			watching,
			{ended(codes.Unavailable), []string{"report TRANSIENT_FAILURE UNAVAILABLE", "health timer 1s"},
				"connection to 10.0.0.1:50051 is up but its health check stream failed: UNAVAILABLE: from the test"},
			{staleRetry, nil, ""},
			{retry, []string{"report CONNECTING", `watch health "svc" gen=3`}, ""},
			{ended(codes.Internal), []string{"report TRANSIENT_FAILURE UNAVAILABLE", "health timer 1.6s"}, "failed: INTERNAL"},
			{retry, []string{"report CONNECTING", `watch health "svc" gen=5`}, ""},
			{says(health.Serving), []string{"report READY"}, ""},
		}},
		{"a stream that had answers is reopened at once, backoff reset", ptr("svc"), []step{
			connect,
			watching,
			{ended(codes.Unavailable), []string{"report TRANSIENT_FAILURE UNAVAILABLE", "health timer 1s"}, ""},
			{retry, []string{"report CONNECTING", `watch health "svc" gen=3`}, ""},
			{says(health.Serving), []string{"report READY"}, ""},
			{ended(codes.OK), []string{"report TRANSIENT_FAILURE UNAVAILABLE", "report CONNECTING", `watch health "svc" gen=4`},
				"health check stream ended with OK"},
			{ended(codes.Unavailable), []string{"report TRANSIENT_FAILURE UNAVAILABLE", "health timer 1s"}, ""},
		}},
		{"stale answers are ignored", ptr("svc"), []step{
			connect,
			watching,
			{staleSays, nil, ""},
			{otherConn, nil, ""},
			{says(health.Serving), []string{"report READY"}, ""},
		}},
		{"GOAWAY cancels the stream and goes IDLE; the next connection watches anew", ptr("svc"), []step{
			connect,
			watching,
			{says(health.Serving), []string{"report READY"}, ""},
			{goaway, []string{"cancel health", "report IDLE"}, ""},
			{says(health.NotServing), nil, ""},
			connect,
			{ready, []string{`watch health "svc" gen=3`}, ""},
		}},
		{"connection lost while unhealthy goes IDLE", ptr("svc"), []step{
			connect,
			watching,
			{says(health.NotServing), []string{"report TRANSIENT_FAILURE UNAVAILABLE"}, ""},
			{lost, []string{"report IDLE"}, ""},
			{retry, nil, ""},
		}},
		{"connection lost during the health backoff", ptr("svc"), []step{
			connect,
			watching,
			{ended(codes.Unavailable), []string{"report TRANSIENT_FAILURE UNAVAILABLE", "health timer 1s"}, ""},
			{lost, []string{"report IDLE"}, ""},
			{retry, nil, ""},
		}},
		{"shutdown cancels the stream before draining", ptr("svc"), []step{
			connect,
			watching,
			{m(msgShutdown{}), []string{"cancel health", "drain"}, ""},
		}},
		{"shutdown with the check disabled just drains", ptr("svc"), []step{
			connect,
			watching,
			{ended(codes.Unimplemented), []string{"health disabled", "report READY"}, ""},
			{m(msgShutdown{}), []string{"drain"}, ""},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCore(Backoff{Initial: time.Second, Max: 120 * time.Second, Jitter: func() float64 { return 0 }}, 20*time.Second, 0)
			if tt.service != nil {
				c.withHealth(tt.service, "10.0.0.1:50051")
			}
			t0 := time.Unix(1000, 0)
			c.now = func() time.Time { return t0 }
			for i, s := range tt.steps {
				msg := s.msg(c)
				effs := c.step(msg)
				for _, e := range effs {
					if _, ok := e.(effDial); ok {
						c.setConn(new(transport.Conn))
					}
				}
				if got := describe(effs); !reflect.DeepEqual(got, s.want) {
					t.Fatalf("step %d (%v): %q, want %q", i, msg, got, s.want)
				}
				if s.wantErr != "" && (c.lastErr == nil || !strings.Contains(c.lastErr.Details(), s.wantErr)) {
					t.Fatalf("step %d (%v): error %v, want one containing %q", i, msg, c.lastErr, s.wantErr)
				}
			}
		})
	}
}

type step struct {
	msg     func(*core) coreMsg
	want    []string
	wantErr string
}

func ptr[T any](v T) *T { return &v }
