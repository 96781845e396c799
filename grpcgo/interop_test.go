package grpcgo_test

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/grpcactor/grpcactor/channel"
	"github.com/grpcactor/grpcactor/grpcgo"
	"github.com/grpcactor/grpcactor/interceptors"
	"github.com/grpcactor/grpcactor/system_test/peers"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	_ "google.golang.org/grpc/encoding/gzip" // the server's gzip
	"google.golang.org/grpc/interop"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// interopCases are grpc-go's own interop client cases that take a
// TestServiceClient (DoUnimplementedMethod wants a *grpc.ClientConn: its
// equivalent is TestUnimplementedMethod).
var interopCases = []struct {
	name string
	run  func(context.Context, testgrpc.TestServiceClient, ...grpc.CallOption)
}{
	{"empty_unary", interop.DoEmptyUnaryCall},
	{"large_unary", interop.DoLargeUnaryCall},
	{"client_streaming", interop.DoClientStreaming},
	{"server_streaming", interop.DoServerStreaming},
	{"ping_pong", interop.DoPingPong},
	{"empty_stream", interop.DoEmptyStream},
	{"custom_metadata", interop.DoCustomMetadata},
	{"status_code_and_message", interop.DoStatusCodeAndMessage},
	{"special_status_message", interop.DoSpecialStatusMessage},
	{"cancel_after_begin", interop.DoCancelAfterBegin},
	{"cancel_after_first_response", interop.DoCancelAfterFirstResponse},
	{"timeout_on_sleeping_server", interop.DoTimeoutOnSleepingServer},
}

// runCase runs one interop case, turning its Fatal into a test failure.
func runCase(t *testing.T, run func(context.Context, testgrpc.TestServiceClient, ...grpc.CallOption), tc testgrpc.TestServiceClient, opts ...grpc.CallOption) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			if f, ok := r.(fatal); ok {
				if len(f) > 500 {
					f = f[:500] + "..."
				}
				t.Fatalf("interop case failed: %s", f)
			}
			panic(r)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	run(ctx, tc, opts...)
}

func newChannel(t *testing.T, addr string, opts ...channel.Option) *channel.Channel {
	t.Helper()
	ch, err := channel.Insecure(addr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ch.Close() })
	return ch
}

// noop is an interceptor of all four kinds that only passes calls on.
type noop struct{}

func (noop) InterceptUnaryUnary(ctx context.Context, d *interceptors.ClientCallDetails, req any, next interceptors.UnaryInvoker) (any, interceptors.Call, error) {
	return next(ctx, d, req)
}

func TestInteropCases(t *testing.T) {
	addr := peers.StartGoInterop(t)
	ch := newChannel(t, addr)
	ich, err := channel.Intercept(ch, noop{})
	if err != nil {
		t.Fatal(err)
	}
	variants := []struct {
		name string
		ch   *channel.Channel
		opts []grpc.CallOption
	}{
		{"plain", ch, nil},
		{"gzip", ch, []grpc.CallOption{grpc.UseCompressor("gzip")}},
		{"all_options", ch, []grpc.CallOption{grpc.WaitForReady(true), grpc.CallContentSubtype("proto"),
			grpc.MaxCallRecvMsgSize(1 << 20), grpc.MaxCallSendMsgSize(1 << 20), grpc.StaticMethod()}},
		{"intercepted", ich, []grpc.CallOption{grpc.MaxCallRecvMsgSize(1 << 20)}},
	}
	for _, v := range variants {
		tc := testgrpc.NewTestServiceClient(grpcgo.NewClientConn(v.ch))
		for _, c := range interopCases {
			t.Run(v.name+"/"+c.name, func(t *testing.T) { runCase(t, c.run, tc, v.opts...) })
		}
	}
}

func TestUnimplemented(t *testing.T) {
	addr := peers.StartGoInterop(t)
	cc := grpcgo.NewClientConn(newChannel(t, addr))
	ctx := context.Background()
	// DoUnimplementedMethod's call, on this ClientConnInterface.
	err := cc.Invoke(ctx, "/grpc.testing.TestService/UnimplementedCall", &testgrpc.Empty{}, &testgrpc.Empty{})
	if status.Code(err) != codes.Unimplemented {
		t.Errorf("UnimplementedCall: %v", err)
	}
	runCase(t, func(ctx context.Context, _ testgrpc.TestServiceClient, _ ...grpc.CallOption) {
		interop.DoUnimplementedService(ctx, testgrpc.NewUnimplementedServiceClient(cc))
	}, nil)
}

