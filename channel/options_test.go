package channel

import (
	"strings"
	"testing"
	"time"
)

func TestWithOption(t *testing.T) {
	tests := []struct {
		key     string
		value   any
		wantErr string
		check   func(o *options) bool
	}{
		{"grpc.max_receive_message_length", 16 << 20, "", func(o *options) bool { return o.maxRecv == 16<<20 }},
		{"grpc.max_receive_message_length", -1, "", func(o *options) bool { return o.maxRecv == -1 }},
		{"grpc.max_send_message_length", int64(1024), "", func(o *options) bool { return o.maxSend == 1024 }},
		{"grpc.default_authority", "foo.test", "", func(o *options) bool { return o.authority == "foo.test" }},
		{"grpc.primary_user_agent", "app/1", "", func(o *options) bool { return o.primaryUA == "app/1" }},
		{"grpc.initial_reconnect_backoff_ms", 250, "", func(o *options) bool { return o.initialBackoff == 250*time.Millisecond }},
		{"grpc.enable_retries", 0, "", func(o *options) bool { return !o.enableRetries }},
		{"grpc.inhibit_health_checking", 1, "", func(o *options) bool { return o.inhibitHealth }},
		{"grpc.max_connection_idle_ms", 1000, "", func(o *options) bool { return o.keys["grpc.max_connection_idle_ms"] == int64(1000) }},
		{"grpc.max_connection_age_ms", 1000, "", nil},
		{"grpc.http2.max_ping_strikes", 2, "", func(o *options) bool { return o.keys["grpc.http2.max_ping_strikes"] == int64(2) }},
		{"grpc.max_concurrent_streams", 100, "", func(o *options) bool { return o.keys["grpc.max_concurrent_streams"] == int64(100) }},
		{"grpc.ssl_target_name_override", "x.test.example.com", "", func(o *options) bool { return o.tlsServerName == "x.test.example.com" }},
		{"grpc.keepalive_tme_ms", 1000, `grpc.keepalive_tme_ms: unknown channel option (value 1000) (did you mean "grpc.keepalive_time_ms"?)`, nil},
		{"grpc.max_receive_message_length", "big", "want an integer, got string (big)", nil},
		{"grpc.max_receive_message_length", -2, "-2 is out of range", nil},
		{"grpc.enable_retries", "yes", "want a bool", nil},
		{"grpc.default_authority", 5, "want a string, got int (5)", nil},
		{"grpc.keepalive_time_ms", 30000, "", func(o *options) bool { return o.keepalive.Time == 30*time.Second }},
		{"grpc.lb_policy_name", "round_robin", "", func(o *options) bool { return o.lbPolicy == "round_robin" }},
		{"grpc.lb_policy_name", "grpclb", "unknown policy \"grpclb\"", nil},
		{"grpc.service_config", `{"methodConfig": [{"name": [{"service": "a"}], "timeout": "1.5s"}]}`, "", func(o *options) bool { return o.serviceConfig != nil }},
		{"grpc.service_config", `{"methodConfig": [{"name": [{"service": "a"}], "timeout": "10"}]}`, "methodConfig[0].timeout", nil},
		{"grpc.service_config", `{`, "invalid service config JSON", nil},
		{"grpc.client_idle_timeout_ms", 0, "", func(o *options) bool { return o.idleTimeout == 0 }},
		{"grpc.http2.max_pings_without_data", 0, "", func(o *options) bool { return o.keepalive.MaxPingsWithoutData < 0 }},
		{"grpc.http2.max_pings_without_data", 5, "", func(o *options) bool { return o.keepalive.MaxPingsWithoutData == 5 }},
		{"totally.unrelated.option.name.here", 1, "unknown channel option", nil},
		{"grpc.max_metadata_size", 8192, "", func(o *options) bool { return o.maxHeaderList == 8192 }},
		{"grpc.max_metadata_size", 0, "0 is out of range", nil},
		{"grpc.http2.lookahead_bytes", 1 << 20, "", func(o *options) bool { return o.initWindow == 1<<20 }},
		{"grpc.http2.lookahead_bytes", 1000, "1000 is out of range [65535, 2147483647]", nil},
		{"grpc.http2.bdp_probe", 1, "", func(o *options) bool { return o.bdp }},
		{"grpc.http2.bdp_probe", 0, "", func(o *options) bool { return !o.bdp }},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			o := defaultOptions()
			err := WithOption(tt.key, tt.value).apply(&o)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.key) {
					t.Fatalf("error %q does not name the key", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.check != nil && !tt.check(&o) {
				t.Fatalf("option not applied: %+v", o)
			}
		})
	}
}

func TestInsecureRejectsBadInput(t *testing.T) {
	for _, tc := range []struct {
		target string
		opt    Option
		want   string
	}{
		{"foo://x", nil, "unknown scheme"},
		{"localhost:1", WithOption("grpc.bogus", 1), "grpc.bogus: unknown channel option (value 1)"},
		{"localhost:1", WithMaxReceiveMessageSize(-5), "out of range"},
	} {
		ch, err := Insecure(tc.target, tc.opt)
		if err == nil {
			ch.Close()
			t.Fatalf("%s: no error", tc.target)
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Fatalf("%s: %v, want %q", tc.target, err, tc.want)
		}
	}
}

// WithKeepalive keeps the defaults of the fields left zero.
func TestWithKeepaliveDefaults(t *testing.T) {
	o := defaultOptions()
	if err := WithKeepalive(Keepalive{Time: 30 * time.Second}).apply(&o); err != nil {
		t.Fatal(err)
	}
	want := Keepalive{Time: 30 * time.Second, Timeout: 20 * time.Second, MaxPingsWithoutData: 2}
	if o.keepalive != want {
		t.Errorf("WithKeepalive(Time only) = %+v, want %+v", o.keepalive, want)
	}
	if err := WithKeepalive(Keepalive{Time: time.Minute, Timeout: time.Second, MaxPingsWithoutData: -1}).apply(&o); err != nil {
		t.Fatal(err)
	}
	if o.keepalive.Timeout != time.Second || o.keepalive.MaxPingsWithoutData != -1 {
		t.Errorf("WithKeepalive with every field = %+v", o.keepalive)
	}
	if err := WithKeepalive(Keepalive{Time: -1}).apply(&o); err == nil {
		t.Error("negative keepalive time accepted")
	}
}

func TestWindowAndHeaderOptions(t *testing.T) {
	tests := []struct {
		name    string
		opt     Option
		wantErr string
		check   func(o *options) bool
	}{
		{"window", WithInitialWindowSize(1 << 20), "", func(o *options) bool { return o.initWindow == 1<<20 }},
		{"window min", WithInitialWindowSize(65535), "", func(o *options) bool { return o.initWindow == 65535 }},
		{"window too small", WithInitialWindowSize(1000), "WithInitialWindowSize: 1000 is out of range [65535, 2147483647]", nil},
		{"window negative", WithInitialWindowSize(-5), "WithInitialWindowSize: -5 is out of range", nil},
		{"conn window", WithInitialConnWindowSize(32 << 20), "", func(o *options) bool { return o.initConnWindow == 32<<20 }},
		{"conn window too small", WithInitialConnWindowSize(65534), "WithInitialConnWindowSize: 65534 is out of range", nil},
		{"header list", WithMaxHeaderListSize(4096), "", func(o *options) bool { return o.maxHeaderList == 4096 }},
		{"header list zero", WithMaxHeaderListSize(0), "grpc.max_metadata_size: 0 is out of range", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := defaultOptions()
			err := tt.opt.apply(&o)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(&o) {
				t.Fatalf("option not applied: %+v", o)
			}
		})
	}
}
