package credentials

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"
)

// ErrUnavailable is wrapped by the error of a credential kind that cannot
// work here (ALTS, which needs Google Cloud's handshaker service).
var ErrUnavailable = errors.New("credentials not available")

type kind int

const (
	kindInsecure kind = iota
	kindTLS
	kindLocal
)

// ChannelCredentials secure a channel's connections (grpcio's
// ChannelCredentials). Make them with TLS, Local, Insecure or
// CompositeChannel; the zero value is not usable. They are immutable and
// may be shared by any number of channels.
type ChannelCredentials struct {
	kind  kind
	tls   *tls.Config // kindTLS
	local LocalConnectionType
	call  []CallCredentials
}

var insecureCreds = &ChannelCredentials{kind: kindInsecure}

// Insecure returns the plaintext channel credentials (grpcio's
// experimental insecure_channel_credentials): always the same value.
// channel.Secure refuses them; use channel.Insecure for plaintext.
func Insecure() *ChannelCredentials { return insecureCreds }

// IsInsecure reports whether c sends everything in plaintext without any
// check of the peer.
func (c *ChannelCredentials) IsInsecure() bool { return c == nil || c.kind == kindInsecure }

// String names the credentials: "insecure", "tls" ("tls(skip-verify)"
// with TLSConfig.SkipVerify), "local(tcp)" or "local(uds)", with "+call"
// when call credentials are bundled.
func (c *ChannelCredentials) String() string {
	var s string
	switch {
	case c.IsInsecure():
		s = "insecure"
	case c.kind == kindTLS && c.tls.InsecureSkipVerify:
		s = "tls(skip-verify)"
	case c.kind == kindTLS:
		s = "tls"
	default:
		s = "local(" + c.local.String() + ")"
	}
	if len(c.call) > 0 {
		s += "+call"
	}
	return s
}

// Scheme is the :scheme of requests on connections secured by c: "https"
// for TLS, "http" otherwise.
func (c *ChannelCredentials) Scheme() string {
	if c != nil && c.kind == kindTLS {
		return "https"
	}
	return "http"
}

// CallCredentials returns the call credentials bundled with c by
// CompositeChannel, applied to every call of a channel (nil if none).
func (c *ChannelCredentials) CallCredentials() []CallCredentials {
	if c == nil {
		return nil
	}
	return c.call[:len(c.call):len(c.call)] // an append makes a copy
}

// SendsCallCredentials reports whether call credentials may go over
// connections secured by c: TLS and local credentials, not plaintext.
func (c *ChannelCredentials) SendsCallCredentials() bool { return !c.IsInsecure() }

// ClientHandshake secures conn, a freshly dialled connection to the
// server that serverName names (the host the certificate must be valid
// for). It returns the connection to speak HTTP/2 over: conn itself for
// plaintext and local credentials (after checking that the peer is
// local), a TLS connection that negotiated ALPN "h2" for TLS. It blocks
// until the handshake is over or ctx ends; channels call it outside any
// actor's mailbox. It does not close conn on failure.
func (c *ChannelCredentials) ClientHandshake(ctx context.Context, serverName string, conn net.Conn) (net.Conn, error) {
	switch {
	case c.IsInsecure():
		return conn, nil
	case c.kind == kindLocal:
		return conn, c.local.check(conn)
	}
	cfg := c.tls.Clone()
	if cfg.ServerName == "" {
		cfg.ServerName = serverName
	}
	tc := tls.Client(conn, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		return nil, fmt.Errorf("TLS handshake with %s (server name %q): %w", conn.RemoteAddr(), cfg.ServerName, err)
	}
	if p := tc.ConnectionState().NegotiatedProtocol; p != "h2" {
		// The caller closes conn; a TLS close_notify would only be
		// written to a server that is not gRPC's.
		if p == "" {
			return nil, fmt.Errorf("TLS handshake with %s: the server negotiated no ALPN protocol; gRPC needs \"h2\"", conn.RemoteAddr())
		}
		return nil, fmt.Errorf("TLS handshake with %s: the server negotiated ALPN protocol %q; gRPC needs \"h2\"", conn.RemoteAddr(), p)
	}
	return tc, nil
}

// TLSVersion is a TLS protocol version (grpcio's grpc.TLSVersion).
type TLSVersion uint16

// The TLS versions TLSConfig accepts.
const (
	TLS12 TLSVersion = tls.VersionTLS12
	TLS13 TLSVersion = tls.VersionTLS13
)

// String gives "TLS1_2" or "TLS1_3" (grpcio's names).
func (v TLSVersion) String() string {
	switch v {
	case TLS12:
		return "TLS1_2"
	case TLS13:
		return "TLS1_3"
	}
	return fmt.Sprintf("TLSVersion(%#04x)", uint16(v))
}

// TLSConfig describes TLS channel credentials (the arguments of grpcio's
// ssl_channel_credentials). Every field is optional.
type TLSConfig struct {
	// RootCAs holds the PEM certificates of the authorities that may sign
	// the server's certificate; empty means the system's roots.
	RootCAs []byte
	// Certificate is the PEM certificate chain the client presents, for
	// servers that ask for one (mutual TLS); it needs PrivateKey.
	Certificate []byte
	// PrivateKey is the PEM private key of Certificate.
	PrivateKey []byte
	// MinVersion is the lowest TLS version accepted; default TLS12.
	MinVersion TLSVersion
	// MaxVersion is the highest TLS version offered; default TLS13.
	MaxVersion TLSVersion
	// ServerName, if set, is the name the server's certificate must be
	// valid for, instead of the host of the channel's authority. It wins
	// over the channel option grpc.ssl_target_name_override.
	ServerName string
	// SkipVerify accepts any certificate the server presents: its chain
	// and its name are not checked, so the connection is encrypted but
	// the server is not authenticated (anyone on the path can pose as
	// it). For tests and tools only (grpcurl's -insecure, grpc-go's
	// tls.Config InsecureSkipVerify); grpcio has no such argument.
	// RootCAs is then not used; ServerName is still sent (SNI).
	SkipVerify bool
}

