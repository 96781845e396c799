package system_test

// The service config's hedgingPolicy (gRFC A6) against a grpc-go server:
// the server's handler acts on the attempt number the client sends
// (grpc-previous-rpc-attempts), so the tests do not depend on timing: a
// stalled attempt waits for its context, which ends only when the client
// cancels it on the wire (RST_STREAM CANCEL).

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	grpcmd "google.golang.org/grpc/metadata"
	grpcstatus "google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/grpcactor/grpcactor/channel"
	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/metadata"
	"github.com/grpcactor/grpcactor/status"
)

// hgAct is what the server does with one attempt.
type hgAct struct {
	stall    bool           // wait for the attempt's context to end
	code     grpccodes.Code // the status to end with (OK: answer)
	pushback string         // grpc-retry-pushback-ms trailer, if set
}

// hgServer is a grpc-go server whose every method reads one request and
// acts on the attempt as script says.
type hgServer struct {
	addr   string
	script func(attempt int) hgAct

	mu        sync.Mutex
	attempts  []int                 // attempt numbers, in arrival order
	cancelled map[int]chan struct{} // closed when a stalled attempt's context ended
	arrived   chan int              // each attempt's number as it arrives
}

func hgStart(t *testing.T, script func(attempt int) hgAct) *hgServer {
	t.Helper()
	s := &hgServer{script: script, cancelled: map[int]chan struct{}{}, arrived: make(chan int, 16)}
	s.addr = serveUnknown(t, s.handle)
	return s
}

// cancelCh returns the channel closed when attempt n's context ends.
func (s *hgServer) cancelCh(n int) chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.cancelled[n]
	if !ok {
		c = make(chan struct{})
		s.cancelled[n] = c
	}
	return c
}

// markCancelled records that attempt n's context ended.
func (s *hgServer) markCancelled(n int) {
	c := s.cancelCh(n)
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-c:
	default:
		close(c)
	}
}

func (s *hgServer) seen() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int(nil), s.attempts...)
}

func (s *hgServer) handle(_ any, stream grpc.ServerStream) error {
	ctx := stream.Context()
	n := 1
	if md, ok := grpcmd.FromIncomingContext(ctx); ok {
		if v := md.Get("grpc-previous-rpc-attempts"); len(v) > 0 {
			p, err := strconv.Atoi(v[0])
			if err != nil {
				return grpcstatus.Errorf(grpccodes.InvalidArgument, "grpc-previous-rpc-attempts %q", v[0])
			}
			n = p + 1
		}
	}
	s.mu.Lock()
	s.attempts = append(s.attempts, n)
	s.mu.Unlock()
	select {
	case s.arrived <- n:
	default:
	}
	if err := stream.RecvMsg(new(wrapperspb.StringValue)); err != nil {
		if ctx.Err() != nil {
			s.markCancelled(n) // cancelled before its request was read
		}
		return err
	}
	act := s.script(n)
	if act.stall {
		<-ctx.Done()
		s.markCancelled(n)
		return ctx.Err()
	}
	if act.code != grpccodes.OK {
		if act.pushback != "" {
			stream.SetTrailer(grpcmd.Pairs("grpc-retry-pushback-ms", act.pushback))
		}
		return grpcstatus.Errorf(act.code, "attempt %d fails", n)
	}
	if err := stream.SetHeader(grpcmd.Pairs("attempt", strconv.Itoa(n))); err != nil {
		return err
	}
	return stream.SendMsg(wrapperspb.String(fmt.Sprintf("attempt %d", n)))
}

// hgConfig is a hedging service config for every method.
func hgConfig(policy string) string {
	return `{"methodConfig":[{"name":[{}],"hedgingPolicy":` + policy + `}]}`
}

