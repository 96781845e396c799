package otelgrpcactor_test

import (
	"context"
	"fmt"
	"net"

	"github.com/grpcactor/grpcactor/channel"
	"github.com/grpcactor/grpcactor/otelgrpcactor"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/interop"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
)

func Example() {
	// A local gRPC server to call.
	lis, _ := net.Listen("tcp", "127.0.0.1:0")
	srv := grpc.NewServer()
	testgrpc.RegisterTestServiceServer(srv, interop.NewTestServer())
	go srv.Serve(lis)
	defer srv.Stop()

	spans := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))

	h, _ := otelgrpcactor.New(otelgrpcactor.WithTracerProvider(tp), otelgrpcactor.WithMeterProvider(mp))
	ch, _ := channel.Insecure(lis.Addr().String(), h.ChannelOption())
	defer ch.Close()
	traced, _ := h.Instrument(ch)

	empty := channel.UnaryUnary[*testgrpc.Empty, *testgrpc.Empty](traced, "/grpc.testing.TestService/EmptyCall")
	if _, err := empty.Call(context.Background(), &testgrpc.Empty{}); err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range spans.GetSpans() {
		fmt.Println("span:", s.Name, s.SpanKind)
	}
	var rm metricdata.ResourceMetrics
	reader.Collect(context.Background(), &rm)
	for _, m := range rm.ScopeMetrics[0].Metrics {
		fmt.Println("metric:", m.Name)
	}
	// Output:
	// span: grpc.testing.TestService/EmptyCall client
	// metric: grpc.client.attempt.started
	// metric: grpc.client.attempt.duration
	// metric: grpc.client.attempt.sent_total_compressed_message_size
	// metric: grpc.client.attempt.rcvd_total_compressed_message_size
	// metric: grpc.client.call.duration
	// metric: grpcactor.client.channel.connectivity_state
}