// TestErrorsAreGRPCGos checks codes, messages, text and details of the
// errors against grpc-go's status package.
func TestErrorsAreGRPCGos(t *testing.T) {
	want, err := status.New(codes.InvalidArgument, "bad name").WithDetails(&errdetails.BadRequest{
		FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: "name", Description: "empty"}}})
	if err != nil {
		t.Fatal(err)
	}
	addr := peers.StartGoInteropOpts(t, grpc.UnknownServiceHandler(func(any, grpc.ServerStream) error { return want.Err() }))
	cc := grpcgo.NewClientConn(newChannel(t, addr))
	err = cc.Invoke(context.Background(), "/x.Y/Z", &testgrpc.Empty{}, &testgrpc.Empty{})
	got, ok := status.FromError(err)
	if !ok || got.Code() != codes.InvalidArgument || got.Message() != "bad name" || err.Error() != want.Err().Error() {
		t.Fatalf("err = %v (%T)", err, err)
	}
	if ds := got.Details(); len(ds) != 1 || ds[0].(*errdetails.BadRequest).GetFieldViolations()[0].GetField() != "name" {
		t.Errorf("Details() = %v", ds)
	}
	// A local failure: the channel's status, in grpc-go's form.
	closed := newChannel(t, addr)
	closed.Close()
	err = grpcgo.NewClientConn(closed).Invoke(context.Background(), "/x.Y/Z", &testgrpc.Empty{}, &testgrpc.Empty{})
	if got, ok := status.FromError(err); !ok || !strings.HasPrefix(err.Error(), "rpc error: code = "+got.Code().String()+" desc = ") {
		t.Errorf("closed channel: %v", err)
	}
}

func TestRejectedOptions(t *testing.T) {
	cc := grpcgo.NewClientConn(newChannel(t, "127.0.0.1:1"))
	for _, o := range []grpc.CallOption{grpc.Peer(nil), grpc.OnFinish(func(error) {}), grpc.MaxRetryRPCBufferSize(1), grpc.CallAuthority("x")} {
		err := cc.Invoke(context.Background(), "/x.Y/Z", &testgrpc.Empty{}, &testgrpc.Empty{}, o)
		name := strings.TrimPrefix(strings.Split(strings.TrimPrefix(fmt.Sprintf("%T", o), "grpc."), ".")[0], "")
		if status.Code(err) != codes.Internal || !strings.Contains(err.Error(), "grpc."+name) {
			t.Errorf("%T: %v", o, err)
		}
		if _, err := cc.NewStream(context.Background(), &grpc.StreamDesc{ServerStreams: true}, "/x.Y/Z", o); status.Code(err) != codes.Internal {
			t.Errorf("NewStream %T: %v", o, err)
		}
	}
	for _, o := range []grpc.CallOption{grpc.UseCompressor("snappy"), grpc.CallContentSubtype("json")} {
		if err := cc.Invoke(context.Background(), "/x.Y/Z", &testgrpc.Empty{}, &testgrpc.Empty{}, o); status.Code(err) != codes.Internal {
			t.Errorf("%#v: %v", o, err)
		}
	}
}

