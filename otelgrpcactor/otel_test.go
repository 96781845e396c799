package otelgrpcactor_test

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/grpcactor/grpcactor/channel"
	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/internal/leakcheck"
	"github.com/grpcactor/grpcactor/otelgrpcactor"
	"github.com/grpcactor/grpcactor/status"
	"go.opentelemetry.io/otel/attribute"
	otelcodes "go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/interop"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	grpcmd "google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"
)

func TestMain(m *testing.M) { leakcheck.VerifyTestMain(m) }

const svc = "/grpc.testing.TestService/"

// traceparents records the traceparent each call brought to the server.
type traceparents struct {
	mu   sync.Mutex
	seen map[string][]string // method -> traceparent values
}

func (tp *traceparents) record(ctx context.Context, method string) {
	md, _ := grpcmd.FromIncomingContext(ctx)
	tp.mu.Lock()
	defer tp.mu.Unlock()
	tp.seen[method] = append(tp.seen[method], md.Get("traceparent")...)
}

func (tp *traceparents) get(method string) []string {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	return slices.Clone(tp.seen[method])
}

// startServer starts grpc-go's interop server, recording traceparents.
func startServer(t *testing.T) (string, *traceparents) {
	t.Helper()
	tp := &traceparents{seen: map[string][]string{}}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(
		grpc.UnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			tp.record(ctx, info.FullMethod)
			return h(ctx, req)
		}),
		grpc.StreamInterceptor(func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			tp.record(ss.Context(), info.FullMethod)
			return h(srv, ss)
		}))
	testgrpc.RegisterTestServiceServer(srv, interop.NewTestServer())
	done := make(chan struct{})
	go func() { defer close(done); srv.Serve(lis) }()
	t.Cleanup(func() { srv.Stop(); <-done })
	return lis.Addr().String(), tp
}

type setup struct {
	ch     *channel.Channel
	spans  *tracetest.InMemoryExporter
	reader *sdkmetric.ManualReader
	tp     *sdktrace.TracerProvider
}

func newSetup(t *testing.T, addr string, opts ...channel.Option) *setup {
	t.Helper()
	s := &setup{spans: tracetest.NewInMemoryExporter(), reader: sdkmetric.NewManualReader()}
	s.tp = sdktrace.NewTracerProvider(sdktrace.WithSyncer(s.spans))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(s.reader))
	t.Cleanup(func() { s.tp.Shutdown(context.Background()); mp.Shutdown(context.Background()) })
	h, err := otelgrpcactor.New(otelgrpcactor.WithTracerProvider(s.tp), otelgrpcactor.WithMeterProvider(mp))
	if err != nil {
		t.Fatal(err)
	}
	base, err := channel.Insecure(addr, append(opts, h.ChannelOption())...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { base.Close() })
	if s.ch, err = h.Instrument(base); err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *setup) metrics(t *testing.T) map[string]metricdata.Metrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := s.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[string]metricdata.Metrics{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			out[m.Name] = m
		}
	}
	return out
}

// attrs renders an attribute set as "k=v,k=v" (sorted).
func attrs(set attribute.Set) string {
	var parts []string
	for _, kv := range set.ToSlice() {
		parts = append(parts, string(kv.Key)+"="+kv.Value.String())
	}
	return strings.Join(parts, ",")
}

// histograms returns count and sum per attribute set of a histogram.
func histograms[N int64 | float64](t *testing.T, m metricdata.Metrics) map[string][2]float64 {
	t.Helper()
	h, ok := m.Data.(metricdata.Histogram[N])
	if !ok {
		t.Fatalf("%s: %T is not a histogram", m.Name, m.Data)
	}
	out := map[string][2]float64{}
	for _, dp := range h.DataPoints {
		out[attrs(dp.Attributes)] = [2]float64{float64(dp.Count), float64(dp.Sum)}
	}
	return out
}

