package system_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"testing"

	"github.com/asynkron/protoactor-go/actor"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"

	"github.com/grpcactor/grpcactor/channel"
	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/futures"
	"github.com/grpcactor/grpcactor/internal/actorsys"
)

// Every call form of the four multi-callables against grpc-go's server.

func TestCallFormsUnaryUnary(t *testing.T) {
	s := dialStubs(t, startServer(t, serverConfig{}).Addr())
	okReq := &simpleReq{ResponseSize: 1000, Payload: zeros(2000)}
	failReq := &simpleReq{ResponseStatus: &testgrpc.EchoStatus{Code: int32(codes.FailedPrecondition), Message: "no way"}}

	t.Run("Call", func(t *testing.T) {
		resp, err := s.unary.Call(tctx(t), okReq)
		if err != nil {
			t.Fatal(err)
		}
		checkPayload(t, "Call", resp.GetPayload(), 1000)
		_, err = s.unary.Call(tctx(t), failReq)
		wantStatus(t, "Call", err, codes.FailedPrecondition, "no way")
	})

	t.Run("WithCall", func(t *testing.T) {
		resp, call, err := s.unary.WithCall(tctx(t), okReq, channel.Metadata(customMD))
		if err != nil {
			t.Fatal(err)
		}
		checkPayload(t, "WithCall", resp.GetPayload(), 1000)
		if call.Code() != codes.OK || call.Details() != "" || call.Err() != nil {
			t.Fatalf("WithCall: Call says %v %q %v, want OK", call.Code(), call.Details(), call.Err())
		}
		if call.IsActive() {
			t.Fatal("WithCall: the returned Call is still active")
		}
		if call.Method() != mUnaryCall {
			t.Fatalf("Method %q, want %q", call.Method(), mUnaryCall)
		}
		checkEcho(t, "WithCall", call.InitialMetadata(), call.TrailingMetadata())

		_, call, err = s.unary.WithCall(tctx(t), failReq, channel.Metadata(customMD))
		st := wantStatus(t, "WithCall", err, codes.FailedPrecondition, "no way")
		if call == nil {
			t.Fatal("WithCall: no Call with the error")
		}
		if call.Code() != codes.FailedPrecondition || call.Details() != "no way" {
			t.Fatalf("WithCall: Call says %v %q", call.Code(), call.Details())
		}
		// grpc-go's server sends the echoed header (SendHeader) before
		// the failure and the echoed trailer with the status.
		if got := call.InitialMetadata()[initialMetadataKey]; len(got) != 1 || got[0] != initialMetadataVal {
			t.Errorf("failed call: initial metadata %v", call.InitialMetadata())
		}
		if got := call.TrailingMetadata()[trailingMetadataKey]; len(got) != 1 || got[0] != trailingMetadataVal {
			t.Errorf("failed call: trailing metadata %v", call.TrailingMetadata())
		}
		if got := st.TrailingMetadata()[trailingMetadataKey]; len(got) != 1 || got[0] != trailingMetadataVal {
			t.Errorf("failed call: the status error's trailing metadata %v", st.TrailingMetadata())
		}
	})

	t.Run("Future", func(t *testing.T) {
		f := s.unary.Future(tctx(t), okReq, channel.Metadata(customMD))
		resp, err := f.Result(tctx(t))
		if err != nil {
			t.Fatal(err)
		}
		checkPayload(t, "Future", resp.GetPayload(), 1000)
		if f.Code() != codes.OK || f.Details() != "" {
			t.Fatalf("Future: %v %q, want OK", f.Code(), f.Details())
		}
		if f.Running() || f.Cancelled() {
			t.Fatalf("Future: Running %v Cancelled %v after Result", f.Running(), f.Cancelled())
		}
		wait(t, "Done", f.Done())
		checkEcho(t, "Future", f.InitialMetadata(), f.TrailingMetadata())
		if f.Cancel() {
			t.Fatal("Cancel of a finished future returned true")
		}

		f = s.unary.Future(tctx(t), failReq)
		_, err = f.Result(tctx(t))
		wantStatus(t, "Future", err, codes.FailedPrecondition, "no way")
		if f.Code() != codes.FailedPrecondition || f.Details() != "no way" {
			t.Fatalf("Future: %v %q", f.Code(), f.Details())
		}
	})

	t.Run("FutureThen", func(t *testing.T) {
		f := s.unary.Future(tctx(t), okReq)
		n := futures.Then[*simpleResp, int](f, func(r *simpleResp) (int, error) { return len(r.GetPayload().GetBody()), nil })
		got, err := n.Result(tctx(t))
		if err != nil || got != 1000 {
			t.Fatalf("Then: %d, %v; want 1000", got, err)
		}
	})

	t.Run("FutureAddDoneCallback", func(t *testing.T) {
		f := s.unary.Future(tctx(t), okReq)
		got := make(chan error, 1)
		f.AddDoneCallback(func(ff futures.Future[*simpleResp]) {
			_, err := ff.Result(context.Background())
			got <- err
		})
		if err := recvWithin(t, "done callback", got); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("FutureCancel", func(t *testing.T) {
		ps := startProbeServer(t)
		ps2 := newStubs(dial(t, ps.Addr()))
		f := ps2.unary.Future(tctx(t), okReq, held())
		recvWithin(t, "held call at the server", ps.arrived)
		if !f.Cancel() {
			t.Fatal("Cancel of a running future returned false")
		}
		_, err := f.Result(tctx(t))
		if !errors.Is(err, futures.ErrCancelled) {
			t.Fatalf("Result after Cancel: %v, want futures.ErrCancelled", err)
		}
		if !f.Cancelled() {
			t.Fatal("Cancelled() is false")
		}
		call := f.Call()
		if call == nil {
			t.Fatal("Call() is nil for a started call")
		}
		waitFor(t, "call end after Future.Cancel", call.Done(), localBound)
		if c := call.Code(); c != codes.Canceled {
			t.Fatalf("call code after Future.Cancel: %v, want CANCELLED", c)
		}
	})

	// Cancel after the call has ended, its response perhaps not yet handed
	// to the future: the cancel is refused (grpcio's cancel() returns False
	// once the RPC has completed) and the future gets the response.
	t.Run("FutureCancelAfterEnd", func(t *testing.T) {
		for i := range 200 {
			f := s.unary.Future(tctx(t), okReq)
			waitFor(t, fmt.Sprintf("iteration %d: call end", i), f.Call().Done(), localBound)
			if f.Cancel() {
				t.Fatalf("iteration %d: Cancel returned true for a call that had ended %v", i, f.Call().Code())
			}
			resp, err := f.Result(tctx(t))
			if err != nil || f.Cancelled() {
				t.Fatalf("iteration %d: Result after a refused Cancel: %v (cancelled %v), want the response", i, err, f.Cancelled())
			}
			checkPayload(t, "Future", resp.GetPayload(), 1000)
		}
	})

	// Cancel while the response arrives: whatever Cancel returns, the
	// future and the call behind it agree (true: both cancelled; false:
	// the response).
	t.Run("FutureCancelRacesResponse", func(t *testing.T) {
		for i := range 1000 {
			f := s.unary.Future(tctx(t), &simpleReq{})
			for range i % 40 {
				runtime.Gosched()
			}
			cancelled := f.Cancel()
			_, err := f.Result(tctx(t))
			waitFor(t, fmt.Sprintf("iteration %d: call end", i), f.Call().Done(), localBound)
			code := f.Call().Code()
			switch {
			case cancelled && (!errors.Is(err, futures.ErrCancelled) || code != codes.Canceled):
				t.Fatalf("iteration %d: Cancel returned true; Result %v, call code %v; want futures.ErrCancelled and CANCELLED", i, err, code)
			case !cancelled && (err != nil || code != codes.OK || f.Cancelled()):
				t.Fatalf("iteration %d: Cancel returned false; Result %v, call code %v, Cancelled %v; want the response", i, err, code, f.Cancelled())
			}
		}
	})

	// Cancel right after Future returns, before the call may have started.
	t.Run("FutureCancelAtOnce", func(t *testing.T) {
		// Cancel races the goroutine that starts the call; repeat to hit
		// the window where the call has not yet started.
		ps := startProbeServer(t)
		ps2 := newStubs(dial(t, ps.Addr()))
		doEmptyUnary(t, ps2)
		for i := range 50 {
			f := ps2.unary.Future(tctx(t), okReq, held())
			f.Cancel()
			if _, err := f.Result(tctx(t)); !errors.Is(err, futures.ErrCancelled) {
				t.Fatalf("iteration %d: Result after Cancel: %v, want futures.ErrCancelled", i, err)
			}
			call := f.Call()
			if call == nil {
				continue
			}
			waitFor(t, fmt.Sprintf("iteration %d: call end after an immediate Future.Cancel", i), call.Done(), localBound)
			if c := call.Code(); c != codes.Canceled {
				t.Fatalf("iteration %d: call code after Future.Cancel: %v, want CANCELLED", i, c)
			}
		}
	})

	t.Run("FuturePipeTo", func(t *testing.T) {
		sys := actorsys.NewQuiet()
		ch := dial(t, s.ch.Target(), channel.WithActorSystem(sys))
		unary := channel.UnaryUnary[*simpleReq, *simpleResp](ch, mUnaryCall)
		got := make(chan *futures.Outcome[*simpleResp], 2)
		pid := sys.Root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
			if o, ok := c.Message().(*futures.Outcome[*simpleResp]); ok {
				got <- o
			}
		}))
		defer func() { _ = sys.Root.StopFuture(pid).Wait() }()

		unary.Future(tctx(t), okReq).PipeTo(pid)
		o := recvWithin(t, "piped outcome", got)
		if o.Err != nil {
			t.Fatalf("piped outcome: %v", o.Err)
		}
		checkPayload(t, "piped", o.Value.GetPayload(), 1000)

		unary.Future(tctx(t), failReq).PipeTo(pid)
		o = recvWithin(t, "piped outcome", got)
		wantStatus(t, "piped", o.Err, codes.FailedPrecondition, "no way")
	})
}

