package channel_test

import (
	"context"
	"fmt"
	"math"
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

// BenchmarkLargeUnary compares 1 MiB and 8 MiB responses with the fixed
// windows (BDP off), with BDP estimation (the default), and on grpc-go's
// client (BDP on), on loopback.
func BenchmarkLargeUnary(b *testing.B) {
	addr := startBenchServer(b)
	for _, size := range []int{1 << 20, 8 << 20} {
		req := &testgrpc.SimpleRequest{ResponseSize: int32(size)}
		for _, bc := range []struct {
			name string
			opts []channel.Option
		}{
			{"grpcactor-fixed", []channel.Option{channel.WithBDPProbe(false)}},
			{"grpcactor-bdp", nil},
		} {
			b.Run(fmt.Sprintf("%s/%dMiB", bc.name, size>>20), func(b *testing.B) {
				ch, err := channel.Insecure(addr, append(bc.opts, channel.WithMaxReceiveMessageSize(-1))...)
				if err != nil {
					b.Fatal(err)
				}
				defer ch.Close()
				call := channel.UnaryUnary[*testgrpc.SimpleRequest, *testgrpc.SimpleResponse](ch, "/grpc.testing.TestService/UnaryCall")
				ctx := context.Background()
				b.SetBytes(int64(size))
				b.ResetTimer()
				for b.Loop() {
					if _, err := call.Call(ctx, req); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
		b.Run(fmt.Sprintf("grpc-go/%dMiB", size>>20), func(b *testing.B) {
			cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(math.MaxInt32)))
			if err != nil {
				b.Fatal(err)
			}
			defer cc.Close()
			client := testgrpc.NewTestServiceClient(cc)
			ctx := context.Background()
			b.SetBytes(int64(size))
			b.ResetTimer()
			for b.Loop() {
				if _, err := client.UnaryCall(ctx, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
