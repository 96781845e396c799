package resolver

import (
	"reflect"
	"strings"
	"testing"
)

func TestStaticAddresses(t *testing.T) {
	tcp := func(a string) Address { return Address{Network: "tcp", Addr: a} }
	for _, tt := range []struct {
		scheme, endpoint string
		want             []Address
		err              string
	}{
		{"unix", "/tmp/s", []Address{{Network: "unix", Addr: "/tmp/s"}}, ""},
		{"unix", "", nil, "empty unix socket path"},
		{"unix-abstract", "n", []Address{{Network: "unix", Addr: "@n"}}, ""},
		{"ipv4", "10.0.0.1,10.0.0.2:80", []Address{tcp("10.0.0.1:443"), tcp("10.0.0.2:80")}, ""},
		{"ipv4", "", nil, "no addresses"},
		{"ipv4", "10.0.0.1:0", nil, "out of range"},
		{"ipv4", "[::1]:80", nil, "not an ipv4 address"},
		{"ipv6", "::1", []Address{tcp("[::1]:443")}, ""},
		{"ipv6", "[::1", nil, "missing ']'"},
		{"ipv6", "10.0.0.1", nil, "not an ipv6 address"},
		{"passthrough", "anything:1", []Address{tcp("anything:1")}, ""},
		{"passthrough", "", nil, "empty passthrough address"},
		{"dns", "x:1", nil, `scheme "dns" has no fixed addresses`},
	} {
		got, err := StaticAddresses(tt.scheme, tt.endpoint)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%s %q: %v, %v; want error %q", tt.scheme, tt.endpoint, got, err, tt.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s %q: %v, %v; want %v", tt.scheme, tt.endpoint, got, err, tt.want)
		}
	}
}
