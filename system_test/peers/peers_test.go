package peers_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"runtime"
	"testing"
	"time"

	"github.com/grpcactor/grpcactor/internal/leakcheck"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/testdata"

	"github.com/grpcactor/grpcactor/system_test/peers"
)

func TestMain(m *testing.M) {
	leakcheck.VerifyTestMain(m)
}

// These tests check the peers themselves with grpc-go's own client, so that
// a failure of grpcactor's client against a peer is never the peer's fault.

func TestGoInterop(t *testing.T) {
	smoke(t, peers.StartGoInterop(t))
}

func TestGoInteropOpts(t *testing.T) {
	// A server option after the defaults overrides them.
	addr := peers.StartGoInteropOpts(t, grpc.MaxSendMsgSize(100))
	client := dial(t, addr)
	ctx := timeout(t)
	_, err := client.UnaryCall(ctx, &testgrpc.SimpleRequest{ResponseSize: 1024})
	if status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("UnaryCall over the server's send limit: got %v, want ResourceExhausted", err)
	}
}

func TestGoInteropUnix(t *testing.T) {
	smoke(t, "unix://"+peers.StartGoInteropUnix(t))
}

func TestPython(t *testing.T) {
	smoke(t, peers.StartPythonInterop(t))
}

func TestNode(t *testing.T) {
	smoke(t, peers.StartNodeInterop(t))
}

// The Python and Node peers serve TLS with grpc-go's test certificates.
func TestPythonTLS(t *testing.T) {
	smokeTLS(t, peers.StartPythonInteropTLS(t, testdata.Path("x509/server1_cert.pem"), testdata.Path("x509/server1_key.pem")))
}

func TestNodeTLS(t *testing.T) {
	smokeTLS(t, peers.StartNodeInteropTLS(t, testdata.Path("x509/server1_cert.pem"), testdata.Path("x509/server1_key.pem")))
}

// smokeTLS makes one call over TLS, trusting grpc-go's test CA.
func smokeTLS(t *testing.T, target string) {
	t.Helper()
	creds, err := credentials.NewClientTLSFromFile(testdata.Path("x509/server_ca_cert.pem"), "x.test.example.com")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient(target, grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatalf("grpc.NewClient(%q): %v", target, err)
	}
	defer conn.Close()
	resp, err := testgrpc.NewTestServiceClient(conn).UnaryCall(timeout(t), &testgrpc.SimpleRequest{ResponseSize: 1000})
	if err != nil {
		t.Fatalf("UnaryCall over TLS: %v", err)
	}
	if n := len(resp.GetPayload().GetBody()); n != 1000 {
		t.Fatalf("UnaryCall over TLS: %d bytes, want 1000", n)
	}
}

func TestStartPythonBadScript(t *testing.T) {
	peers.RequirePython(t)
	ft := &fatalRecorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		peers.StartPython(ft, "testdata/no_such_script.py")
	}()
	<-done
	if !ft.fatal {
		t.Fatal("StartPython with a missing script did not fail the test")
	}
	t.Logf("failure message: %s", ft.msg)
}

// fatalRecorder records a Fatalf instead of failing the test, so that a test
// can check a helper's failure. Fatalf ends the calling goroutine as
// testing.T's does.
type fatalRecorder struct {
	testing.TB
	fatal bool
	msg   string
}