// hgModes are the call forms a hedged call is made with: each returns the
// response (or "") and the call's error.
var hgModes = []struct {
	name string
	call func(ctx context.Context, ch *channel.Channel) (string, error)
}{
	{"Call", func(ctx context.Context, ch *channel.Channel) (string, error) {
		r, err := channel.UnaryUnary[*wrapperspb.StringValue, *wrapperspb.StringValue](ch, "/hedge.Test/Unary").Call(ctx, wrapperspb.String("req"))
		return r.GetValue(), err
	}},
	{"WithCall", func(ctx context.Context, ch *channel.Channel) (string, error) {
		r, _, err := channel.UnaryUnary[*wrapperspb.StringValue, *wrapperspb.StringValue](ch, "/hedge.Test/Unary").WithCall(ctx, wrapperspb.String("req"))
		return r.GetValue(), err
	}},
	{"Future", func(ctx context.Context, ch *channel.Channel) (string, error) {
		r, err := channel.UnaryUnary[*wrapperspb.StringValue, *wrapperspb.StringValue](ch, "/hedge.Test/Unary").Future(ctx, wrapperspb.String("req")).Result(ctx)
		return r.GetValue(), err
	}},
	{"Start", func(ctx context.Context, ch *channel.Channel) (string, error) {
		type result struct {
			r   string
			err error
		}
		done := make(chan result, 1)
		channel.UnaryUnary[*wrapperspb.StringValue, *wrapperspb.StringValue](ch, "/hedge.Test/Unary").Start(ctx, wrapperspb.String("req"),
			func(r *wrapperspb.StringValue, _ *channel.Call, err error) { done <- result{r.GetValue(), err} })
		res := <-done
		return res.r, res.err
	}},
	{"ServerStream", func(ctx context.Context, ch *channel.Channel) (string, error) {
		s, err := channel.UnaryStream[*wrapperspb.StringValue, *wrapperspb.StringValue](ch, "/hedge.Test/Stream").Call(ctx, wrapperspb.String("req"))
		if err != nil {
			return "", err
		}
		var got string
		for {
			r, err := s.Recv()
			if err == io.EOF {
				return got, nil
			}
			if err != nil {
				return got, err
			}
			got += r.GetValue()
		}
	}},
	{"ServerStreamStart", func(ctx context.Context, ch *channel.Channel) (string, error) {
		var got string
		done := make(chan error, 1)
		channel.UnaryStream[*wrapperspb.StringValue, *wrapperspb.StringValue](ch, "/hedge.Test/Stream").Start(ctx, wrapperspb.String("req"),
			channel.StreamHandler[*wrapperspb.StringValue]{
				OnMessage: func(r *wrapperspb.StringValue) { got += r.GetValue() },
				OnEnd:     func(_ *channel.Call, err error) { done <- err },
			})
		err := <-done
		return got, err
	}},
}

// hgRun makes one call in each mode on a fresh server and channel, and
// checks its outcome and the attempts the server saw.
func hgRun(t *testing.T, policy, throttling string, script func(int) hgAct, check func(t *testing.T, s *hgServer, resp string, err error)) {
	for _, m := range hgModes {
		t.Run(m.name, func(t *testing.T) {
			s := hgStart(t, script)
			cfg := hgConfig(policy)
			if throttling != "" {
				cfg = cfg[:len(cfg)-1] + `,"retryThrottling":` + throttling + `}`
			}
			ch := dial(t, s.addr, channel.WithServiceConfig(cfg))
			resp, err := m.call(tctx(t), ch)
			check(t, s, resp, err)
		})
	}
}

func hgWantCode(t *testing.T, err error, want codes.Code) {
	t.Helper()
	st, _ := status.FromError(err)
	if err == nil || st.Code() != want {
		t.Fatalf("call error %v; want %v", err, want)
	}
}

func hgWantAttempts(t *testing.T, s *hgServer, want ...int) {
	t.Helper()
	got := s.seen()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		// The order of arrival is the server's; compare as sets.
		m := map[int]int{}
		for _, n := range got {
			m[n]++
		}
		for _, n := range want {
			m[n]--
		}
		for _, c := range m {
			if c != 0 {
				t.Fatalf("server saw attempts %v; want %v", got, want)
			}
		}
	}
}

// hgWaitCancelled waits (bounded by the test's timeout) until attempt n's
// handler saw its context end.
func hgWaitCancelled(t *testing.T, s *hgServer, n int) {
	t.Helper()
	select {
	case <-s.cancelCh(n):
	case <-tctx(t).Done():
		t.Fatalf("attempt %d was never cancelled on the wire", n)
	}
}

// The first attempt stalls; the hedge sent after hedgingDelay answers and
// wins; the stalled attempt is cancelled on the wire.
func TestHedgeStalledFirstAttempt(t *testing.T) {
	hgRun(t, `{"maxAttempts":2,"hedgingDelay":"0.02s"}`, "", func(n int) hgAct {
		return hgAct{stall: n == 1}
	}, func(t *testing.T, s *hgServer, resp string, err error) {
		if err != nil || resp != "attempt 2" {
			t.Fatalf("call = %q, %v; want the hedge's answer", resp, err)
		}
		hgWaitCancelled(t, s, 1)
		hgWantAttempts(t, s, 1, 2)
	})
}

