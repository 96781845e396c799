package channel_test

import (
	"context"
	"testing"

	"github.com/grpcactor/grpcactor/channel"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
)

// BenchmarkUnary compares a small unary call on this client and on
// grpc-go's, against the same in-process server (whose cost both include).
func BenchmarkUnary(b *testing.B) {
	addr := startBenchServer(b)
	req := &testgrpc.SimpleRequest{ResponseSize: 16, Payload: &testgrpc.Payload{Body: make([]byte, 16)}}
	b.Run("grpcactor", func(b *testing.B) {
		ch, err := channel.Insecure(addr)
		if err != nil {
			b.Fatal(err)
		}
		defer ch.Close()
		call := channel.UnaryUnary[*testgrpc.SimpleRequest, *testgrpc.SimpleResponse](ch, "/grpc.testing.TestService/UnaryCall")
		ctx := context.Background()
		if _, err := call.Call(ctx, req); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := call.Call(ctx, req); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("grpc-go", func(b *testing.B) {
		cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			b.Fatal(err)
		}
		defer cc.Close()
		client := testgrpc.NewTestServiceClient(cc)
		ctx := context.Background()
		if _, err := client.UnaryCall(ctx, req); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := client.UnaryCall(ctx, req); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

func startBenchServer(b *testing.B) string {
	addr, stop := startServer()
	b.Cleanup(stop)
	return addr
}

var _ = grpc.NewServer

// BenchmarkLargeUnary compares 1 MiB responses with the fixed default
// windows, with BDP estimation, and on grpc-go's client (BDP on), on
// loopback.
func BenchmarkLargeUnary(b *testing.B) {
	addr := startBenchServer(b)
	req := &testgrpc.SimpleRequest{ResponseSize: 1 << 20}
	for _, bc := range []struct {
		name string
		opts []channel.Option
	}{
		{"grpcactor-fixed", nil},
		{"grpcactor-bdp", []channel.Option{channel.WithBDPProbe(true)}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			ch, err := channel.Insecure(addr, bc.opts...)
			if err != nil {
				b.Fatal(err)
			}
			defer ch.Close()
			call := channel.UnaryUnary[*testgrpc.SimpleRequest, *testgrpc.SimpleResponse](ch, "/grpc.testing.TestService/UnaryCall")
			ctx := context.Background()
			b.SetBytes(1 << 20)
			b.ResetTimer()
			for b.Loop() {
				if _, err := call.Call(ctx, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("grpc-go", func(b *testing.B) {
		cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			b.Fatal(err)
		}
		defer cc.Close()
		client := testgrpc.NewTestServiceClient(cc)
		ctx := context.Background()
		b.SetBytes(1 << 20)
		b.ResetTimer()
		for b.Loop() {
			if _, err := client.UnaryCall(ctx, req); err != nil {
				b.Fatal(err)
			}
		}
	})
}
