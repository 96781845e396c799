// Package otelgrpcactor records OpenTelemetry telemetry for grpcactor
// channels: gRFC A66's client metrics, client spans per OpenTelemetry's
// RPC semantic conventions with W3C trace context sent in the call's
// metadata, and each channel's connectivity state as an observable gauge.
//
// It has two halves, because a call's attempts happen below the
// interceptor chain: the Handler's channel option (a channel.StatsHandler)
// sees every attempt, transparent and policy retries included, with the
// compressed size of each message; its interceptor (Instrument) sees the
// call as the application made it.
//
//	h, err := otelgrpcactor.New(otelgrpcactor.WithMeterProvider(mp), otelgrpcactor.WithTracerProvider(tp))
//	ch, err := channel.Insecure("localhost:50051", h.ChannelOption())
//	ch, err = h.Instrument(ch) // calls on this channel are traced and measured
//
// Metrics (gRFC A66, with its bucket boundaries):
//
//	grpc.client.attempt.started                          counter   {attempt}  grpc.method, grpc.target
//	grpc.client.attempt.duration                         histogram s          grpc.method, grpc.target, grpc.status
//	grpc.client.attempt.sent_total_compressed_message_size histogram By       grpc.method, grpc.target, grpc.status
//	grpc.client.attempt.rcvd_total_compressed_message_size histogram By       grpc.method, grpc.target, grpc.status
//	grpc.client.call.duration                            histogram s          grpc.method, grpc.target, grpc.status
//	grpcactor.client.channel.connectivity_state          gauge     1          grpc.target, grpc.connectivity_state
//
// grpc.method is "package.Service/Method", grpc.target the channel's
// canonical target (channel.Channel.CanonicalTarget: "dns:///host:port"
// for a channel opened on "host:port", as gRFC A66 has it), grpc.status
// the code's name ("OK", "UNAVAILABLE"). The
// gauge is 1 for the state a channel is in and 0 for the four others.
//
// Spans carry an "rpc.message" event per message sent and received
// (WithMessageEvents). A streaming call's span and call duration end when
// Recv returns an error (io.EOF included) or the stream is cancelled: a
// stream that is neither drained nor cancelled leaves its span open.
package otelgrpcactor

import (
	"context"
	"errors"
	"io"
	"iter"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/grpcactor/grpcactor/channel"
	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/interceptors"
	"github.com/grpcactor/grpcactor/metadata"
	"github.com/grpcactor/grpcactor/status"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	otelcodes "go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/proto"
)

// ScopeName is the instrumentation scope of the tracer and meter.
const ScopeName = "github.com/grpcactor/grpcactor/otelgrpcactor"

// Option configures a Handler.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	tp       trace.TracerProvider
	mp       metric.MeterProvider
	prop     propagation.TextMapPropagator
	noEvents bool
}

// WithTracerProvider sets where spans go. Default: otel's global provider.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return optionFunc(func(c *config) { c.tp = tp })
}

// WithMeterProvider sets where metrics go. Default: otel's global
// provider.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return optionFunc(func(c *config) { c.mp = mp })
}

// WithPropagators sets how the span's context is sent in the call's
// metadata. Default: W3C trace context and baggage (traceparent,
// tracestate, baggage), whatever otel's global propagator is.
func WithPropagators(p propagation.TextMapPropagator) Option {
	return optionFunc(func(c *config) { c.prop = p })
}

// WithMessageEvents turns the spans' per-message events on or off: an
// "rpc.message" event for each request sent and each response received,
// with rpc.message.type (SENT, RECEIVED), rpc.message.id (counted from 1
// in each direction) and rpc.message.uncompressed_size (for protobuf
// messages), as OpenTelemetry's RPC conventions have it. Default: on.
func WithMessageEvents(on bool) Option {
	return optionFunc(func(c *config) { c.noEvents = !on })
}

// gRFC A66's bucket boundaries.
var (
	latencyBuckets = []float64{0, 0.00001, 0.00005, 0.0001, 0.0003, 0.0006, 0.0008, 0.001, 0.002, 0.003, 0.004, 0.005, 0.006, 0.008, 0.01, 0.013, 0.016, 0.02, 0.025, 0.03, 0.04, 0.05, 0.065, 0.08, 0.1, 0.13, 0.16, 0.2, 0.25, 0.3, 0.4, 0.5, 0.65, 0.8, 1, 2, 5, 10, 20, 50, 100}
	sizeBuckets    = []float64{0, 1024, 2048, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864, 268435456, 1073741824, 4294967296}
)

