package channel

import (
	"testing"
	"time"

	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/internal/serviceconfig"
)

func TestRetryDecision(t *testing.T) {
	p := &serviceconfig.RetryPolicy{
		MaxAttempts: 3, InitialBackoff: 100 * time.Millisecond, MaxBackoff: time.Second,
		BackoffMultiplier: 2, RetryableCodes: []codes.Code{codes.Unavailable},
	}
	tests := []struct {
		name      string
		code      codes.Code
		committed bool
		attempts  int
		pushback  []string
		allow     bool
		retry     bool
		delay     time.Duration
	}{
		{"retryable code, first failure", codes.Unavailable, false, 1, nil, true, true, 50 * time.Millisecond},
		{"second failure backs off longer", codes.Unavailable, false, 2, nil, true, true, 100 * time.Millisecond},
		{"attempts exhausted", codes.Unavailable, false, 3, nil, true, false, 0},
		{"code not retryable", codes.InvalidArgument, false, 1, nil, true, false, 0},
		{"committed: headers or a message arrived", codes.Unavailable, true, 1, nil, true, false, 0},
		{"throttled", codes.Unavailable, false, 1, nil, false, false, 0},
		{"server pushback", codes.Unavailable, false, 1, []string{"250"}, true, true, 250 * time.Millisecond},
		{"negative pushback: no retry", codes.Unavailable, false, 1, []string{"-1"}, true, false, 0},
		{"malformed pushback: no retry", codes.Unavailable, false, 1, []string{"soon"}, true, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			retry, delay := retryDecision(p, tt.code, tt.committed, tt.attempts, tt.pushback, tt.allow, 0.5)
			if retry != tt.retry || delay != tt.delay {
				t.Fatalf("retryDecision = %v, %v; want %v, %v", retry, delay, tt.retry, tt.delay)
			}
		})
	}
	if retry, _ := retryDecision(nil, codes.Unavailable, false, 1, nil, true, 0); retry {
		t.Fatal("retry without a policy")
	}
}
