package resolver_test

import (
	"context"
	"errors"
	"net"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/grpcactor/grpcactor/internal/resolver"
)

func tcp(addrs ...string) []resolver.Address {
	out := make([]resolver.Address, len(addrs))
	for i, a := range addrs {
		out[i] = resolver.Address{Network: "tcp", Addr: a}
	}
	return out
}

// failingLookup fails the test if it is called.
func failingLookup(t *testing.T) func(context.Context, string) ([]string, error) {
	return func(_ context.Context, host string) ([]string, error) {
		t.Errorf("LookupHost(%q) called for an IP literal", host)
		return nil, errors.New("unexpected lookup")
	}
}

func TestResolveIPLiteralNeedsNoLookup(t *testing.T) {
	tests := []struct {
		host, port string
		want       string
	}{
		{"127.0.0.1", "50051", "127.0.0.1:50051"},
		{"10.1.2.3", "443", "10.1.2.3:443"},
		{"::1", "443", "[::1]:443"},
		{"[::1]", "443", "[::1]:443"},
		{"2001:db8::1", "80", "[2001:db8::1]:80"},
		{"2001:DB8:0:0::1", "80", "[2001:db8::1]:80"},
		{"::ffff:192.0.2.1", "80", "192.0.2.1:80"},
		{"fe80::1%eth0", "80", "[fe80::1%eth0]:80"},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			d := &resolver.DNS{LookupHost: failingLookup(t)}
			got, err := d.Resolve(context.Background(), tt.host, tt.port)
			if err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			if want := tcp(tt.want); !reflect.DeepEqual(got, want) {
				t.Errorf("Resolve = %v, want %v", got, want)
			}
		})
	}
}

func TestResolveIPLiteralZeroValue(t *testing.T) {
	var d resolver.DNS // the system resolver is never asked for a literal
	got, err := d.Resolve(context.Background(), "::1", "8080")
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	if want := tcp("[::1]:8080"); !reflect.DeepEqual(got, want) {
		t.Errorf("Resolve = %v, want %v", got, want)
	}
}

func TestResolveLookup(t *testing.T) {
	tests := []struct {
		name   string
		result []string
		want   []resolver.Address
	}{
		{
			name:   "v4 and v6 in resolver order",
			result: []string{"2001:db8::2", "192.0.2.1", "192.0.2.2"},
			want:   tcp("[2001:db8::2]:443", "192.0.2.1:443", "192.0.2.2:443"),
		},
		{
			name:   "duplicates removed, first kept",
			result: []string{"192.0.2.2", "192.0.2.1", "192.0.2.2", "::1", "192.0.2.1", "::1"},
			want:   tcp("192.0.2.2:443", "192.0.2.1:443", "[::1]:443"),
		},
		{
			name:   "same address in different spellings",
			result: []string{"2001:db8::1", "2001:DB8:0::1", "192.0.2.1", "::ffff:192.0.2.1"},
			want:   tcp("[2001:db8::1]:443", "192.0.2.1:443"),
		},
		{
			name:   "single",
			result: []string{"127.0.0.1"},
			want:   tcp("127.0.0.1:443"),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var asked []string
			d := &resolver.DNS{LookupHost: func(_ context.Context, host string) ([]string, error) {
				asked = append(asked, host)
				return tt.result, nil
			}}
			got, err := d.Resolve(context.Background(), "svc.example", "443")
			if err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Resolve = %v, want %v", got, tt.want)
			}
			if want := []string{"svc.example"}; !slices.Equal(asked, want) {
				t.Errorf("LookupHost called with %q, want %q", asked, want)
			}
		})
	}
}

func TestResolveLocalhostIsLookedUp(t *testing.T) {
	called := false
	d := &resolver.DNS{LookupHost: func(_ context.Context, host string) ([]string, error) {
		called = true
		if host != "localhost" {
			t.Errorf("LookupHost(%q), want localhost", host)
		}
		return []string{"::1", "127.0.0.1"}, nil
	}}
	got, err := d.Resolve(context.Background(), "localhost", "50051")
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	if !called {
		t.Fatal("LookupHost not called for localhost")
	}
	if want := tcp("[::1]:50051", "127.0.0.1:50051"); !reflect.DeepEqual(got, want) {
		t.Errorf("Resolve = %v, want %v", got, want)
	}
}

