package channel_test

import (
	"context"
	"sync"
	"testing"

	"github.com/grpcactor/grpcactor/channel"
	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/status"
	"github.com/grpcactor/grpcactor/system_test/peers"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/protobuf/proto"
)

// attemptLog is a StatsHandler that records every attempt.
type attemptLog struct {
	mu       sync.Mutex
	attempts []*attemptRec
}

type attemptRec struct {
	log       *attemptLog
	info      channel.AttemptInfo
	out, in   []int
	ended     bool
	code      codes.Code
	endedOnce int
}

func (l *attemptLog) AttemptStarted(_ context.Context, info channel.AttemptInfo) channel.AttemptStats {
	l.mu.Lock()
	defer l.mu.Unlock()
	a := &attemptRec{log: l, info: info}
	l.attempts = append(l.attempts, a)
	return a
}

func (a *attemptRec) OutMessage(n int) { a.log.mu.Lock(); a.out = append(a.out, n); a.log.mu.Unlock() }
func (a *attemptRec) InMessage(n int)  { a.log.mu.Lock(); a.in = append(a.in, n); a.log.mu.Unlock() }
func (a *attemptRec) End(st *status.Error) {
	a.log.mu.Lock()
	defer a.log.mu.Unlock()
	a.ended = true
	if st != nil {
		a.code = st.Code()
	}
	a.endedOnce++
}