func TestCallFormsUnaryStream(t *testing.T) {
	s := dialStubs(t, startServer(t, serverConfig{}).Addr())
	sizes := []int{10, 0, 70000, 3}

	t.Run("Recv", func(t *testing.T) {
		rs, err := s.streamOut.Call(tctx(t), serverStreamReq(sizes), channel.Metadata(customMD))
		if err != nil {
			t.Fatal(err)
		}
		var got []int
		for {
			r, err := rs.Recv()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("Recv: %v", err)
			}
			got = append(got, len(r.GetPayload().GetBody()))
		}
		if !slices.Equal(got, sizes) {
			t.Fatalf("sizes %v, want %v", got, sizes)
		}
		if rs.Code() != codes.OK {
			t.Fatalf("Code %v", rs.Code())
		}
		// grpc-go's StreamingOutputCall does not echo metadata; the
		// accessors must still answer once the call is over.
		_ = rs.InitialMetadata()
		_ = rs.TrailingMetadata()
	})

	t.Run("All", func(t *testing.T) {
		rs, err := s.streamOut.Call(tctx(t), serverStreamReq(sizes))
		if err != nil {
			t.Fatal(err)
		}
		got := payloadSizes(t, rs.All())
		if !slices.Equal(got, sizes) {
			t.Fatalf("sizes %v, want %v", got, sizes)
		}
	})

	t.Run("AllBreakCancels", func(t *testing.T) {
		rs, err := s.streamOut.Call(tctx(t), serverStreamReq([]int{1, 2, 3, 4, 5}))
		if err != nil {
			t.Fatal(err)
		}
		for range rs.All() {
			break
		}
		waitFor(t, "call end after breaking out of All (Code/Done/IsActive)", rs.Done(), localBound)
		if c := rs.Code(); c != codes.Canceled {
			t.Fatalf("Code after break: %v, want CANCELLED", c)
		}
	})

	t.Run("AllError", func(t *testing.T) {
		// A response over the receive limit ends the stream with an error
		// that All yields last.
		rs, err := newStubs(dial(t, s.ch.Target(), channel.WithMaxReceiveMessageSize(1000))).
			streamOut.Call(tctx(t), serverStreamReq([]int{10, 5000}))
		if err != nil {
			t.Fatal(err)
		}
		var n int
		var last error
		for _, err := range rs.All() {
			n++
			last = err
		}
		if n != 2 {
			t.Fatalf("All yielded %d pairs, want 2", n)
		}
		wantStatus(t, "All", last, codes.ResourceExhausted, "")
	})
}

