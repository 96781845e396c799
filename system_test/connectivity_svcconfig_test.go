package system_test

// The service config's methodConfig against grpc-go servers: timeout,
// waitForReady, maxResponseMessageBytes and retryPolicy (gRFC A6).

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	grpccodes "google.golang.org/grpc/codes"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	grpcmd "google.golang.org/grpc/metadata"
	grpcstatus "google.golang.org/grpc/status"

	"github.com/grpcactor/grpcactor/channel"
	"github.com/grpcactor/grpcactor/codes"
)

func TestConnectivityServiceConfig(t *testing.T) {
	t.Run("Timeout", func(t *testing.T) {
		srv := startServer(t, serverConfig{})
		ch := dial(t, srv.Addr(), channel.WithServiceConfig(`{"methodConfig":[{"name":[{"service":"grpc.testing.TestService"}],"timeout":"0.2s"}]}`))
		// A FullDuplexCall whose server waits for requests that never come.
		start := time.Now()
		bs, err := newStubs(ch).duplex.Open(tctx(t))
		if err == nil {
			_, err = bs.Recv()
		}
		wantStatus(t, "FullDuplexCall under a 0.2 s service-config timeout", err, codes.DeadlineExceeded, "")
		if el := time.Since(start); el > 5*time.Second {
			t.Errorf("DEADLINE_EXCEEDED after %v, want about 0.2 s", el)
		}
		// A slow server-streaming call too.
		rs, err := newStubs(ch).streamOut.Call(tctx(t), &testgrpc.StreamingOutputCallRequest{
			ResponseParameters: []*testgrpc.ResponseParameters{{Size: 1}, {Size: 1, IntervalUs: 500_000}},
		})
		if err == nil {
			_, err = drainStream[*testgrpc.StreamingOutputCallResponse](rs)
		}
		wantStatus(t, "StreamingOutputCall with a 0.5 s interval under a 0.2 s timeout", err, codes.DeadlineExceeded, "")
		// A fast call is unaffected.
		if _, err := newStubs(ch).empty.Call(tctx(t), &testgrpc.Empty{}); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("WaitForReady", func(t *testing.T) {
		ch := dial(t, "ipv4:"+deadPort(t),
			channel.WithConnectBackoff(20*time.Millisecond, 100*time.Millisecond, time.Second),
			channel.WithServiceConfig(`{"methodConfig":[{"name":[{"service":"grpc.testing.TestService"}],"waitForReady":true}]}`))
		ch.State(true)
		waitState(t, ch, channel.TransientFailure, testTimeout)
		_, err := newStubs(ch).empty.Call(tctx(t), &testgrpc.Empty{}, channel.Timeout(300*time.Millisecond))
		wantStatus(t, "call on a failing channel with waitForReady from the service config", err, codes.DeadlineExceeded, "")
		// The call's own option wins over the service config.
		_, err = newStubs(ch).empty.Call(tctx(t), &testgrpc.Empty{}, channel.WaitForReady(false), channel.Timeout(5*time.Second))
		wantStatus(t, "WaitForReady(false) call on a failing channel", err, codes.Unavailable, "")
	})

	t.Run("MaxResponseMessageBytes", func(t *testing.T) {
		srv := startServer(t, serverConfig{})
		ch := dial(t, srv.Addr(), channel.WithServiceConfig(`{"methodConfig":[{"name":[{"service":"grpc.testing.TestService"}],"maxResponseMessageBytes":100}]}`))
		unary := newStubs(ch).unary
		_, err := unary.Call(tctx(t), &testgrpc.SimpleRequest{ResponseSize: 1024})
		wantStatus(t, "1 KiB response over maxResponseMessageBytes 100", err, codes.ResourceExhausted, "")
		if _, err := unary.Call(tctx(t), &testgrpc.SimpleRequest{ResponseSize: 50}); err != nil {
			t.Fatalf("50-byte response: %v", err)
		}
	})

	t.Run("RetryPolicy", func(t *testing.T) {
		var mu sync.Mutex
		attempts := map[string][]string{} // call id → grpc-previous-rpc-attempts of each attempt ("" if absent)
		srv := startServer(t, serverConfig{Hook: func(ctx context.Context, method string) error {
			md, _ := grpcmd.FromIncomingContext(ctx)
			id := md.Get("x-cx-id")
			if len(id) == 0 {
				return nil
			}
			prev := ""
			if v := md.Get("grpc-previous-rpc-attempts"); len(v) > 0 {
				prev = v[0]
			}
			mu.Lock()
			attempts[id[0]] = append(attempts[id[0]], prev)
			n := len(attempts[id[0]])
			mu.Unlock()
			fail, _ := strconv.Atoi(md.Get("x-cx-fail")[0])
			code, _ := strconv.Atoi(md.Get("x-cx-code")[0])
			if n <= fail {
				return grpcstatus.Errorf(grpccodes.Code(code), "cx: attempt %d fails", n)
			}
			return nil
		}})
		ch := dial(t, srv.Addr(), channel.WithServiceConfig(`{"methodConfig":[{"name":[{"service":"grpc.testing.TestService"}],
			"retryPolicy":{"maxAttempts":3,"initialBackoff":"0.01s","maxBackoff":"0.05s","backoffMultiplier":2,"retryableStatusCodes":["UNAVAILABLE"]}}]}`))
		unary := newStubs(ch).unary
		call := func(id string, fail int, code codes.Code) error {
			_, err := unary.Call(tctx(t), &testgrpc.SimpleRequest{ResponseSize: 1},
				channel.Metadata(map[string][]string{"x-cx-id": {id}, "x-cx-fail": {strconv.Itoa(fail)}, "x-cx-code": {strconv.Itoa(int(code))}}))
			return err
		}
		seen := func(id string) []string {
			mu.Lock()
			defer mu.Unlock()
			return attempts[id]
		}

		if err := call("two-failures", 2, codes.Unavailable); err != nil {
			t.Errorf("call whose first 2 attempts fail UNAVAILABLE: %v, want success on the 3rd", err)
		}
		if got, want := seen("two-failures"), []string{"", "1", "2"}; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("grpc-previous-rpc-attempts per attempt %q, want %q", got, want)
		}

		err := call("three-failures", 3, codes.Unavailable)
		st := wantStatus(t, "call whose 3 attempts fail UNAVAILABLE", err, codes.Unavailable, "")
		if st.Details() != "cx: attempt 3 fails" {
			t.Errorf("message %q, want the 3rd attempt's %q", st.Details(), "cx: attempt 3 fails")
		}
		if got := seen("three-failures"); len(got) != 3 {
			t.Errorf("%d attempts (previous-attempts headers %q), want 3 (maxAttempts)", len(got), got)
		}

		err = call("not-retryable", 1, codes.InvalidArgument)
		wantStatus(t, "call failing INVALID_ARGUMENT", err, codes.InvalidArgument, "")
		if got := seen("not-retryable"); len(got) != 1 {
			t.Errorf("INVALID_ARGUMENT (not retryable) made %d attempts, want 1", len(got))
		}
	})
}
