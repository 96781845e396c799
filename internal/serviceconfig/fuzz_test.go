package serviceconfig_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/grpcactor/grpcactor/internal/serviceconfig"
)

// FuzzParse checks that Parse never panics, is deterministic, returns
// either a config or a short one-line error, and that whatever it accepts
// obeys the documented invariants.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		``, `{}`, `null`, `[]`, `{"methodConfig": [{"name": [{}]}]}`,
		`{"loadBalancingConfig": [{"grpclb": {}}, {"pick_first": {"shuffleAddressList": true}}]}`,
		`{"loadBalancingPolicy": "ROUND_ROBIN"}`,
		`{"methodConfig": [{"name": [{"service": "a.B", "method": "C"}], "waitForReady": true, "timeout": "1.5s",
			"maxRequestMessageBytes": 1024, "maxResponseMessageBytes": "2048", "retryPolicy": ` + retryJSON + `}]}`,
		`{"methodConfig": [{"name": [{"service": "a.B"}], "retryPolicy": {"maxAttempts": 9, "initialBackoff": "0.000000001s",
			"maxBackoff": "315576000000s", "backoffMultiplier": 1e-300, "retryableStatusCodes": [0, "data_loss"]}}]}`,
		`{"methodConfig": [{"name": [{"method": "x"}]}]}`,
		`{"methodConfig": [{"name": [{}]}, {"name": [{"service": ""}]}]}`,
		`{"methodConfig": [{"hedgingPolicy": {}}]}`,
		`{"methodConfig": [{"name": [{}], "hedgingPolicy": {"maxAttempts": 7, "hedgingDelay": "0.5s", "nonFatalStatusCodes": ["UNAVAILABLE", 10]}}]}`,
		`{"retryThrottling": {"maxTokens": 10, "tokenRatio": 0.1}}`,
		`{"retryThrottling": {"maxTokens": "1000", "tokenRatio": "1e-3"}}`,
		`{"MethodConfig": [{"NAME": [{"SERVICE": "s"}], "Timeout": "-0s"}]}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, js string) {
		c, err := serviceconfig.Parse(js)
		_, err2 := serviceconfig.Parse(js)
		if (err == nil) != (err2 == nil) || err != nil && err.Error() != err2.Error() {
			t.Fatalf("not deterministic: %v / %v", err, err2)
		}
		if err != nil {
			if c != nil {
				t.Fatalf("config %+v with error %v", c, err)
			}
			msg := err.Error()
			if msg == "" || strings.ContainsAny(msg, "\n\r") || len(msg) > 1024 || !utf8.ValidString(msg) {
				t.Fatalf("bad error message %q", msg)
			}
			return
		}
		if c == nil {
			t.Fatal("nil config without error")
		}
		switch c.LBPolicy {
		case "", "pick_first", "round_robin":
		default:
			t.Fatalf("LBPolicy %q", c.LBPolicy)
		}
		if c.PickFirstShuffle && c.LBPolicy != "pick_first" {
			t.Fatalf("PickFirstShuffle with %q", c.LBPolicy)
		}
		if th := c.Throttling; th != nil {
			if th.MaxTokens < 1 || th.MaxTokens > 1000 || th.MaxTokens != float64(int(th.MaxTokens)) || !(th.TokenRatio >= 0.001) {
				t.Fatalf("Throttling {%v %v}", th.MaxTokens, th.TokenRatio)
			}
			if !th.Allow() || th.Tokens() != th.MaxTokens {
				t.Fatalf("fresh bucket: Allow %v, Tokens %v", th.Allow(), th.Tokens())
			}
		}
		for _, m := range []string{"", "/", "/a.B/C", "/a.B/D", "/s/m", "/x/y"} {
			mc, ok := c.Method(m)
			if !ok {
				if mc != (serviceconfig.MethodConfig{}) {
					t.Fatalf("Method(%q) not found but %+v", m, mc)
				}
				continue
			}
			if mc.Timeout < 0 {
				t.Fatalf("Method(%q).Timeout = %v", m, mc.Timeout)
			}
			for _, n := range []*int{mc.MaxRequestBytes, mc.MaxResponseBytes} {
				if n != nil && (*n < 0 || *n > 1<<32-1) {
					t.Fatalf("Method(%q) size limit %d", m, *n)
				}
			}
			if p := mc.Retry; p != nil {
				if p.MaxAttempts < 2 || p.MaxAttempts > 5 || p.InitialBackoff <= 0 || p.MaxBackoff <= 0 ||
					!(p.BackoffMultiplier > 0) || len(p.RetryableCodes) == 0 {
					t.Fatalf("Method(%q).Retry = %+v", m, *p)
				}
				for _, code := range p.RetryableCodes {
					if !code.Valid() {
						t.Fatalf("Method(%q) retryable code %v", m, code)
					}
				}
				for n := range 7 {
					if d := p.Backoff(n, 0.7); d < 0 || d >= p.MaxBackoff {
						t.Fatalf("Backoff(%d) = %v with %+v", n, d, *p)
					}
				}
			}
			if p := mc.Hedging; p != nil {
				if mc.Retry != nil || p.MaxAttempts < 2 || p.MaxAttempts > 5 || p.HedgingDelay < 0 {
					t.Fatalf("Method(%q).Hedging = %+v (Retry %v)", m, *p, mc.Retry)
				}
				for _, code := range p.NonFatalCodes {
					if !code.Valid() {
						t.Fatalf("Method(%q) non-fatal code %v", m, code)
					}
				}
			}
		}
	})
}
