package channel

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"reflect"
	"sort"
	"strings"
	"testing"
)

func TestProxyPlan(t *testing.T) {
	type env = map[string]string
	customDial := WithDialer(func(ctx context.Context, network, address string) (net.Conn, error) { return nil, nil })
	tests := []struct {
		name      string
		target    string
		env       env
		opts      []Option
		wantProxy string   // proxy host:port, "" for none
		proxied   []string // addresses dialed through it
		static    []string // the channel's fixed addresses; nil: resolved by DNS
	}{
		{name: "no proxy set", target: "example.com:443"},
		{name: "dns target: not resolved, CONNECT host:port", target: "example.com:8443", env: env{"HTTPS_PROXY": "p:3128"},
			wantProxy: "p:3128", proxied: []string{"example.com:8443"}, static: []string{"example.com:8443"}},
		{name: "dns default port", target: "dns:///example.com", env: env{"https_proxy": "http://p:3128"},
			wantProxy: "p:3128", proxied: []string{"example.com:443"}, static: []string{"example.com:443"}},
		{name: "dns with authority", target: "dns://8.8.8.8/example.com:50051", env: env{"HTTPS_PROXY": "p:3128"},
			wantProxy: "p:3128", proxied: []string{"example.com:50051"}, static: []string{"example.com:50051"}},
		{name: "NO_PROXY domain: resolved and dialed directly", target: "api.corp.example:443",
			env: env{"HTTPS_PROXY": "p:3128", "NO_PROXY": "corp.example"}},
		{name: "no_proxy star", target: "example.com:443", env: env{"HTTPS_PROXY": "p:3128", "no_proxy": "*"}},
		{name: "localhost direct", target: "localhost:50051", env: env{"HTTPS_PROXY": "p:3128"}},
		{name: "loopback direct", target: "127.0.0.1:50051", env: env{"HTTPS_PROXY": "p:3128"}},
		{name: "unix never", target: "unix:///tmp/s.sock", env: env{"HTTPS_PROXY": "p:3128"}, static: []string{"unix:/tmp/s.sock"}},
		{name: "unix-abstract never", target: "unix-abstract:s", env: env{"HTTPS_PROXY": "p:3128"}, static: []string{"unix:@s"}},
		{name: "ipv4 list, NO_PROXY CIDR", target: "ipv4:10.0.0.1:80,192.0.2.7:80",
			env:       env{"HTTPS_PROXY": "p:3128", "NO_PROXY": "10.0.0.0/8"},
			wantProxy: "p:3128", proxied: []string{"192.0.2.7:80"}, static: []string{"10.0.0.1:80", "192.0.2.7:80"}},
		{name: "passthrough", target: "passthrough:///backend.example:443", env: env{"HTTPS_PROXY": "p:3128"},
			wantProxy: "p:3128", proxied: []string{"backend.example:443"}, static: []string{"backend.example:443"}},
		{name: "grpc.enable_http_proxy=0", target: "example.com:443", env: env{"HTTPS_PROXY": "p:3128"},
			opts: []Option{WithOption("grpc.enable_http_proxy", 0)}},
		{name: "WithProxyEnabled(false) beats grpc.http_proxy", target: "example.com:443",
			opts: []Option{WithHTTPProxy("p:1"), WithProxyEnabled(false)}},
		{name: "grpc.http_proxy beats the environment", target: "example.com:443", env: env{"HTTPS_PROXY": "p:3128"},
			opts:      []Option{WithOption("grpc.http_proxy", "http://mine:8080")},
			wantProxy: "mine:8080", proxied: []string{"example.com:443"}, static: []string{"example.com:443"}},
		{name: "grpc.http_proxy with NO_PROXY", target: "example.com:443", env: env{"NO_PROXY": "example.com"},
			opts: []Option{WithOption("grpc.http_proxy", "mine:8080")}},
		{name: "grpc.http_proxy empty: none", target: "example.com:443", env: env{"HTTPS_PROXY": "p:3128"},
			opts: []Option{WithOption("grpc.http_proxy", "")}},
		{name: "WithDialer ignores the environment", target: "example.com:443", env: env{"HTTPS_PROXY": "p:3128"},
			opts: []Option{customDial}},
		{name: "WithDialer with grpc.http_proxy", target: "example.com:443",
			opts:      []Option{customDial, WithHTTPProxy("p:1")},
			wantProxy: "p:1", proxied: []string{"example.com:443"}, static: []string{"example.com:443"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pt, err := parseTarget(tt.target)
			if err != nil {
				t.Fatal(err)
			}
			o := defaultOptions()
			for _, opt := range tt.opts {
				if err := opt.apply(&o); err != nil {
					t.Fatal(err)
				}
			}
			static, u, proxied, err := proxyPlan(pt, &o, func(k string) string { return tt.env[k] })
			if err != nil {
				t.Fatalf("proxyPlan: %v", err)
			}
			got := ""
			if u != nil {
				got = u.Host
			}
			var gotProxied, gotStatic []string
			for a := range proxied {
				gotProxied = append(gotProxied, a)
			}
			sort.Strings(gotProxied)
			for _, a := range static {
				gotStatic = append(gotStatic, a.String())
			}
			if got != tt.wantProxy || !reflect.DeepEqual(gotProxied, tt.proxied) || !reflect.DeepEqual(gotStatic, tt.static) {
				t.Errorf("proxy %q through it %q fixed addresses %q; want %q %q %q", got, gotProxied, gotStatic, tt.wantProxy, tt.proxied, tt.static)
			}
		})
	}
}

func TestProxyOptionErrors(t *testing.T) {
	for _, tt := range []struct {
		opt  Option
		want string
	}{
		{WithOption("grpc.http_proxy", "socks5://p:1080"), `grpc.http_proxy: proxy URL "socks5://p:1080": scheme "socks5" is not supported`},
		{WithHTTPProxy("https://p:443"), `scheme "https" is not supported`},
		{WithOption("grpc.http_proxy", 3128), "grpc.http_proxy: want a string"},
		{WithOption("grpc.enable_http_proxy", 2), "grpc.enable_http_proxy: want a bool"},
	} {
		o := defaultOptions()
		if err := tt.opt.apply(&o); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("error %v, want one containing %q", err, tt.want)
		}
	}
	// A malformed HTTPS_PROXY is an error naming the variable.
	pt, _ := parseTarget("example.com:443")
	o := defaultOptions()
	_, err := applyProxy("example.com:443", pt, &o, func(k string) string {
		if k == "HTTPS_PROXY" {
			return "socks5://p:1080"
		}
		return ""
	})
	if err == nil || !strings.Contains(err.Error(), "HTTPS_PROXY") {
		t.Errorf("applyProxy with HTTPS_PROXY=socks5://p:1080: %v, want an error naming HTTPS_PROXY", err)
	}
}

func TestProxyLogged(t *testing.T) {
	var buf bytes.Buffer
	o := defaultOptions()
	o.logger = slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	pt, _ := parseTarget("example.com:443")
	env := map[string]string{"HTTPS_PROXY": "http://alice:hunter2@p:3128"}
	if _, err := applyProxy("example.com:443", pt, &o, func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	got := buf.String()
	if !strings.Contains(got, "HTTP CONNECT proxy") || !strings.Contains(got, "proxy=p:3128") || !strings.Contains(got, "target=example.com:443") {
		t.Errorf("log %q does not name the target and the proxy", got)
	}
	if strings.Contains(got, "hunter2") {
		t.Errorf("log %q shows the proxy password", got)
	}
}
