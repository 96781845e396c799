package system_test

import (
	"context"
	"errors"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/grpcactor/grpcactor/channel"
	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/metadata"
	"github.com/grpcactor/grpcactor/status"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"

	"github.com/grpcactor/grpcactor/system_test/peers"
)

// The interop client test cases of gRPC's interop-test-descriptions.md,
// each checking what the document says the client asserts.

type interopCase struct {
	name string
	run  func(t *testing.T, s *stubs)
}

// Sizes of the interop document.
const (
	largeReqSize  = 271828
	largeRespSize = 314159
)

var (
	clientStreamSizes = []int{27182, 8, 1828, 45904} // sum 74922
	serverStreamSizes = []int{31415, 9, 2653, 58979} // server_streaming, ping_pong responses
	pingPongReqSizes  = []int{27182, 8, 1828, 45904} // ping_pong requests
	specialMessage    = "\t\ntest with whitespace\r\nand Unicode BMP ☺ and non-BMP 😈\t\n"
	statusMessage     = "test status message"
	customMD          = metadata.MD{initialMetadataKey: {initialMetadataVal}, trailingMetadataKey: {trailingMetadataVal}}
	echoStatusUnknown = &testgrpc.EchoStatus{Code: 2, Message: statusMessage}
)

// commonCases are the interop client cases this client runs against every
// peer (grpc-go's server here, Python's and Node's in
// peers_interop_test.go).
var commonCases = []interopCase{
	{"empty_unary", doEmptyUnary},
	{"large_unary", doLargeUnary},
	{"client_streaming", doClientStreaming},
	{"server_streaming", doServerStreaming},
	{"ping_pong", doPingPong},
	{"empty_stream", doEmptyStream},
	{"custom_metadata", doCustomMetadata},
	{"status_code_and_message", doStatusCodeAndMessage},
	{"special_status_message", doSpecialStatusMessage},
	{"unimplemented_method", doUnimplementedMethod},
	{"unimplemented_service", doUnimplementedService},
	{"cancel_after_begin", doCancelAfterBegin},
	{"cancel_after_first_response", doCancelAfterFirstResponse},
	{"timeout_on_sleeping_server", doTimeoutOnSleepingServer},
}

// interopCases are every interop client case this client runs against
// grpc-go's server.
var interopCases = append(slices.Clip(commonCases), interopCase{"rpc_soak", doRPCSoak})

func TestInteropGo(t *testing.T) {
	s := dialStubs(t, peers.StartGoInterop(t))
	for _, c := range interopCases {
		t.Run(c.name, func(t *testing.T) { c.run(t, s) })
	}
}

// Each case also runs on a fresh channel of its own, as the interop client
// does (one channel per test case invocation).
func TestInteropGoFreshChannel(t *testing.T) {
	addr := peers.StartGoInterop(t)
	for _, c := range interopCases {
		if c.name == "rpc_soak" {
			continue
		}
		t.Run(c.name, func(t *testing.T) { c.run(t, dialStubs(t, addr)) })
	}
}

func doEmptyUnary(t *testing.T, s *stubs) {
	resp, err := s.empty.Call(tctx(t), &empty{})
	if err != nil {
		t.Fatalf("EmptyCall: %v", err)
	}
	if resp == nil {
		t.Fatal("EmptyCall: nil response")
	}
}

func largeUnary(ctx context.Context, s *stubs, opts ...channel.CallOption) (*simpleResp, error) {
	return s.unary.Call(ctx, &simpleReq{
		ResponseType: testgrpc.PayloadType_COMPRESSABLE,
		ResponseSize: largeRespSize,
		Payload:      zeros(largeReqSize),
	}, opts...)
}

func doLargeUnary(t *testing.T, s *stubs) {
	resp, err := largeUnary(tctx(t), s)
	if err != nil {
		t.Fatalf("UnaryCall: %v", err)
	}
	checkPayload(t, "UnaryCall", resp.GetPayload(), largeRespSize)
}