func TestUnaryMetricsSpansAndTraceContext(t *testing.T) {
	addr, seen := startServer(t)
	s := newSetup(t, addr)
	unary := channel.UnaryUnary[*testgrpc.SimpleRequest, *testgrpc.SimpleResponse](s.ch, svc+"UnaryCall")
	req := &testgrpc.SimpleRequest{ResponseSize: 100, Payload: &testgrpc.Payload{Body: make([]byte, 200)}}
	resp, err := unary.Call(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	_, err = unary.Call(context.Background(), &testgrpc.SimpleRequest{ResponseStatus: &testgrpc.EchoStatus{Code: 5, Message: "gone"}})
	if status.Code(err) != codes.NotFound {
		t.Fatalf("want NOT_FOUND, got %v", err)
	}

	// Spans: one per call, client kind, semantic-convention attributes,
	// the failed one with an error status.
	spans := s.spans.GetSpans()
	if len(spans) != 2 {
		t.Fatalf("%d spans, want 2", len(spans))
	}
	for i, sp := range spans {
		if sp.Name != "grpc.testing.TestService/UnaryCall" || sp.SpanKind != trace.SpanKindClient {
			t.Fatalf("span %d: %s %v", i, sp.Name, sp.SpanKind)
		}
		got := attrs(attribute.NewSet(sp.Attributes...))
		wantCode := []string{"0", "5"}[i]
		for _, w := range []string{"rpc.system=grpc", "rpc.service=grpc.testing.TestService", "rpc.method=UnaryCall",
			"server.address=127.0.0.1", "rpc.grpc.status_code=" + wantCode} {
			if !strings.Contains(got, w) {
				t.Fatalf("span %d attributes %s lack %s", i, got, w)
			}
		}
	}
	if spans[0].Status.Code != otelcodes.Unset || spans[1].Status.Code != otelcodes.Error || spans[1].Status.Description != "gone" {
		t.Fatalf("span statuses: %+v, %+v", spans[0].Status, spans[1].Status)
	}
	// The server saw each span's context as W3C traceparent.
	got := seen.get(svc + "UnaryCall")
	if len(got) != 2 {
		t.Fatalf("server saw traceparents %q", got)
	}
	for i, sp := range spans {
		want := fmt.Sprintf("00-%s-%s-01", sp.SpanContext.TraceID(), sp.SpanContext.SpanID())
		if got[i] != want {
			t.Fatalf("call %d: server saw traceparent %q, want %q", i, got[i], want)
		}
	}

	// Metrics.
	ms := s.metrics(t)
	base := "grpc.method=grpc.testing.TestService/UnaryCall,grpc.status=%s,grpc.target=dns:///" + addr
	ok, notFound := fmt.Sprintf(base, "OK"), fmt.Sprintf(base, "NOT_FOUND")
	started := ms["grpc.client.attempt.started"].Data.(metricdata.Sum[int64])
	if len(started.DataPoints) != 1 || started.DataPoints[0].Value != 2 ||
		attrs(started.DataPoints[0].Attributes) != "grpc.method=grpc.testing.TestService/UnaryCall,grpc.target=dns:///"+addr {
		t.Fatalf("attempt.started: %+v", started.DataPoints)
	}
	for _, name := range []string{"grpc.client.attempt.duration", "grpc.client.call.duration"} {
		h := histograms[float64](t, ms[name])
		if h[ok][0] != 1 || h[notFound][0] != 1 || len(h) != 2 {
			t.Fatalf("%s: %v", name, h)
		}
	}
	sent := histograms[int64](t, ms["grpc.client.attempt.sent_total_compressed_message_size"])
	rcvd := histograms[int64](t, ms["grpc.client.attempt.rcvd_total_compressed_message_size"])
	if sent[ok] != [2]float64{1, float64(proto.Size(req))} || rcvd[ok] != [2]float64{1, float64(proto.Size(resp))} || rcvd[notFound] != [2]float64{1, 0} {
		t.Fatalf("sizes: sent %v, rcvd %v (request %d, response %d bytes)", sent, rcvd, proto.Size(req), proto.Size(resp))
	}

	// Connectivity gauge: READY is 1, the others 0.
	g := ms["grpcactor.client.channel.connectivity_state"].Data.(metricdata.Gauge[int64])
	states := map[string]int64{}
	for _, dp := range g.DataPoints {
		v, _ := dp.Attributes.Value("grpc.connectivity_state")
		states[v.AsString()] = dp.Value
	}
	if len(states) != 5 || states["READY"] != 1 || states["IDLE"] != 0 || states["TRANSIENT_FAILURE"] != 0 {
		t.Fatalf("connectivity gauge: %v", states)
	}
}

func TestStreamingCalls(t *testing.T) {
	addr, seen := startServer(t)
	s := newSetup(t, addr)
	ctx := context.Background()

	ss := channel.UnaryStream[*testgrpc.StreamingOutputCallRequest, *testgrpc.StreamingOutputCallResponse](s.ch, svc+"StreamingOutputCall")
	rs, err := ss.Call(ctx, &testgrpc.StreamingOutputCallRequest{ResponseParameters: []*testgrpc.ResponseParameters{{Size: 10}, {Size: 20}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, err := range rs.All() {
		if err != nil {
			t.Fatal(err)
		}
	}
	cs := channel.StreamUnary[*testgrpc.StreamingInputCallRequest, *testgrpc.StreamingInputCallResponse](s.ch, svc+"StreamingInputCall")
	reqs := []*testgrpc.StreamingInputCallRequest{{Payload: &testgrpc.Payload{Body: make([]byte, 7)}}, {Payload: &testgrpc.Payload{Body: make([]byte, 9)}}}
	if _, err := cs.Call(ctx, slices.Values(reqs)); err != nil {
		t.Fatal(err)
	}
	bidi := channel.StreamStream[*testgrpc.StreamingOutputCallRequest, *testgrpc.StreamingOutputCallResponse](s.ch, svc+"FullDuplexCall")
	bs, err := bidi.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	bs.Send(&testgrpc.StreamingOutputCallRequest{ResponseParameters: []*testgrpc.ResponseParameters{{Size: 3}}})
	if _, err := bs.Recv(); err != nil {
		t.Fatal(err)
	}
	bs.CloseSend()
	for _, err := range bs.All() {
		if err != nil {
			t.Fatal(err)
		}
	}

	spans := s.spans.GetSpans()
	var names []string
	for _, sp := range spans {
		names = append(names, sp.Name)
	}
	want := []string{"grpc.testing.TestService/StreamingOutputCall", "grpc.testing.TestService/StreamingInputCall", "grpc.testing.TestService/FullDuplexCall"}
	if !slices.Equal(names, want) {
		t.Fatalf("spans %q, want %q", names, want)
	}
	for _, m := range []string{"StreamingOutputCall", "StreamingInputCall", "FullDuplexCall"} {
		if len(seen.get(svc+m)) != 1 {
			t.Fatalf("%s: server saw traceparents %q", m, seen.get(svc+m))
		}
	}
	ms := s.metrics(t)
	rcvd := histograms[int64](t, ms["grpc.client.attempt.rcvd_total_compressed_message_size"])
	sent := histograms[int64](t, ms["grpc.client.attempt.sent_total_compressed_message_size"])
	key := func(m string) string {
		return "grpc.method=grpc.testing.TestService/" + m + ",grpc.status=OK,grpc.target=dns:///" + addr
	}
	// Responses of 10 and 20 payload bytes: each message is the payload
	// message (tag, length, body) inside the response (tag, length).
	if got := rcvd[key("StreamingOutputCall")][1]; got != float64(2+2+10+2+2+20) {
		t.Fatalf("streamed bytes received %v", got)
	}
	if got := sent[key("StreamingInputCall")][1]; got != float64(proto.Size(reqs[0])+proto.Size(reqs[1])) {
		t.Fatalf("client-streamed bytes sent %v", got)
	}
	calls := histograms[float64](t, ms["grpc.client.call.duration"])
	for _, m := range []string{"StreamingOutputCall", "StreamingInputCall", "FullDuplexCall"} {
		if calls[key(m)][0] != 1 {
			t.Fatalf("call.duration for %s: %v", m, calls)
		}
	}
}

func TestRetriedAttempts(t *testing.T) {
	addr, seen := startServer(t)
	s := newSetup(t, addr, channel.WithServiceConfig(`{"methodConfig": [{
		"name": [{"service": "grpc.testing.TestService", "method": "UnaryCall"}],
		"retryPolicy": {"maxAttempts": 3, "initialBackoff": "0.001s", "maxBackoff": "0.001s",
			"backoffMultiplier": 1, "retryableStatusCodes": ["UNAVAILABLE"]}}]}`))
	unary := channel.UnaryUnary[*testgrpc.SimpleRequest, *testgrpc.SimpleResponse](s.ch, svc+"UnaryCall")
	_, err := unary.Call(context.Background(), &testgrpc.SimpleRequest{ResponseStatus: &testgrpc.EchoStatus{Code: 14, Message: "again"}})
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("want UNAVAILABLE, got %v", err)
	}
	// One call: one span, one call duration; three attempts, each
	// carrying the same trace context.
	spans := s.spans.GetSpans()
	if len(spans) != 1 || spans[0].Status.Code != otelcodes.Error {
		t.Fatalf("spans: %+v", spans)
	}
	tp := seen.get(svc + "UnaryCall")
	want := fmt.Sprintf("00-%s-%s-01", spans[0].SpanContext.TraceID(), spans[0].SpanContext.SpanID())
	if len(tp) != 3 || tp[0] != want || tp[1] != want || tp[2] != want {
		t.Fatalf("server saw traceparents %q, want 3 of %q", tp, want)
	}
	ms := s.metrics(t)
	key := "grpc.method=grpc.testing.TestService/UnaryCall,grpc.status=UNAVAILABLE,grpc.target=dns:///" + addr
	if started := ms["grpc.client.attempt.started"].Data.(metricdata.Sum[int64]); started.DataPoints[0].Value != 3 {
		t.Fatalf("attempt.started %v", started.DataPoints[0].Value)
	}
	if got := histograms[float64](t, ms["grpc.client.attempt.duration"])[key][0]; got != 3 {
		t.Fatalf("attempt.duration count %v", got)
	}
	if got := histograms[float64](t, ms["grpc.client.call.duration"])[key][0]; got != 1 {
		t.Fatalf("call.duration count %v", got)
	}
}

// TestTargetAttribute checks grpc.target on every metric: the channel's
// canonical target (gRFC A66), "dns:///host:port" for "host:port" and any
// target with a scheme as given.
func TestTargetAttribute(t *testing.T) {
	addr, _ := startServer(t)
	for _, tt := range []struct{ target, want string }{
		{addr, "dns:///" + addr},
		{"dns:///" + addr, "dns:///" + addr},
		{"ipv4:" + addr, "ipv4:" + addr},
		{"passthrough:///" + addr, "passthrough:///" + addr},
	} {
		s := newSetup(t, tt.target)
		empty := channel.UnaryUnary[*testgrpc.Empty, *testgrpc.Empty](s.ch, svc+"EmptyCall")
		if _, err := empty.Call(context.Background(), &testgrpc.Empty{}); err != nil {
			t.Fatalf("%s: %v", tt.target, err)
		}
		ms := s.metrics(t)
		for _, name := range []string{"grpc.client.attempt.started", "grpc.client.attempt.duration",
			"grpc.client.attempt.sent_total_compressed_message_size", "grpc.client.attempt.rcvd_total_compressed_message_size",
			"grpc.client.call.duration", "grpcactor.client.channel.connectivity_state"} {
			var sets []attribute.Set
			switch d := ms[name].Data.(type) {
			case metricdata.Sum[int64]:
				for _, dp := range d.DataPoints {
					sets = append(sets, dp.Attributes)
				}
			case metricdata.Histogram[int64]:
				for _, dp := range d.DataPoints {
					sets = append(sets, dp.Attributes)
				}
			case metricdata.Histogram[float64]:
				for _, dp := range d.DataPoints {
					sets = append(sets, dp.Attributes)
				}
			case metricdata.Gauge[int64]:
				for _, dp := range d.DataPoints {
					sets = append(sets, dp.Attributes)
				}
			default:
				t.Fatalf("%s: %s is %T", tt.target, name, ms[name].Data)
			}
			if len(sets) == 0 {
				t.Errorf("%s: %s has no data points", tt.target, name)
			}
			for _, set := range sets {
				if v, _ := set.Value("grpc.target"); v.AsString() != tt.want {
					t.Errorf("channel on %s: %s has grpc.target=%q, want %q", tt.target, name, v.AsString(), tt.want)
				}
			}
		}
	}
}

// messageEvents renders a span's rpc.message events as "TYPE id size".
func messageEvents(sp tracetest.SpanStub) []string {
	var out []string
	for _, e := range sp.Events {
		if e.Name != "rpc.message" {
			continue
		}
		var typ string
		var id, size int64
		for _, kv := range e.Attributes {
			switch kv.Key {
			case "rpc.message.type":
				typ = kv.Value.AsString()
			case "rpc.message.id":
				id = kv.Value.AsInt64()
			case "rpc.message.uncompressed_size":
				size = kv.Value.AsInt64()
			}
		}
		out = append(out, fmt.Sprintf("%s %d %d", typ, id, size))
	}
	return out
}

// TestMessageEvents checks the spans' rpc.message events for each kind
// of call, and that WithMessageEvents(false) leaves them out.
func TestMessageEvents(t *testing.T) {
	addr, _ := startServer(t)
	s := newSetup(t, addr)
	ctx := context.Background()

	req := &testgrpc.SimpleRequest{ResponseSize: 4}
	unary := channel.UnaryUnary[*testgrpc.SimpleRequest, *testgrpc.SimpleResponse](s.ch, svc+"UnaryCall")
	resp, err := unary.Call(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	ssReq := &testgrpc.StreamingOutputCallRequest{ResponseParameters: []*testgrpc.ResponseParameters{{Size: 10}, {Size: 20}}}
	ss := channel.UnaryStream[*testgrpc.StreamingOutputCallRequest, *testgrpc.StreamingOutputCallResponse](s.ch, svc+"StreamingOutputCall")
	rs, err := ss.Call(ctx, ssReq)
	if err != nil {
		t.Fatal(err)
	}
	for _, err := range rs.All() {
		if err != nil {
			t.Fatal(err)
		}
	}
	reqs := []*testgrpc.StreamingInputCallRequest{{Payload: &testgrpc.Payload{Body: make([]byte, 7)}}, {Payload: &testgrpc.Payload{Body: make([]byte, 9)}}}
	cs := channel.StreamUnary[*testgrpc.StreamingInputCallRequest, *testgrpc.StreamingInputCallResponse](s.ch, svc+"StreamingInputCall")
	csResp, err := cs.Call(ctx, slices.Values(reqs))
	if err != nil {
		t.Fatal(err)
	}
	bidi := channel.StreamStream[*testgrpc.StreamingOutputCallRequest, *testgrpc.StreamingOutputCallResponse](s.ch, svc+"FullDuplexCall")
	bs, err := bidi.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ping := &testgrpc.StreamingOutputCallRequest{ResponseParameters: []*testgrpc.ResponseParameters{{Size: 3}}}
	bs.Send(ping)
	if _, err := bs.Recv(); err != nil {
		t.Fatal(err)
	}
	bs.CloseSend()
	for _, err := range bs.All() {
		if err != nil {
			t.Fatal(err)
		}
	}

	size := func(m proto.Message) int { return proto.Size(m) }
	out := func(n int) int {
		return size(&testgrpc.StreamingOutputCallResponse{Payload: &testgrpc.Payload{Body: make([]byte, n)}})
	}
	want := map[string][]string{
		"UnaryCall": {fmt.Sprintf("SENT 1 %d", size(req)), fmt.Sprintf("RECEIVED 1 %d", size(resp))},
		"StreamingOutputCall": {fmt.Sprintf("SENT 1 %d", size(ssReq)),
			fmt.Sprintf("RECEIVED 1 %d", out(10)), fmt.Sprintf("RECEIVED 2 %d", out(20))},
		"StreamingInputCall": {fmt.Sprintf("SENT 1 %d", size(reqs[0])), fmt.Sprintf("SENT 2 %d", size(reqs[1])),
			fmt.Sprintf("RECEIVED 1 %d", size(csResp))},
		"FullDuplexCall": {fmt.Sprintf("SENT 1 %d", size(ping)), fmt.Sprintf("RECEIVED 1 %d", out(3))},
	}
	spans := s.spans.GetSpans()
	if len(spans) != len(want) {
		t.Fatalf("%d spans, want %d", len(spans), len(want))
	}
	for _, sp := range spans {
		m := strings.TrimPrefix(sp.Name, "grpc.testing.TestService/")
		got := messageEvents(sp)
		// A bidirectional call's requests go out on a goroutine of the
		// call's: compare each direction in its own order.
		slices.SortStableFunc(got, func(a, b string) int { return strings.Compare(a[:4], b[:4]) })
		w := slices.Clone(want[m])
		slices.SortStableFunc(w, func(a, b string) int { return strings.Compare(a[:4], b[:4]) })
		if !slices.Equal(got, w) {
			t.Errorf("%s: events %q, want %q", m, got, w)
		}
	}

	// Off: no events.
	off := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(off))
	defer tp.Shutdown(ctx)
	h, err := otelgrpcactor.New(otelgrpcactor.WithTracerProvider(tp), otelgrpcactor.WithMessageEvents(false))
	if err != nil {
		t.Fatal(err)
	}
	base, err := channel.Insecure(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer base.Close()
	traced, err := h.Instrument(base)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := channel.UnaryUnary[*testgrpc.SimpleRequest, *testgrpc.SimpleResponse](traced, svc+"UnaryCall").Call(ctx, req); err != nil {
		t.Fatal(err)
	}
	if sp := off.GetSpans(); len(sp) != 1 {
		t.Errorf("WithMessageEvents(false): %d spans, want 1", len(sp))
	} else if len(sp[0].Events) != 0 {
		t.Errorf("WithMessageEvents(false): events %v", sp[0].Events)
	}
}
