package channel

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"net"
	"sort"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/grpcactor/grpcactor/balancer"
	"github.com/grpcactor/grpcactor/compression"
	"github.com/grpcactor/grpcactor/internal/serviceconfig"
	"github.com/grpcactor/grpcactor/resolver"
)

// Option configures a channel. Options are applied in order; a later one
// overrides an earlier one of the same kind.
type Option interface {
	apply(*options) error
}

type optionFunc func(*options) error

func (f optionFunc) apply(o *options) error { return f(o) }

// options is the resolved configuration of a channel.
type options struct {
	sys            *actor.ActorSystem
	maxRecv        int // -1 unlimited
	maxSend        int // -1 unlimited
	compressor     compression.Compressor
	authority      string
	tlsServerName  string // grpc.ssl_target_name_override
	primaryUA      string
	secondaryUA    string
	dial           func(ctx context.Context, network, address string) (net.Conn, error)
	initialBackoff time.Duration
	maxBackoff     time.Duration
	minConnect     time.Duration
	enableRetries  bool
	inhibitHealth  bool // grpc.inhibit_health_checking
	lbPolicy       string
	serviceConfig  *serviceconfig.Config
	idleTimeout    time.Duration // 0 disables
	dnsMinInterval time.Duration
	keepalive      Keepalive
	maxHeaderList  uint32         // 0: the transport's default (16 MiB)
	initWindow     int32          // 0: default (BDP decides when bdp is on)
	initConnWindow int32          // 0: default
	bdp            bool           // grpc.http2.bdp_probe
	keys           map[string]any // every grpc.* key given, as given
	logger         *slog.Logger   // nil: silent
	stats          StatsHandler   // nil: none
	parent         actor.Context  // WithParent; nil spawns at the root
	notifyParent   bool           // NotifyParent
	proxy          proxyOptions
	resolver       resolver.Builder // WithResolver; nil: by the target's scheme
}

// Keepalive holds the client keepalive parameters of gRFC A8.
type Keepalive struct {
	// Time is how long the connection may go without reading a frame
	// before it sends a PING; 0 disables keepalive (the default). Values
	// below 10 s are raised to 10 s.
	Time time.Duration
	// Timeout is how long a keepalive PING waits for its ack before the
	// connection is closed; default 20 s.
	Timeout time.Duration
	// PermitWithoutCalls sends keepalive PINGs even when no call is open.
	PermitWithoutCalls bool
	// MaxPingsWithoutData is how many keepalive PINGs may go out before
	// the client sends HEADERS or DATA again
	// (grpc.http2.max_pings_without_data); 0 means the default, 2 as in
	// grpcio, and a negative value means no limit (the option key's 0).
	MaxPingsWithoutData int
}

// WithKeepalive sets the client keepalive (grpc.keepalive_time_ms,
// grpc.keepalive_timeout_ms, grpc.keepalive_permit_without_calls). Default:
// off.
func WithKeepalive(k Keepalive) Option {
	return optionFunc(func(o *options) error {
		if k.Time < 0 || k.Timeout < 0 {
			return fmt.Errorf("WithKeepalive: negative time (%v) or timeout (%v)", k.Time, k.Timeout)
		}
		// Zero fields keep their defaults, so Keepalive{Time: d} alone
		// does not lift the ping limit or the timeout.
		if k.Timeout == 0 {
			k.Timeout = 20 * time.Second
		}
		if k.MaxPingsWithoutData == 0 {
			k.MaxPingsWithoutData = 2
		}
		o.keepalive = k
		return nil
	})
}

// WithServiceConfig sets the service config, gRPC's JSON document
// (grpc.service_config): loadBalancingConfig, methodConfig (timeout,
// waitForReady, message size limits, retryPolicy) and retryThrottling. An
// invalid document is an error from Insecure naming the field. A service
// config from the channel's resolver (package resolver) replaces it.
func WithServiceConfig(json string) Option {
	return optionFunc(func(o *options) error {
		sc, err := serviceconfig.Parse(json)
		if err != nil {
			return fmt.Errorf("grpc.service_config: %w", err)
		}
		o.serviceConfig = sc
		return nil
	})
}