func clientStreamReqs(sizes []int) func(func(*inReq) bool) {
	return func(yield func(*inReq) bool) {
		for _, n := range sizes {
			if !yield(&inReq{Payload: zeros(n)}) {
				return
			}
		}
	}
}

func doClientStreaming(t *testing.T, s *stubs) {
	cs, err := s.streamIn.Open(tctx(t))
	if err != nil {
		t.Fatalf("StreamingInputCall: %v", err)
	}
	for _, n := range clientStreamSizes {
		if err := cs.Send(&inReq{Payload: zeros(n)}); err != nil {
			t.Fatalf("Send(%d bytes): %v", n, err)
		}
	}
	resp, err := cs.CloseAndRecv()
	if err != nil {
		t.Fatalf("CloseAndRecv: %v", err)
	}
	if got := resp.GetAggregatedPayloadSize(); got != 74922 {
		t.Fatalf("aggregated_payload_size %d, want 74922", got)
	}
}

func serverStreamReq(sizes []int) *outReq {
	req := &outReq{ResponseType: testgrpc.PayloadType_COMPRESSABLE}
	for _, n := range sizes {
		req.ResponseParameters = append(req.ResponseParameters, &testgrpc.ResponseParameters{Size: int32(n)})
	}
	return req
}

func doServerStreaming(t *testing.T, s *stubs) {
	rs, err := s.streamOut.Call(tctx(t), serverStreamReq(serverStreamSizes))
	if err != nil {
		t.Fatalf("StreamingOutputCall: %v", err)
	}
	for i, n := range serverStreamSizes {
		resp, err := rs.Recv()
		if err != nil {
			t.Fatalf("Recv %d: %v", i, err)
		}
		checkPayload(t, "response", resp.GetPayload(), n)
	}
	if _, err := rs.Recv(); err != io.EOF {
		t.Fatalf("Recv after %d responses: %v, want io.EOF", len(serverStreamSizes), err)
	}
	if c := rs.Code(); c != codes.OK {
		t.Fatalf("Code: %v, want OK", c)
	}
}

func pingReq(respSize, reqSize int) *outReq {
	return &outReq{
		ResponseType:       testgrpc.PayloadType_COMPRESSABLE,
		ResponseParameters: []*testgrpc.ResponseParameters{{Size: int32(respSize)}},
		Payload:            zeros(reqSize),
	}
}

func doPingPong(t *testing.T, s *stubs) {
	bs, err := s.duplex.Open(tctx(t))
	if err != nil {
		t.Fatalf("FullDuplexCall: %v", err)
	}
	for i := range pingPongReqSizes {
		if err := bs.Send(pingReq(serverStreamSizes[i], pingPongReqSizes[i])); err != nil {
			t.Fatalf("Send %d: %v", i, err)
		}
		resp, err := bs.Recv()
		if err != nil {
			t.Fatalf("Recv %d: %v", i, err)
		}
		checkPayload(t, "response", resp.GetPayload(), serverStreamSizes[i])
	}
	if err := bs.CloseSend(); err != nil {
		t.Fatalf("CloseSend: %v", err)
	}
	if _, err := bs.Recv(); err != io.EOF {
		t.Fatalf("Recv after CloseSend: %v, want io.EOF", err)
	}
	if c := bs.Code(); c != codes.OK {
		t.Fatalf("Code: %v, want OK", c)
	}
}

func doEmptyStream(t *testing.T, s *stubs) {
	bs, err := s.duplex.Open(tctx(t))
	if err != nil {
		t.Fatalf("FullDuplexCall: %v", err)
	}
	if err := bs.CloseSend(); err != nil {
		t.Fatalf("CloseSend: %v", err)
	}
	if resp, err := bs.Recv(); err != io.EOF {
		t.Fatalf("Recv: (%v, %v), want io.EOF with no response", resp, err)
	}
	if c := bs.Code(); c != codes.OK {
		t.Fatalf("Code: %v, want OK", c)
	}
}

