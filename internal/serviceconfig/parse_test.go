package serviceconfig_test

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/internal/serviceconfig"
)

func ptr[T any](v T) *T { return &v }

// retryJSON is a valid retryPolicy for building larger configs.
const retryJSON = `{"maxAttempts": 4, "initialBackoff": ".1s", "maxBackoff": "1s",
	"backoffMultiplier": 2, "retryableStatusCodes": ["UNAVAILABLE"]}`

var retryWant = &serviceconfig.RetryPolicy{
	MaxAttempts:       4,
	InitialBackoff:    100 * time.Millisecond,
	MaxBackoff:        time.Second,
	BackoffMultiplier: 2,
	RetryableCodes:    []codes.Code{codes.Unavailable},
}

func TestParseValid(t *testing.T) {
	type lookup struct {
		method string
		want   serviceconfig.MethodConfig
		found  bool
	}
	tests := []struct {
		name       string
		js         string
		lb         string
		shuffle    bool
		throttling *serviceconfig.Throttling // fields only
		lookups    []lookup
	}{
		{name: "empty object", js: `{}`,
			lookups: []lookup{{"/a.B/C", serviceconfig.MethodConfig{}, false}}},
		{name: "nulls are absent", js: `{"loadBalancingConfig": null, "methodConfig": null, "retryThrottling": null,
			"loadBalancingPolicy": null}`},
		{name: "unknown fields ignored", js: `{"healthCheckConfig": {"serviceName": "x"}, "future": [1, {"a": true}],
			"methodConfig": [{"name": [{"service": "a.B", "extra": 1}], "timeout": "1s", "somethingNew": "x"}]}`,
			lookups: []lookup{{"/a.B/C", serviceconfig.MethodConfig{Timeout: time.Second}, true}}},
		{name: "round_robin", js: `{"loadBalancingConfig": [{"round_robin": {}}]}`, lb: "round_robin"},
		{name: "round_robin null config", js: `{"loadBalancingConfig": [{"round_robin": null}]}`, lb: "round_robin"},
		{name: "pick_first shuffle", js: `{"loadBalancingConfig": [{"pick_first": {"shuffleAddressList": true}}]}`,
			lb: "pick_first", shuffle: true},
		{name: "pick_first plain", js: `{"loadBalancingConfig": [{"pick_first": {}}]}`, lb: "pick_first"},
		{name: "pick_first null config", js: `{"loadBalancingConfig": [{"pick_first": null}]}`, lb: "pick_first"},
		{name: "first supported wins", js: `{"loadBalancingConfig": [{"grpclb": {"childPolicy": []}},
			{"grpclb": {}}, {"round_robin": {}}, {"pick_first": {"shuffleAddressList": true}}]}`,
			lb: "round_robin"},
		{name: "entries after the chosen one are not read", js: `{"loadBalancingConfig": [{"pick_first": {}}, 5, {"a": 1, "b": 2}]}`,
			lb: "pick_first"},
		{name: "loadBalancingConfig beats loadBalancingPolicy", js: `{"loadBalancingPolicy": "grpclb",
			"loadBalancingConfig": [{"pick_first": {}}]}`, lb: "pick_first"},
		{name: "deprecated ROUND_ROBIN", js: `{"loadBalancingPolicy": "ROUND_ROBIN"}`, lb: "round_robin"},
		{name: "deprecated round_robin", js: `{"loadBalancingPolicy": "round_robin"}`, lb: "round_robin"},
		{name: "deprecated Pick_First", js: `{"loadBalancingPolicy": "Pick_First"}`, lb: "pick_first"},
		{name: "deprecated empty", js: `{"loadBalancingPolicy": ""}`, lb: ""},
		{name: "method fields", js: `{"methodConfig": [{"name": [{"service": "a.B", "method": "C"}],
			"waitForReady": true, "timeout": "1.5s", "maxRequestMessageBytes": 1024,
			"maxResponseMessageBytes": "2048", "retryPolicy": ` + retryJSON + `}]}`,
			lookups: []lookup{{"/a.B/C", serviceconfig.MethodConfig{
				Timeout: 1500 * time.Millisecond, WaitForReady: ptr(true),
				MaxRequestBytes: ptr(1024), MaxResponseBytes: ptr(2048), Retry: retryWant}, true},
				{"/a.B/D", serviceconfig.MethodConfig{}, false}}},
		{name: "zero sizes and waitForReady false", js: `{"methodConfig": [{"name": [{}],
			"waitForReady": false, "maxRequestMessageBytes": 0, "maxResponseMessageBytes": 4294967295, "timeout": "0s"}]}`,
			lookups: []lookup{{"/x.Y/Z", serviceconfig.MethodConfig{
				WaitForReady: ptr(false), MaxRequestBytes: ptr(0), MaxResponseBytes: ptr(4294967295)}, true}}},
		{name: "integral number forms", js: `{"methodConfig": [{"name": [{}], "maxRequestMessageBytes": 1e3,
			"maxResponseMessageBytes": 2.0}]}`,
			lookups: []lookup{{"/x.Y/Z", serviceconfig.MethodConfig{MaxRequestBytes: ptr(1000), MaxResponseBytes: ptr(2)}, true}}},
		{name: "entry without names is skipped", js: `{"methodConfig": [{"timeout": "1s"}, {"name": [], "timeout": "2s"}]}`,
			lookups: []lookup{{"/a.B/C", serviceconfig.MethodConfig{}, false}}},
		{name: "case-insensitive field names as grpc-go", js: `{"methodConfig": [{"Name": [{"Service": "a.B"}],
			"retryPolicy": {"MaxAttempts": 4, "InitialBackoff": ".1s", "MaxBackoff": "1s", "BackoffMultiplier": 2,
			"RetryableStatusCodes": ["UNAVAILABLE"]}}]}`,
			lookups: []lookup{{"/a.B/C", serviceconfig.MethodConfig{Retry: retryWant}, true}}},
		{name: "exact field name beats case-folded one", js: `{"methodConfig": [{"name": [{}], "timeout": "1s", "Timeout": "bad"}]}`,
			lookups: []lookup{{"/a.B/C", serviceconfig.MethodConfig{Timeout: time.Second}, true}}},
		{name: "throttling A6 example", js: `{"retryThrottling": {"maxTokens": 10, "tokenRatio": 0.1}}`,
			throttling: &serviceconfig.Throttling{MaxTokens: 10, TokenRatio: 0.1}},
		{name: "throttling 3 decimals honoured", js: `{"retryThrottling": {"maxTokens": 1000, "tokenRatio": 0.2999}}`,
			throttling: &serviceconfig.Throttling{MaxTokens: 1000, TokenRatio: 0.299}},
		{name: "throttling binary noise", js: `{"retryThrottling": {"maxTokens": 1, "tokenRatio": 0.29}}`,
			throttling: &serviceconfig.Throttling{MaxTokens: 1, TokenRatio: 0.29}},
		{name: "throttling as strings", js: `{"retryThrottling": {"maxTokens": "3", "tokenRatio": "1.5"}}`,
			throttling: &serviceconfig.Throttling{MaxTokens: 3, TokenRatio: 1.5}},
		{name: "whitespace around", js: " \n\t{}\n "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := serviceconfig.Parse(tt.js)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if c.LBPolicy != tt.lb || c.PickFirstShuffle != tt.shuffle {
				t.Errorf("LBPolicy, PickFirstShuffle = %q, %v; want %q, %v", c.LBPolicy, c.PickFirstShuffle, tt.lb, tt.shuffle)
			}
			switch {
			case tt.throttling == nil && c.Throttling != nil:
				t.Errorf("Throttling = %+v; want nil", c.Throttling)
			case tt.throttling != nil && c.Throttling == nil:
				t.Errorf("Throttling = nil; want %+v", tt.throttling)
			case tt.throttling != nil:
				if c.Throttling.MaxTokens != tt.throttling.MaxTokens || c.Throttling.TokenRatio != tt.throttling.TokenRatio {
					t.Errorf("Throttling = {%v %v}; want {%v %v}", c.Throttling.MaxTokens, c.Throttling.TokenRatio,
						tt.throttling.MaxTokens, tt.throttling.TokenRatio)
				}
			}
			for _, l := range tt.lookups {
				got, found := c.Method(l.method)
				if found != l.found || !reflect.DeepEqual(got, l.want) {
					t.Errorf("Method(%q) = %s, %v; want %s, %v", l.method, fmtMC(got), found, fmtMC(l.want), l.found)
				}
			}
		})
	}
}