// WithResolver makes b the channel's name resolver, whatever its target's
// scheme: b builds the resolver when the channel is opened (an error from
// Build is an error from Insecure) and the channel starts it when it first
// leaves IDLE (see package resolver). A target with a built-in scheme, or
// none, is still checked as usual; a target "scheme://authority/endpoint"
// with any other scheme is accepted and handed to b in pieces (the short
// form "scheme:endpoint" only for a scheme registered with
// resolver.Register: "name:50051" is a host and a port). The channel's WithServiceConfig is the default
// that a service config from b replaces. Default: the builder registered
// for the target's scheme (dns for a target without one); the built-in
// schemes' builders are registered too, and resolver.Register replaces
// them.
func WithResolver(b resolver.Builder) Option {
	return optionFunc(func(o *options) error {
		if b == nil {
			return fmt.Errorf("WithResolver: nil builder")
		}
		o.resolver = b
		return nil
	})
}

// WithLBPolicy chooses the load-balancing policy (grpc.lb_policy_name) by
// its registered name (package balancer): "pick_first" (the default),
// "round_robin", "least_request", "ring_hash", "weighted_round_robin" or
// one registered with balancer.Register, with its default config. A
// service config's loadBalancingConfig takes precedence.
func WithLBPolicy(name string) Option {
	return optionFunc(func(o *options) error {
		if _, ok := balancer.Get(name); !ok {
			return fmt.Errorf("grpc.lb_policy_name: unknown policy %q (registered: %s)", name, strings.Join(balancer.Names(), ", "))
		}
		o.lbPolicy = name
		return nil
	})
}

// WithDNSMinResolutionInterval sets the least time between two DNS
// re-resolutions of the target (grpc.dns_min_time_between_resolutions_ms);
// 0 removes the limit. Default 30 s. It limits the re-resolution requests
// the channel sends a resolver of package resolver as well.
func WithDNSMinResolutionInterval(d time.Duration) Option {
	return optionFunc(func(o *options) error {
		if d < 0 {
			return fmt.Errorf("grpc.dns_min_time_between_resolutions_ms: negative duration %v", d)
		}
		o.dnsMinInterval = d
		return nil
	})
}

// WithRetries turns the service config's retry and hedging policies on or
// off (grpc.enable_retries). Default on. Transparent retries of calls that
// never reached the server happen either way.
func WithRetries(enabled bool) Option {
	return optionFunc(func(o *options) error {
		o.enableRetries = enabled
		return nil
	})
}

// WithIdleTimeout sets how long a channel with no calls stays connected
// before it closes its connections and goes IDLE
// (grpc.client_idle_timeout_ms); 0 disables it. Default 30 minutes.
func WithIdleTimeout(d time.Duration) Option {
	return optionFunc(func(o *options) error {
		if d < 0 {
			return fmt.Errorf("grpc.client_idle_timeout_ms: negative duration %v", d)
		}
		o.idleTimeout = d
		return nil
	})
}

func defaultOptions() options {
	return options{
		maxRecv:        4 << 20,
		maxSend:        -1,
		initialBackoff: time.Second,
		maxBackoff:     120 * time.Second,
		minConnect:     20 * time.Second,
		enableRetries:  true,
		idleTimeout:    30 * time.Minute,
		dnsMinInterval: 30 * time.Second,
		keepalive:      Keepalive{Timeout: 20 * time.Second, MaxPingsWithoutData: 2},
		bdp:            true,
		keys:           map[string]any{},
	}
}

// WithActorSystem runs the channel's actors in sys, the user's own actor
// system (its logger included). Default: a shared, silent system of the
// library's.
func WithActorSystem(sys *actor.ActorSystem) Option {
	return optionFunc(func(o *options) error {
		if sys == nil {
			return fmt.Errorf("WithActorSystem: nil actor system")
		}
		o.sys = sys
		return nil
	})
}

