package channel

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"sort"

	"github.com/grpcactor/grpcactor/internal/proxy"
)

// proxyOptions are a channel's HTTP CONNECT proxy settings (gRFC A1).
type proxyOptions struct {
	url    string // grpc.http_proxy, when set
	urlSet bool   // grpc.http_proxy was given ("" then means no proxy)
	off    bool   // grpc.enable_http_proxy=0
}

// WithHTTPProxy makes the channel reach its target through the HTTP CONNECT
// proxy at proxyURL ("http://[user:password@]host[:port]", or "host:port";
// grpc.http_proxy), instead of the one HTTPS_PROXY names. NO_PROXY still
// applies; "" means no proxy. A proxy given this way is dialed through
// WithDialer's function when there is one. Default: the environment's proxy.
func WithHTTPProxy(proxyURL string) Option {
	return optionFunc(func(o *options) error {
		if proxyURL != "" {
			if _, err := proxy.ParseURL(proxyURL); err != nil {
				return fmt.Errorf("grpc.http_proxy: %w", err)
			}
		}
		o.proxy.url, o.proxy.urlSet = proxyURL, true
		return nil
	})
}

// WithProxyEnabled turns HTTP CONNECT proxies on or off
// (grpc.enable_http_proxy). Default on: the proxy of WithHTTPProxy, or else
// of the environment (HTTPS_PROXY or https_proxy, with the exceptions of
// NO_PROXY or no_proxy), is used for every target but unix sockets,
// localhost, loopback addresses and NO_PROXY's matches. A channel with a
// WithDialer function ignores the environment's proxy.
func WithProxyEnabled(enabled bool) Option {
	return optionFunc(func(o *options) error {
		o.proxy.off = !enabled
		return nil
	})
}

// applyProxy decides, once for the channel, which of its target's
// connections go through an HTTP CONNECT proxy (proxyPlan), and wraps o.dial
// so that those open a tunnel through it. It returns the channel's fixed
// addresses. getenv reads the environment. The choice is logged at Debug.
func applyProxy(target string, pt *parsedTarget, o *options, getenv func(string) string) ([]address, error) {
	static, proxyURL, proxied, err := proxyPlan(pt, o, getenv)
	if err != nil || proxyURL == nil {
		return static, err
	}
	if l := o.logger; l != nil && l.Enabled(context.Background(), slog.LevelDebug) {
		through := make([]string, 0, len(proxied))
		for a := range proxied {
			through = append(through, a)
		}
		sort.Strings(through)
		l.LogAttrs(context.Background(), slog.LevelDebug, "channel connects through an HTTP CONNECT proxy",
			slog.String("target", target), slog.String("proxy", proxyURL.Host), slog.Any("addresses", through))
	}
	direct := o.dial
	if direct == nil {
		var d net.Dialer
		direct = d.DialContext
	}
	pd := &proxy.Dialer{Proxy: proxyURL, UserAgent: "grpcactor-go/" + Version, Dial: o.dial}
	o.dial = func(ctx context.Context, network, address string) (net.Conn, error) {
		if network == "tcp" && proxied[address] {
			return pd.DialContext(ctx, network, address)
		}
		return direct(ctx, network, address)
	}
	return static, nil
}

// proxyPlan returns the channel's fixed addresses -- the target's own for
// every scheme but dns; for a dns target that goes through a proxy, its
// host:port unresolved, since the proxy resolves the name (gRFC A1); nil
// for a dns target reached directly -- and the proxy with the addresses
// dialed through it (nil when none is).
func proxyPlan(pt *parsedTarget, o *options, getenv func(string) string) (static []address, proxyURL *url.URL, proxied map[string]bool, err error) {
	if pt.scheme != "dns" {
		static = pt.addrs
	}
	p := o.proxy
	if p.off || !p.urlSet && o.dial != nil {
		return static, nil, nil, nil
	}
	var settings *proxy.Settings
	if p.urlSet {
		noProxy := getenv("NO_PROXY")
		if noProxy == "" {
			noProxy = getenv("no_proxy")
		}
		settings, err = proxy.New("grpc.http_proxy", p.url, noProxy)
	} else {
		settings, err = proxy.FromEnvironment(getenv)
	}
	if err != nil {
		return nil, nil, nil, err
	}
	proxied = map[string]bool{}
	if pt.scheme == "dns" {
		hostport := net.JoinHostPort(pt.host, pt.port)
		if proxyURL = settings.For(hostport); proxyURL != nil {
			static = []address{{network: "tcp", addr: hostport}}
			proxied[hostport] = true
		}
		return static, proxyURL, proxied, nil
	}
	for _, a := range static {
		if a.network != "tcp" {
			continue // unix sockets are never proxied
		}
		if u := settings.For(a.addr); u != nil {
			proxyURL = u
			proxied[a.addr] = true
		}
	}
	return static, proxyURL, proxied, nil
}