// fmtMC prints a MethodConfig with its pointers followed.
func fmtMC(m serviceconfig.MethodConfig) string {
	s := fmt.Sprintf("{Timeout:%v", m.Timeout)
	if m.WaitForReady != nil {
		s += fmt.Sprintf(" WaitForReady:%v", *m.WaitForReady)
	}
	if m.MaxRequestBytes != nil {
		s += fmt.Sprintf(" MaxRequestBytes:%d", *m.MaxRequestBytes)
	}
	if m.MaxResponseBytes != nil {
		s += fmt.Sprintf(" MaxResponseBytes:%d", *m.MaxResponseBytes)
	}
	if m.Retry != nil {
		s += fmt.Sprintf(" Retry:%+v", *m.Retry)
	}
	return s + "}"
}

func TestParseInvalid(t *testing.T) {
	mc := func(fields string) string { return `{"methodConfig": [{"name": [{}]` + fields + `}]}` }
	rp := func(fields string) string { return mc(`, "retryPolicy": {` + fields + `}`) }
	const good = `"maxAttempts": 2, "initialBackoff": "1s", "maxBackoff": "2s", "backoffMultiplier": 1.5, "retryableStatusCodes": [14]`
	// retry replaces one field of good.
	retry := func(name, value string) string {
		var kept []string
		for f := range strings.SplitSeq(good, ", ") {
			if !strings.HasPrefix(f, `"`+name+`"`) {
				kept = append(kept, f)
			}
		}
		if value != "" {
			kept = append(kept, `"`+name+`": `+value)
		}
		return rp(strings.Join(kept, ", "))
	}
	tests := []struct{ name, js, want string }{
		// JSON itself.
		{"empty", ``, `invalid service config JSON: unexpected end of JSON input`},
		{"syntax", `{"methodConfig": [}`, `invalid service config JSON: invalid character '}' looking for beginning of value`},
		{"truncated", `{"methodConfig": [`, `invalid service config JSON: unexpected EOF`},
		{"trailing data", `{} {}`, `invalid service config JSON: data after the top-level value`},
		{"trailing garbage", `{} x`, `invalid service config JSON: invalid character 'x' looking for beginning of value`},
		{"top array", `[]`, `service config: [] is not a JSON object`},
		{"top null", `null`, `service config: null is not a JSON object`},
		{"top string", `"x"`, `service config: "x" is not a JSON object`},

		// Load balancing.
		{"lb not array", `{"loadBalancingConfig": {"round_robin": {}}}`,
			`loadBalancingConfig: {"round_robin":{}} is not an array`},
		{"lb none supported", `{"loadBalancingConfig": [{"grpclb": {}}, {"xds_wrr": {}}]}`,
			`loadBalancingConfig: no supported policy in ["grpclb", "xds_wrr"] (supported: least_request, least_request_experimental, pick_first, ring_hash, ring_hash_experimental, round_robin, weighted_round_robin)`},
		{"lb empty list", `{"loadBalancingConfig": []}`,
			`loadBalancingConfig: no supported policy in [] (supported: least_request, least_request_experimental, pick_first, ring_hash, ring_hash_experimental, round_robin, weighted_round_robin)`},
		{"lb case matters", `{"loadBalancingConfig": [{"ROUND_ROBIN": {}}]}`,
			`loadBalancingConfig: no supported policy in ["ROUND_ROBIN"] (supported: least_request, least_request_experimental, pick_first, ring_hash, ring_hash_experimental, round_robin, weighted_round_robin)`},
		{"lb two keys", `{"loadBalancingConfig": [{"round_robin": {}, "pick_first": {}}]}`,
			`loadBalancingConfig[0]: {"pick_first":{},"round_robin":{}} is invalid (want an object with exactly one policy, e.g. {"round_robin": {}})`},
		{"lb empty entry", `{"loadBalancingConfig": [{"grpclb": {}}, {}]}`,
			`loadBalancingConfig[1]: {} is invalid (want an object with exactly one policy, e.g. {"round_robin": {}})`},
		{"lb entry not object", `{"loadBalancingConfig": ["round_robin"]}`,
			`loadBalancingConfig[0]: "round_robin" is invalid (want an object with exactly one policy, e.g. {"round_robin": {}})`},
		{"round_robin config not object", `{"loadBalancingConfig": [{"round_robin": []}]}`,
			`loadBalancingConfig[0].round_robin: [] is not an object`},
		{"pick_first config not object", `{"loadBalancingConfig": [{"pick_first": true}]}`,
			`loadBalancingConfig[0].pick_first: true is not an object`},
		{"shuffle not bool", `{"loadBalancingConfig": [{"pick_first": {"shuffleAddressList": "yes"}}]}`,
			`loadBalancingConfig[0].pick_first.shuffleAddressList: "yes" is not a boolean`},
		{"deprecated unknown", `{"loadBalancingPolicy": "grpclb"}`,
			`loadBalancingPolicy: "grpclb" is not a supported policy (supported: least_request, least_request_experimental, pick_first, ring_hash, ring_hash_experimental, round_robin, weighted_round_robin)`},
		{"deprecated not string", `{"loadBalancingPolicy": 1}`, `loadBalancingPolicy: 1 is not a string`},

		// Method config structure.
		{"methodConfig not array", `{"methodConfig": {}}`, `methodConfig: {} is not an array`},
		{"entry not object", `{"methodConfig": [{"name": [{}]}, 7]}`, `methodConfig[1]: 7 is not an object`},
		{"name not array", `{"methodConfig": [{"name": {"service": "a.B"}}]}`,
			`methodConfig[0].name: {"service":"a.B"} is not an array`},
		{"name entry not object", `{"methodConfig": [{"name": ["a.B"]}]}`, `methodConfig[0].name[0]: "a.B" is not an object`},
		{"service not string", `{"methodConfig": [{"name": [{"service": 5}]}]}`, `methodConfig[0].name[0].service: 5 is not a string`},
		{"method not string", `{"methodConfig": [{"name": [{"service": "a.B", "method": ["C"]}]}]}`,
			`methodConfig[0].name[0].method: ["C"] is not a string`},
		{"method without service", `{"methodConfig": [{"name": [{"method": "Foo"}]}]}`,
			`methodConfig[0].name[0]: {"method":"Foo"} is invalid (a method needs a service)`},
		{"method with empty service", `{"methodConfig": [{"name": [{"service": "", "method": "Foo"}]}]}`,
			`methodConfig[0].name[0]: {"method":"Foo","service":""} is invalid (a method needs a service)`},
		{"duplicate across entries", `{"methodConfig": [{"name": [{"service": "a.B", "method": "C"}]},
			{"name": [{"service": "x.Y"}, {"service": "a.B", "method": "C"}]}]}`,
			`methodConfig[1].name[1]: {"method":"C","service":"a.B"} is a duplicate name (also in methodConfig[0].name[0])`},
		{"duplicate in one entry", `{"methodConfig": [{"name": [{"service": "a.B"}, {"service": "a.B", "method": ""}]}]}`,
			`methodConfig[0].name[1]: {"method":"","service":"a.B"} is a duplicate name (also in methodConfig[0].name[0])`},
		{"duplicate default", `{"methodConfig": [{"name": [{}]}, {"name": [{"service": ""}]}]}`,
			`methodConfig[1].name[0]: {"service":""} is a duplicate name (also in methodConfig[0].name[0])`},
		{"invalid field in nameless entry", `{"methodConfig": [{"timeout": 5}]}`,
			`methodConfig[0].timeout: 5 is not a duration (want e.g. "1.5s")`},

		// Method config fields.
		{"waitForReady not bool", mc(`, "waitForReady": "true"`), `methodConfig[0].waitForReady: "true" is not a boolean`},
		{"timeout no unit", mc(`, "timeout": "10"`), `methodConfig[0].timeout: "10" is not a duration (want e.g. "1.5s")`},
		{"timeout ms", mc(`, "timeout": "10ms"`), `methodConfig[0].timeout: "10ms" is not a duration (want e.g. "1.5s")`},
		{"timeout number", mc(`, "timeout": 10`), `methodConfig[0].timeout: 10 is not a duration (want e.g. "1.5s")`},
		{"timeout object", mc(`, "timeout": {"seconds": 5}`),
			`methodConfig[0].timeout: {"seconds":5} is not a duration (want e.g. "1.5s")`},
		{"timeout negative", mc(`, "timeout": "-1s"`), `methodConfig[0].timeout: "-1s" is invalid (must not be negative)`},
		{"timeout 10 digits", mc(`, "timeout": "1.0000000001s"`),
			`methodConfig[0].timeout: "1.0000000001s" is not a duration (want e.g. "1.5s")`},
		{"timeout huge", mc(`, "timeout": "315576000001s"`),
			`methodConfig[0].timeout: "315576000001s" is out of range (at most "315576000000s")`},
		{"maxRequestMessageBytes negative", mc(`, "maxRequestMessageBytes": -1`),
			`methodConfig[0].maxRequestMessageBytes: -1 is invalid (must be 0 to 4294967295)`},
		{"maxRequestMessageBytes too big", mc(`, "maxRequestMessageBytes": 4294967296`),
			`methodConfig[0].maxRequestMessageBytes: 4294967296 is invalid (must be 0 to 4294967295)`},
		{"maxResponseMessageBytes fraction", mc(`, "maxResponseMessageBytes": 1.5`),
			`methodConfig[0].maxResponseMessageBytes: 1.5 is not an integer`},
		{"maxResponseMessageBytes bool", mc(`, "maxResponseMessageBytes": true`),
			`methodConfig[0].maxResponseMessageBytes: true is not an integer`},
		{"maxResponseMessageBytes word", mc(`, "maxResponseMessageBytes": "lots"`),
			`methodConfig[0].maxResponseMessageBytes: "lots" is not an integer`},
		{"maxResponseMessageBytes overflow", mc(`, "maxResponseMessageBytes": 1e999`),
			`methodConfig[0].maxResponseMessageBytes: 1e999 is out of range`},
		{"hedging and retry", mc(`, "hedgingPolicy": {"maxAttempts": 3, "hedgingDelay": "0s"}, "retryPolicy": {` + good + `}`),
			`methodConfig[0]: has both retryPolicy and hedgingPolicy (gRFC A6 allows at most one per method)`},
		{"hedging in second entry without maxAttempts", `{"methodConfig": [{"name": [{}]}, {"hedgingPolicy": {}}]}`,
			`methodConfig[1].hedgingPolicy.maxAttempts: missing (required)`},
		{"hedging not object", mc(`, "hedgingPolicy": 3`), `methodConfig[0].hedgingPolicy: 3 is not an object`},
		{"hedging maxAttempts 1", mc(`, "hedgingPolicy": {"maxAttempts": 1}`),
			`methodConfig[0].hedgingPolicy.maxAttempts: 1 is invalid (must be > 1)`},
		{"hedging maxAttempts word", mc(`, "hedgingPolicy": {"maxAttempts": "two"}`),
			`methodConfig[0].hedgingPolicy.maxAttempts: "two" is not an integer`},
		{"hedgingDelay negative", mc(`, "hedgingPolicy": {"maxAttempts": 2, "hedgingDelay": "-1s"}`),
			`methodConfig[0].hedgingPolicy.hedgingDelay: "-1s" is invalid (must not be negative)`},
		{"hedgingDelay number", mc(`, "hedgingPolicy": {"maxAttempts": 2, "hedgingDelay": 1}`),
			`methodConfig[0].hedgingPolicy.hedgingDelay: 1 is not a duration (want e.g. "1.5s")`},
		{"nonFatalStatusCodes not array", mc(`, "hedgingPolicy": {"maxAttempts": 2, "nonFatalStatusCodes": "UNAVAILABLE"}`),
			`methodConfig[0].hedgingPolicy.nonFatalStatusCodes: "UNAVAILABLE" is not an array`},
		{"nonFatalStatusCodes bad name", mc(`, "hedgingPolicy": {"maxAttempts": 2, "nonFatalStatusCodes": ["UNAVAILABLE", "NOPE"]}`),
			`methodConfig[0].hedgingPolicy.nonFatalStatusCodes[1]: "NOPE" is not a status code name (want e.g. "UNAVAILABLE")`},
		{"nonFatalStatusCodes 17", mc(`, "hedgingPolicy": {"maxAttempts": 2, "nonFatalStatusCodes": [17]}`),
			`methodConfig[0].hedgingPolicy.nonFatalStatusCodes[0]: 17 is not a status code (must be 0 to 16)`},

		// Retry policy.
		{"retryPolicy not object", mc(`, "retryPolicy": "yes"`), `methodConfig[0].retryPolicy: "yes" is not an object`},
		{"maxAttempts missing", retry("maxAttempts", ""), `methodConfig[0].retryPolicy.maxAttempts: missing (required)`},
		{"maxAttempts 1", retry("maxAttempts", "1"), `methodConfig[0].retryPolicy.maxAttempts: 1 is invalid (must be > 1)`},
		{"maxAttempts 0", retry("maxAttempts", "0"), `methodConfig[0].retryPolicy.maxAttempts: 0 is invalid (must be > 1)`},
		{"maxAttempts negative", retry("maxAttempts", "-3"), `methodConfig[0].retryPolicy.maxAttempts: -3 is invalid (must be > 1)`},
		{"maxAttempts fraction", retry("maxAttempts", "2.5"), `methodConfig[0].retryPolicy.maxAttempts: 2.5 is not an integer`},
		{"maxAttempts string", retry("maxAttempts", `"four"`), `methodConfig[0].retryPolicy.maxAttempts: "four" is not an integer`},
		{"maxAttempts hex string", retry("maxAttempts", `"0x4"`), `methodConfig[0].retryPolicy.maxAttempts: "0x4" is not an integer`},
		{"maxAttempts inf string", retry("maxAttempts", `"Inf"`), `methodConfig[0].retryPolicy.maxAttempts: "Inf" is not an integer`},
		{"initialBackoff missing", retry("initialBackoff", ""), `methodConfig[0].retryPolicy.initialBackoff: missing (required)`},
		{"initialBackoff zero", retry("initialBackoff", `"0s"`), `methodConfig[0].retryPolicy.initialBackoff: "0s" is invalid (must be > 0)`},
		{"initialBackoff zero fraction", retry("initialBackoff", `"0.000s"`),
			`methodConfig[0].retryPolicy.initialBackoff: "0.000s" is invalid (must be > 0)`},
		{"initialBackoff negative", retry("initialBackoff", `"-0.5s"`),
			`methodConfig[0].retryPolicy.initialBackoff: "-0.5s" is invalid (must not be negative)`},
		{"initialBackoff number", retry("initialBackoff", `0.1`),
			`methodConfig[0].retryPolicy.initialBackoff: 0.1 is not a duration (want e.g. "1.5s")`},
		{"maxBackoff missing", retry("maxBackoff", ""), `methodConfig[0].retryPolicy.maxBackoff: missing (required)`},
		{"maxBackoff bad", retry("maxBackoff", `"1m"`), `methodConfig[0].retryPolicy.maxBackoff: "1m" is not a duration (want e.g. "1.5s")`},
		{"maxBackoff zero", retry("maxBackoff", `"0s"`), `methodConfig[0].retryPolicy.maxBackoff: "0s" is invalid (must be > 0)`},
		{"backoffMultiplier missing", retry("backoffMultiplier", ""), `methodConfig[0].retryPolicy.backoffMultiplier: missing (required)`},
		{"backoffMultiplier zero", retry("backoffMultiplier", "0"), `methodConfig[0].retryPolicy.backoffMultiplier: 0 is invalid (must be > 0)`},
		{"backoffMultiplier negative", retry("backoffMultiplier", "-2"),
			`methodConfig[0].retryPolicy.backoffMultiplier: -2 is invalid (must be > 0)`},
		{"backoffMultiplier bool", retry("backoffMultiplier", "true"),
			`methodConfig[0].retryPolicy.backoffMultiplier: true is not a number`},
		{"backoffMultiplier overflow", retry("backoffMultiplier", "1e400"),
			`methodConfig[0].retryPolicy.backoffMultiplier: 1e400 is out of range`},
		{"codes missing", retry("retryableStatusCodes", ""), `methodConfig[0].retryPolicy.retryableStatusCodes: missing (required)`},
		{"codes empty", retry("retryableStatusCodes", "[]"), `methodConfig[0].retryPolicy.retryableStatusCodes: [] is invalid (must be non-empty)`},
		{"codes not array", retry("retryableStatusCodes", `"UNAVAILABLE"`),
			`methodConfig[0].retryPolicy.retryableStatusCodes: "UNAVAILABLE" is not an array`},
		{"code unknown name", retry("retryableStatusCodes", `["UNAVAILABLE", "NOPE"]`),
			`methodConfig[0].retryPolicy.retryableStatusCodes[1]: "NOPE" is not a status code name (want e.g. "UNAVAILABLE")`},
		{"code American spelling", retry("retryableStatusCodes", `["CANCELED"]`),
			`methodConfig[0].retryPolicy.retryableStatusCodes[0]: "CANCELED" is not a status code name (want e.g. "UNAVAILABLE")`},
		{"code number as string", retry("retryableStatusCodes", `["14"]`),
			`methodConfig[0].retryPolicy.retryableStatusCodes[0]: "14" is not a status code name (want e.g. "UNAVAILABLE")`},
		{"code 17", retry("retryableStatusCodes", `[17]`),
			`methodConfig[0].retryPolicy.retryableStatusCodes[0]: 17 is not a status code (must be 0 to 16)`},
		{"code negative", retry("retryableStatusCodes", `[-1]`),
			`methodConfig[0].retryPolicy.retryableStatusCodes[0]: -1 is not a status code (must be 0 to 16)`},
		{"code fraction", retry("retryableStatusCodes", `[14.5]`),
			`methodConfig[0].retryPolicy.retryableStatusCodes[0]: 14.5 is not a status code (must be 0 to 16)`},
		{"code object", retry("retryableStatusCodes", `[{"code": 14}]`),
			`methodConfig[0].retryPolicy.retryableStatusCodes[0]: {"code":14} is not a status code (want a name such as "UNAVAILABLE" or a number)`},
		{"code null", retry("retryableStatusCodes", `[null]`),
			`methodConfig[0].retryPolicy.retryableStatusCodes[0]: null is not a status code (want a name such as "UNAVAILABLE" or a number)`},
		{"capitalised required field names", mc(`, "retryPolicy": {"maxAttempts": 3}`),
			`methodConfig[0].retryPolicy.initialBackoff: missing (required)`},

		// Throttling.
		{"throttling not object", `{"retryThrottling": [10, 0.1]}`, `retryThrottling: [10,0.1] is not an object`},
		{"maxTokens missing", `{"retryThrottling": {"tokenRatio": 0.1}}`, `retryThrottling.maxTokens: missing (required)`},
		{"maxTokens zero", `{"retryThrottling": {"maxTokens": 0, "tokenRatio": 0.1}}`,
			`retryThrottling.maxTokens: 0 is invalid (must be 1 to 1000)`},
		{"maxTokens 1001", `{"retryThrottling": {"maxTokens": 1001, "tokenRatio": 0.1}}`,
			`retryThrottling.maxTokens: 1001 is invalid (must be 1 to 1000)`},
		{"maxTokens fraction", `{"retryThrottling": {"maxTokens": 10.5, "tokenRatio": 0.1}}`,
			`retryThrottling.maxTokens: 10.5 is not an integer`},
		{"tokenRatio missing", `{"retryThrottling": {"maxTokens": 10}}`, `retryThrottling.tokenRatio: missing (required)`},
		{"tokenRatio zero", `{"retryThrottling": {"maxTokens": 10, "tokenRatio": 0}}`,
			`retryThrottling.tokenRatio: 0 is invalid (must be > 0)`},
		{"tokenRatio negative", `{"retryThrottling": {"maxTokens": 10, "tokenRatio": -0.1}}`,
			`retryThrottling.tokenRatio: -0.1 is invalid (must be > 0)`},
		{"tokenRatio below a thousandth", `{"retryThrottling": {"maxTokens": 10, "tokenRatio": 0.0009}}`,
			`retryThrottling.tokenRatio: 0.0009 is invalid (must be at least 0.001: only 3 decimal places are used)`},
		{"tokenRatio string word", `{"retryThrottling": {"maxTokens": 10, "tokenRatio": "a tenth"}}`,
			`retryThrottling.tokenRatio: "a tenth" is not a number`},

		// Values are shown short.
		{"long value cut", mc(`, "timeout": "` + strings.Repeat("9", 100) + `"`),
			`methodConfig[0].timeout: "` + strings.Repeat("9", 63) + `... is not a duration (want e.g. "1.5s")`},
		{"html not escaped", mc(`, "timeout": "<1s>"`), `methodConfig[0].timeout: "<1s>" is not a duration (want e.g. "1.5s")`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := serviceconfig.Parse(tt.js)
			if err == nil {
				t.Fatalf("Parse(%s) = %+v, nil; want error %q", tt.js, c, tt.want)
			}
			if c != nil {
				t.Errorf("Parse returned a config with error %v", err)
			}
			if err.Error() != tt.want {
				t.Errorf("Parse(%s) error:\n got %s\nwant %s", tt.js, err, tt.want)
			}
		})
	}
}