// Handler records the telemetry of the channels it instruments. It is
// safe for concurrent use; one Handler may serve many channels.
type Handler struct {
	tracer trace.Tracer
	prop   propagation.TextMapPropagator
	events bool // per-message span events

	attemptStarted metric.Int64Counter
	attemptDur     metric.Float64Histogram
	attemptSent    metric.Int64Histogram
	attemptRcvd    metric.Int64Histogram
	callDur        metric.Float64Histogram

	mu       sync.Mutex
	channels map[*channel.Channel]struct{}
}

// New returns a Handler recording to the configured providers.
func New(opts ...Option) (*Handler, error) {
	c := config{}
	for _, o := range opts {
		o.apply(&c)
	}
	if c.tp == nil {
		c.tp = otel.GetTracerProvider()
	}
	if c.mp == nil {
		c.mp = otel.GetMeterProvider()
	}
	if c.prop == nil {
		c.prop = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
	}
	h := &Handler{
		tracer:   c.tp.Tracer(ScopeName),
		prop:     c.prop,
		events:   !c.noEvents,
		channels: map[*channel.Channel]struct{}{},
	}
	m := c.mp.Meter(ScopeName)
	var err error
	h.attemptStarted, err = m.Int64Counter("grpc.client.attempt.started",
		metric.WithDescription("Number of client call attempts started."), metric.WithUnit("{attempt}"))
	if err != nil {
		return nil, err
	}
	h.attemptDur, err = m.Float64Histogram("grpc.client.attempt.duration",
		metric.WithDescription("End-to-end time taken to complete a client call attempt."), metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(latencyBuckets...))
	if err != nil {
		return nil, err
	}
	h.attemptSent, err = m.Int64Histogram("grpc.client.attempt.sent_total_compressed_message_size",
		metric.WithDescription("Compressed message bytes sent per client call attempt."), metric.WithUnit("By"),
		metric.WithExplicitBucketBoundaries(sizeBuckets...))
	if err != nil {
		return nil, err
	}
	h.attemptRcvd, err = m.Int64Histogram("grpc.client.attempt.rcvd_total_compressed_message_size",
		metric.WithDescription("Compressed message bytes received per call attempt."), metric.WithUnit("By"),
		metric.WithExplicitBucketBoundaries(sizeBuckets...))
	if err != nil {
		return nil, err
	}
	h.callDur, err = m.Float64Histogram("grpc.client.call.duration",
		metric.WithDescription("Time taken by gRPC to complete an RPC from application's perspective."), metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(latencyBuckets...))
	if err != nil {
		return nil, err
	}
	gauge, err := m.Int64ObservableGauge("grpcactor.client.channel.connectivity_state",
		metric.WithDescription("1 for the connectivity state a channel is in, 0 for the others."), metric.WithUnit("1"))
	if err != nil {
		return nil, err
	}
	if _, err := m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		h.observeStates(o, gauge)
		return nil
	}, gauge); err != nil {
		return nil, err
	}
	return h, nil
}

var allStates = []channel.Connectivity{channel.Idle, channel.Connecting, channel.Ready, channel.TransientFailure, channel.Shutdown}

// observeStates reports every instrumented channel's state; a channel
// reported SHUTDOWN is forgotten.
func (h *Handler) observeStates(o metric.Observer, gauge metric.Int64ObservableGauge) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.channels {
		cur := ch.State(false)
		for _, s := range allStates {
			v := int64(0)
			if s == cur {
				v = 1
			}
			o.ObserveInt64(gauge, v, metric.WithAttributes(
				attribute.String("grpc.target", ch.CanonicalTarget()),
				attribute.String("grpc.connectivity_state", s.String())))
		}
		if cur == channel.Shutdown {
			delete(h.channels, ch)
		}
	}
}

// ChannelOption returns the channel option that lets the Handler see every
// attempt of the channel's calls (channel.WithStatsHandler). Without it,
// the grpc.client.attempt.* metrics are not recorded.
func (h *Handler) ChannelOption() channel.Option { return channel.WithStatsHandler(h) }

// Instrument returns ch with the Handler's interceptor outermost (spans,
// trace context, grpc.client.call.duration) and adds ch to the
// connectivity gauge until it is closed.
func (h *Handler) Instrument(ch *channel.Channel) (*channel.Channel, error) {
	host, port := splitTarget(ch.Target())
	ic := &interceptor{h: h, target: ch.CanonicalTarget(), host: host, port: port}
	out, err := channel.Intercept(ch, ic)
	if err != nil {
		return nil, err
	}
	h.mu.Lock()
	h.channels[ch] = struct{}{}
	h.mu.Unlock()
	// Forget the channel when it shuts down, even if no metric reader
	// ever collects the gauge (the default no-op provider never does).
	ch.Subscribe(func(s channel.Connectivity) {
		if s == channel.Shutdown {
			h.mu.Lock()
			delete(h.channels, ch)
			h.mu.Unlock()
		}
	}, false)
	return out, nil
}

