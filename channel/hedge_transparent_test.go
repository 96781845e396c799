package channel_test

// A hedged call's attempt that never reached the server (REFUSED_STREAM)
// is sent again transparently, without counting as a hedge, in the
// blocking and the started form.

import (
	"testing"

	"github.com/grpcactor/grpcactor/channel"
	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/status"
)

// hedgeOnly hedges every method with a delay no test waits for: only
// transparent retries can add attempts.
const hedgeOnly = `{"methodConfig":[{"name":[{}],"hedgingPolicy":{"maxAttempts":2,"hedgingDelay":"1000s"}}]}`

func TestHedgeTransparentRetry(t *testing.T) {
	body := []byte("hedged request")
	forms := []struct {
		name string
		call func(t *testing.T, c *channel.UnaryUnaryCallable[[]byte, []byte]) ([]byte, error)
	}{
		{"Call", func(t *testing.T, c *channel.UnaryUnaryCallable[[]byte, []byte]) ([]byte, error) {
			return c.Call(codecCtx(t), body)
		}},
		{"Start", func(t *testing.T, c *channel.UnaryUnaryCallable[[]byte, []byte]) ([]byte, error) {
			type result struct {
				resp []byte
				err  error
			}
			done := make(chan result, 1)
			c.Start(codecCtx(t), body, func(resp []byte, _ *channel.Call, err error) { done <- result{resp, err} })
			r := <-done
			return r.resp, r.err
		}},
	}
	for _, f := range forms {
		t.Run(f.name+"/RefusedOnce", func(t *testing.T) {
			srv := startTRServer(t, func(conn, nth int) trAction {
				if nth == 0 {
					return trRefuse
				}
				return trAnswer
			})
			resp, err := f.call(t, trDial(t, srv, channel.WithServiceConfig(hedgeOnly)))
			if err != nil || string(resp) != "answer conn=0 stream=3" {
				t.Fatalf("call = %q, %v; want the answer on stream 3", resp, err)
			}
			trWantRequests(t, srv.requests(), body, [2]int{0, 1}, [2]int{0, 3})
		})
		t.Run(f.name+"/RefusedAlways", func(t *testing.T) {
			srv := startTRServer(t, func(conn, nth int) trAction { return trRefuse })
			_, err := f.call(t, trDial(t, srv, channel.WithServiceConfig(hedgeOnly)))
			if code := status.Code(err); code != codes.Unavailable {
				t.Fatalf("call = %v (code %v); want UNAVAILABLE", err, code)
			}
			if n := len(srv.requests()); n != 6 {
				t.Fatalf("server saw %d requests; want 6 (the attempt and 5 transparent retries)", n)
			}
		})
	}
}