func TestHonouredOptions(t *testing.T) {
	var mu sync.Mutex
	var contentTypes []string
	addr := peers.StartGoInteropOpts(t, grpc.UnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		md, _ := metadata.FromIncomingContext(ctx)
		mu.Lock()
		contentTypes = append(contentTypes, md.Get("content-type")...)
		mu.Unlock()
		return h(ctx, req)
	}))
	tc := testgrpc.NewTestServiceClient(grpcgo.NewClientConn(newChannel(t, addr)))
	ctx := context.Background()
	large := &testgrpc.SimpleRequest{ResponseSize: 5 << 20}

	t.Run("content_subtype", func(t *testing.T) {
		mu.Lock()
		contentTypes = nil
		mu.Unlock()
		if _, err := tc.EmptyCall(ctx, &testgrpc.Empty{}, grpc.CallContentSubtype("proto")); err != nil {
			t.Fatal(err)
		}
		if _, err := tc.EmptyCall(ctx, &testgrpc.Empty{}); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		defer mu.Unlock()
		if strings.Join(contentTypes, " ") != "application/grpc+proto application/grpc" {
			t.Errorf("content-types = %q", contentTypes)
		}
	})
	t.Run("max_recv", func(t *testing.T) {
		if _, err := tc.UnaryCall(ctx, large); status.Code(err) != codes.ResourceExhausted {
			t.Errorf("5 MiB over the channel's 4 MiB: %v", err)
		}
		if _, err := tc.UnaryCall(ctx, large, grpc.MaxCallRecvMsgSize(6<<20)); err != nil {
			t.Errorf("5 MiB with MaxCallRecvMsgSize(6 MiB): %v", err)
		}
		if _, err := tc.UnaryCall(ctx, &testgrpc.SimpleRequest{ResponseSize: 100}, grpc.MaxCallRecvMsgSize(50)); status.Code(err) != codes.ResourceExhausted {
			t.Errorf("100 bytes with MaxCallRecvMsgSize(50): %v", err)
		}
		ich, err := channel.Intercept(newChannel(t, addr), noop{})
		if err != nil {
			t.Fatal(err)
		}
		itc := testgrpc.NewTestServiceClient(grpcgo.NewClientConn(ich))
		if _, err := itc.UnaryCall(ctx, &testgrpc.SimpleRequest{ResponseSize: 100}, grpc.MaxCallRecvMsgSize(50)); status.Code(err) != codes.ResourceExhausted {
			t.Errorf("intercepted channel: 100 bytes with MaxCallRecvMsgSize(50): %v", err)
		}
		if _, err := itc.UnaryCall(ctx, large, grpc.MaxCallRecvMsgSize(6<<20)); err != nil {
			t.Errorf("intercepted channel: 5 MiB with MaxCallRecvMsgSize(6 MiB): %v", err)
		}
		s, err := tc.StreamingOutputCall(ctx, &testgrpc.StreamingOutputCallRequest{ResponseParameters: []*testgrpc.ResponseParameters{{Size: 100}}}, grpc.MaxCallRecvMsgSize(50))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Recv(); status.Code(err) != codes.ResourceExhausted {
			t.Errorf("stream: 100 bytes with MaxCallRecvMsgSize(50): %v", err)
		}
	})
	t.Run("max_send", func(t *testing.T) {
		req := &testgrpc.SimpleRequest{Payload: &testgrpc.Payload{Body: make([]byte, 100)}}
		_, err := tc.UnaryCall(ctx, req, grpc.MaxCallSendMsgSize(50))
		if status.Code(err) != codes.ResourceExhausted || !strings.Contains(err.Error(), "larger than max") {
			t.Errorf("100 bytes with MaxCallSendMsgSize(50): %v", err)
		}
	})
	t.Run("per_rpc_credentials", func(t *testing.T) {
		var header metadata.MD
		creds := tokenCreds{md: map[string]string{"x-grpc-test-echo-initial": "from-creds"}}
		if _, err := tc.UnaryCall(ctx, &testgrpc.SimpleRequest{}, grpc.PerRPCCredentials(creds), grpc.Header(&header)); err != nil {
			t.Fatal(err)
		}
		if got := header.Get("x-grpc-test-echo-initial"); len(got) != 1 || got[0] != "from-creds" {
			t.Errorf("echoed %q", got)
		}
		creds.secure = true
		if _, err := tc.EmptyCall(ctx, &testgrpc.Empty{}, grpc.PerRPCCredentials(creds)); status.Code(err) != codes.Unauthenticated {
			t.Errorf("secure credentials on a plaintext channel: %v", err)
		}
	})
	t.Run("outgoing_metadata_header_trailer", func(t *testing.T) {
		var header, trailer metadata.MD
		mctx := metadata.AppendToOutgoingContext(ctx, "x-grpc-test-echo-initial", "i", "x-grpc-test-echo-trailing-bin", "\x01\x02")
		if _, err := tc.UnaryCall(mctx, &testgrpc.SimpleRequest{}, grpc.Header(&header), grpc.Trailer(&trailer)); err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(header.Get("x-grpc-test-echo-initial"), trailer.Get("x-grpc-test-echo-trailing-bin")) != "[i] [\x01\x02]" {
			t.Errorf("header %v, trailer %v", header, trailer)
		}
	})
	t.Run("wait_for_ready", func(t *testing.T) {
		down := testgrpc.NewTestServiceClient(grpcgo.NewClientConn(newChannel(t, "127.0.0.1:1")))
		if _, err := down.EmptyCall(ctx, &testgrpc.Empty{}); status.Code(err) != codes.Unavailable {
			t.Errorf("fail-fast: %v", err)
		}
		tctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		if _, err := down.EmptyCall(tctx, &testgrpc.Empty{}, grpc.WaitForReady(true)); status.Code(err) != codes.DeadlineExceeded {
			t.Errorf("wait-for-ready: %v", err)
		}
	})
}

type tokenCreds struct {
	md     map[string]string
	secure bool
}

func (c tokenCreds) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return c.md, nil
}
func (c tokenCreds) RequireTransportSecurity() bool { return c.secure }

// TestNonServerStreamingRecv checks RecvMsg on a client-streaming call as
// grpc-go has it: one response, then io.EOF; no response at all is a
// cardinality violation.
func TestNonServerStreamingRecv(t *testing.T) {
	addr := peers.StartGoInteropOpts(t, grpc.UnknownServiceHandler(func(_ any, stream grpc.ServerStream) error {
		var req testgrpc.Empty
		if err := stream.RecvMsg(&req); err != nil && err != io.EOF {
			return err
		}
		return nil // OK without a response
	}))
	cc := grpcgo.NewClientConn(newChannel(t, addr))
	s, err := cc.NewStream(context.Background(), &grpc.StreamDesc{ClientStreams: true}, "/x.Y/Z")
	if err != nil {
		t.Fatal(err)
	}
	s.CloseSend()
	if err := s.RecvMsg(&testgrpc.Empty{}); status.Code(err) != codes.Internal || !strings.Contains(err.Error(), "cardinality violation") {
		t.Errorf("no response: %v", err)
	}

	tc := testgrpc.NewTestServiceClient(grpcgo.NewClientConn(newChannel(t, peers.StartGoInterop(t))))
	cs, err := tc.StreamingInputCall(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CloseAndRecv(); err != nil {
		t.Fatal(err)
	}
	if err := cs.RecvMsg(&testgrpc.StreamingInputCallResponse{}); err != io.EOF {
		t.Errorf("RecvMsg after the response: %v, want io.EOF", err)
	}
	if tr := cs.Trailer(); tr == nil {
		t.Error("no trailer after the end of the call")
	}
}