func TestCallFormsStreamUnary(t *testing.T) {
	s := dialStubs(t, startServer(t, serverConfig{}).Addr())
	reqs := clientStreamReqs(clientStreamSizes)

	t.Run("Call", func(t *testing.T) {
		resp, err := s.streamIn.Call(tctx(t), reqs)
		if err != nil {
			t.Fatal(err)
		}
		if resp.GetAggregatedPayloadSize() != 74922 {
			t.Fatalf("aggregated %d", resp.GetAggregatedPayloadSize())
		}
	})

	t.Run("CallNoRequests", func(t *testing.T) {
		resp, err := s.streamIn.Call(tctx(t), func(func(*inReq) bool) {})
		if err != nil {
			t.Fatal(err)
		}
		if resp.GetAggregatedPayloadSize() != 0 {
			t.Fatalf("aggregated %d", resp.GetAggregatedPayloadSize())
		}
	})

	t.Run("WithCall", func(t *testing.T) {
		resp, call, err := s.streamIn.WithCall(tctx(t), reqs)
		if err != nil {
			t.Fatal(err)
		}
		if resp.GetAggregatedPayloadSize() != 74922 {
			t.Fatalf("aggregated %d", resp.GetAggregatedPayloadSize())
		}
		if call == nil || call.Code() != codes.OK || call.IsActive() {
			t.Fatalf("WithCall: call %+v", call)
		}
	})

	t.Run("Future", func(t *testing.T) {
		f := s.streamIn.Future(tctx(t), reqs)
		resp, err := f.Result(tctx(t))
		if err != nil {
			t.Fatal(err)
		}
		if resp.GetAggregatedPayloadSize() != 74922 {
			t.Fatalf("aggregated %d", resp.GetAggregatedPayloadSize())
		}
		if f.Code() != codes.OK {
			t.Fatalf("Code %v", f.Code())
		}
	})

	t.Run("OpenSendCloseAndRecv", func(t *testing.T) {
		cs, err := s.streamIn.Open(tctx(t))
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range clientStreamSizes {
			if err := cs.Send(&inReq{Payload: zeros(n)}); err != nil {
				t.Fatal(err)
			}
		}
		resp, err := cs.CloseAndRecv()
		if err != nil {
			t.Fatal(err)
		}
		if resp.GetAggregatedPayloadSize() != 74922 {
			t.Fatalf("aggregated %d", resp.GetAggregatedPayloadSize())
		}
	})

	t.Run("IteratorPanics", func(t *testing.T) {
		_, err := s.streamIn.Call(tctx(t), func(yield func(*inReq) bool) {
			yield(&inReq{Payload: zeros(1)})
			panic("boom")
		})
		wantStatus(t, "Call with a panicking iterator", err, codes.Unknown, "")
	})
}