// WithMaxReceiveMessageSize sets the largest message the channel accepts
// (grpc.max_receive_message_length); -1 means unlimited. Default 4 MiB.
func WithMaxReceiveMessageSize(n int) Option {
	return optionFunc(func(o *options) error {
		if n < -1 {
			return fmt.Errorf("grpc.max_receive_message_length: %d is out of range (-1 for unlimited, or >= 0)", n)
		}
		o.maxRecv = n
		return nil
	})
}

// WithMaxSendMessageSize sets the largest message the channel sends
// (grpc.max_send_message_length); -1 means unlimited. Default unlimited.
func WithMaxSendMessageSize(n int) Option {
	return optionFunc(func(o *options) error {
		if n < -1 {
			return fmt.Errorf("grpc.max_send_message_length: %d is out of range (-1 for unlimited, or >= 0)", n)
		}
		o.maxSend = n
		return nil
	})
}

// WithCompression compresses every request message of the channel with c
// (grpcio's compression argument); a call's Compression option overrides it.
// Default: no compression.
func WithCompression(c compression.Compressor) Option {
	return optionFunc(func(o *options) error {
		if c == nil || c.Name() == "identity" {
			o.compressor = nil
			return nil
		}
		if _, ok := compression.Get(c.Name()); !ok {
			return fmt.Errorf("WithCompression: compressor %q is not registered (compression.Register it first)", c.Name())
		}
		o.compressor = c
		return nil
	})
}

// WithAuthority sets the :authority of every call (grpc.default_authority).
// Default: the target's host:port, or "localhost" for unix sockets.
func WithAuthority(authority string) Option {
	return optionFunc(func(o *options) error {
		if err := checkAuthority("WithAuthority: authority", authority); err != nil {
			return err
		}
		o.authority = authority
		return nil
	})
}

// WithSSLTargetNameOverride makes a secure channel check the server's
// certificate against name instead of the host of its authority
// (grpc.ssl_target_name_override; for tests). Plaintext channels ignore
// it.
func WithSSLTargetNameOverride(name string) Option {
	return optionFunc(func(o *options) error {
		o.tlsServerName = name
		return nil
	})
}

// WithUserAgent sets the primary and secondary user agents around the
// library's own ("primary grpcactor-go/x.y.z secondary"). They go into the
// user-agent header, so they may hold only printable ASCII.
func WithUserAgent(primary, secondary string) Option {
	return optionFunc(func(o *options) error {
		if err := checkHeaderValue("WithUserAgent: primary user agent", primary); err != nil {
			return err
		}
		if err := checkHeaderValue("WithUserAgent: secondary user agent", secondary); err != nil {
			return err
		}
		o.primaryUA, o.secondaryUA = primary, secondary
		return nil
	})
}

// WithDialer replaces the function that opens connections, for tests and
// custom networks. Default: a net.Dialer.
func WithDialer(dial func(ctx context.Context, network, address string) (net.Conn, error)) Option {
	return optionFunc(func(o *options) error {
		o.dial = dial
		return nil
	})
}

// WithConnectBackoff sets the reconnect backoff: the first delay and the
// cap (grpc.initial_reconnect_backoff_ms, grpc.max_reconnect_backoff_ms),
// and the minimum connect timeout (grpc.min_reconnect_backoff_ms). Defaults
// 1 s, 120 s and 20 s, from gRPC's connection-backoff document.
func WithConnectBackoff(initial, max, minConnectTimeout time.Duration) Option {
	return optionFunc(func(o *options) error {
		if initial <= 0 || max < initial || minConnectTimeout <= 0 {
			return fmt.Errorf("WithConnectBackoff: need 0 < initial (%v) <= max (%v) and minConnectTimeout (%v) > 0", initial, max, minConnectTimeout)
		}
		o.initialBackoff, o.maxBackoff, o.minConnect = initial, max, minConnectTimeout
		return nil
	})
}

