package system_test

// Interceptors (channel.Intercept) on every kind of call, against grpc-go's
// interop server: order, changed details and requests, wrapped response
// streams, interceptors that answer themselves or retry, and failures.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	grpcmd "google.golang.org/grpc/metadata"

	"github.com/grpcactor/grpcactor/channel"
	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/compression"
	"github.com/grpcactor/grpcactor/interceptors"
	"github.com/grpcactor/grpcactor/metadata"
	"github.com/grpcactor/grpcactor/status"
)

// tracer implements all four interceptor interfaces and logs, under its
// name, the start and end of every call it sees; it adds its name to the
// x-trace metadata.
type tracer struct {
	name string
	mu   *sync.Mutex
	log  *[]string
}

func (tr tracer) note(s string) {
	tr.mu.Lock()
	*tr.log = append(*tr.log, tr.name+":"+s)
	tr.mu.Unlock()
}

func (tr tracer) tag(d *interceptors.ClientCallDetails) {
	if d.Metadata == nil {
		d.Metadata = metadata.MD{}
	}
	d.Metadata.Append("x-trace", tr.name)
}

func (tr tracer) InterceptUnaryUnary(ctx context.Context, d *interceptors.ClientCallDetails, req any, next interceptors.UnaryInvoker) (any, interceptors.Call, error) {
	tr.note("uu>" + d.Method)
	tr.tag(d)
	resp, call, err := next(ctx, d, req)
	tr.note("uu<")
	return resp, call, err
}

func (tr tracer) InterceptUnaryStream(ctx context.Context, d *interceptors.ClientCallDetails, req any, next interceptors.UnaryStreamInvoker) (interceptors.ClientStream, error) {
	tr.note("us>")
	tr.tag(d)
	s, err := next(ctx, d, req)
	tr.note("us<")
	return s, err
}

func (tr tracer) InterceptStreamUnary(ctx context.Context, d *interceptors.ClientCallDetails, reqs iter.Seq[any], next interceptors.StreamUnaryInvoker) (any, interceptors.Call, error) {
	tr.note("su>")
	tr.tag(d)
	resp, call, err := next(ctx, d, reqs)
	tr.note("su<")
	return resp, call, err
}

func (tr tracer) InterceptStreamStream(ctx context.Context, d *interceptors.ClientCallDetails, reqs iter.Seq[any], next interceptors.StreamStreamInvoker) (interceptors.ClientStream, error) {
	tr.note("ss>")
	tr.tag(d)
	s, err := next(ctx, d, reqs)
	tr.note("ss<")
	return s, err
}

// traceServer records the x-trace metadata of every call.
type traceServer struct {
	mu     sync.Mutex
	traces [][]string
	calls  []string
}

func startTraceServer(t testing.TB) (string, *traceServer) {
	ts := &traceServer{}
	addr := startServer(t, serverConfig{Hook: func(ctx context.Context, method string) error {
		md, _ := grpcmd.FromIncomingContext(ctx)
		ts.mu.Lock()
		ts.traces = append(ts.traces, md.Get("x-trace"))
		ts.calls = append(ts.calls, method)
		ts.mu.Unlock()
		return nil
	}}).Addr()
	return addr, ts
}

func (ts *traceServer) last() (string, []string) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if len(ts.calls) == 0 {
		return "", nil
	}
	return ts.calls[len(ts.calls)-1], ts.traces[len(ts.traces)-1]
}

func (ts *traceServer) count() int {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return len(ts.calls)
}

func intercept(t testing.TB, ch *channel.Channel, ics ...any) *channel.Channel {
	t.Helper()
	ich, err := channel.Intercept(ch, ics...)
	if err != nil {
		t.Fatalf("channel.Intercept: %v", err)
	}
	return ich
}