func TestCallFormsStreamStream(t *testing.T) {
	s := dialStubs(t, startServer(t, serverConfig{}).Addr())

	t.Run("Call", func(t *testing.T) {
		reqs := func(yield func(*outReq) bool) {
			for i := range pingPongReqSizes {
				if !yield(pingReq(serverStreamSizes[i], pingPongReqSizes[i])) {
					return
				}
			}
		}
		rs, err := s.duplex.Call(tctx(t), reqs, channel.Metadata(customMD))
		if err != nil {
			t.Fatal(err)
		}
		got := payloadSizes(t, rs.All())
		if !slices.Equal(got, serverStreamSizes) {
			t.Fatalf("sizes %v, want %v", got, serverStreamSizes)
		}
		if rs.Code() != codes.OK {
			t.Fatalf("Code %v", rs.Code())
		}
		checkEcho(t, "StreamStream.Call", rs.InitialMetadata(), rs.TrailingMetadata())
	})

	t.Run("Open", func(t *testing.T) { doPingPong(t, s) })

	t.Run("OpenRecvAll", func(t *testing.T) {
		bs, err := s.duplex.Open(tctx(t))
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range []int{5, 6, 7} {
			if err := bs.Send(pingReq(n, n)); err != nil {
				t.Fatal(err)
			}
		}
		if err := bs.CloseSend(); err != nil {
			t.Fatal(err)
		}
		got := payloadSizes(t, bs.All())
		if !slices.Equal(got, []int{5, 6, 7}) {
			t.Fatalf("sizes %v", got)
		}
	})
}
