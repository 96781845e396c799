package transport

import (
	"context"
	"net"
	"time"
)

// Defaults for Config fields left zero.
const (
	// defaultInitialWindowSize is the stream receive window advertised in
	// SETTINGS_INITIAL_WINDOW_SIZE: 4 MiB, the default receive limit, so
	// that a message of that size needs no WINDOW_UPDATE round trip and
	// a 1 MiB one a single update (grpc-go's BDP estimator grows its
	// windows to about as much on loopback; with 1 MiB, 1 MiB unary calls
	// were 3-6 % slower than grpc-go's and spent 5 % more CPU). A window
	// is only a number: no memory is reserved for it.
	defaultInitialWindowSize = 4 << 20
	// defaultInitialConnWindowSize is the connection receive window
	// (16 MiB: four streams' windows).
	defaultInitialConnWindowSize = 16 << 20
	// defaultMaxHeaderListSize bounds a received header block (16 MiB, as
	// grpc-go).
	defaultMaxHeaderListSize = 16 << 20
	// defaultConnectTimeout is gRPC's minimum connect timeout: the longest
	// a dial, handshake and wait for the server's SETTINGS may take.
	defaultConnectTimeout = 20 * time.Second
	// DefaultWriteQuota is how many bytes of one stream may wait in the
	// connection actor before Write blocks (64 KiB, as grpc-go).
	DefaultWriteQuota = 64 << 10
	// defaultBufferSize is the socket read and write buffer size.
	defaultBufferSize = 32 << 10
	// maxControlBacklog bounds control frames read but not yet handled by
	// the actor; the reader waits beyond it, so a flood of PINGs or
	// SETTINGS cannot grow memory without bound.
	maxControlBacklog = 100
)

// Config describes one connection. Network and Address are required; every
// other field has a default.
type Config struct {
	// Network is "tcp" or "unix".
	Network string
	// Address is host:port for tcp, a socket path for unix (a leading '@'
	// names an abstract socket).
	Address string
	// Authority is the :authority header of every stream; default Address.
	Authority string
	// Scheme is the :scheme header, "http" (default) or "https".
	Scheme string
	// UserAgent is the user-agent header; default "grpcactor-go/<version>".
	UserAgent string
	// Dial opens the socket; default a net.Dialer.
	Dial func(ctx context.Context, network, address string) (net.Conn, error)
	// Handshake, if set, runs on the dialed socket before the HTTP/2
	// preface (TLS); it returns the connection to use.
	Handshake func(ctx context.Context, conn net.Conn) (net.Conn, error)
	// ConnectTimeout bounds dial + handshake + the wait for the server's
	// first SETTINGS; default 20 s.
	ConnectTimeout time.Duration
	// InitialWindowSize is the per-stream receive window.
	InitialWindowSize int32
	// InitialConnWindowSize is the connection receive window; values
	// below HTTP/2's initial 65535 are raised to it.
	InitialConnWindowSize int32
	// BDP turns BDP estimation on (bdp.go): the windows start at
	// InitialWindowSize and InitialConnWindowSize (default 64 KiB each
	// instead of the fixed defaults) and grow, up to 16 MiB, while the
	// measured bandwidth-delay product needs it.
	BDP bool
	// MaxHeaderListSize bounds the size of a received header block.
	MaxHeaderListSize uint32
	// MaxReceiveMessageSize bounds a received message (before and after
	// decompression); negative means unlimited, 0 means 4 MiB.
	MaxReceiveMessageSize int
	// WriteQuota is the per-stream bytes that may wait before Write blocks.
	WriteQuota int
	// BufferSize is the size of the socket read and write buffers.
	BufferSize int
	// KeepaliveTime, when positive, makes the connection send a PING after
	// that long without reading a frame (gRFC A8; at least 10 s).
	KeepaliveTime time.Duration
	// KeepaliveTimeout is how long a keepalive PING may wait for its ack
	// before the connection is closed; default 20 s.
	KeepaliveTimeout time.Duration
	// KeepalivePermitWithoutCalls lets keepalive PINGs go out while no
	// stream is open.
	KeepalivePermitWithoutCalls bool
	// KeepaliveMaxPingsWithoutData, when positive, is how many keepalive
	// PINGs may go out before the client sends HEADERS or DATA again
	// (grpc.http2.max_pings_without_data); 0 means no limit.
	KeepaliveMaxPingsWithoutData int
	// OnEvent, if set, receives the connection's events in addition to
	// its parent actor (for tests and actor-less users). It is called from
	// the actor's Receive and must not block.
	OnEvent func(any)
}

// Version is the library version sent in the user-agent.
const Version = "0.1.0"

func (c *Config) withDefaults() Config {
	o := *c
	if o.Network == "" {
		o.Network = "tcp"
	}
	if o.Authority == "" {
		o.Authority = o.Address
		if o.Network == "unix" {
			o.Authority = "localhost"
		}
	}
	if o.Scheme == "" {
		o.Scheme = "http"
	}
	if o.UserAgent == "" {
		o.UserAgent = "grpcactor-go/" + Version
	}
	if o.Dial == nil {
		o.Dial = func(ctx context.Context, network, address string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, address)
		}
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = defaultConnectTimeout
	}
	if o.BDP && o.InitialWindowSize <= 0 {
		o.InitialWindowSize = bdpStartWindow
	}
	if o.BDP && o.InitialConnWindowSize <= 0 {
		o.InitialConnWindowSize = bdpStartWindow
	}
	if o.InitialWindowSize <= 0 {
		o.InitialWindowSize = defaultInitialWindowSize
	}
	if o.InitialConnWindowSize <= 0 {
		o.InitialConnWindowSize = defaultInitialConnWindowSize
	}
	// HTTP/2 starts every connection window at 65535 and only WINDOW_UPDATE
	// can change it, upwards: a smaller value cannot be advertised, and
	// enforcing it made the reader fail a compliant server that sent a
	// 16 KiB frame as a "connection flow control" violation.
	if o.InitialConnWindowSize < 65535 {
		o.InitialConnWindowSize = 65535
	}
	if o.MaxHeaderListSize == 0 {
		o.MaxHeaderListSize = defaultMaxHeaderListSize
	}
	if o.MaxReceiveMessageSize == 0 {
		o.MaxReceiveMessageSize = 4 << 20
	}
	if o.WriteQuota <= 0 {
		o.WriteQuota = DefaultWriteQuota
	}
	if o.BufferSize <= 0 {
		o.BufferSize = defaultBufferSize
	}
	return o
}