func TestInterceptOrderOnEveryKind(t *testing.T) {
	addr, srv := startTraceServer(t)
	var mu sync.Mutex
	var log []string
	a, b := tracer{"a", &mu, &log}, tracer{"b", &mu, &log}
	base := dial(t, addr)
	// Intercept of an intercepted channel puts the new ones outside:
	// a runs first, then b.
	s := newStubs(intercept(t, intercept(t, base, b), a))
	take := func() []string {
		mu.Lock()
		defer mu.Unlock()
		out := log
		log = nil
		return out
	}
	checkRun := func(what string, want []string) {
		t.Helper()
		if got := take(); !slices.Equal(got, want) {
			t.Errorf("%s: interceptors ran %q, want %q", what, got, want)
		}
		if _, tr := srv.last(); !slices.Equal(tr, []string{"a", "b"}) {
			t.Errorf("%s: server saw x-trace %q, want [a b]", what, tr)
		}
	}

	if _, err := s.empty.Call(tctx(t), &empty{}); err != nil {
		t.Fatal(err)
	}
	checkRun("unary", []string{"a:uu>" + mEmptyCall, "b:uu>" + mEmptyCall, "b:uu<", "a:uu<"})

	rs, err := s.streamOut.Call(tctx(t), &outReq{ResponseParameters: []*testgrpc.ResponseParameters{{Size: 1}, {Size: 2}}})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, err := range rs.All() {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 2 || rs.Code() != codes.OK {
		t.Errorf("server streaming through interceptors: %d responses, code %v", n, rs.Code())
	}
	checkRun("server streaming", []string{"a:us>", "b:us>", "b:us<", "a:us<"})

	resp, err := s.streamIn.Call(tctx(t), slices.Values([]*inReq{{Payload: zeros(3)}, {Payload: zeros(4)}}))
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetAggregatedPayloadSize() != 7 {
		t.Errorf("client streaming: aggregated %d, want 7", resp.GetAggregatedPayloadSize())
	}
	checkRun("client streaming", []string{"a:su>", "b:su>", "b:su<", "a:su<"})

	bs, err := s.duplex.Call(tctx(t), slices.Values([]*outReq{{ResponseParameters: []*testgrpc.ResponseParameters{{Size: 5}}}}))
	if err != nil {
		t.Fatal(err)
	}
	r, err := bs.Recv()
	if err != nil || len(r.GetPayload().GetBody()) != 5 {
		t.Fatalf("bidi: %v, %d bytes", err, len(r.GetPayload().GetBody()))
	}
	if _, err := bs.Recv(); err != io.EOF {
		t.Fatalf("bidi end: %v", err)
	}
	checkRun("bidi streaming", []string{"a:ss>", "b:ss>", "b:ss<", "a:ss<"})

	// The intercepted handle shares the base channel's state.
	if got, want := s.ch.State(false), base.State(false); got != want || got != channel.Ready {
		t.Errorf("State: intercepted %v, base %v, want both READY", got, want)
	}
}

// An interceptor that changes the details: method, metadata, timeout,
// wait-for-ready and compression reach the RPC.
func TestInterceptChangesDetails(t *testing.T) {
	addr, srv := startTraceServer(t)
	var seen interceptors.ClientCallDetails
	rewrite := interceptors.UnaryUnaryFunc(func(ctx context.Context, d *interceptors.ClientCallDetails, req any, next interceptors.UnaryInvoker) (any, interceptors.Call, error) {
		seen = *d
		d.Method = mUnaryCall
		d.Metadata = metadata.Pairs("x-trace", "rewritten")
		to := 10 * time.Second
		d.Timeout = &to
		d.Compression = compression.Gzip
		// The request is the callable's own type; replace it.
		r := req.(*simpleReq)
		return next(ctx, d, &simpleReq{ResponseSize: r.ResponseSize * 2, Payload: r.Payload})
	})
	ch := intercept(t, dial(t, addr), rewrite)
	// A callable for a method that does not exist: the interceptor sends
	// the call to UnaryCall instead.
	unary := channel.UnaryUnary[*simpleReq, *simpleResp](ch, "/grpc.testing.TestService/NoSuchMethod")
	resp, call, err := unary.WithCall(tctx(t), &simpleReq{ResponseSize: 21, Payload: zeros(1000)},
		channel.Metadata(metadata.Pairs("x-orig", "1")), channel.Timeout(time.Minute), channel.WaitForReady(true))
	if err != nil {
		t.Fatalf("rewritten call: %v", err)
	}
	checkPayload(t, "rewritten call", resp.GetPayload(), 42)
	if call.Code() != codes.OK || call.Method() != mUnaryCall {
		t.Errorf("Call: code %v, method %q", call.Code(), call.Method())
	}
	if m, tr := srv.last(); m != mUnaryCall || !slices.Equal(tr, []string{"rewritten"}) {
		t.Errorf("server saw %s with x-trace %q", m, tr)
	}
	if seen.Method != "/grpc.testing.TestService/NoSuchMethod" || seen.Timeout == nil || *seen.Timeout != time.Minute ||
		seen.WaitForReady == nil || !*seen.WaitForReady || len(seen.Metadata.Get("x-orig")) != 1 || seen.Compression != nil {
		t.Errorf("the interceptor was given %+v, want the call's method, timeout, wait-for-ready and metadata", seen)
	}
}

// Interceptors that answer without an RPC, retry, wrap the streams, or
// fail.
func TestInterceptBehaviours(t *testing.T) {
	addr, srv := startTraceServer(t)
	base := dial(t, addr)

	t.Run("CacheAnswersWithoutRPC", func(t *testing.T) {
		cache := interceptors.UnaryUnaryFunc(func(ctx context.Context, d *interceptors.ClientCallDetails, req any, next interceptors.UnaryInvoker) (any, interceptors.Call, error) {
			return &simpleResp{Username: "cached"}, nil, nil
		})
		before := srv.count()
		unary := channel.UnaryUnary[*simpleReq, *simpleResp](intercept(t, base, cache), mUnaryCall)
		resp, call, err := unary.WithCall(tctx(t), &simpleReq{})
		if err != nil || resp.GetUsername() != "cached" {
			t.Fatalf("cached call: %v, %v", resp, err)
		}
		if call.Code() != codes.OK || call.IsActive() || call.Err() != nil {
			t.Errorf("cached call's Call: code %v, active %v, err %v", call.Code(), call.IsActive(), call.Err())
		}
		f := unary.Future(tctx(t), &simpleReq{})
		if r, err := f.Result(tctx(t)); err != nil || r.GetUsername() != "cached" || f.Code() != codes.OK {
			t.Errorf("cached Future: %v, %v, code %v", r, err, f.Code())
		}
		if n := srv.count() - before; n != 0 {
			t.Errorf("the server saw %d calls", n)
		}
	})
	t.Run("RetryCallsNextTwice", func(t *testing.T) {
		attempts := 0
		retry := interceptors.UnaryUnaryFunc(func(ctx context.Context, d *interceptors.ClientCallDetails, req any, next interceptors.UnaryInvoker) (any, interceptors.Call, error) {
			first := *d
			first.Method = mUnimplementedCall
			attempts++
			if _, _, err := next(ctx, &first, req); status.Code(err) != codes.Unimplemented {
				return nil, nil, fmt.Errorf("first attempt: %v, want UNIMPLEMENTED", err)
			}
			attempts++
			return next(ctx, d, req)
		})
		call := channel.UnaryUnary[*empty, *empty](intercept(t, base, retry), mEmptyCall)
		if _, err := call.Call(tctx(t), &empty{}); err != nil || attempts != 2 {
			t.Errorf("retried call: %v after %d attempts", err, attempts)
		}
	})
	t.Run("WrapStreams", func(t *testing.T) {
		// Each request asks for one more byte; each response is counted.
		var counted int
		var mu sync.Mutex
		wrap := interceptors.StreamStreamFunc(func(ctx context.Context, d *interceptors.ClientCallDetails, reqs iter.Seq[any], next interceptors.StreamStreamInvoker) (interceptors.ClientStream, error) {
			bumped := func(yield func(any) bool) {
				for r := range reqs {
					req := r.(*outReq)
					if !yield(&outReq{ResponseParameters: []*testgrpc.ResponseParameters{{Size: req.GetResponseParameters()[0].GetSize() + 1}}}) {
						return
					}
				}
			}
			s, err := next(ctx, d, bumped)
			if err != nil {
				return nil, err
			}
			return countingStream{s, &mu, &counted}, nil
		})
		duplex := channel.StreamStream[*outReq, *outResp](intercept(t, base, wrap), mFullDuplex)
		// The interactive form goes through the interceptor too.
		bs, err := duplex.Open(tctx(t))
		if err != nil {
			t.Fatal(err)
		}
		for _, size := range []int32{1, 10, 100} {
			if err := bs.Send(&outReq{ResponseParameters: []*testgrpc.ResponseParameters{{Size: size}}}); err != nil {
				t.Fatal(err)
			}
			r, err := bs.Recv()
			if err != nil {
				t.Fatal(err)
			}
			if got := len(r.GetPayload().GetBody()); got != int(size)+1 {
				t.Errorf("asked for %d bytes (+1 by the interceptor), got %d", size, got)
			}
		}
		if err := bs.CloseSend(); err != nil {
			t.Fatal(err)
		}
		if _, err := bs.Recv(); err != io.EOF {
			t.Fatalf("end of the wrapped stream: %v", err)
		}
		mu.Lock()
		defer mu.Unlock()
		if counted != 3 || bs.Code() != codes.OK {
			t.Errorf("the wrapped stream counted %d responses (code %v), want 3", counted, bs.Code())
		}
		if err := bs.Send(&outReq{}); err != io.EOF {
			t.Errorf("Send after the end: %v, want io.EOF", err)
		}
	})
	t.Run("ClientStreamingOpen", func(t *testing.T) {
		var sent int
		countReqs := interceptors.StreamUnaryFunc(func(ctx context.Context, d *interceptors.ClientCallDetails, reqs iter.Seq[any], next interceptors.StreamUnaryInvoker) (any, interceptors.Call, error) {
			return next(ctx, d, func(yield func(any) bool) {
				for r := range reqs {
					sent++
					if !yield(r) {
						return
					}
				}
			})
		})
		in := channel.StreamUnary[*inReq, *inResp](intercept(t, base, countReqs), mStreamingInput)
		cs, err := in.Open(tctx(t))
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range []int{5, 6, 7} {
			if err := cs.Send(&inReq{Payload: zeros(n)}); err != nil {
				t.Fatal(err)
			}
		}
		resp, err := cs.CloseAndRecv()
		if err != nil || resp.GetAggregatedPayloadSize() != 18 || sent != 3 {
			t.Errorf("Open through an interceptor: %v, %v, %d requests seen", resp, err, sent)
		}
		if cs.Code() != codes.OK || cs.IsActive() {
			t.Errorf("Call: code %v, active %v", cs.Code(), cs.IsActive())
		}
	})
	t.Run("Failures", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			ic   interceptors.UnaryUnaryFunc
			code codes.Code
			msg  string
		}{
			{"PlainError", func(context.Context, *interceptors.ClientCallDetails, any, interceptors.UnaryInvoker) (any, interceptors.Call, error) {
				return nil, nil, errors.New("quota lookup failed")
			}, codes.Internal, "interceptor failed: quota lookup failed"},
			{"StatusError", func(context.Context, *interceptors.ClientCallDetails, any, interceptors.UnaryInvoker) (any, interceptors.Call, error) {
				return nil, nil, status.New(codes.PermissionDenied, "not for you")
			}, codes.PermissionDenied, "not for you"},
			{"Panic", func(context.Context, *interceptors.ClientCallDetails, any, interceptors.UnaryInvoker) (any, interceptors.Call, error) {
				panic("broken interceptor")
			}, codes.Internal, "interceptor panicked on " + mEmptyCall + ": broken interceptor"},
			{"WrongResponseType", func(context.Context, *interceptors.ClientCallDetails, any, interceptors.UnaryInvoker) (any, interceptors.Call, error) {
				return "a string", nil, nil
			}, codes.Internal, "an interceptor returned a response of type string for " + mEmptyCall + ", want *grpc_testing.Empty"},
			{"WrongRequestType", func(ctx context.Context, d *interceptors.ClientCallDetails, _ any, next interceptors.UnaryInvoker) (any, interceptors.Call, error) {
				return next(ctx, d, 42)
			}, codes.Internal, "an interceptor passed a request of type int to " + mEmptyCall + ", want *grpc_testing.Empty"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				e := channel.UnaryUnary[*empty, *empty](intercept(t, base, tc.ic), mEmptyCall)
				_, err := e.Call(tctx(t), &empty{})
				wantStatus(t, tc.name, err, tc.code, tc.msg)
				_, err = e.Future(tctx(t), &empty{}).Result(tctx(t))
				wantStatus(t, tc.name+" (Future)", err, tc.code, tc.msg)
			})
		}
		// A streamed request of the wrong type ends the call INTERNAL.
		wrongReqs := interceptors.StreamStreamFunc(func(ctx context.Context, d *interceptors.ClientCallDetails, _ iter.Seq[any], next interceptors.StreamStreamInvoker) (interceptors.ClientStream, error) {
			return next(ctx, d, slices.Values([]any{42}))
		})
		duplex := channel.StreamStream[*outReq, *outResp](intercept(t, base, wrongReqs), mFullDuplex)
		rs, err := duplex.Call(tctx(t), slices.Values([]*outReq{{}}))
		if err != nil {
			t.Fatal(err)
		}
		_, err = rs.Recv()
		wantStatus(t, "streamed request of the wrong type", err, codes.Internal, "an interceptor passed a request of type int to "+mFullDuplex+", want *grpc_testing.StreamingOutputCallRequest")
		// The base channel is unharmed.
		if _, err := newStubs(base).empty.Call(tctx(t), &empty{}); err != nil {
			t.Errorf("call on the base channel after the failures: %v", err)
		}
	})
	t.Run("OnlyItsKinds", func(t *testing.T) {
		// A unary-only interceptor leaves streaming calls alone.
		calls := 0
		uu := interceptors.UnaryUnaryFunc(func(ctx context.Context, d *interceptors.ClientCallDetails, req any, next interceptors.UnaryInvoker) (any, interceptors.Call, error) {
			calls++
			return next(ctx, d, req)
		})
		s := newStubs(intercept(t, base, uu))
		if _, err := s.streamIn.Call(tctx(t), slices.Values([]*inReq{{Payload: zeros(1)}})); err != nil {
			t.Fatal(err)
		}
		if _, err := s.empty.Call(tctx(t), &empty{}); err != nil {
			t.Fatal(err)
		}
		if calls != 1 {
			t.Errorf("unary interceptor ran %d times, want 1 (the unary call only)", calls)
		}
	})
}

