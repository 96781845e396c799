package channel_test

import (
	"context"
	"io"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/grpcactor/grpcactor/channel"
	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/status"
	"github.com/grpcactor/grpcactor/system_test/peers"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
)

const svc = "/grpc.testing.TestService/"

func TestFourCallKinds(t *testing.T) {
	addr := peers.StartGoInterop(t)
	ch, err := channel.Insecure(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	ctx := context.Background()

	unary := channel.UnaryUnary[*testgrpc.SimpleRequest, *testgrpc.SimpleResponse](ch, svc+"UnaryCall")
	resp, err := unary.Call(ctx, &testgrpc.SimpleRequest{ResponseSize: 314159, Payload: &testgrpc.Payload{Body: make([]byte, 271828)}})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(resp.GetPayload().GetBody()); n != 314159 {
		t.Fatalf("unary body %d", n)
	}
	_, err = unary.Call(ctx, &testgrpc.SimpleRequest{ResponseStatus: &testgrpc.EchoStatus{Code: 2, Message: "test status message"}})
	if st, _ := status.FromError(err); st.Code() != codes.Unknown || st.Details() != "test status message" {
		t.Fatalf("status: %v", err)
	}

	ss := channel.UnaryStream[*testgrpc.StreamingOutputCallRequest, *testgrpc.StreamingOutputCallResponse](ch, svc+"StreamingOutputCall")
	sizes := []int32{31415, 9, 2653, 58979}
	req := &testgrpc.StreamingOutputCallRequest{}
	for _, s := range sizes {
		req.ResponseParameters = append(req.ResponseParameters, &testgrpc.ResponseParameters{Size: s})
	}
	rs, err := ss.Call(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	var got []int32
	for r, err := range rs.All() {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, int32(len(r.GetPayload().GetBody())))
	}
	if !slices.Equal(got, sizes) || rs.Code() != codes.OK {
		t.Fatalf("server streaming got %v code %v", got, rs.Code())
	}

	cstream := channel.StreamUnary[*testgrpc.StreamingInputCallRequest, *testgrpc.StreamingInputCallResponse](ch, svc+"StreamingInputCall")
	reqs := func(yield func(*testgrpc.StreamingInputCallRequest) bool) {
		for _, n := range []int{27182, 8, 1828, 45904} {
			if !yield(&testgrpc.StreamingInputCallRequest{Payload: &testgrpc.Payload{Body: make([]byte, n)}}) {
				return
			}
		}
	}
	cr, err := cstream.Call(ctx, reqs)
	if err != nil || cr.GetAggregatedPayloadSize() != 74922 {
		t.Fatalf("client streaming %v %v", cr, err)
	}

	bidi := channel.StreamStream[*testgrpc.StreamingOutputCallRequest, *testgrpc.StreamingOutputCallResponse](ch, svc+"FullDuplexCall")
	bs, err := bidi.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i, n := range []int32{31415, 9, 2653, 58979} {
		if err := bs.Send(&testgrpc.StreamingOutputCallRequest{ResponseParameters: []*testgrpc.ResponseParameters{{Size: n}}, Payload: &testgrpc.Payload{Body: make([]byte, 100*i)}}); err != nil {
			t.Fatal(err)
		}
		r, err := bs.Recv()
		if err != nil || int32(len(r.GetPayload().GetBody())) != n {
			t.Fatalf("ping %d: %v %v", i, err, r)
		}
	}
	bs.CloseSend()
	if _, err := bs.Recv(); err != io.EOF {
		t.Fatalf("bidi end %v", err)
	}
}

func TestRequestIteratorFailures(t *testing.T) {
	addr := peers.StartGoInterop(t)
	ch, err := channel.Insecure(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cstream := channel.StreamUnary[*testgrpc.StreamingInputCallRequest, *testgrpc.StreamingInputCallResponse](ch, svc+"StreamingInputCall")
	tests := []struct {
		name string
		seq  func(func(*testgrpc.StreamingInputCallRequest) bool)
		want string
	}{
		{"panics", func(yield func(*testgrpc.StreamingInputCallRequest) bool) {
			yield(&testgrpc.StreamingInputCallRequest{})
			panic("boom")
		}, "request iterator panicked: boom"},
		{"abandons its goroutine", func(yield func(*testgrpc.StreamingInputCallRequest) bool) {
			yield(&testgrpc.StreamingInputCallRequest{})
			runtime.Goexit()
		}, "request iterator was abandoned"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := cstream.Call(ctx, tt.seq)
			st, _ := status.FromError(err)
			if st == nil || st.Code() != codes.Unknown || !strings.Contains(st.Details(), tt.want) {
				t.Fatalf("err = %v, want UNKNOWN %q", err, tt.want)
			}
		})
	}
}