// A non-fatal code sends the next hedge at once (the delay is far beyond
// the test's timeout).
func TestHedgeNonFatalSendsNext(t *testing.T) {
	hgRun(t, `{"maxAttempts":3,"hedgingDelay":"1000s","nonFatalStatusCodes":["UNAVAILABLE"]}`, "", func(n int) hgAct {
		if n == 1 {
			return hgAct{code: grpccodes.Unavailable}
		}
		return hgAct{}
	}, func(t *testing.T, s *hgServer, resp string, err error) {
		if err != nil || resp != "attempt 2" {
			t.Fatalf("call = %q, %v; want attempt 2's answer", resp, err)
		}
		hgWantAttempts(t, s, 1, 2)
	})
}

// Every attempt fails non-fatally: maxAttempts (capped at 5) attempts, and
// the call ends with the last one's status.
func TestHedgeMaxAttempts(t *testing.T) {
	for _, tt := range []struct {
		max  string
		want []int
	}{{"3", []int{1, 2, 3}}, {"9", []int{1, 2, 3, 4, 5}}} {
		t.Run("maxAttempts="+tt.max, func(t *testing.T) {
			hgRun(t, `{"maxAttempts":`+tt.max+`,"hedgingDelay":"1000s","nonFatalStatusCodes":["UNAVAILABLE"]}`, "", func(int) hgAct {
				return hgAct{code: grpccodes.Unavailable}
			}, func(t *testing.T, s *hgServer, _ string, err error) {
				hgWantCode(t, err, codes.Unavailable)
				hgWantAttempts(t, s, tt.want...)
			})
		})
	}
}

// A fatal code ends the call at once, and the stalled attempt is
// cancelled.
func TestHedgeFatalEndsCall(t *testing.T) {
	hgRun(t, `{"maxAttempts":2,"hedgingDelay":"0.02s","nonFatalStatusCodes":["UNAVAILABLE"]}`, "", func(n int) hgAct {
		if n == 1 {
			return hgAct{stall: true}
		}
		return hgAct{code: grpccodes.InvalidArgument}
	}, func(t *testing.T, s *hgServer, _ string, err error) {
		hgWantCode(t, err, codes.InvalidArgument)
		hgWaitCancelled(t, s, 1)
		hgWantAttempts(t, s, 1, 2)
	})
}

// Server pushback: a valid grpc-retry-pushback-ms sends the next hedge
// after it (not after the far longer hedgingDelay); a negative one stops
// hedging and the call ends with the attempt's status.
func TestHedgePushback(t *testing.T) {
	const policy = `{"maxAttempts":3,"hedgingDelay":"1000s","nonFatalStatusCodes":["UNAVAILABLE"]}`
	t.Run("valid", func(t *testing.T) {
		hgRun(t, policy, "", func(n int) hgAct {
			if n == 1 {
				return hgAct{code: grpccodes.Unavailable, pushback: "5"}
			}
			return hgAct{}
		}, func(t *testing.T, s *hgServer, resp string, err error) {
			if err != nil || resp != "attempt 2" {
				t.Fatalf("call = %q, %v; want attempt 2's answer", resp, err)
			}
			hgWantAttempts(t, s, 1, 2)
		})
	})
	t.Run("negative", func(t *testing.T) {
		hgRun(t, policy, "", func(int) hgAct {
			return hgAct{code: grpccodes.Unavailable, pushback: "-1"}
		}, func(t *testing.T, s *hgServer, _ string, err error) {
			hgWantCode(t, err, codes.Unavailable)
			hgWantAttempts(t, s, 1)
		})
	})
}

// Throttling: with a bucket of 2 tokens, one failure leaves 1, not more
// than half: no hedge follows and the call ends with the first status.
func TestHedgeThrottled(t *testing.T) {
	hgRun(t, `{"maxAttempts":3,"hedgingDelay":"1000s","nonFatalStatusCodes":["UNAVAILABLE"]}`, `{"maxTokens":2,"tokenRatio":0.1}`, func(int) hgAct {
		return hgAct{code: grpccodes.Unavailable}
	}, func(t *testing.T, s *hgServer, _ string, err error) {
		hgWantCode(t, err, codes.Unavailable)
		hgWantAttempts(t, s, 1)
	})
}

