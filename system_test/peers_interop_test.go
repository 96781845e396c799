package system_test

import (
	"slices"
	"testing"

	"google.golang.org/grpc/testdata"

	"github.com/grpcactor/grpcactor/channel"
	"github.com/grpcactor/grpcactor/credentials"

	"github.com/grpcactor/grpcactor/system_test/peers"
)

// The interop matrix against servers in other languages: Python's grpcio
// (C-core) and Node's grpc-js, in plaintext and over TLS (with grpc-go's
// test CA and server certificate, as in secure_test.go). Each peer is
// skipped with the install command when missing, and fails in CI (see
// package peers).

// peerCases are the cases run against Python's and Node's servers.
var peerCases = append(slices.Clip(commonCases), interopCase{"large_unary_gzip", doLargeUnaryGzip})

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

func runPeerMatrix(t *testing.T, s *stubs) {
	for _, c := range peerCases {
		t.Run(c.name, func(t *testing.T) { c.run(t, s) })
	}
	// The channel is still usable after all of them.
	t.Run("after", func(t *testing.T) { doLargeUnary(t, s) })
}

func TestInteropPython(t *testing.T) {
	t.Parallel()
	runPeerMatrix(t, dialStubs(t, peers.StartPythonInterop(t)))
}

func TestInteropNode(t *testing.T) {
	t.Parallel()
	runPeerMatrix(t, dialStubs(t, peers.StartNodeInterop(t)))
}

// dialPeerTLS opens a secure channel to a peer serving grpc-go's server1
// certificate, trusting grpc-go's test CA and checking the name
// x.test.example.com, and checks that the channel is secure.
func dialPeerTLS(t *testing.T, addr string) *stubs {
	t.Helper()
	ca := readTestdata(t, "x509/server_ca_cert.pem")
	s := dialSecure(t, addr, tlsCreds(t, credentials.TLSConfig{RootCAs: ca, ServerName: tlsServerName}))
	// A plaintext channel to the same port must not work: the matrix
	// below really runs over TLS.
	plain := dialStubs(t, addr)
	_, err := plain.empty.Call(tctx(t), &empty{}, channel.Timeout(localBound))
	if err == nil {
		t.Fatalf("a plaintext call to the TLS peer at %s succeeded", addr)
	}
	return s
}

func TestInteropPythonTLS(t *testing.T) {
	t.Parallel()
	addr := peers.StartPythonInteropTLS(t, testdata.Path("x509/server1_cert.pem"), testdata.Path("x509/server1_key.pem"))
	runPeerMatrix(t, dialPeerTLS(t, addr))
}

func TestInteropNodeTLS(t *testing.T) {
	t.Parallel()
	addr := peers.StartNodeInteropTLS(t, testdata.Path("x509/server1_cert.pem"), testdata.Path("x509/server1_key.pem"))
	runPeerMatrix(t, dialPeerTLS(t, addr))
}