func TestStatsHandlerAttempts(t *testing.T) {
	addr := peers.StartGoInterop(t)
	log := &attemptLog{}
	ch, err := channel.Insecure(addr, channel.WithStatsHandler(log), channel.WithServiceConfig(`{"methodConfig": [{
		"name": [{"service": "grpc.testing.TestService", "method": "UnaryCall"}],
		"retryPolicy": {"maxAttempts": 3, "initialBackoff": "0.001s", "maxBackoff": "0.001s",
			"backoffMultiplier": 1, "retryableStatusCodes": ["UNAVAILABLE"]}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	unary := channel.UnaryUnary[*testgrpc.SimpleRequest, *testgrpc.SimpleResponse](ch, svc+"UnaryCall")
	req := &testgrpc.SimpleRequest{ResponseSize: 500, Payload: &testgrpc.Payload{Body: make([]byte, 1000)}}
	resp, err := unary.Call(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	// Server streaming: one request, three responses.
	ss := channel.UnaryStream[*testgrpc.StreamingOutputCallRequest, *testgrpc.StreamingOutputCallResponse](ch, svc+"StreamingOutputCall")
	sreq := &testgrpc.StreamingOutputCallRequest{ResponseParameters: []*testgrpc.ResponseParameters{{Size: 1}, {Size: 2}, {Size: 3}}}
	rs, err := ss.Call(context.Background(), sreq)
	if err != nil {
		t.Fatal(err)
	}
	for _, err := range rs.All() {
		if err != nil {
			t.Fatal(err)
		}
	}
	// Three attempts under the retry policy, each UNAVAILABLE.
	_, err = unary.Call(context.Background(), &testgrpc.SimpleRequest{ResponseStatus: &testgrpc.EchoStatus{Code: 14, Message: "again"}})
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("want UNAVAILABLE, got %v", err)
	}

	log.mu.Lock()
	defer log.mu.Unlock()
	if len(log.attempts) != 5 {
		t.Fatalf("%d attempts, want 5", len(log.attempts))
	}
	for i, a := range log.attempts {
		if !a.ended || a.endedOnce != 1 || a.info.Target != addr || a.info.CanonicalTarget != "dns:///"+addr {
			t.Fatalf("attempt %d: %+v", i, a)
		}
	}
	a := log.attempts[0]
	if a.info.Method != svc+"UnaryCall" || a.info.Attempt != 1 || a.code != codes.OK ||
		len(a.out) != 1 || a.out[0] != proto.Size(req) || len(a.in) != 1 || a.in[0] != proto.Size(resp) {
		t.Fatalf("unary attempt: %+v (request %d bytes, response %d)", a, proto.Size(req), proto.Size(resp))
	}
	if a := log.attempts[1]; a.code != codes.OK || len(a.out) != 1 || len(a.in) != 3 || a.out[0] != proto.Size(sreq) {
		t.Fatalf("streaming attempt: %+v", a)
	}
	for i, a := range log.attempts[2:] {
		if a.code != codes.Unavailable || a.info.Attempt != i+1 || len(a.out) != 1 {
			t.Fatalf("retried attempt %d: %+v", i+1, a)
		}
	}
}

// The same attempts, for calls started with Start (the callback form):
// its own attempt loop reports them too.
func TestStatsHandlerStartedAttempts(t *testing.T) {
	addr := peers.StartGoInterop(t)
	log := &attemptLog{}
	ch, err := channel.Insecure(addr, channel.WithStatsHandler(log), channel.WithServiceConfig(`{"methodConfig": [{
		"name": [{"service": "grpc.testing.TestService", "method": "UnaryCall"}],
		"retryPolicy": {"maxAttempts": 3, "initialBackoff": "0.001s", "maxBackoff": "0.001s",
			"backoffMultiplier": 1, "retryableStatusCodes": ["UNAVAILABLE"]}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	unary := channel.UnaryUnary[*testgrpc.SimpleRequest, *testgrpc.SimpleResponse](ch, svc+"UnaryCall")
	start := func(req *testgrpc.SimpleRequest) (*testgrpc.SimpleResponse, error) {
		type result struct {
			resp *testgrpc.SimpleResponse
			err  error
		}
		done := make(chan result, 1)
		unary.Start(context.Background(), req, func(resp *testgrpc.SimpleResponse, _ *channel.Call, err error) {
			done <- result{resp, err}
		})
		r := <-done
		return r.resp, r.err
	}
	req := &testgrpc.SimpleRequest{ResponseSize: 500, Payload: &testgrpc.Payload{Body: make([]byte, 1000)}}
	resp, err := start(req)
	if err != nil {
		t.Fatal(err)
	}
	ss := channel.UnaryStream[*testgrpc.StreamingOutputCallRequest, *testgrpc.StreamingOutputCallResponse](ch, svc+"StreamingOutputCall")
	sreq := &testgrpc.StreamingOutputCallRequest{ResponseParameters: []*testgrpc.ResponseParameters{{Size: 1}, {Size: 2}, {Size: 3}}}
	ended := make(chan error, 1)
	ss.Start(context.Background(), sreq, channel.StreamHandler[*testgrpc.StreamingOutputCallResponse]{
		OnMessage: func(*testgrpc.StreamingOutputCallResponse) {},
		OnEnd:     func(_ *channel.Call, err error) { ended <- err },
	})
	if err := <-ended; err != nil {
		t.Fatal(err)
	}
	_, err = start(&testgrpc.SimpleRequest{ResponseStatus: &testgrpc.EchoStatus{Code: 14, Message: "again"}})
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("want UNAVAILABLE, got %v", err)
	}

	log.mu.Lock()
	defer log.mu.Unlock()
	if len(log.attempts) != 5 {
		t.Fatalf("%d attempts, want 5", len(log.attempts))
	}
	for i, a := range log.attempts {
		if !a.ended || a.endedOnce != 1 || a.info.Target != addr || a.info.CanonicalTarget != "dns:///"+addr {
			t.Fatalf("attempt %d: %+v", i, a)
		}
	}
	a := log.attempts[0]
	if a.info.Method != svc+"UnaryCall" || a.info.Attempt != 1 || a.code != codes.OK ||
		len(a.out) != 1 || a.out[0] != proto.Size(req) || len(a.in) != 1 || a.in[0] != proto.Size(resp) {
		t.Fatalf("unary attempt: %+v (request %d bytes, response %d)", a, proto.Size(req), proto.Size(resp))
	}
	if a := log.attempts[1]; a.code != codes.OK || len(a.out) != 1 || len(a.in) != 3 || a.out[0] != proto.Size(sreq) {
		t.Fatalf("streaming attempt: %+v", a)
	}
	for i, a := range log.attempts[2:] {
		if a.code != codes.Unavailable || a.info.Attempt != i+1 || len(a.out) != 1 {
			t.Fatalf("retried attempt %d: %+v", i+1, a)
		}
	}
}
