package system_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"sync"
	"testing"

	"golang.org/x/net/http2"

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

// tapConn records the bytes the client writes.
type tapConn struct {
	net.Conn
	mu  *sync.Mutex
	out *bytes.Buffer
}

func (c tapConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.out.Write(p)
	c.mu.Unlock()
	return c.Conn.Write(p)
}

// TestBDPAgainstGoServer: with the default BDP estimation, 8 MiB responses
// from grpc-go's server make the client send BDP PINGs and grow its
// windows: SETTINGS_INITIAL_WINDOW_SIZE above 64 KiB (at most 16 MiB),
// each larger than the last, with connection WINDOW_UPDATEs, read from the
// bytes the client wrote.
func TestBDPAgainstGoServer(t *testing.T) {
	addr := startServer(t, serverConfig{}).Addr()
	var mu sync.Mutex
	var out bytes.Buffer
	dial := func(ctx context.Context, network, address string) (net.Conn, error) {
		var d net.Dialer
		c, err := d.DialContext(ctx, network, address)
		if err != nil {
			return nil, err
		}
		return tapConn{Conn: c, mu: &mu, out: &out}, nil
	}
	s := dialStubs(t, addr, channel.WithDialer(dial), channel.WithMaxReceiveMessageSize(-1))
	ctx := tctx(t)
	for i := range 3 {
		resp, err := s.unary.Call(ctx, &simpleReq{ResponseSize: 8 << 20})
		if err != nil {
			t.Fatalf("unary %d: %v", i, err)
		}
		checkPayload(t, "8 MiB response", resp.GetPayload(), 8<<20)
	}
	mu.Lock()
	wire := bytes.Clone(out.Bytes())
	mu.Unlock()
	if !bytes.HasPrefix(wire, []byte(http2.ClientPreface)) {
		t.Fatalf("the client's bytes do not start with the preface")
	}
	fr := http2.NewFramer(nil, bytes.NewReader(wire[len(http2.ClientPreface):]))
	var windows []uint32
	pings, connUpdates := 0, 0
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			break // the end of what was written
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if v, ok := f.Value(http2.SettingInitialWindowSize); ok && !f.IsAck() {
				windows = append(windows, v)
			}
		case *http2.PingFrame:
			if !f.IsAck() && string(f.Data[:]) == "bdp-ping" {
				pings++
			}
		case *http2.WindowUpdateFrame:
			if f.StreamID == 0 {
				connUpdates++
			}
		}
	}
	t.Logf("windows advertised %v, %d BDP PINGs, %d connection WINDOW_UPDATEs", windows, pings, connUpdates)
	if len(windows) < 2 || windows[0] != 65535 {
		t.Fatalf("SETTINGS_INITIAL_WINDOW_SIZE values %v: want 65535 first, then grown ones", windows)
	}
	for i := 1; i < len(windows); i++ {
		if windows[i] <= windows[i-1] || windows[i] > 16<<20 {
			t.Fatalf("SETTINGS_INITIAL_WINDOW_SIZE values %v: want each larger than the last, at most 16 MiB", windows)
		}
	}
	if pings == 0 || connUpdates == 0 {
		t.Fatalf("%d BDP PINGs, %d connection WINDOW_UPDATEs: want some of each", pings, connUpdates)
	}
}