func (f *fatalRecorder) Fatalf(format string, args ...any) {
	f.fatal = true
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func (f *fatalRecorder) Helper() {}

// smoke runs the interop cases every peer must pass against target.
func smoke(t *testing.T, target string) {
	client := dial(t, target)

	t.Run("EmptyCall", func(t *testing.T) {
		if _, err := client.EmptyCall(timeout(t), &testgrpc.Empty{}); err != nil {
			t.Fatalf("EmptyCall: %v", err)
		}
	})

	t.Run("UnaryCall", func(t *testing.T) {
		resp, err := client.UnaryCall(timeout(t), &testgrpc.SimpleRequest{
			ResponseSize: 1024,
			Payload:      &testgrpc.Payload{Body: make([]byte, 2048)},
		})
		if err != nil {
			t.Fatalf("UnaryCall: %v", err)
		}
		if got := len(resp.GetPayload().GetBody()); got != 1024 {
			t.Fatalf("UnaryCall: payload of %d bytes, want 1024", got)
		}
	})

	t.Run("LargeUnary", func(t *testing.T) {
		const size = 8 << 20
		resp, err := client.UnaryCall(timeout(t), &testgrpc.SimpleRequest{
			ResponseSize: size,
			Payload:      &testgrpc.Payload{Body: make([]byte, size)},
		}, grpc.MaxCallRecvMsgSize(peers.MaxMessageSize))
		if err != nil {
			t.Fatalf("UnaryCall: %v", err)
		}
		if got := len(resp.GetPayload().GetBody()); got != size {
			t.Fatalf("UnaryCall: payload of %d bytes, want %d", got, size)
		}
	})

	t.Run("StatusCodeAndMessage", func(t *testing.T) {
		for _, msg := range []string{
			"test status message",
			"\t\ntest with whitespace\r\nand Unicode BMP ☺ and non-BMP 😈\t\n",
		} {
			_, err := client.UnaryCall(timeout(t), &testgrpc.SimpleRequest{
				ResponseStatus: &testgrpc.EchoStatus{Code: int32(codes.Unknown), Message: msg},
			})
			checkStatus(t, "UnaryCall", err, codes.Unknown, msg)
		}
		_, err := client.UnaryCall(timeout(t), &testgrpc.SimpleRequest{
			ResponseStatus: &testgrpc.EchoStatus{Code: int32(codes.FailedPrecondition), Message: "precondition"},
		})
		checkStatus(t, "UnaryCall", err, codes.FailedPrecondition, "precondition")
	})

	t.Run("EchoMetadata", func(t *testing.T) {
		const initialValue = "test_initial_metadata_value"
		trailingValue := string([]byte{0xab, 0xab, 0xab})
		ctx := metadata.AppendToOutgoingContext(timeout(t),
			"x-grpc-test-echo-initial", initialValue,
			"x-grpc-test-echo-trailing-bin", trailingValue)
		var header, trailer metadata.MD
		_, err := client.UnaryCall(ctx, &testgrpc.SimpleRequest{ResponseSize: 10},
			grpc.Header(&header), grpc.Trailer(&trailer))
		if err != nil {
			t.Fatalf("UnaryCall: %v", err)
		}
		checkEcho(t, header, trailer, initialValue, trailingValue)

		stream, err := client.FullDuplexCall(ctx)
		if err != nil {
			t.Fatalf("FullDuplexCall: %v", err)
		}
		ping(t, stream, 31415, 27182)
		if err := stream.CloseSend(); err != nil {
			t.Fatalf("CloseSend: %v", err)
		}
		if _, err := stream.Recv(); err != io.EOF {
			t.Fatalf("Recv after CloseSend: %v, want io.EOF", err)
		}
		header, err = stream.Header()
		if err != nil {
			t.Fatalf("Header: %v", err)
		}
		checkEcho(t, header, stream.Trailer(), initialValue, trailingValue)
	})

	t.Run("StreamingOutputCall", func(t *testing.T) {
		sizes := []int32{31415, 9, 2653, 58979}
		req := &testgrpc.StreamingOutputCallRequest{}
		for _, s := range sizes {
			req.ResponseParameters = append(req.ResponseParameters, &testgrpc.ResponseParameters{Size: s, IntervalUs: 1000})
		}
		stream, err := client.StreamingOutputCall(timeout(t), req)
		if err != nil {
			t.Fatalf("StreamingOutputCall: %v", err)
		}
		for i, want := range sizes {
			resp, err := stream.Recv()
			if err != nil {
				t.Fatalf("Recv %d: %v", i, err)
			}
			if got := len(resp.GetPayload().GetBody()); got != int(want) {
				t.Fatalf("Recv %d: payload of %d bytes, want %d", i, got, want)
			}
		}
		if _, err := stream.Recv(); err != io.EOF {
			t.Fatalf("Recv at the end: %v, want io.EOF", err)
		}
	})

	t.Run("StreamingInputCall", func(t *testing.T) {
		stream, err := client.StreamingInputCall(timeout(t))
		if err != nil {
			t.Fatalf("StreamingInputCall: %v", err)
		}
		var sum int32
		for _, s := range []int32{27182, 8, 1828, 45904} {
			if err := stream.Send(&testgrpc.StreamingInputCallRequest{Payload: &testgrpc.Payload{Body: make([]byte, s)}}); err != nil {
				t.Fatalf("Send: %v", err)
			}
			sum += s
		}
		resp, err := stream.CloseAndRecv()
		if err != nil {
			t.Fatalf("CloseAndRecv: %v", err)
		}
		if got := resp.GetAggregatedPayloadSize(); got != sum {
			t.Fatalf("aggregated_payload_size %d, want %d", got, sum)
		}
	})

	t.Run("FullDuplexCall", func(t *testing.T) {
		stream, err := client.FullDuplexCall(timeout(t))
		if err != nil {
			t.Fatalf("FullDuplexCall: %v", err)
		}
		sizes := [][2]int32{{31415, 27182}, {9, 8}, {2653, 1828}, {58979, 45904}}
		for _, s := range sizes {
			ping(t, stream, s[0], s[1])
		}
		if err := stream.CloseSend(); err != nil {
			t.Fatalf("CloseSend: %v", err)
		}
		if _, err := stream.Recv(); err != io.EOF {
			t.Fatalf("Recv after CloseSend: %v, want io.EOF", err)
		}
	})

	t.Run("FullDuplexStatus", func(t *testing.T) {
		stream, err := client.FullDuplexCall(timeout(t))
		if err != nil {
			t.Fatalf("FullDuplexCall: %v", err)
		}
		ping(t, stream, 100, 100)
		const msg = "test status message"
		if err := stream.Send(&testgrpc.StreamingOutputCallRequest{
			ResponseStatus: &testgrpc.EchoStatus{Code: int32(codes.Unknown), Message: msg},
		}); err != nil {
			t.Fatalf("Send: %v", err)
		}
		_, err = stream.Recv()
		checkStatus(t, "FullDuplexCall", err, codes.Unknown, msg)
	})

	t.Run("Unimplemented", func(t *testing.T) {
		_, err := client.UnimplementedCall(timeout(t), &testgrpc.Empty{})
		if status.Code(err) != codes.Unimplemented {
			t.Fatalf("UnimplementedCall: %v, want Unimplemented", err)
		}
	})
}

func dial(t *testing.T, target string) testgrpc.TestServiceClient {
	t.Helper()
	conn, err := grpc.NewClient(target, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatalf("grpc.NewClient(%q): %v", target, err)
	}
	t.Cleanup(func() { conn.Close() })
	return testgrpc.NewTestServiceClient(conn)
}

func timeout(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func ping(t *testing.T, stream testgrpc.TestService_FullDuplexCallClient, respSize, reqSize int32) {
	t.Helper()
	if err := stream.Send(&testgrpc.StreamingOutputCallRequest{
		ResponseParameters: []*testgrpc.ResponseParameters{{Size: respSize}},
		Payload:            &testgrpc.Payload{Body: make([]byte, reqSize)},
	}); err != nil {
		t.Fatalf("Send: %v", err)
	}
	resp, err := stream.Recv()
	if err != nil {
		t.Fatalf("Recv: %v", err)
	}
	if got := len(resp.GetPayload().GetBody()); got != int(respSize) {
		t.Fatalf("Recv: payload of %d bytes, want %d", got, respSize)
	}
}

func checkStatus(t *testing.T, call string, err error, code codes.Code, msg string) {
	t.Helper()
	st, ok := status.FromError(err)
	if err == nil || !ok {
		t.Fatalf("%s: error %v, want a status error", call, err)
	}
	if st.Code() != code || st.Message() != msg {
		t.Fatalf("%s: status %v %q, want %v %q", call, st.Code(), st.Message(), code, msg)
	}
}

func checkEcho(t *testing.T, header, trailer metadata.MD, initial, trailing string) {
	t.Helper()
	if got := header.Get("x-grpc-test-echo-initial"); len(got) != 1 || got[0] != initial {
		t.Errorf("initial metadata x-grpc-test-echo-initial = %q, want [%q]", got, initial)
	}
	if got := trailer.Get("x-grpc-test-echo-trailing-bin"); len(got) != 1 || !bytes.Equal([]byte(got[0]), []byte(trailing)) {
		t.Errorf("trailing metadata x-grpc-test-echo-trailing-bin = %q, want [%q]", got, trailing)
	}
}
