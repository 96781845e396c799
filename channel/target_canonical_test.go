package channel

import "testing"

// TestCanonicalTarget checks the target with its scheme (gRFC A66's
// grpc.target): "dns:///" before a target without one, any other as given.
func TestCanonicalTarget(t *testing.T) {
	tests := []struct{ target, want string }{
		{"localhost:50051", "dns:///localhost:50051"},
		{"example.com", "dns:///example.com"},
		{"127.0.0.1:8080", "dns:///127.0.0.1:8080"},
		{"[::1]:50051", "dns:///[::1]:50051"},
		{"dns:///example.com:8080", "dns:///example.com:8080"},
		{"dns://8.8.8.8/example.com:8080", "dns://8.8.8.8/example.com:8080"},
		{"dns:example.com:8080", "dns:example.com:8080"},
		{"unix:/tmp/grpc.sock", "unix:/tmp/grpc.sock"},
		{"unix:///tmp/grpc.sock", "unix:///tmp/grpc.sock"},
		{"unix-abstract:name", "unix-abstract:name"},
		{"ipv4:127.0.0.1:1,127.0.0.2:2", "ipv4:127.0.0.1:1,127.0.0.2:2"},
		{"ipv6:[::1]:1", "ipv6:[::1]:1"},
		{"passthrough:///host:1", "passthrough:///host:1"},
	}
	for _, tt := range tests {
		ch, err := Insecure(tt.target)
		if err != nil {
			t.Errorf("Insecure(%q): %v", tt.target, err)
			continue
		}
		if got := ch.CanonicalTarget(); got != tt.want {
			t.Errorf("Insecure(%q).CanonicalTarget() = %q, want %q", tt.target, got, tt.want)
		}
		if got := ch.Target(); got != tt.target {
			t.Errorf("Insecure(%q).Target() = %q", tt.target, got)
		}
		ch.Close()
	}
}