func doCustomMetadata(t *testing.T, s *stubs) {
	ctx := tctx(t)
	// UnaryCall.
	resp, call, err := s.unary.WithCall(ctx, &simpleReq{
		ResponseType: testgrpc.PayloadType_COMPRESSABLE,
		ResponseSize: largeRespSize,
		Payload:      zeros(largeReqSize),
	}, channel.Metadata(customMD))
	if err != nil {
		t.Fatalf("UnaryCall: %v", err)
	}
	checkPayload(t, "UnaryCall", resp.GetPayload(), largeRespSize)
	checkEcho(t, "UnaryCall", call.InitialMetadata(), call.TrailingMetadata())

	// FullDuplexCall: one request, then half-close.
	bs, err := s.duplex.Open(ctx, channel.Metadata(customMD))
	if err != nil {
		t.Fatalf("FullDuplexCall: %v", err)
	}
	if err := bs.Send(pingReq(largeRespSize, largeReqSize)); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if err := bs.CloseSend(); err != nil {
		t.Fatalf("CloseSend: %v", err)
	}
	initial := bs.InitialMetadata()
	r, err := bs.Recv()
	if err != nil {
		t.Fatalf("Recv: %v", err)
	}
	checkPayload(t, "FullDuplexCall", r.GetPayload(), largeRespSize)
	if _, err := bs.Recv(); err != io.EOF {
		t.Fatalf("Recv at the end: %v, want io.EOF", err)
	}
	checkEcho(t, "FullDuplexCall", initial, bs.TrailingMetadata())
}

func doStatusCodeAndMessage(t *testing.T, s *stubs) {
	ctx := tctx(t)
	_, call, err := s.unary.WithCall(ctx, &simpleReq{ResponseStatus: echoStatusUnknown})
	wantStatus(t, "UnaryCall", err, codes.Unknown, statusMessage)
	if call == nil {
		t.Fatal("UnaryCall: WithCall returned no Call with the error")
	}
	if call.Code() != codes.Unknown || call.Details() != statusMessage {
		t.Fatalf("UnaryCall: Call says %v %q, want UNKNOWN %q", call.Code(), call.Details(), statusMessage)
	}

	bs, err := s.duplex.Open(ctx)
	if err != nil {
		t.Fatalf("FullDuplexCall: %v", err)
	}
	if err := bs.Send(&outReq{ResponseStatus: echoStatusUnknown}); err != nil && err != io.EOF {
		t.Fatalf("Send: %v", err)
	}
	if err := bs.CloseSend(); err != nil && err != io.EOF {
		t.Fatalf("CloseSend: %v", err)
	}
	_, err = bs.Recv()
	wantStatus(t, "FullDuplexCall", err, codes.Unknown, statusMessage)
	if bs.Code() != codes.Unknown || bs.Details() != statusMessage {
		t.Fatalf("FullDuplexCall: Call says %v %q, want UNKNOWN %q", bs.Code(), bs.Details(), statusMessage)
	}
}

func doSpecialStatusMessage(t *testing.T, s *stubs) {
	_, err := s.unary.Call(tctx(t), &simpleReq{ResponseStatus: &testgrpc.EchoStatus{Code: 2, Message: specialMessage}})
	wantStatus(t, "UnaryCall", err, codes.Unknown, specialMessage)
}

func doUnimplementedMethod(t *testing.T, s *stubs) {
	_, err := s.unimplMethod.Call(tctx(t), &empty{})
	wantStatus(t, "TestService/UnimplementedCall", err, codes.Unimplemented, "")
}

func doUnimplementedService(t *testing.T, s *stubs) {
	_, err := s.unimplService.Call(tctx(t), &empty{})
	wantStatus(t, "UnimplementedService/UnimplementedCall", err, codes.Unimplemented, "")
}