// splitTarget returns the server's host and port from a target, for the
// span's server.address and server.port.
func splitTarget(target string) (string, int) {
	t := target
	if i := strings.Index(t, ":///"); i >= 0 {
		t = t[i+4:]
	} else if i := strings.Index(t, "://"); i >= 0 {
		t = t[i+3:]
		if j := strings.IndexByte(t, '/'); j >= 0 {
			t = t[j+1:]
		}
	}
	if strings.HasPrefix(target, "unix") {
		return target, 0
	}
	host, p, err := net.SplitHostPort(t)
	if err != nil {
		return t, 0
	}
	port, _ := strconv.Atoi(p)
	return host, port
}

// AttemptStarted implements channel.StatsHandler: it counts the attempt
// and returns what records its duration and sizes.
func (h *Handler) AttemptStarted(ctx context.Context, info channel.AttemptInfo) channel.AttemptStats {
	method := strings.TrimPrefix(info.Method, "/")
	h.attemptStarted.Add(ctx, 1, metric.WithAttributes(
		attribute.String("grpc.method", method), attribute.String("grpc.target", info.CanonicalTarget)))
	return &attempt{h: h, ctx: ctx, method: method, target: info.CanonicalTarget, start: time.Now()}
}

// attempt records one attempt.
type attempt struct {
	h              *Handler
	ctx            context.Context
	method, target string
	start          time.Time
	sent, rcvd     atomic.Int64
}

func (a *attempt) OutMessage(n int) { a.sent.Add(int64(n)) }
func (a *attempt) InMessage(n int)  { a.rcvd.Add(int64(n)) }

func (a *attempt) End(st *status.Error) {
	code := codes.OK
	if st != nil {
		code = st.Code()
	}
	set := metric.WithAttributeSet(attribute.NewSet(
		attribute.String("grpc.method", a.method),
		attribute.String("grpc.target", a.target),
		attribute.String("grpc.status", code.String())))
	ctx := context.WithoutCancel(a.ctx)
	a.h.attemptDur.Record(ctx, time.Since(a.start).Seconds(), set)
	a.h.attemptSent.Record(ctx, a.sent.Load(), set)
	a.h.attemptRcvd.Record(ctx, a.rcvd.Load(), set)
}

// mdCarrier lets a propagator write into call metadata.
type mdCarrier metadata.MD

func (c mdCarrier) Get(key string) string {
	if v := metadata.MD(c).Get(key); len(v) > 0 {
		return v[0]
	}
	return ""
}
func (c mdCarrier) Set(key, value string) { metadata.MD(c).Set(key, value) }
func (c mdCarrier) Keys() []string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	return keys
}

// interceptor traces and times the calls of one channel.
type interceptor struct {
	h      *Handler
	target string
	host   string
	port   int
}

// callSpan is one call's span and start time.
type callSpan struct {
	ic     *interceptor
	ctx    context.Context
	span   trace.Span
	method string
	start  time.Time
	once   sync.Once

	sent, rcvd atomic.Int64 // messages so far, for rpc.message.id
}

// message adds the span's event for one message sent or received.
func (c *callSpan) message(typ attribute.KeyValue, counter *atomic.Int64, m any) {
	if !c.ic.h.events {
		return
	}
	attrs := []attribute.KeyValue{typ, semconv.RPCMessageID(int(counter.Add(1)))}
	if pm, ok := m.(proto.Message); ok {
		attrs = append(attrs, semconv.RPCMessageUncompressedSize(proto.Size(pm)))
	}
	c.span.AddEvent("rpc.message", trace.WithAttributes(attrs...))
}

func (c *callSpan) sentMsg(m any)     { c.message(semconv.RPCMessageTypeSent, &c.sent, m) }
func (c *callSpan) receivedMsg(m any) { c.message(semconv.RPCMessageTypeReceived, &c.rcvd, m) }

// sending wraps reqs to add an event for each request as it is sent.
func (c *callSpan) sending(reqs iter.Seq[any]) iter.Seq[any] {
	if !c.ic.h.events {
		return reqs
	}
	return func(yield func(any) bool) {
		for r := range reqs {
			c.sentMsg(r)
			if !yield(r) {
				return
			}
		}
	}
}

