package channel_test

import (
	"context"
	"io"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
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

// heldCtx is a context whose AfterFunc callbacks wait for release after
// it ends: a call's context watcher (context.AfterFunc uses the method)
// is held back while the test goes on.
type heldCtx struct {
	context.Context
	done, release chan struct{}
	wg            sync.WaitGroup
}

func newHeldCtx() *heldCtx {
	return &heldCtx{Context: context.Background(), done: make(chan struct{}), release: make(chan struct{})}
}

func (c *heldCtx) Done() <-chan struct{} { return c.done }

func (c *heldCtx) Err() error {
	select {
	case <-c.done:
		return context.Canceled
	default:
		return nil
	}
}

func (c *heldCtx) AfterFunc(f func()) func() bool {
	var stopped atomic.Bool
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		<-c.done
		<-c.release
		if !stopped.Swap(true) {
			f()
		}
	}()
	return func() bool { return !stopped.Swap(true) }
}

// TestCancelBeforeSendOrRecv cancels a streaming call's context and then
// sends or receives at once, on the same goroutine, while the context's
// watcher is held back: the call still ends CANCELLED, although the server
// answers a client stream of no messages OK at once (interop's
// cancel_after_begin, which failed so once in CI, when the watcher's
// goroutine ran late).
func TestCancelBeforeSendOrRecv(t *testing.T) {
	addr := peers.StartGoInterop(t)
	ch, err := channel.Insecure(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	cstream := channel.StreamUnary[*testgrpc.StreamingInputCallRequest, *testgrpc.StreamingInputCallResponse](ch, svc+"StreamingInputCall")
	for _, send := range []bool{false, true} {
		ctx := newHeldCtx()
		cs, err := cstream.Open(ctx)
		if err != nil {
			t.Fatal(err)
		}
		close(ctx.done) // cancelled; the watcher waits for release
		if send {
			if err := cs.Send(&testgrpc.StreamingInputCallRequest{}); err != io.EOF {
				t.Errorf("Send after cancel: %v, want io.EOF (the status comes from the receive)", err)
			}
		}
		_, err = cs.CloseAndRecv()
		if st, _ := status.FromError(err); st == nil || st.Code() != codes.Canceled {
			t.Errorf("send %v: CloseAndRecv after cancel: %v, want CANCELLED", send, err)
		}
		if c := cs.Code(); c != codes.Canceled {
			t.Errorf("send %v: Code %v, want CANCELLED", send, c)
		}
		close(ctx.release)
		ctx.wg.Wait()
	}
}