func doCancelAfterBegin(t *testing.T, s *stubs) {
	t.Run("context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(tctx(t))
		defer cancel()
		cs, err := s.streamIn.Open(ctx)
		if err != nil {
			t.Fatalf("StreamingInputCall: %v", err)
		}
		cancel()
		_, err = cs.CloseAndRecv()
		wantStatus(t, "CloseAndRecv after cancel", err, codes.Canceled, "")
		if c := cs.Code(); c != codes.Canceled {
			t.Fatalf("Code: %v, want CANCELLED", c)
		}
	})
	t.Run("Call.Cancel", func(t *testing.T) {
		cs, err := s.streamIn.Open(tctx(t))
		if err != nil {
			t.Fatalf("StreamingInputCall: %v", err)
		}
		if !cs.Cancel() {
			t.Fatal("Cancel on a call in progress returned false")
		}
		_, err = cs.CloseAndRecv()
		wantStatus(t, "CloseAndRecv after Cancel", err, codes.Canceled, "")
		if cs.IsActive() {
			t.Fatal("IsActive after the call ended")
		}
		if cs.Cancel() {
			t.Fatal("Cancel on an ended call returned true")
		}
	})
}

func doCancelAfterFirstResponse(t *testing.T, s *stubs) {
	ctx, cancel := context.WithCancel(tctx(t))
	defer cancel()
	bs, err := s.duplex.Open(ctx)
	if err != nil {
		t.Fatalf("FullDuplexCall: %v", err)
	}
	if err := bs.Send(pingReq(31415, 27182)); err != nil {
		t.Fatalf("Send: %v", err)
	}
	r, err := bs.Recv()
	if err != nil {
		t.Fatalf("Recv: %v", err)
	}
	checkPayload(t, "first response", r.GetPayload(), 31415)
	cancel()
	_, err = bs.Recv()
	wantStatus(t, "Recv after cancel", err, codes.Canceled, "")
	if c := bs.Code(); c != codes.Canceled {
		t.Fatalf("Code: %v, want CANCELLED", c)
	}
}

func doTimeoutOnSleepingServer(t *testing.T, s *stubs) {
	ctx, cancel := context.WithTimeout(tctx(t), time.Millisecond)
	defer cancel()
	bs, err := s.duplex.Open(ctx)
	if err != nil {
		// The deadline may pass before the call starts.
		wantStatus(t, "FullDuplexCall", err, codes.DeadlineExceeded, "")
		return
	}
	req := &outReq{
		ResponseType:       testgrpc.PayloadType_COMPRESSABLE,
		ResponseParameters: []*testgrpc.ResponseParameters{{Size: 31415, IntervalUs: 20000}},
		Payload:            zeros(27182),
	}
	if err := bs.Send(req); err != nil && !errors.Is(err, io.EOF) && !isCode(err, codes.DeadlineExceeded) {
		t.Fatalf("Send: %v", err)
	}
	_, err = bs.Recv()
	wantStatus(t, "Recv", err, codes.DeadlineExceeded, "")
	if c := bs.Code(); c != codes.DeadlineExceeded {
		t.Fatalf("Code: %v, want DEADLINE_EXCEEDED", c)
	}
}

func isCode(err error, c codes.Code) bool { return status.Code(err) == c }

func doRPCSoak(t *testing.T, s *stubs) {
	const iterations = 100
	failures := 0
	for i := range iterations {
		// Each iteration has a deadline of its own, as the interop soak
		// client's per-iteration limit: one shared deadline made the run's
		// total time the limit, which a loaded machine could exceed.
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		resp, err := largeUnary(ctx, s)
		cancel()
		if err == nil && len(resp.GetPayload().GetBody()) != largeRespSize {
			err = errors.New("wrong payload size")
		}
		if err != nil {
			failures++
			t.Errorf("soak iteration %d failed: %s", i, describeErr(err))
			if failures > 3 {
				t.FailNow()
			}
		}
	}
}

// describeErr renders err, and says so when it is a non-nil error interface
// holding a nil *status.Error (which prints as "<nil>").
func describeErr(err error) string {
	if st, ok := err.(*status.Error); ok && st == nil {
		return "a non-nil error holding a nil *status.Error (typed nil)"
	}
	return err.Error()
}