func TestMaxAttemptsCap(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want int
	}{{"2", 2}, {"3", 3}, {"5", 5}, {"6", 5}, {"100", 5}, {"4294967295", 5}, {"1e12", 5}, {`"4"`, 4}, {"4.0", 4}} {
		js := `{"methodConfig": [{"name": [{}], "retryPolicy": {"maxAttempts": ` + tt.in +
			`, "initialBackoff": "1s", "maxBackoff": "1s", "backoffMultiplier": 1, "retryableStatusCodes": ["UNAVAILABLE"]}}]}`
		c, err := serviceconfig.Parse(js)
		if err != nil {
			t.Fatalf("maxAttempts %s: %v", tt.in, err)
		}
		mc, _ := c.Method("/a.B/C")
		if mc.Retry.MaxAttempts != tt.want {
			t.Errorf("maxAttempts %s: MaxAttempts = %d; want %d", tt.in, mc.Retry.MaxAttempts, tt.want)
		}
	}
}

func TestRetryableCodes(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want []codes.Code
	}{
		{`["UNAVAILABLE"]`, []codes.Code{codes.Unavailable}},
		{`["unavailable"]`, []codes.Code{codes.Unavailable}},
		{`["Resource_Exhausted", "ABORTED"]`, []codes.Code{codes.ResourceExhausted, codes.Aborted}},
		{`[14, 4]`, []codes.Code{codes.Unavailable, codes.DeadlineExceeded}},
		{`[0, 16, "CANCELLED", "data_loss"]`, []codes.Code{codes.OK, codes.Unauthenticated, codes.Canceled, codes.DataLoss}},
		{`[14, "UNAVAILABLE", 14.0, "unavailable"]`, []codes.Code{codes.Unavailable}},
		{`[1e1]`, []codes.Code{codes.Aborted}},
	} {
		js := `{"methodConfig": [{"name": [{}], "retryPolicy": {"maxAttempts": 2, "initialBackoff": "1s",
			"maxBackoff": "1s", "backoffMultiplier": 1, "retryableStatusCodes": ` + tt.in + `}}]}`
		c, err := serviceconfig.Parse(js)
		if err != nil {
			t.Fatalf("%s: %v", tt.in, err)
		}
		mc, _ := c.Method("/a.B/C")
		if !reflect.DeepEqual(mc.Retry.RetryableCodes, tt.want) {
			t.Errorf("%s: RetryableCodes = %v; want %v", tt.in, mc.Retry.RetryableCodes, tt.want)
		}
		for _, code := range tt.want {
			if !mc.Retry.Retryable(code) {
				t.Errorf("%s: Retryable(%v) = false", tt.in, code)
			}
		}
		if mc.Retry.Retryable(codes.InvalidArgument) {
			t.Errorf("%s: Retryable(INVALID_ARGUMENT) = true", tt.in)
		}
	}
	var nilPolicy *serviceconfig.RetryPolicy
	if nilPolicy.Retryable(codes.Unavailable) {
		t.Error("nil policy: Retryable = true")
	}
}

