package proxy_test

import (
	"strings"
	"testing"

	"github.com/grpcactor/grpcactor/internal/proxy"
)

// env is an environment for FromEnvironment.
func env(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

func TestFromEnvironment(t *testing.T) {
	tests := []struct {
		name    string
		env     func(string) string
		target  string
		want    string // proxy host:port, "" for direct
		wantSrc string
	}{
		{"nothing set", env(), "example.com:443", "", ""},
		{"HTTPS_PROXY", env("HTTPS_PROXY", "http://p:3128"), "example.com:443", "p:3128", "HTTPS_PROXY"},
		{"https_proxy", env("https_proxy", "http://p:3128"), "example.com:443", "p:3128", "https_proxy"},
		{"upper case wins", env("HTTPS_PROXY", "http://up:1", "https_proxy", "http://low:2"), "example.com:443", "up:1", "HTTPS_PROXY"},
		{"no scheme", env("HTTPS_PROXY", "p:3128"), "example.com:443", "p:3128", "HTTPS_PROXY"},
		{"default port 443", env("HTTPS_PROXY", "http://p"), "example.com:443", "p:443", "HTTPS_PROXY"},
		{"bare host", env("HTTPS_PROXY", "proxy.corp"), "example.com:443", "proxy.corp:443", "HTTPS_PROXY"},
		{"http_proxy alone is ignored", env("http_proxy", "http://p:3128", "HTTP_PROXY", "http://p:3128"), "example.com:443", "", ""},
		{"NO_PROXY host", env("HTTPS_PROXY", "p:1", "NO_PROXY", "example.com"), "example.com:443", "", "HTTPS_PROXY"},
		{"no_proxy lower case", env("HTTPS_PROXY", "p:1", "no_proxy", "example.com"), "example.com:443", "", "HTTPS_PROXY"},
		{"NO_PROXY upper case wins", env("HTTPS_PROXY", "p:1", "NO_PROXY", "other.com", "no_proxy", "example.com"), "example.com:443", "p:1", "HTTPS_PROXY"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := proxy.FromEnvironment(tt.env)
			if err != nil {
				t.Fatalf("FromEnvironment: %v", err)
			}
			got := ""
			if u := s.For(tt.target); u != nil {
				got = u.Host
			}
			if got != tt.want {
				t.Errorf("For(%q) = %q, want %q", tt.target, got, tt.want)
			}
			if s.Source != tt.wantSrc && s.URL != nil {
				t.Errorf("Source = %q, want %q", s.Source, tt.wantSrc)
			}
		})
	}
}

func TestNoProxy(t *testing.T) {
	tests := []struct {
		noProxy string
		target  string
		direct  bool
	}{
		{"", "example.com:443", false},
		{"*", "example.com:443", true},
		{"*", "10.0.0.1:80", true},
		{" * ", "example.com:443", true},
		// A name matches itself and its subdomains.
		{"example.com", "example.com:443", true},
		{"example.com", "api.example.com:443", true},
		{"example.com", "badexample.com:443", false},
		{"example.com", "example.org:443", false},
		{"EXAMPLE.com", "Api.Example.COM:443", true},
		{"example.com", "example.com.:443", true},
		// A leading dot or "*." matches subdomains only.
		{".example.com", "example.com:443", false},
		{".example.com", "api.example.com:443", true},
		{"*.example.com", "example.com:443", false},
		{"*.example.com", "a.b.example.com:443", true},
		// With a port, only that port.
		{"example.com:443", "example.com:443", true},
		{"example.com:443", "example.com:8443", false},
		// IP addresses and CIDR blocks.
		{"10.1.2.3", "10.1.2.3:50051", true},
		{"10.1.2.3", "10.1.2.4:50051", false},
		{"10.1.2.3:80", "10.1.2.3:81", false},
		{"10.1.2.3:80", "10.1.2.3:80", true},
		{"10.0.0.0/8", "10.200.3.4:443", true},
		{"10.0.0.0/8", "11.0.0.1:443", false},
		{"10.0.0.0/8", "ten.example.com:443", false},
		{"2001:db8::/32", "[2001:db8::1]:443", true},
		{"2001:db8::1", "[2001:db8::1]:443", true},
		{"[2001:db8::1]:443", "[2001:db8::1]:443", true},
		{"2001:db8::/32", "[2001:db9::1]:443", false},
		// Lists: any entry, blanks and spaces ignored.
		{"foo.com, ,10.0.0.0/8,  example.com ", "api.example.com:443", true},
		{"foo.com,,bar.com", "example.com:443", false},
		// localhost and loopback are never proxied (grpc-go, net/http).
		{"", "localhost:50051", true},
		{"", "LOCALHOST:50051", true},
		{"", "127.0.0.1:50051", true},
		{"", "127.9.9.9:50051", true},
		{"", "[::1]:50051", true},
		{"", "[::ffff:127.0.0.1]:50051", true},
		{"", "localhost.example.com:443", false},
		// A host with no port is matched too.
		{"example.com", "example.com", true},
		{"", "example.com", false},
	}
	for _, tt := range tests {
		s, err := proxy.New("test", "http://p:3128", tt.noProxy)
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		if direct := s.For(tt.target) == nil; direct != tt.direct {
			t.Errorf("NO_PROXY=%q: For(%q) direct = %v, want %v", tt.noProxy, tt.target, direct, tt.direct)
		}
	}
}

