// Package system_test runs grpcactor's client end to end against real gRPC
// servers written by others: grpc-go's interop TestService server in this
// process, Python grpcio's and Node grpc-js's interop servers as child
// processes (see package peers).
package system_test

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/grpcactor/grpcactor/internal/leakcheck"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"

	"github.com/grpcactor/grpcactor/channel"
	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/status"
	"github.com/grpcactor/grpcactor/system_test/chaos"
)

func TestMain(m *testing.M) {
	chaos.ServeIfChild() // the chaos tests' child servers are this binary
	leakcheck.VerifyTestMain(m)
}

// Method names of grpc.testing.TestService.
const (
	svc                 = "/grpc.testing.TestService/"
	mEmptyCall          = svc + "EmptyCall"
	mUnaryCall          = svc + "UnaryCall"
	mStreamingOutput    = svc + "StreamingOutputCall"
	mStreamingInput     = svc + "StreamingInputCall"
	mFullDuplex         = svc + "FullDuplexCall"
	mUnimplementedCall  = svc + "UnimplementedCall"
	mUnimplementedSvc   = "/grpc.testing.UnimplementedService/UnimplementedCall"
	initialMetadataKey  = "x-grpc-test-echo-initial"
	trailingMetadataKey = "x-grpc-test-echo-trailing-bin"
	initialMetadataVal  = "test_initial_metadata_value"
)

// trailingMetadataVal is the interop spec's binary trailing value 0xababab.
var trailingMetadataVal = string([]byte{0xab, 0xab, 0xab})

// Message type shorthands.
type (
	empty      = testgrpc.Empty
	simpleReq  = testgrpc.SimpleRequest
	simpleResp = testgrpc.SimpleResponse
	inReq      = testgrpc.StreamingInputCallRequest
	inResp     = testgrpc.StreamingInputCallResponse
	outReq     = testgrpc.StreamingOutputCallRequest
	outResp    = testgrpc.StreamingOutputCallResponse
)

// stubs are the TestService's multi-callables on one channel.
type stubs struct {
	ch            *channel.Channel
	empty         *channel.UnaryUnaryCallable[*empty, *empty]
	unary         *channel.UnaryUnaryCallable[*simpleReq, *simpleResp]
	streamOut     *channel.UnaryStreamCallable[*outReq, *outResp]
	streamIn      *channel.StreamUnaryCallable[*inReq, *inResp]
	duplex        *channel.StreamStreamCallable[*outReq, *outResp]
	unimplMethod  *channel.UnaryUnaryCallable[*empty, *empty]
	unimplService *channel.UnaryUnaryCallable[*empty, *empty]
}

func newStubs(ch *channel.Channel) *stubs {
	return &stubs{
		ch:            ch,
		empty:         channel.UnaryUnary[*empty, *empty](ch, mEmptyCall),
		unary:         channel.UnaryUnary[*simpleReq, *simpleResp](ch, mUnaryCall),
		streamOut:     channel.UnaryStream[*outReq, *outResp](ch, mStreamingOutput),
		streamIn:      channel.StreamUnary[*inReq, *inResp](ch, mStreamingInput),
		duplex:        channel.StreamStream[*outReq, *outResp](ch, mFullDuplex),
		unimplMethod:  channel.UnaryUnary[*empty, *empty](ch, mUnimplementedCall),
		unimplService: channel.UnaryUnary[*empty, *empty](ch, mUnimplementedSvc),
	}
}

// dial opens a channel to target that is closed when the test ends.
func dial(t testing.TB, target string, opts ...channel.Option) *channel.Channel {
	t.Helper()
	ch, err := channel.Insecure(target, opts...)
	if err != nil {
		t.Fatalf("channel.Insecure(%q): %v", target, err)
	}
	t.Cleanup(func() { ch.Close() })
	return ch
}

// dialStubs is dial followed by newStubs.
func dialStubs(t testing.TB, target string, opts ...channel.Option) *stubs {
	t.Helper()
	return newStubs(dial(t, target, opts...))
}

// testTimeout bounds every wait of a test: a hang fails the test instead of
// the whole run.
const testTimeout = 20 * time.Second

