package actors_test

import (
	"context"
	"encoding/binary"
	"net"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/interop"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
)

const (
	streamingOutputCall = "/grpc.testing.TestService/StreamingOutputCall"
	fullDuplexCall      = "/grpc.testing.TestService/FullDuplexCall"
	streamingInputCall  = "/grpc.testing.TestService/StreamingInputCall"
)

// testServer is grpc-go's interop TestService with three test behaviours:
// a UnaryCall with FillUsername is held until its context ends; a
// StreamingOutputCall whose payload body is "bulk" sends bulkCount
// messages of bulkSize bytes (the first four the message's index),
// counting them; a FullDuplexCall with metadata "x-stop-reading" reads
// nothing until its context ends.
type testServer struct {
	testgrpc.TestServiceServer
	held      chan struct{} // one per held call, when it is held
	cancelled atomic.Int64  // held calls whose context ended
	sent      atomic.Int64  // bulk messages sent
}

const (
	bulkCount = 10000
	bulkSize  = 4096
)

func (s *testServer) UnaryCall(ctx context.Context, req *testgrpc.SimpleRequest) (*testgrpc.SimpleResponse, error) {
	if req.GetFillUsername() {
		s.held <- struct{}{}
		<-ctx.Done()
		s.cancelled.Add(1)
		return nil, ctx.Err()
	}
	return s.TestServiceServer.UnaryCall(ctx, req)
}

func (s *testServer) StreamingOutputCall(req *testgrpc.StreamingOutputCallRequest, stream testgrpc.TestService_StreamingOutputCallServer) error {
	if string(req.GetPayload().GetBody()) != "bulk" {
		return s.TestServiceServer.StreamingOutputCall(req, stream)
	}
	for i := range bulkCount {
		body := make([]byte, bulkSize)
		binary.BigEndian.PutUint32(body, uint32(i))
		if err := stream.Send(&testgrpc.StreamingOutputCallResponse{Payload: &testgrpc.Payload{Body: body}}); err != nil {
			return err
		}
		s.sent.Add(1)
	}
	return nil
}

func (s *testServer) FullDuplexCall(stream testgrpc.TestService_FullDuplexCallServer) error {
	md, _ := metadata.FromIncomingContext(stream.Context())
	if len(md.Get("x-stop-reading")) > 0 {
		s.held <- struct{}{}
		<-stream.Context().Done()
		return stream.Context().Err()
	}
	return s.TestServiceServer.FullDuplexCall(stream)
}

// startTestServer runs testServer on loopback with fixed 64 KiB receive
// windows (no BDP growth), so that a stream that is not read fills up.
func startTestServer(t testing.TB) (*testServer, string) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{TestServiceServer: interop.NewTestServer(), held: make(chan struct{}, 20000)}
	s := grpc.NewServer(grpc.InitialWindowSize(65535), grpc.InitialConnWindowSize(65535))
	testgrpc.RegisterTestServiceServer(s, ts)
	go s.Serve(lis)
	t.Cleanup(s.Stop)
	return ts, lis.Addr().String()
}