func TestNoProxyWithoutProxy(t *testing.T) {
	var nilSettings *proxy.Settings
	for _, s := range []*proxy.Settings{nilSettings, {}} {
		if u := s.For("example.com:443"); u != nil {
			t.Errorf("settings without a proxy: For = %v, want nil", u)
		}
	}
}

func TestParseURL(t *testing.T) {
	tests := []struct {
		raw, host, user, pass string
		err                   string
	}{
		{raw: "http://p:3128", host: "p:3128"},
		{raw: "p:3128", host: "p:3128"},
		{raw: "http://p", host: "p:443"},
		{raw: "http://10.0.0.1:8080/", host: "10.0.0.1:8080"},
		{raw: "http://[2001:db8::1]:3128", host: "[2001:db8::1]:3128"},
		{raw: "http://[2001:db8::1]", host: "[2001:db8::1]:443"},
		{raw: "http://alice:s%3Ecret@p:3128", host: "p:3128", user: "alice", pass: "s>cret"},
		{raw: "alice:secret@p:3128", host: "p:3128", user: "alice", pass: "secret"},
		{raw: "https://p:3128", err: `scheme "https" is not supported`},
		{raw: "socks5://p:1080", err: `scheme "socks5" is not supported`},
		{raw: "socks5://bob:hunter2@p:1080", err: `"socks5://bob:xxxxx@p:1080"`},
		{raw: "http://", err: "no host"},
		{raw: "http://p:bad", err: "proxy URL"},
	}
	for _, tt := range tests {
		u, err := proxy.ParseURL(tt.raw)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseURL(%q) = %v, %v; want an error containing %q", tt.raw, u, err, tt.err)
			}
			if err != nil && strings.Contains(err.Error(), "hunter2") {
				t.Errorf("ParseURL(%q): error %q shows the password", tt.raw, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseURL(%q): %v", tt.raw, err)
			continue
		}
		pass, _ := u.User.Password()
		if u.Host != tt.host || u.User.Username() != tt.user || pass != tt.pass {
			t.Errorf("ParseURL(%q) = host %q user %q password %q; want %q %q %q", tt.raw, u.Host, u.User.Username(), pass, tt.host, tt.user, tt.pass)
		}
	}
}

func TestFromEnvironmentBadURL(t *testing.T) {
	_, err := proxy.FromEnvironment(env("https_proxy", "socks5://p:1080"))
	if err == nil || !strings.Contains(err.Error(), "https_proxy") || !strings.Contains(err.Error(), "socks5") {
		t.Fatalf("FromEnvironment(https_proxy=socks5://p:1080) = %v, want an error naming https_proxy and the scheme", err)
	}
}