// tctx returns a context that ends after testTimeout or when the test ends.
func tctx(t testing.TB) context.Context {
	t.Helper()
	return ctxWithin(t, testTimeout)
}

// ctxWithin returns a context that ends after d or when the test ends.
func ctxWithin(t testing.TB, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// zeros returns a payload of n zero bytes.
func zeros(n int) *testgrpc.Payload {
	return &testgrpc.Payload{Type: testgrpc.PayloadType_COMPRESSABLE, Body: make([]byte, n)}
}

// checkPayload checks that p is a COMPRESSABLE payload of n zero bytes.
func checkPayload(t testing.TB, what string, p *testgrpc.Payload, n int) {
	t.Helper()
	body := p.GetBody()
	if len(body) != n {
		t.Fatalf("%s: payload of %d bytes, want %d", what, len(body), n)
	}
	if p.GetType() != testgrpc.PayloadType_COMPRESSABLE {
		t.Fatalf("%s: payload type %v, want COMPRESSABLE", what, p.GetType())
	}
	if bytes.IndexFunc(body, func(r rune) bool { return r != 0 }) >= 0 {
		t.Fatalf("%s: payload body is not all zeros", what)
	}
}

// wantStatus checks that err is a *status.Error with code and, if msg is
// not "", exactly that message.
func wantStatus(t testing.TB, what string, err error, code codes.Code, msg string) *status.Error {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: succeeded, want %v", what, code)
	}
	st, ok := status.FromError(err)
	if !ok || st == nil {
		t.Fatalf("%s: error %v (%T) is not a *status.Error, want %v", what, err, err, code)
	}
	if st.Code() != code {
		t.Fatalf("%s: code %v (%q), want %v", what, st.Code(), st.Details(), code)
	}
	if msg != "" && st.Details() != msg {
		t.Fatalf("%s: message %q, want %q", what, st.Details(), msg)
	}
	return st
}

// checkEcho checks the interop echo of the custom_metadata case.
func checkEcho(t testing.TB, what string, initial, trailing map[string][]string) {
	t.Helper()
	if got := initial[initialMetadataKey]; len(got) != 1 || got[0] != initialMetadataVal {
		t.Errorf("%s: initial metadata %s = %q, want [%q] (all: %v)", what, initialMetadataKey, got, initialMetadataVal, initial)
	}
	if got := trailing[trailingMetadataKey]; len(got) != 1 || got[0] != trailingMetadataVal {
		t.Errorf("%s: trailing metadata %s = %q, want [%q] (all: %v)", what, trailingMetadataKey, got, trailingMetadataVal, trailing)
	}
}

// wait waits for ch to be closed, failing the test after testTimeout.
func wait(t testing.TB, what string, ch <-chan struct{}) {
	t.Helper()
	waitFor(t, what, ch, testTimeout)
}

// localBound bounds waits for what the client does by itself, with no
// network round trip (a cancelled call ending): generous, but short enough
// that a hang does not eat the run's time budget.
const localBound = 3 * time.Second

// waitFor waits for ch to be closed, failing the test after d.
func waitFor(t testing.TB, what string, ch <-chan struct{}, d time.Duration) {
	t.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ch:
	case <-timer.C:
		t.Fatalf("%s: not done within %v", what, d)
	}
}

// waitState waits until ch is in state want (using WaitForStateChange),
// failing the test after d.
func waitState(t testing.TB, ch *channel.Channel, want channel.Connectivity, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	s := ch.State(false)
	for s != want {
		var err error
		s, err = ch.WaitForStateChange(ctx, s)
		if err != nil {
			t.Fatalf("channel %s: still %v after %v, want %v", ch.Target(), s, d, want)
		}
	}
}

// recvWithin receives from ch, failing the test after testTimeout.
func recvWithin[T any](t testing.TB, what string, ch <-chan T) T {
	t.Helper()
	timer := time.NewTimer(testTimeout)
	defer timer.Stop()
	select {
	case v := <-ch:
		return v
	case <-timer.C:
		t.Fatalf("%s: nothing within %v", what, testTimeout)
		panic("unreachable")
	}
}

// deadPort returns a loopback address where nothing listens.
func deadPort(t testing.TB) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	return addr
}

// containsAll reports whether s contains every one of subs.
func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
