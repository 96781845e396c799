package resolver_test

import (
	"context"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/grpcactor/grpcactor/channel"
	"github.com/grpcactor/grpcactor/resolver"
)

// TestBuiltinSchemesRegistered checks that the built-in schemes are
// ordinary registered builders: listed by Schemes, returned by Get and
// Builtin, and building the resolvers the channel used to make itself.
func TestBuiltinSchemesRegistered(t *testing.T) {
	tcp := func(a string) resolver.Address { return resolver.Address{Network: "tcp", Addr: a} }
	unix := func(a string) resolver.Address { return resolver.Address{Network: "unix", Addr: a} }
	for _, tt := range []struct {
		scheme, endpoint string
		static           []resolver.Address // nil: a Poll resolver
		err              string
	}{
		{"unix", "/tmp/x.sock", []resolver.Address{unix("/tmp/x.sock")}, ""},
		{"unix", "", nil, "empty unix socket path"},
		{"unix-abstract", "name", []resolver.Address{unix("@name")}, ""},
		{"ipv4", "127.0.0.1:1,127.0.0.2", []resolver.Address{tcp("127.0.0.1:1"), tcp("127.0.0.2:443")}, ""},
		{"ipv4", "::1", nil, `"::1" is not an ipv4 address`},
		{"ipv6", "[::1]:80,[::2]", []resolver.Address{tcp("[::1]:80"), tcp("[::2]:443")}, ""},
		{"ipv6", "127.0.0.1:80", nil, "not an ipv6 address"},
		{"passthrough", "backend:5", []resolver.Address{tcp("backend:5")}, ""},
		{"passthrough", "", nil, "empty passthrough address"},
		{"dns", "127.0.0.1:5", nil, ""},
		{"dns", "host:port", nil, `port "port" is not a number`},
	} {
		name := tt.scheme + ":" + tt.endpoint
		if !slices.Contains(resolver.Schemes(), tt.scheme) {
			t.Errorf("Schemes() = %q, without %q", resolver.Schemes(), tt.scheme)
		}
		b := resolver.Get(tt.scheme)
		if b == nil || b != resolver.Builtin(tt.scheme) {
			t.Fatalf("Get(%q) = %v, want the built-in builder %v", tt.scheme, b, resolver.Builtin(tt.scheme))
		}
		r, err := b.Build(resolver.Target{Scheme: tt.scheme, Endpoint: tt.endpoint, Raw: name})
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) || !strings.Contains(err.Error(), name) {
				t.Errorf("%s: Build error %v, want one naming the target and saying %q", name, err, tt.err)
			}
			continue
		}
		if err != nil || r.Check() != nil {
			t.Errorf("%s: Build: %v, Check: %v", name, err, r.Check())
			continue
		}
		if tt.static != nil {
			if !reflect.DeepEqual(r.Static, tt.static) || r.Poll != nil {
				t.Errorf("%s: Static %v (Poll set %v), want %v", name, r.Static, r.Poll != nil, tt.static)
			}
			continue
		}
		if r.Poll == nil || r.PollInterval != 0 {
			t.Fatalf("%s: %+v, want a Poll resolver without a poll interval (dns does not poll periodically)", name, r)
		}
		if u := r.Poll(context.Background()); u.Err != nil || !reflect.DeepEqual(u.Addresses, []resolver.Address{tcp(tt.endpoint)}) {
			t.Errorf("%s: Poll = %+v, want %s", name, u, tt.endpoint)
		}
	}
	if b := resolver.Builtin("consul"); b != nil {
		t.Errorf("Builtin(consul) = %v, want nil", b)
	}
}

