package proxy

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
)

// Settings say which proxy, if any, a target goes through. The zero value
// (or nil) proxies nothing.
type Settings struct {
	// URL is the proxy (scheme http, host:port, optional user:password);
	// nil means no proxy.
	URL *url.URL
	// Source names where URL came from ("HTTPS_PROXY", "grpc.http_proxy"),
	// for messages.
	Source string

	all     bool // NO_PROXY=*
	hosts   []hostMatch
	ips     []ipMatch
	prefixs []netip.Prefix
}

type hostMatch struct {
	suffix    string // ".example.com"
	matchHost bool   // also "example.com" itself
	port      string // "" for any port
}

type ipMatch struct {
	ip   netip.Addr
	port string
}

// FromEnvironment returns the settings of the environment that getenv reads:
// the proxy of HTTPS_PROXY (or https_proxy when HTTPS_PROXY is empty) and the
// exceptions of NO_PROXY (or no_proxy). A malformed proxy URL is an error
// naming the variable and its value.
func FromEnvironment(getenv func(string) string) (*Settings, error) {
	raw, src := getenv("HTTPS_PROXY"), "HTTPS_PROXY"
	if raw == "" {
		raw, src = getenv("https_proxy"), "https_proxy"
	}
	noProxy := getenv("NO_PROXY")
	if noProxy == "" {
		noProxy = getenv("no_proxy")
	}
	if raw == "" {
		return &Settings{}, nil
	}
	return New(src, raw, noProxy)
}

// New returns the settings for the proxy rawURL (read from source, which
// messages name) with the NO_PROXY list noProxy. An empty rawURL proxies
// nothing.
func New(source, rawURL, noProxy string) (*Settings, error) {
	s := &Settings{Source: source}
	if rawURL == "" {
		return s, nil
	}
	u, err := ParseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	s.URL = u
	s.parseNoProxy(noProxy)
	return s, nil
}

// ParseURL parses a proxy URL: "http://[user:password@]host[:port]", or
// "host[:port]" meaning the same with http. The port defaults to 443, as in
// grpc-go and C-core. Only
// the http scheme is supported: gRFC A1's proxies speak plain HTTP/1.1
// CONNECT.
func ParseURL(raw string) (*url.URL, error) {
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw // "host:port" means an http proxy
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("proxy URL %q: %v", redact(raw), err)
	}
	if u.Scheme != "http" {
		return nil, fmt.Errorf("proxy URL %q: scheme %q is not supported (want http://host:port)", redact(raw), u.Scheme)
	}
	if u.Hostname() == "" {
		return nil, fmt.Errorf("proxy URL %q: no host", redact(raw))
	}
	if u.Port() == "" {
		u.Host = net.JoinHostPort(u.Hostname(), "443")
	}
	return u, nil
}

// redact hides the password of a proxy URL in messages.
func redact(raw string) string {
	if u, err := url.Parse(raw); err == nil && u.User != nil {
		if _, ok := u.User.Password(); ok {
			return u.Redacted()
		}
	}
	return raw
}

func (s *Settings) parseNoProxy(list string) {
	for _, e := range strings.Split(list, ",") {
		e = strings.ToLower(strings.TrimSpace(e))
		if e == "" {
			continue
		}
		if e == "*" {
			s.all = true
			return
		}
		if p, err := netip.ParsePrefix(e); err == nil {
			s.prefixs = append(s.prefixs, p.Masked())
			continue
		}
		host, port := e, ""
		if h, p, err := net.SplitHostPort(e); err == nil {
			host, port = h, p
		}
		if ip, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
			s.ips = append(s.ips, ipMatch{ip.Unmap(), port})
			continue
		}
		host = strings.TrimPrefix(host, "*")
		m := hostMatch{suffix: host, port: port}
		if !strings.HasPrefix(host, ".") {
			m.suffix, m.matchHost = "."+host, true
		}
		s.hosts = append(s.hosts, m)
	}
}

// For returns the proxy for a connection to hostport (host:port of the
// target, unresolved), or nil when it goes direct: no proxy is set,
// hostport is localhost or a loopback address, or NO_PROXY matches it.
func (s *Settings) For(hostport string) *url.URL {
	if s == nil || s.URL == nil || s.all {
		return nil
	}
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		host, port = hostport, ""
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if host == "" {
		return nil
	}
	if host == "localhost" {
		return nil
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		ip = ip.Unmap()
		if ip.IsLoopback() {
			return nil
		}
		for _, m := range s.ips {
			if m.ip == ip && (m.port == "" || m.port == port) {
				return nil
			}
		}
		for _, p := range s.prefixs {
			if p.Contains(ip) {
				return nil
			}
		}
		return s.URL
	}
	for _, m := range s.hosts {
		if (strings.HasSuffix(host, m.suffix) || m.matchHost && host == m.suffix[1:]) && (m.port == "" || m.port == port) {
			return nil
		}
	}
	return s.URL
}
