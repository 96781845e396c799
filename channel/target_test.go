package channel

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseTarget(t *testing.T) {
	tests := []struct {
		target  string
		scheme  string
		addrs   []address
		auth    string
		wantErr string
	}{
		{"localhost:50051", "dns", []address{{"tcp", "localhost:50051"}}, "localhost:50051", ""},
		{"example.com", "dns", []address{{"tcp", "example.com:443"}}, "example.com", ""},
		{"dns:///example.com:8080", "dns", []address{{"tcp", "example.com:8080"}}, "example.com:8080", ""},
		{"dns:example.com:8080", "dns", []address{{"tcp", "example.com:8080"}}, "example.com:8080", ""},
		{"[::1]:50051", "dns", []address{{"tcp", "[::1]:50051"}}, "[::1]:50051", ""},
		{"unix:relative/sock", "unix", []address{{"unix", "relative/sock"}}, "localhost", ""},
		{"unix:///tmp/x.sock", "unix", []address{{"unix", "/tmp/x.sock"}}, "localhost", ""},
		{"unix-abstract:name", "unix-abstract", []address{{"unix", "@name"}}, "localhost", ""},
		{"ipv4:127.0.0.1:1,127.0.0.2:2", "ipv4", []address{{"tcp", "127.0.0.1:1"}, {"tcp", "127.0.0.2:2"}}, "localhost", ""},
		{"ipv4:127.0.0.1", "ipv4", []address{{"tcp", "127.0.0.1:443"}}, "localhost", ""},
		{"ipv6:[::1]:80,[::2]", "ipv6", []address{{"tcp", "[::1]:80"}, {"tcp", "[::2]:443"}}, "localhost", ""},
		{"passthrough:///10.0.0.1:5", "passthrough", []address{{"tcp", "10.0.0.1:5"}}, "10.0.0.1:5", ""},
		{"", "", nil, "", "empty"},
		{"foo://bar", "", nil, "", `unknown scheme "foo"`},
		{"ipv4:::1:80", "", nil, "", "not an ipv4 address"},
		{"ipv6:127.0.0.1:80", "", nil, "", "not an ipv6 address"},
		{"host:port", "", nil, "", `port "port" is not a number`},
		{"host:", "", nil, "", "empty port"},
		{"unix:", "", nil, "", "empty unix socket path"},
		{"unix://relative", "", nil, "", "absolute path"},
		{"[::1:80", "", nil, "", "missing ']'"},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			pt, err := parseTarget(tt.target)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				if tt.target != "" && !strings.Contains(err.Error(), tt.target) {
					t.Fatalf("error %q does not name the target", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if pt.scheme != tt.scheme || !reflect.DeepEqual(pt.staticAddrs(), tt.addrs) || pt.defAuth != tt.auth {
				t.Fatalf("got scheme %q addrs %v auth %q", pt.scheme, pt.staticAddrs(), pt.defAuth)
			}
		})
	}
}
