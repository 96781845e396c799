package resolver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"
)

// DefaultDNSPort is the port of a DNS server named without one.
const DefaultDNSPort = "53"

// Address is one endpoint to dial.
type Address struct {
	// Network is the network to dial: "tcp" or "unix".
	Network string
	// Addr is "host:port", an IPv6 host in brackets ("[::1]:443"), or a
	// unix socket's path ("@name" for an abstract one).
	Addr string
}

// DNS resolves host names. The zero value uses the system resolver.
//
// A DNS is not modified by Resolve, which is safe for concurrent use.
type DNS struct {
	// Server is the DNS server to ask instead of the system's, as
	// "host:port"; a missing port means 53 and an IPv6 host may be written
	// with or without brackets ("[::1]:53", "[::1]", "::1"). It is the
	// authority of a dns://server/name target. The lookup then uses Go's
	// own resolver (net.Resolver with PreferGo) with every query sent to
	// Server; like any Go resolver it still reads /etc/hosts first, so
	// "localhost" and other names listed there resolve without a query.
	// Empty means the system resolver.
	Server string

	// LookupHost, if set, replaces the lookup (a test hook). It is called
	// with the host exactly as Resolve received it and must return IP
	// addresses as strings, as net.Resolver.LookupHost does. The default is
	// the LookupHost of the system resolver, or of a resolver pointed at
	// Server when Server is set.
	LookupHost func(ctx context.Context, host string) ([]string, error)
}

// Resolve returns every address host resolves to, IPv4 and IPv6, each joined
// with port, as "tcp" addresses in the order the resolver returned them with
// duplicates removed (the first occurrence is kept; an IPv4-mapped IPv6
// address counts as its IPv4 address).
//
// An IP literal host (IPv4, or IPv6 with or without brackets and with an
// optional zone) resolves to itself without a lookup. Every other name,
// "localhost" included, is looked up.
//
// The errors name the host: `dns: resolving "nosuch.invalid": <lookup
// error>` wraps the lookup's error so errors.As and errors.Is see it (the
// default lookup returns a *net.DNSError) and matches ctx's error too once
// ctx has ended (see withContextErr); `dns: "x" resolved to no addresses`
// is returned when the lookup succeeds with nothing. An empty host or
// port, an invalid Server, or an address that is not an IP are errors too.
func (d *DNS) Resolve(ctx context.Context, host, port string) ([]Address, error) {
	lookup, err := d.lookupFunc()
	if err != nil {
		return nil, err
	}
	if host == "" {
		return nil, errors.New("dns: empty host")
	}
	if port == "" {
		return nil, fmt.Errorf("dns: no port for host %q", host)
	}
	if ip, ok := parseIPLiteral(host); ok {
		return []Address{{Network: "tcp", Addr: net.JoinHostPort(ip.String(), port)}}, nil
	}

	hosts, err := lookup(ctx, host)
	if err != nil {
		err = withContextErr(ctx, err)
		if d.Server != "" && d.LookupHost == nil {
			// Go's error names the system's resolver even when the query
			// went to Server: say which server was asked.
			return nil, fmt.Errorf("dns: resolving %q with DNS server %s: %w", host, d.Server, err)
		}
		return nil, fmt.Errorf("dns: resolving %q: %w", host, err)
	}
	addrs := make([]Address, 0, len(hosts))
	seen := make(map[netip.Addr]struct{}, len(hosts))
	for _, h := range hosts {
		ip, err := netip.ParseAddr(h)
		if err != nil {
			return nil, fmt.Errorf("dns: resolving %q: lookup returned %q, not an IP address", host, h)
		}
		ip = ip.Unmap()
		if _, dup := seen[ip]; dup {
			continue
		}
		seen[ip] = struct{}{}
		addrs = append(addrs, Address{Network: "tcp", Addr: net.JoinHostPort(ip.String(), port)})
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("dns: %q resolved to no addresses", host)
	}
	return addrs, nil
}

// withContextErr returns err, made to match ctx's error when ctx has
// ended: Go's resolver reports a query that ran into ctx's deadline on its
// socket as an "i/o timeout" that does not match context.DeadlineExceeded
// (only one that found ctx already done does). ctx's deadline counts as
// passed once the clock says so, even before its timer has cancelled it.
func withContextErr(ctx context.Context, err error) error {
	cerr := ctx.Err()
	if d, ok := ctx.Deadline(); cerr == nil && ok && !time.Now().Before(d) {
		cerr = context.DeadlineExceeded
	}
	if cerr == nil || errors.Is(err, cerr) {
		return err
	}
	return fmt.Errorf("%w (%w)", err, cerr)
}

// lookupFunc returns the lookup Resolve uses, after checking Server.
func (d *DNS) lookupFunc() (func(context.Context, string) ([]string, error), error) {
	var server string
	if d.Server != "" {
		s, err := serverAddr(d.Server)
		if err != nil {
			return nil, err
		}
		server = s
	}
	switch {
	case d.LookupHost != nil:
		return d.LookupHost, nil
	case server == "":
		return net.DefaultResolver.LookupHost, nil
	}
	r := &net.Resolver{
		PreferGo: true,
		// The Go resolver calls Dial once per query with the address of a
		// server from /etc/resolv.conf ("udp", or "tcp" after a truncated
		// answer); every query goes to server instead.
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var dialer net.Dialer
			return dialer.DialContext(ctx, network, server)
		},
	}
	return r.LookupHost, nil
}

// serverAddr turns the Server field into "host:port", adding port 53 when
// there is none.
func serverAddr(s string) (string, error) {
	if ip, ok := parseIPLiteral(s); ok {
		return net.JoinHostPort(ip.String(), DefaultDNSPort), nil
	}
	host, port := s, DefaultDNSPort
	if strings.Contains(s, ":") { // not an IP literal, so a port follows
		var err error
		if host, port, err = net.SplitHostPort(s); err != nil {
			return "", fmt.Errorf("dns: invalid server %q: %w", s, err)
		}
	}
	switch {
	case host == "":
		return "", fmt.Errorf("dns: invalid server %q: no host", s)
	case port == "":
		return "", fmt.Errorf("dns: invalid server %q: no port after the colon", s)
	case strings.ContainsAny(host, "[]/"):
		return "", fmt.Errorf("dns: invalid server %q: bad host", s)
	}
	return net.JoinHostPort(host, port), nil
}

// parseIPLiteral reports whether s is an IP address, an IPv6 one possibly in
// brackets, and returns it with an IPv4-mapped IPv6 address unmapped.
func parseIPLiteral(s string) (netip.Addr, bool) {
	if len(s) > 2 && s[0] == '[' && s[len(s)-1] == ']' {
		ip, err := netip.ParseAddr(s[1 : len(s)-1])
		if err != nil || !ip.Is6() {
			return netip.Addr{}, false
		}
		return ip.Unmap(), true
	}
	ip, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, false
	}
	return ip.Unmap(), true
}
