package resolver

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// DefaultPort is the port of a dns, ipv4 or ipv6 target's address written
// without one (gRPC's naming document).
const DefaultPort = "443"

// SplitHostPort splits host[:port] as a target writes it: an IPv6 host in
// brackets ("[::1]:80", "[::1]") or bare without a port ("::1"), the port
// DefaultPort when there is none. The port must be a number from 1 to
// 65535. The errors quote s.
func SplitHostPort(s string) (host, port string, err error) {
	if s == "" {
		return "", "", fmt.Errorf("missing host")
	}
	if strings.HasPrefix(s, "[") {
		end := strings.Index(s, "]")
		if end < 0 {
			return "", "", fmt.Errorf("%q: missing ']' in IPv6 address", s)
		}
		host = s[1:end]
		rest := s[end+1:]
		switch {
		case rest == "":
			return host, DefaultPort, nil
		case strings.HasPrefix(rest, ":") && len(rest) > 1:
			port = rest[1:]
		default:
			return "", "", fmt.Errorf("%q: bad port after IPv6 address", s)
		}
	} else if strings.Count(s, ":") > 1 {
		// A bare IPv6 address without brackets and port.
		if net.ParseIP(s) == nil {
			return "", "", fmt.Errorf("%q: too many colons", s)
		}
		return s, DefaultPort, nil
	} else if i := strings.LastIndex(s, ":"); i >= 0 {
		host, port = s[:i], s[i+1:]
		if port == "" {
			return "", "", fmt.Errorf("%q: empty port", s)
		}
	} else {
		host, port = s, DefaultPort
	}
	if host == "" {
		return "", "", fmt.Errorf("%q: missing host", s)
	}
	if err := checkPort(s, port); err != nil {
		return "", "", err
	}
	return host, port, nil
}

// checkPort checks that port is a TCP port a client can dial (1-65535).
func checkPort(addr, port string) error {
	for _, c := range port {
		if c < '0' || c > '9' {
			return fmt.Errorf("%q: port %q is not a number", addr, port)
		}
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("%q: port %s is out of range (1-65535)", addr, port)
	}
	return nil
}

// StaticAddresses returns the fixed addresses of a target of one of the
// schemes whose endpoint is its address list, given the endpoint as
// gRPC's naming document splits it: unix (a socket path), unix-abstract (a
// name, dialed as "@name"), ipv4 and ipv6 (a comma-separated list of
// host[:port], each host an IP address of that family; port DefaultPort
// when missing) and passthrough (an address handed to the dialer as it
// is). The errors say what is wrong without naming the target, which the
// caller does.
func StaticAddresses(scheme, endpoint string) ([]Address, error) {
	switch scheme {
	case "unix":
		if endpoint == "" {
			return nil, fmt.Errorf("empty unix socket path")
		}
		return []Address{{Network: "unix", Addr: endpoint}}, nil
	case "unix-abstract":
		return []Address{{Network: "unix", Addr: "@" + endpoint}}, nil
	case "ipv4", "ipv6":
		if endpoint == "" {
			return nil, fmt.Errorf("no addresses")
		}
		var out []Address
		for _, a := range strings.Split(endpoint, ",") {
			host, port, err := SplitHostPort(a)
			if err != nil {
				return nil, err
			}
			ip := net.ParseIP(host)
			if ip == nil || (scheme == "ipv4") != (ip.To4() != nil) {
				return nil, fmt.Errorf("%q is not an %s address", host, scheme)
			}
			out = append(out, Address{Network: "tcp", Addr: net.JoinHostPort(host, port)})
		}
		return out, nil
	case "passthrough":
		if endpoint == "" {
			return nil, fmt.Errorf("empty passthrough address")
		}
		return []Address{{Network: "tcp", Addr: endpoint}}, nil
	}
	return nil, fmt.Errorf("scheme %q has no fixed addresses", scheme)
}
