package channel_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"

	_ "google.golang.org/grpc/encoding/gzip" // the interop server's gzip
	"google.golang.org/protobuf/proto"

	"github.com/grpcactor/grpcactor/channel"
	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/system_test/peers"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
)

// startEncodingServer starts an HTTP/2 (h2c) server that answers every
// call, once the client has half-closed, with one message flagged as
// compressed under grpc-encoding enc, then grpc-status 0. It returns its
// address and stops when the test ends.
func startEncodingServer(t *testing.T, enc string, msg []byte) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	frame := make([]byte, 5, 5+len(msg))
	frame[0] = 1 // compressed
	binary.BigEndian.PutUint32(frame[1:], uint32(len(msg)))
	frame = append(frame, msg...)
	var protos http.Protocols
	protos.SetUnencryptedHTTP2(true)
	srv := &http.Server{
		Protocols: &protos,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if _, err := io.Copy(io.Discard, r.Body); err != nil {
				return
			}
			w.Header().Set("Content-Type", "application/grpc")
			w.Header().Set("Grpc-Encoding", enc)
			w.WriteHeader(http.StatusOK)
			if _, err := w.Write(frame); err != nil {
				return
			}
			w.Header().Set(http.TrailerPrefix+"Grpc-Status", "0")
		}),
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(lis) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("encoding server on %s: %v", lis.Addr(), err)
		}
	})
	return lis.Addr().String()
}

// A message compressed with an encoding the client does not know ends the
// call INTERNAL, naming the encoding.
func TestUnsupportedResponseEncoding(t *testing.T) {
	const enc = "snappy-test"
	msg, err := proto.Marshal(&testgrpc.SimpleResponse{Payload: &testgrpc.Payload{Body: []byte("not really compressed")}})
	if err != nil {
		t.Fatal(err)
	}
	ch, err := channel.Insecure(startEncodingServer(t, enc, msg))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ch.Close() })
	const want = `server sent a message compressed with unsupported grpc-encoding "snappy-test"`

	t.Run("UnaryUnary", func(t *testing.T) {
		unary := channel.UnaryUnary[*testgrpc.SimpleRequest, *testgrpc.SimpleResponse](ch, svc+"UnaryCall")
		_, call, err := unary.WithCall(codecCtx(t), &testgrpc.SimpleRequest{})
		wantStatusPrefix(t, "UnaryCall", err, codes.Internal, want)
		if call == nil || call.Code() != codes.Internal || call.IsActive() {
			t.Fatalf("WithCall returned Call %v, want one ended INTERNAL", call)
		}
	})

	t.Run("UnaryStream", func(t *testing.T) {
		stream := channel.UnaryStream[*testgrpc.StreamingOutputCallRequest, *testgrpc.StreamingOutputCallResponse](ch, svc+"StreamingOutputCall")
		rs, err := stream.Call(codecCtx(t), &testgrpc.StreamingOutputCallRequest{})
		if err != nil {
			t.Fatal(err)
		}
		_, err = rs.Recv()
		wantStatusPrefix(t, "StreamingOutputCall", err, codes.Internal, want)
		if rs.Code() != codes.Internal || rs.IsActive() {
			t.Fatalf("the call is %v (active %v), want ended INTERNAL", rs.Code(), rs.IsActive())
		}
	})
}

// A gzip response under the receive limit on the wire but over it once
// decompressed fails RESOURCE_EXHAUSTED, naming the limit and the size.
func TestDecompressedResponseOverLimit(t *testing.T) {
	const limit = 64 << 10
	ch, err := channel.Insecure(peers.StartGoInterop(t), channel.WithMaxReceiveMessageSize(limit))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ch.Close() })
	unary := channel.UnaryUnary[*testgrpc.SimpleRequest, *testgrpc.SimpleResponse](ch, svc+"UnaryCall")

	// grpc-go's server answers in the request's encoding; 1 MiB of zeros
	// is about a KiB compressed.
	_, err = unary.Call(codecCtx(t), &testgrpc.SimpleRequest{ResponseSize: 1 << 20}, channel.CompressionGzip())
	const prefix = "grpc: received message larger than max after decompression (at least 65537 vs. 65536 bytes; "
	details := wantStatusPrefix(t, "1 MiB gzip response with a 64 KiB limit", err, codes.ResourceExhausted, prefix).Details()
	rest, ok := strings.CutSuffix(strings.TrimPrefix(details, prefix), " bytes compressed with gzip)")
	if n, err := strconv.Atoi(rest); !ok || err != nil || n <= 0 || n >= limit {
		t.Fatalf("message %q: want it to end with the compressed size, under %d, and the encoding", details, limit)
	}

	// The channel still works.
	resp, err := unary.Call(codecCtx(t), &testgrpc.SimpleRequest{ResponseSize: 1000}, channel.CompressionGzip())
	if err != nil || !bytes.Equal(resp.GetPayload().GetBody(), make([]byte, 1000)) {
		t.Fatalf("call after the failed one: %v", err)
	}
}
