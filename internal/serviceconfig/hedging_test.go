package serviceconfig_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/internal/serviceconfig"
)

func TestParseHedging(t *testing.T) {
	for _, tt := range []struct {
		name string
		in   string
		want serviceconfig.HedgingPolicy
	}{
		{"minimal", `{"maxAttempts": 2}`, serviceconfig.HedgingPolicy{MaxAttempts: 2}},
		{"full", `{"maxAttempts": 3, "hedgingDelay": "0.5s", "nonFatalStatusCodes": ["UNAVAILABLE", 10, "unavailable"]}`,
			serviceconfig.HedgingPolicy{MaxAttempts: 3, HedgingDelay: 500 * time.Millisecond, NonFatalCodes: []codes.Code{codes.Unavailable, codes.Aborted}}},
		{"capped at 5", `{"maxAttempts": 9, "hedgingDelay": "0s", "nonFatalStatusCodes": []}`, serviceconfig.HedgingPolicy{MaxAttempts: 5}},
		{"case-insensitive names", `{"MaxAttempts": "4", "HedgingDelay": "1s"}`, serviceconfig.HedgingPolicy{MaxAttempts: 4, HedgingDelay: time.Second}},
		{"null fields", `{"maxAttempts": 2, "hedgingDelay": null, "nonFatalStatusCodes": null}`, serviceconfig.HedgingPolicy{MaxAttempts: 2}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := serviceconfig.Parse(`{"methodConfig": [{"name": [{}], "hedgingPolicy": ` + tt.in + `}]}`)
			if err != nil {
				t.Fatal(err)
			}
			mc, _ := c.Method("/a.B/C")
			if mc.Retry != nil {
				t.Errorf("Retry = %+v; want nil", mc.Retry)
			}
			if mc.Hedging == nil || !reflect.DeepEqual(*mc.Hedging, tt.want) {
				t.Errorf("Hedging = %+v; want %+v", mc.Hedging, tt.want)
			}
		})
	}
}

func TestHedgingNonFatal(t *testing.T) {
	p := &serviceconfig.HedgingPolicy{MaxAttempts: 2, NonFatalCodes: []codes.Code{codes.Unavailable, codes.OK}}
	for _, tt := range []struct {
		c    codes.Code
		want bool
	}{{codes.Unavailable, true}, {codes.Internal, false}, {codes.OK, false}} {
		if got := p.NonFatal(tt.c); got != tt.want {
			t.Errorf("NonFatal(%v) = %v; want %v", tt.c, got, tt.want)
		}
	}
	var nilPolicy *serviceconfig.HedgingPolicy
	if nilPolicy.NonFatal(codes.Unavailable) {
		t.Error("nil policy: NonFatal = true")
	}
}
