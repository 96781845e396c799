package channel_test

import (
	"context"
	"iter"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/grpcactor/grpcactor/channel"
	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/interceptors"
	"github.com/grpcactor/grpcactor/metadata"
	"github.com/grpcactor/grpcactor/status"
	"github.com/grpcactor/grpcactor/system_test/peers"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
)

// passAll is an interceptor of every kind that counts the calls it sees
// and passes them on.
type passAll struct{ n chan string }

func (p passAll) InterceptUnaryUnary(ctx context.Context, d *interceptors.ClientCallDetails, req any, next interceptors.UnaryInvoker) (any, interceptors.Call, error) {
	p.n <- "uu"
	return next(ctx, d, req)
}
func (p passAll) InterceptUnaryStream(ctx context.Context, d *interceptors.ClientCallDetails, req any, next interceptors.UnaryStreamInvoker) (interceptors.ClientStream, error) {
	p.n <- "us"
	return next(ctx, d, req)
}
func (p passAll) InterceptStreamUnary(ctx context.Context, d *interceptors.ClientCallDetails, reqs iter.Seq[any], next interceptors.StreamUnaryInvoker) (any, interceptors.Call, error) {
	p.n <- "su"
	return next(ctx, d, reqs)
}
func (p passAll) InterceptStreamStream(ctx context.Context, d *interceptors.ClientCallDetails, reqs iter.Seq[any], next interceptors.StreamStreamInvoker) (interceptors.ClientStream, error) {
	p.n <- "ss"
	return next(ctx, d, reqs)
}