// Cancelling a hedged call cancels every attempt on the wire.
func TestHedgeCancelled(t *testing.T) {
	s := hgStart(t, func(int) hgAct { return hgAct{stall: true} })
	ch := dial(t, s.addr, channel.WithServiceConfig(hgConfig(`{"maxAttempts":2,"hedgingDelay":"0s"}`)))
	done := make(chan error, 1)
	call := channel.UnaryUnary[*wrapperspb.StringValue, *wrapperspb.StringValue](ch, "/hedge.Test/Unary").Start(tctx(t), wrapperspb.String("req"),
		func(_ *wrapperspb.StringValue, _ *channel.Call, err error) { done <- err })
	for range 2 {
		select {
		case <-s.arrived:
		case <-tctx(t).Done():
			t.Fatalf("server saw attempts %v; want 2", s.seen())
		}
	}
	call.Cancel()
	hgWantCode(t, <-done, codes.Canceled)
	hgWaitCancelled(t, s, 1)
	hgWaitCancelled(t, s, 2)
}

// grpc.enable_retries=0 turns hedging off: a non-fatal code ends the call.
func TestHedgeDisabledWithRetries(t *testing.T) {
	s := hgStart(t, func(int) hgAct { return hgAct{code: grpccodes.Unavailable} })
	ch := dial(t, s.addr, channel.WithRetries(false),
		channel.WithServiceConfig(hgConfig(`{"maxAttempts":3,"hedgingDelay":"0s","nonFatalStatusCodes":["UNAVAILABLE"]}`)))
	_, err := channel.UnaryUnary[*wrapperspb.StringValue, *wrapperspb.StringValue](ch, "/hedge.Test/Unary").Call(tctx(t), wrapperspb.String("req"))
	hgWantCode(t, err, codes.Unavailable)
	hgWantAttempts(t, s, 1)
}

// A service config with both policies for one method is refused, naming
// the entry.
func TestHedgeAndRetryRefused(t *testing.T) {
	_, err := channel.Insecure("localhost:1", channel.WithServiceConfig(`{"methodConfig":[{"name":[{}],
		"hedgingPolicy":{"maxAttempts":2},
		"retryPolicy":{"maxAttempts":2,"initialBackoff":"1s","maxBackoff":"1s","backoffMultiplier":1,"retryableStatusCodes":["UNAVAILABLE"]}}]}`))
	if err == nil || !strings.Contains(err.Error(), "methodConfig[0]: has both retryPolicy and hedgingPolicy") {
		t.Fatalf("Insecure = %v; want the error naming both policies", err)
	}
}

// The committed attempt's response headers are the call's: OnHeader of a
// started call, InitialMetadata of a blocking one.
func TestHedgeHeadersFromWinner(t *testing.T) {
	s := hgStart(t, func(n int) hgAct { return hgAct{stall: n == 1} })
	ch := dial(t, s.addr, channel.WithServiceConfig(hgConfig(`{"maxAttempts":2,"hedgingDelay":"0.01s"}`)))
	hdr := make(chan string, 1)
	done := make(chan error, 1)
	call := channel.UnaryStream[*wrapperspb.StringValue, *wrapperspb.StringValue](ch, "/hedge.Test/Stream").Start(tctx(t), wrapperspb.String("req"),
		channel.StreamHandler[*wrapperspb.StringValue]{
			OnHeader:  func(md metadata.MD) { hdr <- md.Get("attempt")[0] },
			OnMessage: func(*wrapperspb.StringValue) {},
			OnEnd:     func(_ *channel.Call, err error) { done <- err },
		})
	if got := call.InitialMetadata().Get("attempt"); len(got) != 1 || got[0] != "2" {
		t.Errorf("started call: InitialMetadata attempt = %v; want [2]", got)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := <-hdr; got != "2" {
		t.Errorf("OnHeader attempt = %q; want 2", got)
	}
	if p := call.Peer(); p != s.addr {
		t.Errorf("Peer = %q; want %q", p, s.addr)
	}
	hgWaitCancelled(t, s, 1)

	s2 := hgStart(t, func(n int) hgAct { return hgAct{stall: n == 1} })
	ch = dial(t, s2.addr, channel.WithServiceConfig(hgConfig(`{"maxAttempts":2,"hedgingDelay":"0.01s"}`)))
	_, c, err := channel.UnaryUnary[*wrapperspb.StringValue, *wrapperspb.StringValue](ch, "/hedge.Test/Unary").WithCall(tctx(t), wrapperspb.String("req"))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.InitialMetadata().Get("attempt"); len(got) != 1 || got[0] != "2" {
		t.Errorf("blocking call: InitialMetadata attempt = %v; want [2]", got)
	}
	hgWaitCancelled(t, s2, 1)
}