func TestDurations(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want time.Duration
	}{
		{"1.5s", 1500 * time.Millisecond},
		{"0.000340s", 340 * time.Microsecond},
		{"10s", 10 * time.Second},
		{".1s", 100 * time.Millisecond},
		{"1.s", time.Second},
		{"0s", 0},
		{"000.000000001s", time.Nanosecond},
		{"0.123456789s", 123456789 * time.Nanosecond},
		{"3600s", time.Hour},
		{"9223372036.854775807s", time.Duration(1<<63 - 1)},
		{"9223372036.854775808s", time.Duration(1<<63 - 1)}, // clamped
		{"315576000000s", time.Duration(1<<63 - 1)},         // clamped
	} {
		c, err := serviceconfig.Parse(`{"methodConfig": [{"name": [{}], "timeout": "` + tt.in + `"}]}`)
		if err != nil {
			t.Errorf("timeout %q: %v", tt.in, err)
			continue
		}
		mc, _ := c.Method("/a.B/C")
		if mc.Timeout != tt.want {
			t.Errorf("timeout %q = %v; want %v", tt.in, mc.Timeout, tt.want)
		}
	}
	for _, bad := range []string{"", "s", ".s", "1", "1.5", "1.5 s", " 1s", "1s ", "+1s", "1e3s", "0x10s", "1.2.3s",
		"1,5s", "1_000s", "١s", "1S", "1h", "1.0000000000s", "--1s", "-s"} {
		_, err := serviceconfig.Parse(`{"methodConfig": [{"name": [{}], "timeout": "` + bad + `"}]}`)
		if err == nil || !strings.Contains(err.Error(), "is not a duration") {
			t.Errorf("timeout %q: error %v; want a not-a-duration error", bad, err)
		}
	}
}