// Misbehaving or unusual interceptors never hang or crash a call.
func TestInterceptEdgeCases(t *testing.T) {
	addr, _ := startTraceServer(t)
	base := dial(t, addr)

	t.Run("SendAfterCloseSend", func(t *testing.T) {
		// The interceptor holds the real half-close back until released,
		// so the call is still open when Send follows CloseSend.
		release := make(chan struct{})
		hold := interceptors.StreamStreamFunc(func(ctx context.Context, d *interceptors.ClientCallDetails, reqs iter.Seq[any], next interceptors.StreamStreamInvoker) (interceptors.ClientStream, error) {
			return next(ctx, d, func(yield func(any) bool) {
				for r := range reqs {
					if !yield(r) {
						return
					}
				}
				<-release
			})
		})
		bs, err := channel.StreamStream[*outReq, *outResp](intercept(t, base, hold), mFullDuplex).Open(tctx(t))
		if err != nil {
			t.Fatal(err)
		}
		if err := bs.CloseSend(); err != nil {
			t.Fatal(err)
		}
		wantStatus(t, "Send after CloseSend", bs.Send(&outReq{}), codes.Internal, "Send called after CloseSend")
		close(release)
		if _, err := bs.Recv(); err != io.EOF {
			t.Errorf("Recv after CloseSend: %v, want io.EOF", err)
		}
	})
	t.Run("RequestsReplaced", func(t *testing.T) {
		// The interceptor sends requests of its own and never reads the
		// caller's: Send returns io.EOF once the call is over.
		own := interceptors.StreamStreamFunc(func(ctx context.Context, d *interceptors.ClientCallDetails, _ iter.Seq[any], next interceptors.StreamStreamInvoker) (interceptors.ClientStream, error) {
			return next(ctx, d, slices.Values([]any{&outReq{ResponseParameters: []*testgrpc.ResponseParameters{{Size: 2}}}}))
		})
		bs, err := channel.StreamStream[*outReq, *outResp](intercept(t, base, own), mFullDuplex).Open(tctx(t))
		if err != nil {
			t.Fatal(err)
		}
		if r, err := bs.Recv(); err != nil || len(r.GetPayload().GetBody()) != 2 {
			t.Fatalf("the interceptor's own request: %v, %v", r, err)
		}
		if _, err := bs.Recv(); err != io.EOF {
			t.Fatalf("end: %v", err)
		}
		sent := make(chan error, 1)
		go func() { sent <- bs.Send(&outReq{}) }()
		if err := recvWithin(t, "Send on a call that is over", sent); err != io.EOF {
			t.Errorf("Send on a call that is over: %v, want io.EOF", err)
		}
	})
	t.Run("NilStream", func(t *testing.T) {
		broken := interceptors.UnaryStreamFunc(func(context.Context, *interceptors.ClientCallDetails, any, interceptors.UnaryStreamInvoker) (interceptors.ClientStream, error) {
			return nil, nil
		})
		_, err := channel.UnaryStream[*outReq, *outResp](intercept(t, base, broken), mStreamingOutput).Call(tctx(t), &outReq{})
		wantStatus(t, "nil stream", err, codes.Internal, "an interceptor returned neither a response stream nor an error for "+mStreamingOutput)
	})
	t.Run("ContextErrors", func(t *testing.T) {
		ctxErr := interceptors.UnaryUnaryFunc(func(ctx context.Context, _ *interceptors.ClientCallDetails, _ any, _ interceptors.UnaryInvoker) (any, interceptors.Call, error) {
			return nil, nil, context.DeadlineExceeded
		})
		_, err := channel.UnaryUnary[*empty, *empty](intercept(t, base, ctxErr), mEmptyCall).Call(tctx(t), &empty{})
		wantStatus(t, "interceptor returning DeadlineExceeded", err, codes.DeadlineExceeded, "")
	})
	t.Run("TypedNilCall", func(t *testing.T) {
		cache := interceptors.UnaryUnaryFunc(func(context.Context, *interceptors.ClientCallDetails, any, interceptors.UnaryInvoker) (any, interceptors.Call, error) {
			var none *channel.Call
			return &empty{}, none, nil
		})
		_, call, err := channel.UnaryUnary[*empty, *empty](intercept(t, base, cache), mEmptyCall).WithCall(tctx(t), &empty{})
		if err != nil || call == nil || call.Code() != codes.OK || call.IsActive() {
			t.Errorf("typed nil call: err %v, call %v", err, call)
		}
	})
	t.Run("ClientStreamingCancelWhileBuffering", func(t *testing.T) {
		// The interceptor reads every request before calling next; the
		// caller cancels instead of closing: the call ends CANCELLED.
		buffering := interceptors.StreamUnaryFunc(func(ctx context.Context, d *interceptors.ClientCallDetails, reqs iter.Seq[any], next interceptors.StreamUnaryInvoker) (any, interceptors.Call, error) {
			var all []any
			for r := range reqs {
				all = append(all, r)
			}
			if err := ctx.Err(); err != nil {
				return nil, nil, err
			}
			return next(ctx, d, slices.Values(all))
		})
		cs, err := channel.StreamUnary[*inReq, *inResp](intercept(t, base, buffering), mStreamingInput).Open(tctx(t))
		if err != nil {
			t.Fatal(err)
		}
		if err := cs.Send(&inReq{Payload: zeros(1)}); err != nil {
			t.Fatal(err)
		}
		if !cs.Cancel() {
			t.Error("Cancel returned false")
		}
		done := make(chan codes.Code, 1)
		go func() { done <- cs.Code() }()
		if c := recvWithin(t, "Code after Cancel", done); c != codes.Canceled {
			t.Errorf("Code after Cancel = %v, want CANCELLED", c)
		}
		_, err = cs.CloseAndRecv()
		wantStatus(t, "CloseAndRecv after Cancel", err, codes.Canceled, "")
	})
}

type countingStream struct {
	interceptors.ClientStream
	mu *sync.Mutex
	n  *int
}

func (c countingStream) Recv() (any, error) {
	v, err := c.ClientStream.Recv()
	if err == nil {
		c.mu.Lock()
		*c.n++
		c.mu.Unlock()
	}
	return v, err
}

func TestInterceptRejectsBadInput(t *testing.T) {
	ch := dial(t, "localhost:1")
	if _, err := channel.Intercept(ch, tracer{"ok", &sync.Mutex{}, new([]string)}, "not an interceptor"); err == nil ||
		!strings.Contains(err.Error(), "interceptor 1 (string) implements none of") {
		t.Errorf("Intercept with a string: %v", err)
	}
	if _, err := channel.Intercept(ch, nil); err == nil || !strings.Contains(err.Error(), "interceptor 0 (<nil>)") {
		t.Errorf("Intercept with nil: %v", err)
	}
	if _, err := channel.Intercept(nil); err == nil {
		t.Error("Intercept of a nil channel succeeded")
	}
	ich := intercept(t, ch)
	ich.Close()
	if s := ch.State(false); s != channel.Shutdown {
		t.Errorf("closing the intercepted channel left the base %v, want SHUTDOWN", s)
	}
}
