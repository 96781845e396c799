package channel

import (
	"fmt"
	"net"
	"net/netip"
	"strings"

	iresolver "github.com/grpcactor/grpcactor/internal/resolver"
	"github.com/grpcactor/grpcactor/resolver"
)

// address is one resolved endpoint of a target.
type address struct {
	network string // "tcp" or "unix"
	addr    string // host:port, socket path, or "@name" for abstract sockets
}

func (a address) String() string {
	if a.network == "unix" {
		return "unix:" + a.addr
	}
	return a.addr
}

// parsedTarget is a channel target after parsing, per gRPC's naming
// document.
type parsedTarget struct {
	scheme    string // dns, unix, unix-abstract, ipv4, ipv6, passthrough
	authority string // the DNS server for dns://authority/...
	endpoint  string
	addrs     []address // fixed addresses, for every scheme but dns (those its built-in resolver gives)
	host      string    // dns: the host to resolve
	port      string    // dns: the port
	defAuth   string    // the default :authority
}

var knownSchemes = map[string]bool{
	"dns": true, "unix": true, "unix-abstract": true, "ipv4": true, "ipv6": true, "passthrough": true,
}

// parseTarget parses target as gRPC's naming document describes: a URI
// with one of the known schemes, or a bare host[:port] resolved by DNS.
func parseTarget(target string) (*parsedTarget, error) {
	if target == "" {
		return nil, fmt.Errorf("channel target is empty")
	}
	scheme, rest, hasScheme := "", target, false
	if i := strings.Index(target, "://"); i > 0 {
		scheme, rest, hasScheme = target[:i], target[i+3:], true
		if !knownSchemes[scheme] {
			return nil, fmt.Errorf("channel target %q: unknown scheme %q (known: %s; others need channel.WithResolver or resolver.Register)", target, scheme, strings.Join(resolver.Schemes(), ", "))
		}
	} else if i := strings.Index(target, ":"); i > 0 && knownSchemes[target[:i]] {
		scheme, rest, hasScheme = target[:i], target[i+1:], true
	}
	if !hasScheme {
		scheme = "dns"
	}
	t := &parsedTarget{scheme: scheme}
	full := strings.Contains(target, "://")
	switch scheme {
	case "dns":
		if full {
			slash := strings.Index(rest, "/")
			if slash < 0 {
				return nil, fmt.Errorf("channel target %q: missing '/' after the DNS authority", target)
			}
			t.authority, rest = rest[:slash], rest[slash+1:]
		}
		host, port, err := iresolver.SplitHostPort(rest)
		if err != nil {
			return nil, fmt.Errorf("channel target %q: %v", target, err)
		}
		if err := checkHost(host); err != nil {
			return nil, fmt.Errorf("channel target %q: %v", target, err)
		}
		t.endpoint, t.host, t.port = rest, host, port
		t.defAuth = rest
	case "unix":
		path := rest
		if full {
			// unix:///abs/path: the authority must be empty.
			if !strings.HasPrefix(rest, "/") {
				return nil, fmt.Errorf("channel target %q: unix:// needs an absolute path (unix:///path)", target)
			}
		}
		t.endpoint = path
		t.defAuth = "localhost"
	case "unix-abstract":
		name := strings.TrimPrefix(rest, "//")
		if full {
			name = strings.TrimPrefix(rest, "/")
		}
		t.endpoint = name
		t.defAuth = "localhost"
	case "ipv4", "ipv6":
		if full {
			rest = strings.TrimPrefix(rest, "/")
		}
		t.endpoint = rest
		t.defAuth = "localhost"
	case "passthrough":
		if full {
			slash := strings.Index(rest, "/")
			if slash < 0 {
				return nil, fmt.Errorf("channel target %q: passthrough needs passthrough:///address", target)
			}
			rest = rest[slash+1:]
		}
		t.endpoint = rest
		// The address is the dialer's to interpret, but it is also the
		// default :authority.
		if err := checkAuthority("address", rest); err != nil {
			return nil, fmt.Errorf("channel target %q: %v", target, err)
		}
		t.defAuth = rest
	}
	if scheme != "dns" {
		// The fixed addresses, as the scheme's built-in resolver gives
		// them: checked here, so that a bad target is an error naming it
		// even when another resolver takes the scheme over.
		as, err := iresolver.StaticAddresses(scheme, t.endpoint)
		if err != nil {
			return nil, fmt.Errorf("channel target %q: %v", target, err)
		}
		for _, a := range as {
			t.addrs = append(t.addrs, address{a.Network, a.Addr})
		}
	}
	return t, nil
}

