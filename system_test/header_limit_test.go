package system_test

import (
	"io"
	"strings"
	"testing"

	"google.golang.org/grpc"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"

	"github.com/grpcactor/grpcactor/channel"
	"github.com/grpcactor/grpcactor/codes"
)

// TestServerMaxHeaderListSize: against a grpc-go server that advertises
// SETTINGS_MAX_HEADER_LIST_SIZE 8 KiB, a call with 16 KiB of metadata
// fails INTERNAL before anything is sent (as grpc-go's client fails it),
// and a server stream in flight on the same connection completes.
func TestServerMaxHeaderListSize(t *testing.T) {
	addr := startServer(t, serverConfig{Opts: []grpc.ServerOption{grpc.MaxHeaderListSize(8 << 10)}}).Addr()
	s := dialStubs(t, addr)
	ctx := tctx(t)

	// A bidirectional stream the server cannot end before the client half-closes.
	bs, err := s.duplex.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	echo := func(n int32) {
		t.Helper()
		if err := bs.Send(&outReq{ResponseParameters: []*testgrpc.ResponseParameters{{Size: n}}}); err != nil {
			t.Fatalf("Send: %v", err)
		}
		r, err := bs.Recv()
		if err != nil {
			t.Fatalf("Recv: %v", err)
		}
		checkPayload(t, "stream response", r.GetPayload(), int(n))
	}
	echo(10)

	// A server stream in flight: the first message read, the rest to come.
	rs, err := s.streamOut.Call(ctx, serverStreamReq([]int{1, 2, 3}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rs.Recv(); err != nil {
		t.Fatalf("server stream: first Recv: %v", err)
	}

	md := channel.Metadata(map[string][]string{"big": {strings.Repeat("x", 16<<10)}})
	_, err = s.empty.Call(ctx, &empty{}, md)
	wantStatus(t, "call with 16 KiB of metadata", err, codes.Internal, "header list size to send violates the maximum size (8192 bytes)")

	for i := 2; i <= 3; i++ {
		r, err := rs.Recv()
		if err != nil {
			t.Fatalf("server stream: Recv %d after the failed call: %v", i, err)
		}
		checkPayload(t, "server stream response", r.GetPayload(), i)
	}
	if _, err := rs.Recv(); err != io.EOF {
		t.Fatalf("server stream end: %v, want io.EOF", err)
	}
	echo(20)
	if err := bs.CloseSend(); err != nil {
		t.Fatal(err)
	}
	if _, err := bs.Recv(); err != io.EOF {
		t.Fatalf("bidirectional stream end: %v, want io.EOF", err)
	}
	if _, err := s.empty.Call(ctx, &empty{}); err != nil {
		t.Fatalf("a call after the refused one: %v", err)
	}
}

// TestClientMaxHeaderListSize: with channel.WithMaxHeaderListSize(8 KiB)
// the client advertises SETTINGS_MAX_HEADER_LIST_SIZE 8192; a grpc-go
// server asked to echo 16 KiB of trailing metadata cannot send trailers
// that large, so the call fails INTERNAL (grpc-go's server resets the
// stream with INTERNAL_ERROR; a server that sent them anyway would meet
// the client's own check, also INTERNAL), and the connection goes on:
// calls with small trailers before and after succeed. Without the option
// the same call succeeds.
func TestClientMaxHeaderListSize(t *testing.T) {
	addr := startServer(t, serverConfig{}).Addr()
	ctx := tctx(t)
	big := channel.Metadata(map[string][]string{trailingMetadataKey: {strings.Repeat("x", 16<<10)}})
	small := channel.Metadata(map[string][]string{trailingMetadataKey: {"small"}})

	s := dialStubs(t, addr, channel.WithMaxHeaderListSize(8<<10))
	if _, err := s.unary.Call(ctx, &simpleReq{}, small); err != nil {
		t.Fatalf("call with small trailers: %v", err)
	}
	_, err := s.unary.Call(ctx, &simpleReq{}, big)
	wantStatusContains(t, "call with 16 KiB of trailers over an 8 KiB limit", err, codes.Internal, "INTERNAL_ERROR")
	for i := range 3 {
		if _, err := s.unary.Call(ctx, &simpleReq{}, small); err != nil {
			t.Fatalf("call %d after the oversized trailers: %v", i, err)
		}
	}

	// The option key does the same.
	s2 := dialStubs(t, addr, channel.WithOption("grpc.max_metadata_size", 8<<10))
	_, err = s2.unary.Call(ctx, &simpleReq{}, big)
	wantStatus(t, "grpc.max_metadata_size 8192", err, codes.Internal, "")

	// The default limit (16 MiB) lets them through.
	s3 := dialStubs(t, addr)
	if _, err := s3.unary.Call(ctx, &simpleReq{}, big); err != nil {
		t.Fatalf("16 KiB of trailers with the default limit: %v", err)
	}
}