func TestResolveLookupError(t *testing.T) {
	lookupErr := &net.DNSError{Err: "no such host", Name: "nosuch.invalid", IsNotFound: true}
	d := &resolver.DNS{LookupHost: func(context.Context, string) ([]string, error) {
		return nil, lookupErr
	}}
	got, err := d.Resolve(context.Background(), "nosuch.invalid", "443")
	if err == nil {
		t.Fatalf("Resolve = %v, want an error", got)
	}
	if want := `dns: resolving "nosuch.invalid": lookup nosuch.invalid: no such host`; err.Error() != want {
		t.Errorf("error = %q, want %q", err, want)
	}
	var dnsErr *net.DNSError
	if !errors.As(err, &dnsErr) || !dnsErr.IsNotFound {
		t.Errorf("error %v does not wrap the *net.DNSError", err)
	}
}

func TestResolveContextError(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	d := &resolver.DNS{LookupHost: func(ctx context.Context, string string) ([]string, error) {
		return nil, ctx.Err()
	}}
	_, err := d.Resolve(ctx, "svc.example", "443")
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error = %v, want one wrapping context.Canceled", err)
	}
}

// A lookup that ran into ctx's deadline on its socket reports an i/o
// timeout that is not ctx's error (Go's resolver does): Resolve's error
// matches context.DeadlineExceeded all the same, keeps the lookup's, and
// says both. A lookup that fails on its own is left as it is.
func TestResolveDeadlineOnTheSocket(t *testing.T) {
	ioTimeout := &net.DNSError{Err: "i/o timeout", Name: "svc.example", IsTimeout: true}
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	d := &resolver.DNS{LookupHost: func(context.Context, string) ([]string, error) { return nil, ioTimeout }}
	_, err := d.Resolve(ctx, "svc.example", "443")
	var dnsErr *net.DNSError
	if !errors.Is(err, context.DeadlineExceeded) || !errors.As(err, &dnsErr) || dnsErr != ioTimeout {
		t.Errorf("error = %v, want one matching context.DeadlineExceeded and the lookup's *net.DNSError", err)
	}
	if want := `dns: resolving "svc.example": lookup svc.example: i/o timeout (context deadline exceeded)`; err == nil || err.Error() != want {
		t.Errorf("error = %q, want %q", err, want)
	}
	_, err = d.Resolve(context.Background(), "svc.example", "443")
	if errors.Is(err, context.DeadlineExceeded) || !errors.As(err, &dnsErr) {
		t.Errorf("without a deadline: error = %v, want the lookup's alone", err)
	}
}

func TestResolveNoAddresses(t *testing.T) {
	for _, result := range [][]string{nil, {}} {
		d := &resolver.DNS{LookupHost: func(context.Context, string) ([]string, error) {
			return result, nil
		}}
		got, err := d.Resolve(context.Background(), "x", "443")
		if err == nil {
			t.Fatalf("Resolve = %v, want an error", got)
		}
		if want := `dns: "x" resolved to no addresses`; err.Error() != want {
			t.Errorf("error = %q, want %q", err, want)
		}
	}
}

func TestResolveBadInput(t *testing.T) {
	ok := func(context.Context, string) ([]string, error) { return []string{"192.0.2.1"}, nil }
	bad := func(context.Context, string) ([]string, error) { return []string{"192.0.2.1", "not-an-ip"}, nil }
	tests := []struct {
		name       string
		d          resolver.DNS
		host, port string
		want       string
	}{
		{"empty host", resolver.DNS{LookupHost: ok}, "", "443", `dns: empty host`},
		{"empty port", resolver.DNS{LookupHost: ok}, "svc.example", "", `dns: no port for host "svc.example"`},
		{"not an IP", resolver.DNS{LookupHost: bad}, "svc.example", "443",
			`dns: resolving "svc.example": lookup returned "not-an-ip", not an IP address`},
		{"bad server", resolver.DNS{Server: "a:b:c", LookupHost: ok}, "127.0.0.1", "443", `dns: invalid server "a:b:c"`},
		{"server without host", resolver.DNS{Server: ":53", LookupHost: ok}, "svc.example", "443", `dns: invalid server ":53": no host`},
		{"server with empty port", resolver.DNS{Server: "[::1]:", LookupHost: ok}, "svc.example", "443", `dns: invalid server "[::1]:": no port`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.d.Resolve(context.Background(), tt.host, tt.port)
			if err == nil {
				t.Fatalf("Resolve = %v, want an error", got)
			}
			if !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("error = %q, want it to start with %q", err, tt.want)
			}
		})
	}
}