// TestOverrideBuiltinScheme checks that Register replaces a built-in
// scheme (the last builder registered wins, as in grpc-go) for channels
// opened afterwards, bare host:port targets following a replaced dns;
// that a target of the scheme is still checked as the built-in does; and
// that Register(scheme, Builtin(scheme)) puts the original back.
func TestOverrideBuiltinScheme(t *testing.T) {
	a, _ := startServer(t)
	var polls atomic.Int32
	to := resolver.PollFunc(func(context.Context, resolver.Target) resolver.Update {
		polls.Add(1)
		return resolver.Update{Addresses: []resolver.Address{{Addr: a}}}
	})
	for _, tt := range []struct{ scheme, target, bad, badErr string }{
		{"unix", "unix:///no/such/socket", "unix:", "empty unix socket path"},
		{"dns", "no-such-host.invalid:50051", "dns:///bad host:80", "has ' '"},
	} {
		t.Run(tt.scheme, func(t *testing.T) {
			resolver.Register(tt.scheme, to)
			defer resolver.Register(tt.scheme, resolver.Builtin(tt.scheme))
			if resolver.Get(tt.scheme) == resolver.Builtin(tt.scheme) {
				t.Fatalf("Get(%q) is still the built-in builder after Register", tt.scheme)
			}
			before := polls.Load()
			ch := open(t, tt.target)
			ctx, cancel := context.WithTimeout(context.Background(), bound)
			defer cancel()
			if peer, err := call(ctx, ch); err != nil || peer != a {
				t.Fatalf("call through the replaced %s resolver: peer %q, %v; want %s", tt.scheme, peer, err, a)
			}
			if polls.Load() == before {
				t.Errorf("the replacing resolver was not polled")
			}
			if _, err := channel.Insecure(tt.bad); err == nil || !strings.Contains(err.Error(), tt.badErr) || !strings.Contains(err.Error(), tt.bad) {
				t.Errorf("Insecure(%q) with %s replaced: %v, want an error naming the target and saying %q", tt.bad, tt.scheme, err, tt.badErr)
			}
		})
		if resolver.Get(tt.scheme) != resolver.Builtin(tt.scheme) {
			t.Errorf("Register(%q, Builtin(%q)) did not put the original back", tt.scheme, tt.scheme)
		}
	}
}

// TestPollEvery checks that a plain function given Every is polled again
// and again by its channel's poll timer while the channel is out of IDLE,
// and never once the channel has closed.
func TestPollEvery(t *testing.T) {
	a, _ := startServer(t)
	polled := make(chan struct{}, 1000)
	var closed atomic.Bool
	var late atomic.Int32
	b := resolver.PollFunc(func(context.Context, resolver.Target) resolver.Update {
		if closed.Load() {
			late.Add(1)
		}
		select {
		case polled <- struct{}{}:
		default:
		}
		return resolver.Update{Addresses: []resolver.Address{{Addr: a}}}
	}, resolver.Every(time.Millisecond))
	ch, err := channel.Insecure("every:///svc", channel.WithResolver(b))
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	if peer, err := call(ctx, ch); err != nil || peer != a {
		t.Fatalf("call: peer %q, %v", peer, err)
	}
	const n = 5 // the first poll, then at least four by the timer
	for i := 0; i < n; i++ {
		select {
		case <-polled:
		case <-ctx.Done():
			t.Fatalf("%d polls in %v, want %d", i, bound, n)
		}
	}
	if peer, err := call(ctx, ch); err != nil || peer != a {
		t.Fatalf("call after the polls: peer %q, %v", peer, err)
	}
	ch.Close()
	closed.Store(true)
	// Close stopped the timer: no poll starts now (the leak check then
	// finds no goroutine left). The wait only gives a wrong poll the time
	// to show; nothing waits for an event.
	<-time.After(50 * time.Millisecond)
	if n := late.Load(); n != 0 {
		t.Errorf("%d polls after Close", n)
	}
}

// TestPollIntervalErrors checks that a poll interval that cannot work is
// an error from Insecure naming the target.
func TestPollIntervalErrors(t *testing.T) {
	poll := func(context.Context) resolver.Update { return resolver.Update{} }
	for _, tt := range []struct {
		name string
		b    resolver.Builder
		want string
	}{
		{"negative Every", resolver.PollFunc(func(context.Context, resolver.Target) resolver.Update { return resolver.Update{} }, resolver.Every(-time.Second)), "negative PollInterval"},
		{"interval without Poll", resolver.BuilderFunc(func(resolver.Target) (resolver.Resolver, error) {
			return resolver.Resolver{Static: []resolver.Address{{Addr: "a:1"}}, PollInterval: time.Second}, nil
		}), "PollInterval 1s is set without Poll"},
		{"Poll and Static", resolver.BuilderFunc(func(resolver.Target) (resolver.Resolver, error) {
			return resolver.Resolver{Static: []resolver.Address{{Addr: "a:1"}}, Poll: poll}, nil
		}), "more than one of Poll, Props, PID and Static"},
	} {
		_, err := channel.Insecure("x:///y", channel.WithResolver(tt.b))
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), `"x:///y"`) {
			t.Errorf("%s: %v, want an error naming the target and %q", tt.name, err, tt.want)
		}
	}
}
