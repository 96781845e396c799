package interceptors_test

import (
	"bytes"
	"context"
	"io"
	"iter"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/grpcactor/grpcactor/channel"
	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/interceptors"
	"github.com/grpcactor/grpcactor/system_test/peers"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/protobuf/proto"
)

const svc = "/grpc.testing.TestService/"

// syncBuffer is a bytes.Buffer safe for the handler's concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) lines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Split(strings.TrimSpace(s.b.String()), "\n")
}

func wantLine(t *testing.T, line string, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(line, p) {
			t.Fatalf("log line %q lacks %q", line, p)
		}
	}
}

func TestLoggingOneLinePerCall(t *testing.T) {
	addr := peers.StartGoInterop(t)
	var buf syncBuffer
	logger := slog.New(slog.NewTextHandler(&buf, nil))
	base, err := channel.Insecure(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer base.Close()
	ch, err := channel.Intercept(base, interceptors.Logging(logger))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	unary := channel.UnaryUnary[*testgrpc.SimpleRequest, *testgrpc.SimpleResponse](ch, svc+"UnaryCall")
	req := &testgrpc.SimpleRequest{ResponseSize: 10, Payload: &testgrpc.Payload{Body: make([]byte, 20)}}
	resp, err := unary.Call(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	_, err = unary.Call(ctx, &testgrpc.SimpleRequest{ResponseStatus: &testgrpc.EchoStatus{Code: 5, Message: "gone"}})
	if err == nil {
		t.Fatal("want an error")
	}
	ss := channel.UnaryStream[*testgrpc.StreamingOutputCallRequest, *testgrpc.StreamingOutputCallResponse](ch, svc+"StreamingOutputCall")
	rs, err := ss.Call(ctx, &testgrpc.StreamingOutputCallRequest{ResponseParameters: []*testgrpc.ResponseParameters{{Size: 1}, {Size: 2}, {Size: 3}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, err := range rs.All() {
		if err != nil {
			t.Fatal(err)
		}
	}
	cs := channel.StreamUnary[*testgrpc.StreamingInputCallRequest, *testgrpc.StreamingInputCallResponse](ch, svc+"StreamingInputCall")
	reqs := []*testgrpc.StreamingInputCallRequest{{Payload: &testgrpc.Payload{Body: make([]byte, 5)}}, {Payload: &testgrpc.Payload{Body: make([]byte, 6)}}}
	if _, err := cs.Call(ctx, slices.Values(reqs)); err != nil {
		t.Fatal(err)
	}

	lines := buf.lines()
	if len(lines) != 4 {
		t.Fatalf("%d lines, want 4:\n%s", len(lines), strings.Join(lines, "\n"))
	}
	wantLine(t, lines[0], "level=INFO", `msg="grpc call"`, "method="+svc+"UnaryCall", "code=OK", "duration=",
		"sent_messages=1", "sent_bytes="+strconv.Itoa(proto.Size(req)), "received_messages=1", "received_bytes="+strconv.Itoa(proto.Size(resp)), "peer="+addr)
	wantLine(t, lines[1], "level=WARN", "code=NOT_FOUND", "error=gone", "received_messages=0", "peer="+addr)
	wantLine(t, lines[2], "level=INFO", "method="+svc+"StreamingOutputCall", "code=OK", "sent_messages=1", "received_messages=3", "peer="+addr)
	wantLine(t, lines[3], "method="+svc+"StreamingInputCall", "code=OK", "sent_messages=2",
		"sent_bytes="+strconv.Itoa(proto.Size(reqs[0])+proto.Size(reqs[1])), "received_messages=1", "peer="+addr)
}

func TestLoggingLevels(t *testing.T) {
	var buf syncBuffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	li := interceptors.Logging(logger, interceptors.WithLogMessage("rpc"), interceptors.WithLevels(func(c codes.Code) slog.Level {
		if c == codes.NotFound {
			return slog.LevelDebug
		}
		return slog.LevelError
	}))
	next := func(_ context.Context, _ *interceptors.ClientCallDetails, req any) (any, interceptors.Call, error) {
		return []byte("abc"), nil, nil
	}
	li.InterceptUnaryUnary(context.Background(), &interceptors.ClientCallDetails{Method: "/s.S/M"}, []byte("hello"), next)
	wantLine(t, buf.lines()[0], "level=ERROR", "msg=rpc", "code=OK", "sent_bytes=5", "received_bytes=3")
}

// With the level off, the interceptor allocates nothing for any kind of
// call: it passes the call straight on.
func TestLoggingDisabledAllocatesNothing(t *testing.T) {
	li := interceptors.Logging(slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelError})))
	ctx, d := context.Background(), &interceptors.ClientCallDetails{Method: "/s.S/M"}
	var req any = []byte("request") // boxed once: the conversion is not the interceptor's
	var reqs iter.Seq[any]
	uu := func(context.Context, *interceptors.ClientCallDetails, any) (any, interceptors.Call, error) {
		return req, nil, nil
	}
	su := func(context.Context, *interceptors.ClientCallDetails, iter.Seq[any]) (any, interceptors.Call, error) {
		return req, nil, nil
	}
	us := func(context.Context, *interceptors.ClientCallDetails, any) (interceptors.ClientStream, error) {
		return nil, nil
	}
	sst := func(context.Context, *interceptors.ClientCallDetails, iter.Seq[any]) (interceptors.ClientStream, error) {
		return nil, nil
	}
	allocs := testing.AllocsPerRun(1000, func() {
		li.InterceptUnaryUnary(ctx, d, req, uu)
		li.InterceptStreamUnary(ctx, d, reqs, su)
		li.InterceptUnaryStream(ctx, d, req, us)
		li.InterceptStreamStream(ctx, d, reqs, sst)
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per call with logging off, want 0", allocs)
	}
}

// BenchmarkLogging measures the interceptor around a call that does
// nothing: "off" (level disabled) must show 0 allocs/op.
func BenchmarkLogging(b *testing.B) {
	ctx, d := context.Background(), &interceptors.ClientCallDetails{Method: "/s.S/M"}
	var req any = []byte("request") // boxed once: the conversion is not the interceptor's
	next := func(context.Context, *interceptors.ClientCallDetails, any) (any, interceptors.Call, error) {
		return req, nil, nil
	}
	for _, bc := range []struct {
		name  string
		level slog.Level
	}{{"off", slog.LevelError}, {"on", slog.LevelInfo}} {
		li := interceptors.Logging(slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: bc.level})))
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				li.InterceptUnaryUnary(ctx, d, req, next)
			}
		})
	}
}