// Start on every kind of call, on a plain and on an intercepted channel:
// callbacks in order, demand respected, send credit before sends.
func TestStartEveryKind(t *testing.T) {
	addr := peers.StartGoInterop(t)
	base, err := channel.Insecure(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer base.Close()
	seen := make(chan string, 16)
	icd, err := channel.Intercept(base, passAll{seen})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		ch   *channel.Channel
		ic   bool
	}{{"plain", base, false}, {"intercepted", icd, true}} {
		t.Run(tc.name, func(t *testing.T) {
			ch := tc.ch
			ctx := context.Background()

			// Unary, OK and failed.
			type res struct {
				n   int
				err error
			}
			out := make(chan res, 2)
			uu := channel.UnaryUnary[*testgrpc.SimpleRequest, *testgrpc.SimpleResponse](ch, svc+"UnaryCall")
			uu.Start(ctx, &testgrpc.SimpleRequest{ResponseSize: 11}, func(r *testgrpc.SimpleResponse, c *channel.Call, err error) {
				out <- res{len(r.GetPayload().GetBody()), err}
			}, channel.Timeout(time.Minute))
			if r := <-out; r.err != nil || r.n != 11 {
				t.Fatalf("unary Start: %d bytes, %v", r.n, r.err)
			}
			uu.Start(ctx, &testgrpc.SimpleRequest{ResponseStatus: &testgrpc.EchoStatus{Code: 5, Message: "nope"}}, func(r *testgrpc.SimpleResponse, c *channel.Call, err error) {
				out <- res{0, err}
			})
			if r := <-out; status.Code(r.err) != codes.NotFound {
				t.Fatalf("unary Start: %v, want NOT_FOUND", r.err)
			}

			// Server streaming with a demand of 1.
			var sizes []int
			hdr := false
			ended := make(chan error, 1)
			granted := make(chan struct{}, 8)
			req := &testgrpc.StreamingOutputCallRequest{}
			for _, n := range []int32{1, 2, 3, 4} {
				req.ResponseParameters = append(req.ResponseParameters, &testgrpc.ResponseParameters{Size: n})
			}
			us := channel.UnaryStream[*testgrpc.StreamingOutputCallRequest, *testgrpc.StreamingOutputCallResponse](ch, svc+"StreamingOutputCall")
			sc := us.Start(ctx, req, channel.StreamHandler[*testgrpc.StreamingOutputCallResponse]{
				Demand:   1,
				OnHeader: func(metadata.MD) { hdr = true },
				OnMessage: func(r *testgrpc.StreamingOutputCallResponse) {
					sizes = append(sizes, len(r.GetPayload().GetBody()))
					granted <- struct{}{}
				},
				OnEnd: func(c *channel.Call, err error) { ended <- err },
			}, channel.Timeout(time.Minute))
			for range 4 {
				<-granted
				sc.Request(1)
			}
			if err := <-ended; err != nil || !slices.Equal(sizes, []int{1, 2, 3, 4}) || !hdr {
				t.Fatalf("server stream Start: %v after %v (headers %v)", err, sizes, hdr)
			}

			// Client streaming: send on credit.
			su := channel.StreamUnary[*testgrpc.StreamingInputCallRequest, *testgrpc.StreamingInputCallResponse](ch, svc+"StreamingInputCall")
			credit := make(chan int, 4)
			var agg int32
			cs := su.Start(ctx, channel.StreamHandler[*testgrpc.StreamingInputCallResponse]{
				OnSendCredit: func(n int) { credit <- n },
				OnMessage:    func(r *testgrpc.StreamingInputCallResponse) { agg = r.GetAggregatedPayloadSize() },
				OnEnd:        func(c *channel.Call, err error) { ended <- err },
			}, channel.Timeout(time.Minute))
			if n := <-credit; n != channel.DefaultSendCredit {
				t.Fatalf("first credit %d", n)
			}
			for _, n := range []int{3, 4} {
				if err := cs.Send(&testgrpc.StreamingInputCallRequest{Payload: &testgrpc.Payload{Body: make([]byte, n)}}); err != nil {
					t.Fatal(err)
				}
			}
			_ = cs.CloseSend()
			if err := <-ended; err != nil || agg != 7 {
				t.Fatalf("client stream Start: %v, aggregated %d", err, agg)
			}

			// Bidirectional: echo.
			ss := channel.StreamStream[*testgrpc.StreamingOutputCallRequest, *testgrpc.StreamingOutputCallResponse](ch, svc+"FullDuplexCall")
			sizes = nil
			bs := ss.Start(ctx, channel.StreamHandler[*testgrpc.StreamingOutputCallResponse]{
				OnSendCredit: func(n int) { credit <- n },
				OnMessage:    func(r *testgrpc.StreamingOutputCallResponse) { sizes = append(sizes, len(r.GetPayload().GetBody())) },
				OnEnd:        func(c *channel.Call, err error) { ended <- err },
			}, channel.Timeout(time.Minute))
			<-credit
			for _, n := range []int32{5, 6} {
				if err := bs.Send(&testgrpc.StreamingOutputCallRequest{ResponseParameters: []*testgrpc.ResponseParameters{{Size: n}}}); err != nil {
					t.Fatal(err)
				}
			}
			_ = bs.CloseSend()
			if err := <-ended; err != nil || !slices.Equal(sizes, []int{5, 6}) {
				t.Fatalf("bidi Start: %v after %v", err, sizes)
			}
			if tc.ic {
				var kinds []string
				for len(seen) > 0 {
					kinds = append(kinds, <-seen)
				}
				if !slices.Equal(kinds, []string{"uu", "uu", "us", "su", "ss"}) {
					t.Errorf("the interceptor saw %v", kinds)
				}
			}
		})
	}
}

