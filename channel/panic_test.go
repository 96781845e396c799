package channel_test

import (
	"bytes"
	"context"
	"io"
	"iter"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/grpcactor/grpcactor/channel"
	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/credentials"
	"github.com/grpcactor/grpcactor/futures"
	"github.com/grpcactor/grpcactor/interceptors"
	"github.com/grpcactor/grpcactor/metadata"
	"github.com/grpcactor/grpcactor/status"
	"github.com/grpcactor/grpcactor/system_test/peers"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
)

// logBuffer is a slog destination that tests read.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// panicFixture is a grpc-go server, a channel to it in an actor system
// whose log the test reads, and a server stream opened on the channel
// before any user code panics: it must still complete afterwards, as must
// new calls.
type panicFixture struct {
	ch     *channel.Channel
	log    *logBuffer
	empty  *channel.UnaryUnaryCallable[*testgrpc.Empty, *testgrpc.Empty]
	stream *channel.ResponseStream[*testgrpc.StreamingOutputCallResponse]
	addr   string
}

func newPanicFixture(t *testing.T) *panicFixture {
	t.Helper()
	f := &panicFixture{addr: peers.StartGoInterop(t), log: &logBuffer{}}
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(slog.NewTextHandler(f.log, nil))
	}))
	ch, err := channel.Insecure(f.addr, channel.WithActorSystem(sys))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ch.Close() })
	f.ch = ch
	f.empty = channel.UnaryUnary[*testgrpc.Empty, *testgrpc.Empty](ch, svc+"EmptyCall")
	out := channel.UnaryStream[*testgrpc.StreamingOutputCallRequest, *testgrpc.StreamingOutputCallResponse](ch, svc+"StreamingOutputCall")
	req := &testgrpc.StreamingOutputCallRequest{}
	for range 3 {
		// The server waits 200 ms before each response: the stream is
		// in flight while the test's user code panics.
		req.ResponseParameters = append(req.ResponseParameters, &testgrpc.ResponseParameters{Size: 1, IntervalUs: 200_000})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	f.stream, err = out.Call(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// goesOn checks that the channel outlived the panics: the stream opened
// before them completes and a new call succeeds.
func (f *panicFixture) goesOn(t *testing.T) {
	t.Helper()
	n := 0
	for {
		_, err := f.stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("the stream in flight during the panics: %v", err)
		}
		n++
	}
	if n != 3 {
		t.Fatalf("the stream in flight during the panics got %d responses, want 3", n)
	}
	if _, err := f.empty.Call(context.Background(), &testgrpc.Empty{}); err != nil {
		t.Fatalf("a call after the panics: %v", err)
	}
	if s := f.ch.State(false); s != channel.Ready {
		t.Fatalf("the channel is %v after the panics, want READY", s)
	}
}

func wantPanicStatus(t *testing.T, what string, err error, code codes.Code, details string) {
	t.Helper()
	st, ok := status.FromError(err)
	if err == nil || !ok || st.Code() != code || st.Details() != details {
		t.Fatalf("%s: %v, want %v %q", what, err, code, details)
	}
}

// An interceptor that panics ends its own call INTERNAL, naming the panic,
// for every call kind; the channel and its other calls go on.
func TestPanicInInterceptor(t *testing.T) {
	f := newPanicFixture(t)
	boom := func() { panic("boom") }
	ic, err := channel.Intercept(f.ch,
		interceptors.UnaryUnaryFunc(func(context.Context, *interceptors.ClientCallDetails, any, interceptors.UnaryInvoker) (any, interceptors.Call, error) {
			boom()
			return nil, nil, nil
		}),
		interceptors.UnaryStreamFunc(func(context.Context, *interceptors.ClientCallDetails, any, interceptors.UnaryStreamInvoker) (interceptors.ClientStream, error) {
			boom()
			return nil, nil
		}),
		interceptors.StreamUnaryFunc(func(context.Context, *interceptors.ClientCallDetails, iter.Seq[any], interceptors.StreamUnaryInvoker) (any, interceptors.Call, error) {
			boom()
			return nil, nil, nil
		}),
		interceptors.StreamStreamFunc(func(context.Context, *interceptors.ClientCallDetails, iter.Seq[any], interceptors.StreamStreamInvoker) (interceptors.ClientStream, error) {
			boom()
			return nil, nil
		}))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	want := func(m string) string { return "interceptor panicked on " + svc + m + ": boom" }

	_, err = channel.UnaryUnary[*testgrpc.Empty, *testgrpc.Empty](ic, svc+"EmptyCall").Call(ctx, &testgrpc.Empty{})
	wantPanicStatus(t, "unary-unary", err, codes.Internal, want("EmptyCall"))

	rs, err := channel.UnaryStream[*testgrpc.StreamingOutputCallRequest, *testgrpc.StreamingOutputCallResponse](ic, svc+"StreamingOutputCall").Call(ctx, &testgrpc.StreamingOutputCallRequest{})
	if err == nil {
		_, err = rs.Recv()
	}
	wantPanicStatus(t, "unary-stream", err, codes.Internal, want("StreamingOutputCall"))

	_, err = channel.StreamUnary[*testgrpc.StreamingInputCallRequest, *testgrpc.StreamingInputCallResponse](ic, svc+"StreamingInputCall").Call(ctx, func(func(*testgrpc.StreamingInputCallRequest) bool) {})
	wantPanicStatus(t, "stream-unary", err, codes.Internal, want("StreamingInputCall"))

	ss, err := channel.StreamStream[*testgrpc.StreamingOutputCallRequest, *testgrpc.StreamingOutputCallResponse](ic, svc+"FullDuplexCall").Call(ctx, func(func(*testgrpc.StreamingOutputCallRequest) bool) {})
	if err == nil {
		_, err = ss.Recv()
	}
	wantPanicStatus(t, "stream-stream", err, codes.Internal, want("FullDuplexCall"))
	f.goesOn(t)
}

// A custom serializer or deserializer (WithCodec) that panics ends its own
// call INTERNAL, naming the panic.
func TestPanicInCodec(t *testing.T) {
	f := newPanicFixture(t)
	ctx := context.Background()
	ok := func(*testgrpc.Empty) ([]byte, error) { return nil, nil }
	okResp := func([]byte) (*testgrpc.Empty, error) { return &testgrpc.Empty{}, nil }
	panicReq := func(*testgrpc.Empty) ([]byte, error) { panic("bad request codec") }
	panicResp := func([]byte) (*testgrpc.Empty, error) { panic("bad response codec") }

	_, err := channel.UnaryUnary(f.ch, svc+"EmptyCall", channel.WithCodec(panicReq, okResp)).Call(ctx, &testgrpc.Empty{})
	wantPanicStatus(t, "unary serializer", err, codes.Internal, "serializing request: serializer panicked: bad request codec")
	_, err = channel.UnaryUnary(f.ch, svc+"EmptyCall", channel.WithCodec(ok, panicResp)).Call(ctx, &testgrpc.Empty{})
	wantPanicStatus(t, "unary deserializer", err, codes.Internal, "deserializing response: deserializer panicked: bad response codec")

	outReq := func(*testgrpc.StreamingOutputCallRequest) ([]byte, error) {
		return []byte{0x12, 0x02, 0x08, 0x01}, nil // response_parameters {size: 1}
	}
	outResp := func([]byte) (*testgrpc.StreamingOutputCallResponse, error) { panic("bad stream codec") }
	rs, err := channel.UnaryStream(f.ch, svc+"StreamingOutputCall", channel.WithCodec(outReq, outResp)).Call(ctx, &testgrpc.StreamingOutputCallRequest{})
	if err == nil {
		_, err = rs.Recv()
	}
	wantPanicStatus(t, "unary-stream deserializer", err, codes.Internal, "deserializing response: deserializer panicked: bad stream codec")
	f.goesOn(t)
}

// A connectivity subscription callback that panics is logged; the
// subscription still gets the later states, and the channel goes on.
func TestPanicInSubscriptionCallback(t *testing.T) {
	f := newPanicFixture(t)
	ch, err := channel.Insecure(f.addr, channel.WithActorSystem(actorSystemLoggingTo(f.log)))
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	ready := make(chan struct{})
	var once sync.Once
	ch.Subscribe(func(s channel.Connectivity) {
		if s == channel.Ready {
			once.Do(func() { close(ready) })
		}
		panic("subscriber bug in state " + s.String())
	}, true)
	select {
	case <-ready:
	case <-time.After(20 * time.Second):
		t.Fatal("the subscription never saw READY after its callback panicked")
	}
	empty := channel.UnaryUnary[*testgrpc.Empty, *testgrpc.Empty](ch, svc+"EmptyCall")
	if _, err := empty.Call(context.Background(), &testgrpc.Empty{}); err != nil {
		t.Fatalf("a call after the callback panicked: %v", err)
	}
	waitLog(t, f.log, "connectivity subscription callback panicked", "subscriber bug in state IDLE")
	f.goesOn(t)
}

// A future's done callback that panics is logged; the other callbacks run
// and the channel goes on.
func TestPanicInFutureDoneCallback(t *testing.T) {
	f := newPanicFixture(t)
	fut := f.empty.Future(context.Background(), &testgrpc.Empty{})
	second := make(chan struct{})
	fut.AddDoneCallback(func(futures.Future[*testgrpc.Empty]) { panic("callback bug") })
	fut.AddDoneCallback(func(futures.Future[*testgrpc.Empty]) { close(second) })
	if _, err := fut.Result(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-second:
	case <-time.After(20 * time.Second):
		t.Fatal("the callback after the panicking one never ran")
	}
	waitLog(t, f.log, "done callback panicked", "callback bug")
	f.goesOn(t)
}

type panicCreds struct{}

func (panicCreds) GetRequestMetadata(context.Context, credentials.RequestInfo) (metadata.MD, error) {
	panic("creds bug")
}

// Call credentials that panic (a metadata plugin, or any implementation)
// end their own call INTERNAL, naming the panic.
func TestPanicInCredentialsPlugin(t *testing.T) {
	f := newPanicFixture(t)
	// Call credentials need a secure channel: local credentials over
	// loopback reach the plaintext server.
	sch, err := channel.Secure(f.addr, credentials.Local(credentials.LocalTCP))
	if err != nil {
		t.Fatal(err)
	}
	defer sch.Close()
	empty := channel.UnaryUnary[*testgrpc.Empty, *testgrpc.Empty](sch, svc+"EmptyCall")
	ctx := context.Background()
	plugin := credentials.MetadataPlugin("token plugin", func(context.Context, credentials.RequestInfo) (metadata.MD, error) {
		panic("plugin bug")
	})
	_, err = empty.Call(ctx, &testgrpc.Empty{}, channel.CallCredentials(plugin))
	wantPanicStatus(t, "metadata plugin", err, codes.Internal, "getting request metadata from token plugin: it panicked: plugin bug")
	_, err = empty.Call(ctx, &testgrpc.Empty{}, channel.CallCredentials(panicCreds{}))
	wantPanicStatus(t, "call credentials", err, codes.Internal, "getting request metadata from call credentials channel_test.panicCreds: it panicked: creds bug")
	if _, err := empty.Call(ctx, &testgrpc.Empty{}); err != nil {
		t.Fatalf("a call without the credentials after they panicked: %v", err)
	}
	f.goesOn(t)
}

func actorSystemLoggingTo(w io.Writer) *actor.ActorSystem {
	return actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(slog.NewTextHandler(w, nil))
	}))
}

// waitLog waits for a log line holding every one of parts (a callback's
// panic is logged on the callback's goroutine, maybe after the test sees
// its other effects).
func waitLog(t *testing.T, log *logBuffer, parts ...string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		for _, line := range strings.Split(log.String(), "\n") {
			found := true
			for _, p := range parts {
				found = found && strings.Contains(line, p)
			}
			if found {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no log line with %q in:\n%s", parts, log.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