// begin starts the call's span and puts its context into the metadata.
func (ic *interceptor) begin(ctx context.Context, d *interceptors.ClientCallDetails) (context.Context, *callSpan) {
	method := strings.TrimPrefix(d.Method, "/")
	service, name, _ := strings.Cut(method, "/")
	attrs := []attribute.KeyValue{semconv.RPCSystemGRPC, semconv.RPCService(service), semconv.RPCMethod(name), semconv.ServerAddress(ic.host)}
	if ic.port > 0 {
		attrs = append(attrs, semconv.ServerPort(ic.port))
	}
	ctx, span := ic.h.tracer.Start(ctx, method, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
	md := d.Metadata.Copy()
	if md == nil {
		md = metadata.MD{}
	}
	ic.h.prop.Inject(ctx, mdCarrier(md))
	d.Metadata = md
	return ctx, &callSpan{ic: ic, ctx: ctx, span: span, method: method, start: time.Now()}
}

// end records the call's outcome: err nil or io.EOF is OK.
func (c *callSpan) end(err error) {
	c.once.Do(func() {
		code := codes.OK
		msg := ""
		if err != nil && !errors.Is(err, io.EOF) {
			st := status.Convert(err)
			code, msg = st.Code(), st.Details()
		}
		c.span.SetAttributes(semconv.RPCGRPCStatusCodeKey.Int(int(code)))
		if code != codes.OK {
			c.span.SetStatus(otelcodes.Error, msg)
		}
		c.span.End()
		c.ic.h.callDur.Record(context.WithoutCancel(c.ctx), time.Since(c.start).Seconds(), metric.WithAttributeSet(attribute.NewSet(
			attribute.String("grpc.method", c.method),
			attribute.String("grpc.target", c.ic.target),
			attribute.String("grpc.status", code.String()))))
	})
}

// InterceptUnaryUnary traces a unary call.
func (ic *interceptor) InterceptUnaryUnary(ctx context.Context, d *interceptors.ClientCallDetails, req any, next interceptors.UnaryInvoker) (any, interceptors.Call, error) {
	ctx, cs := ic.begin(ctx, d)
	cs.sentMsg(req)
	resp, call, err := next(ctx, d, req)
	if err == nil {
		cs.receivedMsg(resp)
	}
	cs.end(err)
	return resp, call, err
}

// InterceptStreamUnary traces a client-streaming call.
func (ic *interceptor) InterceptStreamUnary(ctx context.Context, d *interceptors.ClientCallDetails, reqs iter.Seq[any], next interceptors.StreamUnaryInvoker) (any, interceptors.Call, error) {
	ctx, cs := ic.begin(ctx, d)
	resp, call, err := next(ctx, d, cs.sending(reqs))
	if err == nil {
		cs.receivedMsg(resp)
	}
	cs.end(err)
	return resp, call, err
}

// InterceptUnaryStream traces a server-streaming call.
func (ic *interceptor) InterceptUnaryStream(ctx context.Context, d *interceptors.ClientCallDetails, req any, next interceptors.UnaryStreamInvoker) (interceptors.ClientStream, error) {
	ctx, cs := ic.begin(ctx, d)
	cs.sentMsg(req)
	s, err := next(ctx, d, req)
	if err != nil {
		cs.end(err)
		return nil, err
	}
	return &tracedStream{ClientStream: s, cs: cs}, nil
}

// InterceptStreamStream traces a bidirectional-streaming call.
func (ic *interceptor) InterceptStreamStream(ctx context.Context, d *interceptors.ClientCallDetails, reqs iter.Seq[any], next interceptors.StreamStreamInvoker) (interceptors.ClientStream, error) {
	ctx, cs := ic.begin(ctx, d)
	s, err := next(ctx, d, cs.sending(reqs))
	if err != nil {
		cs.end(err)
		return nil, err
	}
	return &tracedStream{ClientStream: s, cs: cs}, nil
}

// tracedStream ends the call's span with the stream.
type tracedStream struct {
	interceptors.ClientStream
	cs *callSpan
}

func (s *tracedStream) Recv() (any, error) {
	m, err := s.ClientStream.Recv()
	if err != nil {
		s.cs.end(err)
	} else {
		s.cs.receivedMsg(m)
	}
	return m, err
}

func (s *tracedStream) Cancel() bool {
	ok := s.ClientStream.Cancel()
	if ok {
		s.cs.end(status.New(codes.Canceled, "call cancelled"))
	}
	return ok
}
