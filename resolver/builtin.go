package resolver

import (
	"context"
	"fmt"
	"strings"

	iresolver "github.com/grpcactor/grpcactor/internal/resolver"
)

// The built-in schemes are ordinary builders in the registry, registered
// before any init function of a program runs: dns (a Poll resolver over a
// DNS lookup) and unix, unix-abstract, ipv4, ipv6 and passthrough (Static
// resolvers: the address is in the target).
var builtins = map[string]Builder{
	"dns":           dnsBuilder{},
	"unix":          staticBuilder{"unix"},
	"unix-abstract": staticBuilder{"unix-abstract"},
	"ipv4":          staticBuilder{"ipv4"},
	"ipv6":          staticBuilder{"ipv6"},
	"passthrough":   staticBuilder{"passthrough"},
}

func init() {
	for s, b := range builtins {
		registry[s] = b
	}
}

// Builtin returns the built-in builder of scheme ("dns", "unix",
// "unix-abstract", "ipv4", "ipv6" or "passthrough", in any case), or nil
// for any other scheme. It is the builder Get returns for the scheme until Register
// replaces it, and stays available afterwards: a replacement can delegate
// to it (fall back to DNS, say), and Register(scheme, Builtin(scheme))
// puts it back. Builtin("dns") builds a Poll resolver that looks the
// endpoint's host up (in the DNS server the target's authority names, if
// any) and is polled only when the channel asks (leaving IDLE, after a
// connection is lost or fails), as gRPC's dns resolvers are, not
// periodically; the others build Static resolvers.
func Builtin(scheme string) Builder {
	return builtins[strings.ToLower(scheme)]
}

// staticBuilder builds the resolver of a scheme whose endpoint is its
// address list.
type staticBuilder struct{ scheme string }

func (b staticBuilder) Build(t Target) (Resolver, error) {
	as, err := iresolver.StaticAddresses(b.scheme, t.Endpoint)
	if err != nil {
		return Resolver{}, fmt.Errorf("resolver %s: target %q: %v", b.scheme, t.Raw, err)
	}
	r := Resolver{Static: make([]Address, len(as))}
	for i, a := range as {
		r.Static[i] = Address{Network: a.Network, Addr: a.Addr}
	}
	return r, nil
}

// dnsBuilder builds the dns scheme's resolver: a Poll that looks up the
// endpoint's host, in the DNS server the authority names if any.
type dnsBuilder struct{}

func (dnsBuilder) Build(t Target) (Resolver, error) {
	host, port, err := iresolver.SplitHostPort(t.Endpoint)
	if err != nil {
		return Resolver{}, fmt.Errorf("resolver dns: target %q: %v", t.Raw, err)
	}
	dns := &iresolver.DNS{Server: t.Authority}
	return Resolver{Poll: func(ctx context.Context) Update {
		res, err := dns.Resolve(ctx, host, port)
		u := Update{Err: err}
		for _, a := range res {
			u.Addresses = append(u.Addresses, Address{Network: a.Network, Addr: a.Addr})
		}
		return u
	}}, nil
}