// canonicalTarget is target with its scheme: "dns:///" before a target
// that has none (pt, its parse, then has the default scheme, dns).
func canonicalTarget(target string, pt *parsedTarget) string {
	if strings.HasPrefix(target, pt.scheme+":") {
		return target
	}
	return "dns:///" + target
}

// parseTargetWith parses target and finds its resolver: custom (the
// WithResolver option) if set, else the one registered for the target's
// scheme, else none (nil: the built-in resolution of parseTarget). A
// target whose scheme is built in, or that has none, is parsed and checked
// as parseTarget does even when a resolver takes it over; one whose scheme
// only a resolver knows is split into authority and endpoint, and its
// default :authority is the endpoint when that is a valid authority,
// "localhost" otherwise.
func parseTargetWith(target string, custom resolver.Builder) (*parsedTarget, resolver.Builder, error) {
	scheme, rest, full := "", "", false
	if i := strings.Index(target, "://"); i > 0 {
		scheme, rest, full = target[:i], target[i+3:], true
	} else if i := strings.Index(target, ":"); i > 0 && !knownSchemes[target[:i]] && resolver.Get(target[:i]) != nil {
		scheme, rest = target[:i], target[i+1:]
	}
	b := custom
	if b == nil && scheme != "" {
		b = resolver.Get(scheme)
	}
	if b == nil || scheme == "" || knownSchemes[scheme] {
		pt, err := parseTarget(target)
		return pt, b, err
	}
	t := &parsedTarget{scheme: scheme}
	if full {
		if slash := strings.Index(rest, "/"); slash >= 0 {
			t.authority, rest = rest[:slash], rest[slash+1:]
		} else {
			t.authority, rest = rest, ""
		}
	}
	t.endpoint, t.defAuth = rest, "localhost"
	if rest != "" && checkAuthority("endpoint", rest) == nil {
		t.defAuth = rest
	}
	return t, b, nil
}

// resolverTarget is the target as a resolver.Builder sees it.
func (t *parsedTarget) resolverTarget(raw string) resolver.Target {
	return resolver.Target{Scheme: t.scheme, Authority: t.authority, Endpoint: t.endpoint, Raw: raw}
}

// checkHost checks the host of a DNS target: an IP address or a name of
// letters, digits and the other characters RFC 3986 allows in a host.
func checkHost(host string) error {
	if _, err := netip.ParseAddr(host); err == nil {
		return nil // an IP address, IPv6 with a zone included
	}
	for i := 0; i < len(host); i++ {
		if c := host[i]; !authorityChar(c) || c == ':' || c == '@' || c == '[' || c == ']' {
			return fmt.Errorf("host %q has %q at %d: a host name may hold only letters, digits and -._~!$&'()*+,;=%%", host, c, i)
		}
	}
	return nil
}

// staticAddrs returns the addresses to dial for the target. DNS targets
// are dialed by name; the dialer resolves them when it connects.
func (t *parsedTarget) staticAddrs() []address {
	if t.scheme == "dns" {
		return []address{{"tcp", net.JoinHostPort(t.host, t.port)}}
	}
	return t.addrs
}

// hostOf returns the host of an authority ("host:port", "[v6]:port" or a
// bare host), the name a server's TLS certificate is checked against.
func hostOf(authority string) string {
	if host, _, err := net.SplitHostPort(authority); err == nil {
		return host
	}
	return strings.TrimSuffix(strings.TrimPrefix(authority, "["), "]")
}