// TLS returns channel credentials that secure every connection with TLS,
// offering ALPN "h2" and requiring the server to choose it. An invalid
// PEM block, a certificate without its key (or the reverse), an unknown
// TLS version or a minimum above the maximum is an error that says which.
func TLS(cfg TLSConfig) (*ChannelCredentials, error) {
	tc := &tls.Config{NextProtos: []string{"h2"}, ServerName: cfg.ServerName, InsecureSkipVerify: cfg.SkipVerify}
	var err error
	if tc.MinVersion, err = tlsVersion("MinVersion", cfg.MinVersion, TLS12); err != nil {
		return nil, err
	}
	if tc.MaxVersion, err = tlsVersion("MaxVersion", cfg.MaxVersion, TLS13); err != nil {
		return nil, err
	}
	if tc.MinVersion > tc.MaxVersion {
		return nil, fmt.Errorf("credentials: TLS MinVersion %v is above MaxVersion %v", TLSVersion(tc.MinVersion), TLSVersion(tc.MaxVersion))
	}
	if len(cfg.RootCAs) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(cfg.RootCAs) {
			return nil, errors.New("credentials: TLS RootCAs holds no PEM certificate that could be parsed")
		}
		tc.RootCAs = pool
	}
	switch {
	case len(cfg.Certificate) > 0 && len(cfg.PrivateKey) > 0:
		pair, err := tls.X509KeyPair(cfg.Certificate, cfg.PrivateKey)
		if err != nil {
			return nil, fmt.Errorf("credentials: TLS Certificate and PrivateKey: %w", err)
		}
		tc.Certificates = []tls.Certificate{pair}
	case len(cfg.Certificate) > 0:
		return nil, errors.New("credentials: TLS Certificate is set but PrivateKey is empty")
	case len(cfg.PrivateKey) > 0:
		return nil, errors.New("credentials: TLS PrivateKey is set but Certificate is empty")
	}
	return &ChannelCredentials{kind: kindTLS, tls: tc}, nil
}

func tlsVersion(field string, v, def TLSVersion) (uint16, error) {
	switch v {
	case 0:
		return uint16(def), nil
	case TLS12, TLS13:
		return uint16(v), nil
	}
	return 0, fmt.Errorf("credentials: TLS %s %v is not TLS12 or TLS13", field, v)
}

// LocalConnectionType is the kind of local connection Local credentials
// accept (grpcio's grpc.LocalConnectionType).
type LocalConnectionType int

const (
	// LocalTCP accepts TCP connections to a loopback address.
	LocalTCP LocalConnectionType = iota
	// UDS accepts Unix domain socket connections.
	UDS
)

// String gives "tcp" or "uds".
func (t LocalConnectionType) String() string {
	if t == UDS {
		return "uds"
	}
	return "tcp"
}

func (t LocalConnectionType) check(conn net.Conn) error {
	ra := conn.RemoteAddr()
	switch t {
	case UDS:
		if ra.Network() != "unix" {
			return fmt.Errorf("local credentials (uds): the connection to %s is %s, not a Unix domain socket", ra, ra.Network())
		}
	default:
		host, _, err := net.SplitHostPort(ra.String())
		ip := net.ParseIP(strings.TrimSuffix(host, "%lo"))
		if !strings.HasPrefix(ra.Network(), "tcp") || err != nil || ip == nil || !ip.IsLoopback() {
			return fmt.Errorf("local credentials (tcp): %s (%s) is not a loopback TCP address", ra, ra.Network())
		}
	}
	return nil
}

// Local returns channel credentials for connections that stay on this
// machine (grpcio's local_channel_credentials): nothing is encrypted, but
// each connection is checked to be of kind t (a loopback TCP address or a
// Unix domain socket) before it is used, and call credentials may be sent.
func Local(t LocalConnectionType) *ChannelCredentials {
	return &ChannelCredentials{kind: kindLocal, local: t}
}

// ALTS would return Google's ALTS channel credentials (grpcio's
// alts_channel_credentials). ALTS needs the handshaker service of Google
// Cloud's VMs, which this library does not talk to: it always returns an
// error wrapping ErrUnavailable.
func ALTS(serviceAccounts ...string) (*ChannelCredentials, error) {
	return nil, fmt.Errorf("credentials: ALTS needs Google Cloud's ALTS handshaker service, which grpcactor does not support: %w", ErrUnavailable)
}

// CompositeChannel returns ch with call credentials that every call of a
// channel made with it sends (grpcio's composite_channel_credentials). It
// needs at least one call credential, and channel credentials that may
// carry them (TLS or local).
func CompositeChannel(ch *ChannelCredentials, call ...CallCredentials) (*ChannelCredentials, error) {
	if ch == nil {
		return nil, errors.New("credentials: CompositeChannel needs channel credentials, got nil")
	}
	if ch.IsInsecure() {
		return nil, errors.New("credentials: CompositeChannel: insecure channel credentials cannot carry call credentials")
	}
	if len(call) == 0 {
		return nil, errors.New("credentials: CompositeChannel needs at least one call credential")
	}
	for i, c := range call {
		if c == nil {
			return nil, fmt.Errorf("credentials: CompositeChannel: call credential %d is nil", i)
		}
	}
	out := *ch
	out.call = append(append([]CallCredentials(nil), ch.call...), call...)
	return &out, nil
}