// minWindowSize is the smallest receive window the window options accept
// (64 KiB, HTTP/2's initial window; grpc-go ignores smaller values).
const minWindowSize = 65535

func checkWindow(name string, n int64) error {
	if n < minWindowSize || n > math.MaxInt32 {
		return fmt.Errorf("%s: %d is out of range [%d, %d] (HTTP/2's initial window to 2^31-1)", name, n, minWindowSize, math.MaxInt32)
	}
	return nil
}

// WithMaxHeaderListSize sets the largest response header or trailer block
// the channel accepts (grpc.max_metadata_size): it is advertised to the
// server as SETTINGS_MAX_HEADER_LIST_SIZE, and a block over it fails its
// call INTERNAL (the connection goes on). Default 16 MiB, as grpc-go.
func WithMaxHeaderListSize(n uint32) Option {
	return optionFunc(func(o *options) error {
		if n == 0 {
			return fmt.Errorf("grpc.max_metadata_size: 0 is out of range (at least 1 byte)")
		}
		o.maxHeaderList = n
		return nil
	})
}

// WithInitialWindowSize sets each stream's HTTP/2 receive window, in bytes
// (grpc.http2.lookahead_bytes; grpc-go's WithInitialWindowSize), between
// 64 KiB and 2^31-1. A fixed window turns BDP estimation off. Default:
// BDP estimation (64 KiB growing up to 16 MiB), or 4 MiB with it off.
func WithInitialWindowSize(n int32) Option {
	return optionFunc(func(o *options) error {
		if err := checkWindow("WithInitialWindowSize", int64(n)); err != nil {
			return err
		}
		o.initWindow = n
		return nil
	})
}

// WithInitialConnWindowSize sets the connection's HTTP/2 receive window,
// in bytes (grpc-go's WithInitialConnWindowSize), between 64 KiB and
// 2^31-1. A fixed window turns BDP estimation off. Default: BDP estimation
// (64 KiB growing up to 16 MiB), or 16 MiB with it off.
func WithInitialConnWindowSize(n int32) Option {
	return optionFunc(func(o *options) error {
		if err := checkWindow("WithInitialConnWindowSize", int64(n)); err != nil {
			return err
		}
		o.initConnWindow = n
		return nil
	})
}

// WithBDPProbe turns BDP estimation on or off (grpc.http2.bdp_probe): with
// it on, each connection starts with 64 KiB windows and, as grpc-go's BDP
// estimator does, measures the bytes received in one PING round trip and
// grows its stream and connection windows to twice that when the link
// needs it, up to 16 MiB. A fixed WithInitialWindowSize or
// WithInitialConnWindowSize turns it off. Default on, as in grpcio and
// grpc-go; off, the windows are fixed at 4 MiB (stream) and 16 MiB
// (connection) unless set.
func WithBDPProbe(on bool) Option {
	return optionFunc(func(o *options) error {
		o.bdp = on
		return nil
	})
}

// keySpec describes one grpcio channel option key.
type keySpec struct {
	kind  string // "int", "bool", "string"
	min   int64
	max   int64
	apply func(o *options, v any) error // nil: accepted but not implemented
	note  string                        // why a key without apply is refused or ignored
}

const serverSideNote = "server-enforced; accepted and ignored by a client, as in grpcio"

