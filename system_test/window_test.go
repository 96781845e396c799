package system_test

import (
	"io"
	"testing"

	"github.com/grpcactor/grpcactor/channel"
	"github.com/grpcactor/grpcactor/system_test/peers"
)

// TestLargeMessagesWindows: large responses arrive intact with BDP
// estimation (the default: windows start at 64 KiB and grow), with it off
// (fixed 4 MiB / 16 MiB windows), and with the smallest fixed windows the
// options accept, against grpc-go's, Python grpcio's and Node grpc-js's
// servers: 8 MiB unary responses and a server stream of 8 × 1 MiB.
func TestLargeMessagesWindows(t *testing.T) {
	servers := []struct {
		name  string
		start func(testing.TB) string
	}{
		{"grpc-go", peers.StartGoInterop},
		{"python", peers.StartPythonInterop},
		{"node", peers.StartNodeInterop},
	}
	configs := []struct {
		name string
		opts []channel.Option
	}{
		{"bdp", nil},
		{"fixed-default", []channel.Option{channel.WithBDPProbe(false)}},
		{"fixed-64k", []channel.Option{channel.WithInitialWindowSize(65535), channel.WithInitialConnWindowSize(65535)}},
		{"lookahead", []channel.Option{channel.WithOption("grpc.http2.lookahead_bytes", 1<<20)}},
	}
	for _, sv := range servers {
		t.Run(sv.name, func(t *testing.T) {
			addr := sv.start(t)
			for _, cf := range configs {
				t.Run(cf.name, func(t *testing.T) {
					s := dialStubs(t, addr, append([]channel.Option{channel.WithMaxReceiveMessageSize(-1)}, cf.opts...)...)
					ctx := tctx(t)
					for i := range 2 {
						resp, err := s.unary.Call(ctx, &simpleReq{ResponseSize: 8 << 20})
						if err != nil {
							t.Fatalf("unary %d: %v", i, err)
						}
						checkPayload(t, "8 MiB response", resp.GetPayload(), 8<<20)
					}
					sizes := make([]int, 8)
					for i := range sizes {
						sizes[i] = 1 << 20
					}
					rs, err := s.streamOut.Call(ctx, serverStreamReq(sizes))
					if err != nil {
						t.Fatal(err)
					}
					for i := range sizes {
						r, err := rs.Recv()
						if err != nil {
							t.Fatalf("server stream: Recv %d: %v", i, err)
						}
						checkPayload(t, "1 MiB stream response", r.GetPayload(), 1<<20)
					}
					if _, err := rs.Recv(); err != io.EOF {
						t.Fatalf("server stream end: %v, want io.EOF", err)
					}
				})
			}
		})
	}
}