func TestParseHealthCheck(t *testing.T) {
	tests := []struct {
		js      string
		want    *string
		wantErr string
	}{
		{`{}`, nil, ""},
		{`{"healthCheckConfig": null}`, nil, ""},
		{`{"healthCheckConfig": {}}`, ptr(""), ""},
		{`{"healthCheckConfig": {"serviceName": null}}`, ptr(""), ""},
		{`{"healthCheckConfig": {"serviceName": ""}}`, ptr(""), ""},
		{`{"healthCheckConfig": {"serviceName": "echo.Echo", "other": 1}}`, ptr("echo.Echo"), ""},
		{`{"healthCheckConfig": []}`, nil, `healthCheckConfig: [] is not an object`},
		{`{"healthCheckConfig": {"serviceName": 5}}`, nil, `healthCheckConfig.serviceName: 5 is not a string`},
	}
	for _, tt := range tests {
		c, err := serviceconfig.Parse(tt.js)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Parse(%s) error = %v, want %q", tt.js, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("Parse(%s): %v", tt.js, err)
			continue
		}
		if !reflect.DeepEqual(c.HealthCheckService, tt.want) {
			t.Errorf("Parse(%s).HealthCheckService = %v, want %v", tt.js, c.HealthCheckService, tt.want)
		}
	}
}