func TestResolveHookWinsOverServer(t *testing.T) {
	d := &resolver.DNS{
		Server: "192.0.2.53", // never asked
		LookupHost: func(context.Context, string) ([]string, error) {
			return []string{"192.0.2.1"}, nil
		},
	}
	got, err := d.Resolve(context.Background(), "svc.example", "443")
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	if want := tcp("192.0.2.1:443"); !reflect.DeepEqual(got, want) {
		t.Errorf("Resolve = %v, want %v", got, want)
	}
}

// TestResolveServer asks a real DNS server listening on loopback.
func TestResolveServer(t *testing.T) {
	srv := startDNSServer(t, "grpcactor.test.", net.ParseIP("127.0.0.7"), net.ParseIP("::1"), false)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	d := &resolver.DNS{Server: srv.Addr}
	got, err := d.Resolve(ctx, "grpcactor.test", "80")
	if err != nil {
		t.Fatalf("Resolve: %v (queries %q)", err, srv.Queries())
	}
	// The Go resolver asks A and AAAA in parallel and sorts the answers
	// (RFC 6724), so compare as sets.
	want := tcp("127.0.0.7:80", "[::1]:80")
	sortAddrs := func(a []resolver.Address) {
		slices.SortFunc(a, func(x, y resolver.Address) int { return strings.Compare(x.Addr, y.Addr) })
	}
	sortAddrs(got)
	sortAddrs(want)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Resolve = %v, want %v", got, want)
	}
	queries := srv.Queries()
	for _, q := range []string{"grpcactor.test. TypeA", "grpcactor.test. TypeAAAA"} {
		if !slices.Contains(queries, q) {
			t.Errorf("server got queries %q, want one of them %q", queries, q)
		}
	}
}

func TestResolveServerNotFound(t *testing.T) {
	srv := startDNSServer(t, "grpcactor.test.", net.ParseIP("127.0.0.7"), net.ParseIP("::1"), false)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	d := &resolver.DNS{Server: srv.Addr}
	got, err := d.Resolve(ctx, "nosuch.grpcactor.test", "80")
	if err == nil {
		t.Fatalf("Resolve = %v, want an error", got)
	}
	if want := `dns: resolving "nosuch.grpcactor.test" with DNS server ` + srv.Addr + ": "; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error = %q, want it to start with %q", err, want)
	}
	var dnsErr *net.DNSError
	if !errors.As(err, &dnsErr) || !dnsErr.IsNotFound {
		t.Errorf("error = %v, want a not-found *net.DNSError", err)
	}
}

func TestResolveServerTimeout(t *testing.T) {
	srv := startDNSServer(t, "grpcactor.test.", net.ParseIP("127.0.0.7"), net.ParseIP("::1"), true)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()

	d := &resolver.DNS{Server: srv.Addr}
	start := time.Now()
	got, err := d.Resolve(ctx, "grpcactor.test", "80")
	if err == nil {
		t.Fatalf("Resolve = %v, want an error", got)
	}
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("Resolve took %v after a 200ms deadline", elapsed)
	}
	var dnsErr *net.DNSError
	if !errors.As(err, &dnsErr) || !dnsErr.IsTimeout {
		t.Errorf("error = %v, want a timeout *net.DNSError", err)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error = %v, want one matching context.DeadlineExceeded", err)
	}
	if len(srv.Queries()) == 0 {
		t.Error("the server got no query")
	}
}
