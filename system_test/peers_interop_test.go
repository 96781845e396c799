package system_test

import (
	"testing"

	"github.com/grpcactor/grpcactor/channel"

	"github.com/grpcactor/grpcactor/system_test/peers"
)

// The interop matrix against servers in other languages: Python's grpcio
// (C-core) and Node's grpc-js. Each peer is skipped with the install
// command when missing, and fails in CI (see package peers).

var peerCases = []interopCase{
	{"empty_unary", doEmptyUnary},
	{"large_unary", doLargeUnary},
	{"server_streaming", doServerStreaming},
	{"client_streaming", doClientStreaming},
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
	{"large_unary_gzip", doLargeUnaryGzip},
}

// doLargeUnaryGzip is large_unary with gzip-compressed requests, unary and
// streamed.
func doLargeUnaryGzip(t *testing.T, s *stubs) {
	resp, err := largeUnary(tctx(t), s, channel.CompressionGzip())
	if err != nil {
		t.Fatalf("UnaryCall: %v", err)
	}
	checkPayload(t, "UnaryCall", resp.GetPayload(), largeRespSize)
	agg, err := s.streamIn.Call(tctx(t), clientStreamReqs(clientStreamSizes), channel.CompressionGzip())
	if err != nil {
		t.Fatalf("StreamingInputCall: %v", err)
	}
	if agg.GetAggregatedPayloadSize() != 74922 {
		t.Fatalf("aggregated_payload_size %d, want 74922", agg.GetAggregatedPayloadSize())
	}
}

func runPeerMatrix(t *testing.T, addr string) {
	s := dialStubs(t, addr)
	for _, c := range peerCases {
		t.Run(c.name, func(t *testing.T) { c.run(t, s) })
	}
	// The channel is still usable after all of them.
	t.Run("after", func(t *testing.T) { doLargeUnary(t, s) })
}

func TestInteropPython(t *testing.T) {
	t.Parallel()
	runPeerMatrix(t, peers.StartPythonInterop(t))
}

func TestInteropNode(t *testing.T) {
	t.Parallel()
	runPeerMatrix(t, peers.StartNodeInterop(t))
}
