package channel_test

import (
	"context"
	"io"
	"net"
	"testing"
	"time"

	"github.com/grpcactor/grpcactor/channel"
	"golang.org/x/net/http2"
)

// TestWindowAndHeaderOptionsOnTheWire: the window and header-list options
// reach the connection: the client's SETTINGS and first connection
// WINDOW_UPDATE, read by a fake server behind WithDialer.
func TestWindowAndHeaderOptionsOnTheWire(t *testing.T) {
	tests := []struct {
		name       string
		opts       []channel.Option
		window     uint32 // SETTINGS_INITIAL_WINDOW_SIZE
		headerList uint32 // SETTINGS_MAX_HEADER_LIST_SIZE
		connIncr   uint32 // the connection WINDOW_UPDATE, 0: none before the server's SETTINGS
	}{
		{"defaults: BDP from 64 KiB", nil, 65535, 16 << 20, 0},
		{"BDP off: fixed 4 MiB and 16 MiB", []channel.Option{channel.WithBDPProbe(false)}, 4 << 20, 16 << 20, 16<<20 - 65535},
		{"fixed windows", []channel.Option{channel.WithInitialWindowSize(1 << 20), channel.WithInitialConnWindowSize(8 << 20)}, 1 << 20, 16 << 20, 8<<20 - 65535},
		{"lookahead key", []channel.Option{channel.WithOption("grpc.http2.lookahead_bytes", 200000)}, 200000, 16 << 20, 16<<20 - 65535},
		{"header list", []channel.Option{channel.WithMaxHeaderListSize(8192)}, 65535, 8192, 0},
		{"header list key", []channel.Option{channel.WithOption("grpc.max_metadata_size", 4096)}, 65535, 4096, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			type seen struct {
				settings []http2.Setting
				incr     uint32
				err      error
			}
			got := make(chan seen, 1)
			dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
				c, s := net.Pipe()
				go func() {
					defer s.Close()
					var r seen
					defer func() {
						select {
						case got <- r:
						default: // a reconnection: the first attempt is the one checked
						}
					}()
					if _, r.err = io.ReadFull(s, make([]byte, len(http2.ClientPreface))); r.err != nil {
						return
					}
					fr := http2.NewFramer(s, s)
					f, err := fr.ReadFrame()
					if r.err = err; err != nil {
						return
					}
					sf := f.(*http2.SettingsFrame)
					_ = sf.ForeachSetting(func(st http2.Setting) error {
						r.settings = append(r.settings, st)
						return nil
					})
					// Our SETTINGS; a WINDOW_UPDATE, if any, came before it.
					_ = s.SetDeadline(time.Now().Add(10 * time.Second))
					go func() { _ = fr.WriteSettings() }()
					for {
						f, err := fr.ReadFrame()
						if err != nil {
							r.err = err
							return
						}
						switch f := f.(type) {
						case *http2.WindowUpdateFrame:
							r.incr = f.Increment
						case *http2.SettingsFrame:
							if f.IsAck() {
								return
							}
						}
					}
				}()
				return c, nil
			}
			ch, err := channel.Insecure("passthrough:///fake:1", append([]channel.Option{channel.WithDialer(dial)}, tt.opts...)...)
			if err != nil {
				t.Fatal(err)
			}
			defer ch.Close()
			ch.State(true)
			var r seen
			select {
			case r = <-got:
			case <-time.After(20 * time.Second):
				t.Fatal("no connection attempt")
			}
			if r.err != nil {
				t.Fatalf("fake server: %v", r.err)
			}
			vals := map[http2.SettingID]uint32{}
			for _, st := range r.settings {
				vals[st.ID] = st.Val
			}
			if vals[http2.SettingInitialWindowSize] != tt.window || vals[http2.SettingMaxHeaderListSize] != tt.headerList {
				t.Errorf("SETTINGS %v; want INITIAL_WINDOW_SIZE %d, MAX_HEADER_LIST_SIZE %d", r.settings, tt.window, tt.headerList)
			}
			if r.incr != tt.connIncr {
				t.Errorf("connection WINDOW_UPDATE +%d, want +%d", r.incr, tt.connIncr)
			}
		})
	}
}
