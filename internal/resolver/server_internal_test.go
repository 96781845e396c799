package resolver

import "testing"

func TestServerAddr(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"8.8.8.8", "8.8.8.8:53"},
		{"8.8.8.8:5353", "8.8.8.8:5353"},
		{"::1", "[::1]:53"},
		{"[::1]", "[::1]:53"},
		{"[::1]:5353", "[::1]:5353"},
		{"[2001:db8::53]:53", "[2001:db8::53]:53"},
		{"dns.example", "dns.example:53"},
		{"dns.example:5353", "dns.example:5353"},
		{"localhost:53", "localhost:53"},
	}
	for _, tt := range tests {
		got, err := serverAddr(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("serverAddr(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	for _, in := range []string{":53", "[::1]:", "dns.example:", "a:b:c", "[::1", "a/b:53"} {
		if got, err := serverAddr(in); err == nil {
			t.Errorf("serverAddr(%q) = %q, want an error", in, got)
		}
	}
}