// Cancel and the deadline end a started call.
func TestStartCancelAndDeadline(t *testing.T) {
	addr := peers.StartGoInterop(t)
	ch, err := channel.Insecure(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	ss := channel.StreamStream[*testgrpc.StreamingOutputCallRequest, *testgrpc.StreamingOutputCallResponse](ch, svc+"FullDuplexCall")
	ended := make(chan error, 2)
	h := channel.StreamHandler[*testgrpc.StreamingOutputCallResponse]{OnEnd: func(c *channel.Call, err error) { ended <- err }}
	c := ss.Start(context.Background(), h)
	c.Cancel()
	if err := <-ended; status.Code(err) != codes.Canceled {
		t.Errorf("cancelled: %v", err)
	}
	ss.Start(context.Background(), h, channel.Timeout(50*time.Millisecond))
	if err := <-ended; status.Code(err) != codes.DeadlineExceeded {
		t.Errorf("deadline: %v", err)
	}
}

// A started call's callback never runs inside one of the runtime's actors:
// a done callback that closes the channel (which waits for the channel
// actor) returns, where it deadlocked when the channel actor itself ran
// it while answering the call's pick.
func TestStartCallbackMayCloseTheChannel(t *testing.T) {
	ch, err := channel.Insecure("127.0.0.1:1") // refused: the pick fails fast in TRANSIENT_FAILURE
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	uu := channel.UnaryUnary[*testgrpc.SimpleRequest, *testgrpc.SimpleResponse](ch, svc+"UnaryCall")
	closed := make(chan error, 1)
	uu.Start(context.Background(), &testgrpc.SimpleRequest{}, func(_ *testgrpc.SimpleResponse, _ *channel.Call, err error) {
		if status.Code(err) != codes.Unavailable {
			t.Errorf("call: %v, want UNAVAILABLE", err)
		}
		closed <- ch.Close()
	})
	select {
	case err := <-closed:
		if err != nil {
			t.Fatalf("Close from the callback: %v", err)
		}
	case <-time.After(20 * time.Second): // a failure bound, not a timing
		t.Fatal("Close from a started call's callback did not return: the callback ran inside the channel actor")
	}
}

// A panic in a client-streaming call's OnMessage does not cost the caller
// its OnEnd: the call ends for it INTERNAL, naming the panic.
func TestStartClientStreamOnMessagePanic(t *testing.T) {
	ch, err := channel.Insecure(peers.StartGoInterop(t))
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	su := channel.StreamUnary[*testgrpc.StreamingInputCallRequest, *testgrpc.StreamingInputCallResponse](ch, svc+"StreamingInputCall")
	credit, ended := make(chan int, 4), make(chan error, 1)
	cs := su.Start(context.Background(), channel.StreamHandler[*testgrpc.StreamingInputCallResponse]{
		OnSendCredit: func(n int) { credit <- n },
		OnMessage:    func(*testgrpc.StreamingInputCallResponse) { panic("boom") },
		OnEnd:        func(_ *channel.Call, err error) { ended <- err },
	}, channel.Timeout(time.Minute))
	<-credit
	if err := cs.Send(&testgrpc.StreamingInputCallRequest{}); err != nil {
		t.Fatal(err)
	}
	_ = cs.CloseSend()
	err = <-ended
	if st, _ := status.FromError(err); st.Code() != codes.Internal || !strings.Contains(st.Details(), "OnMessage callback") || !strings.Contains(st.Details(), "boom") {
		t.Fatalf("OnEnd got %v, want INTERNAL naming the OnMessage panic", err)
	}
}

// A server stream whose demand covers exactly its messages ends without
// more demand: completion needs none (as in Reactive Streams), on a plain
// and on an intercepted channel.
func TestStartStreamEndsWithoutExtraDemand(t *testing.T) {
	addr := peers.StartGoInterop(t)
	base, err := channel.Insecure(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer base.Close()
	icd, err := channel.Intercept(base, passAll{make(chan string, 16)})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		ch   *channel.Channel
	}{{"plain", base}, {"intercepted", icd}} {
		t.Run(tc.name, func(t *testing.T) {
			req := &testgrpc.StreamingOutputCallRequest{}
			for _, n := range []int32{1, 2, 3} {
				req.ResponseParameters = append(req.ResponseParameters, &testgrpc.ResponseParameters{Size: n})
			}
			var sizes []int
			ended := make(chan error, 1)
			us := channel.UnaryStream[*testgrpc.StreamingOutputCallRequest, *testgrpc.StreamingOutputCallResponse](tc.ch, svc+"StreamingOutputCall")
			us.Start(context.Background(), req, channel.StreamHandler[*testgrpc.StreamingOutputCallResponse]{
				Demand:    3,
				OnMessage: func(r *testgrpc.StreamingOutputCallResponse) { sizes = append(sizes, len(r.GetPayload().GetBody())) },
				OnEnd:     func(c *channel.Call, err error) { ended <- err },
			}, channel.Timeout(time.Minute))
			if err := <-ended; err != nil || !slices.Equal(sizes, []int{1, 2, 3}) {
				t.Fatalf("stream with a demand of exactly its 3 messages: %v after %v", err, sizes)
			}
		})
	}
}