var channelKeys = map[string]keySpec{
	"grpc.max_send_message_length": {kind: "int", min: -1, max: math.MaxInt32, apply: func(o *options, v any) error {
		o.maxSend = int(v.(int64))
		return nil
	}},
	"grpc.max_receive_message_length": {kind: "int", min: -1, max: math.MaxInt32, apply: func(o *options, v any) error {
		o.maxRecv = int(v.(int64))
		return nil
	}},
	"grpc.default_authority": {kind: "string", apply: func(o *options, v any) error {
		if err := checkAuthority("grpc.default_authority:", v.(string)); err != nil {
			return err
		}
		o.authority = v.(string)
		return nil
	}},
	"grpc.ssl_target_name_override": {kind: "string", apply: func(o *options, v any) error {
		o.tlsServerName = v.(string)
		return nil
	}},
	"grpc.primary_user_agent": {kind: "string", apply: func(o *options, v any) error {
		if err := checkHeaderValue("grpc.primary_user_agent:", v.(string)); err != nil {
			return err
		}
		o.primaryUA = v.(string)
		return nil
	}},
	"grpc.secondary_user_agent": {kind: "string", apply: func(o *options, v any) error {
		if err := checkHeaderValue("grpc.secondary_user_agent:", v.(string)); err != nil {
			return err
		}
		o.secondaryUA = v.(string)
		return nil
	}},
	"grpc.initial_reconnect_backoff_ms": {kind: "int", min: 1, max: math.MaxInt32, apply: func(o *options, v any) error {
		o.initialBackoff = time.Duration(v.(int64)) * time.Millisecond
		return nil
	}},
	"grpc.max_reconnect_backoff_ms": {kind: "int", min: 1, max: math.MaxInt32, apply: func(o *options, v any) error {
		o.maxBackoff = time.Duration(v.(int64)) * time.Millisecond
		return nil
	}},
	"grpc.min_reconnect_backoff_ms": {kind: "int", min: 1, max: math.MaxInt32, apply: func(o *options, v any) error {
		o.minConnect = time.Duration(v.(int64)) * time.Millisecond
		return nil
	}},
	"grpc.enable_retries": {kind: "bool", apply: func(o *options, v any) error {
		o.enableRetries = v.(bool)
		return nil
	}},
	"grpc.inhibit_health_checking": {kind: "bool", apply: func(o *options, v any) error {
		o.inhibitHealth = v.(bool)
		return nil
	}},
	"grpc.max_connection_idle_ms":                       {kind: "int", min: 1, max: math.MaxInt32, note: serverSideNote},
	"grpc.max_connection_age_ms":                        {kind: "int", min: 1, max: math.MaxInt32, note: serverSideNote},
	"grpc.max_connection_age_grace_ms":                  {kind: "int", min: 1, max: math.MaxInt32, note: serverSideNote},
	"grpc.http2.max_ping_strikes":                       {kind: "int", min: 0, max: math.MaxInt32, note: serverSideNote},
	"grpc.http2.min_ping_interval_without_data_ms":      {kind: "int", min: 0, max: math.MaxInt32, note: serverSideNote},
	"grpc.http2.min_recv_ping_interval_without_data_ms": {kind: "int", min: 0, max: math.MaxInt32, note: serverSideNote},
	"grpc.max_concurrent_streams":                       {kind: "int", min: 0, max: math.MaxInt32, note: serverSideNote},
	"grpc.keepalive_time_ms": {kind: "int", min: 1, max: math.MaxInt32, apply: func(o *options, v any) error {
		o.keepalive.Time = time.Duration(v.(int64)) * time.Millisecond
		return nil
	}},
	"grpc.keepalive_timeout_ms": {kind: "int", min: 1, max: math.MaxInt32, apply: func(o *options, v any) error {
		o.keepalive.Timeout = time.Duration(v.(int64)) * time.Millisecond
		return nil
	}},
	"grpc.keepalive_permit_without_calls": {kind: "bool", apply: func(o *options, v any) error {
		o.keepalive.PermitWithoutCalls = v.(bool)
		return nil
	}},
	"grpc.http2.max_pings_without_data": {kind: "int", min: 0, max: math.MaxInt32, apply: func(o *options, v any) error {
		o.keepalive.MaxPingsWithoutData = int(v.(int64))
		if o.keepalive.MaxPingsWithoutData == 0 {
			o.keepalive.MaxPingsWithoutData = -1 // grpcio's 0: no limit
		}
		return nil
	}},
	"grpc.max_metadata_size": {kind: "int", min: 1, max: math.MaxUint32, apply: func(o *options, v any) error {
		o.maxHeaderList = uint32(v.(int64))
		return nil
	}},
	"grpc.http2.lookahead_bytes": {kind: "int", min: minWindowSize, max: math.MaxInt32, apply: func(o *options, v any) error {
		o.initWindow = int32(v.(int64))
		return nil
	}},
	"grpc.http2.bdp_probe": {kind: "bool", apply: func(o *options, v any) error {
		o.bdp = v.(bool)
		return nil
	}},
	"grpc.lb_policy_name": {kind: "string", apply: func(o *options, v any) error {
		return WithLBPolicy(v.(string)).apply(o)
	}},
	"grpc.service_config": {kind: "string", apply: func(o *options, v any) error {
		return WithServiceConfig(v.(string)).apply(o)
	}},
	"grpc.client_idle_timeout_ms": {kind: "int", min: 0, max: math.MaxInt32, apply: func(o *options, v any) error {
		o.idleTimeout = time.Duration(v.(int64)) * time.Millisecond
		return nil
	}},
	"grpc.dns_min_time_between_resolutions_ms": {kind: "int", min: 0, max: math.MaxInt32, apply: func(o *options, v any) error {
		o.dnsMinInterval = time.Duration(v.(int64)) * time.Millisecond
		return nil
	}},
	"grpc.http_proxy": {kind: "string", apply: func(o *options, v any) error {
		return WithHTTPProxy(v.(string)).apply(o)
	}},
	"grpc.enable_http_proxy": {kind: "bool", apply: func(o *options, v any) error {
		return WithProxyEnabled(v.(bool)).apply(o)
	}},
}

// WithOption sets a channel option by its grpcio key, such as
// ("grpc.max_receive_message_length", 16<<20). An unknown key, a value of
// the wrong type or out of range is an error from Insecure naming the key and
// the value; for an unknown key it suggests the nearest known one. Keys whose
// behaviour this version does not implement are refused with an error saying
// so (see the README's list).
func WithOption(key string, value any) Option {
	return optionFunc(func(o *options) error {
		spec, ok := channelKeys[key]
		if !ok {
			return fmt.Errorf("%s: unknown channel option (value %v)%s", key, value, suggest(key))
		}
		v, err := coerce(key, spec, value)
		if err != nil {
			return err
		}
		if spec.apply == nil {
			if spec.note == serverSideNote {
				o.keys[key] = v
				return nil
			}
			return fmt.Errorf("%s: channel option not implemented yet in grpcactor %s", key, Version)
		}
		o.keys[key] = v
		return spec.apply(o, v)
	})
}

func coerce(key string, spec keySpec, value any) (any, error) {
	switch spec.kind {
	case "int":
		var n int64
		switch v := value.(type) {
		case int:
			n = int64(v)
		case int32:
			n = int64(v)
		case int64:
			n = v
		case uint32:
			n = int64(v)
		case time.Duration:
			n = v.Milliseconds()
		default:
			return nil, fmt.Errorf("%s: want an integer, got %T (%v)", key, value, value)
		}
		if n < spec.min || n > spec.max {
			return nil, fmt.Errorf("%s: %d is out of range [%d, %d]", key, n, spec.min, spec.max)
		}
		return n, nil
	case "bool":
		switch v := value.(type) {
		case bool:
			return v, nil
		case int:
			if v == 0 || v == 1 {
				return v == 1, nil
			}
		}
		return nil, fmt.Errorf("%s: want a bool (or 0/1), got %T (%v)", key, value, value)
	case "string":
		s, ok := value.(string)
		if !ok {
			return nil, fmt.Errorf("%s: want a string, got %T (%v)", key, value, value)
		}
		return s, nil
	}
	return value, nil
}

// suggest returns ` (did you mean "grpc.x"?)` for the nearest known key.
func suggest(key string) string {
	best, bestD := "", 1<<30
	names := make([]string, 0, len(channelKeys))
	for k := range channelKeys {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if d := editDistance(strings.ToLower(key), k); d < bestD {
			best, bestD = k, d
		}
	}
	if bestD <= len(key)/2+1 {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	return ""
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
