package serviceconfig_test

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/grpcactor/grpcactor/internal/serviceconfig"
)

func TestBackoffBounds(t *testing.T) {
	p := &serviceconfig.RetryPolicy{
		MaxAttempts: 5, InitialBackoff: 100 * time.Millisecond, MaxBackoff: time.Second, BackoffMultiplier: 2,
	}
	// The upper bound of retry n is min(0.1s * 2^(n-1), 1s).
	limits := map[int]time.Duration{
		1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 3: 400 * time.Millisecond,
		4: 800 * time.Millisecond, 5: time.Second, 6: time.Second, 100: time.Second, 10000: time.Second,
	}
	for n, limit := range limits {
		if got := p.Backoff(n, 0); got != 0 {
			t.Errorf("Backoff(%d, 0) = %v; want 0", n, got)
		}
		if got := p.Backoff(n, 0.5); got != limit/2 {
			t.Errorf("Backoff(%d, 0.5) = %v; want %v", n, got, limit/2)
		}
		top := p.Backoff(n, math.Nextafter(1, 0))
		if top >= limit || top < limit-time.Microsecond {
			t.Errorf("Backoff(%d, 1-ε) = %v; want just under %v", n, top, limit)
		}
		if got := p.Backoff(n, 1); got != top {
			t.Errorf("Backoff(%d, 1) = %v; want clamped to %v", n, got, top)
		}
		rng := rand.New(rand.NewPCG(uint64(n), 1))
		for range 1000 {
			if d := p.Backoff(n, rng.Float64()); d < 0 || d >= limit {
				t.Fatalf("Backoff(%d, rnd) = %v; want in [0, %v)", n, d, limit)
			}
		}
	}
	if got, want := p.Backoff(0, 0.5), p.Backoff(1, 0.5); got != want {
		t.Errorf("Backoff(0, 0.5) = %v; want as n=1, %v", got, want)
	}
	if got := p.Backoff(1, -1); got != 0 {
		t.Errorf("Backoff(1, -1) = %v; want 0", got)
	}
	if got := p.Backoff(1, math.NaN()); got != 0 {
		t.Errorf("Backoff(1, NaN) = %v; want 0", got)
	}
}

func TestBackoffExtremes(t *testing.T) {
	for _, tt := range []struct {
		name  string
		p     *serviceconfig.RetryPolicy
		n     int
		limit time.Duration
	}{
		{"shrinking multiplier", &serviceconfig.RetryPolicy{InitialBackoff: time.Second, MaxBackoff: time.Minute, BackoffMultiplier: 0.5}, 3, 250 * time.Millisecond},
		{"huge multiplier", &serviceconfig.RetryPolicy{InitialBackoff: time.Second, MaxBackoff: time.Minute, BackoffMultiplier: 1e300}, 5, time.Minute},
		{"max below initial", &serviceconfig.RetryPolicy{InitialBackoff: time.Minute, MaxBackoff: time.Second, BackoffMultiplier: 2}, 1, time.Second},
		{"largest durations", &serviceconfig.RetryPolicy{InitialBackoff: math.MaxInt64, MaxBackoff: math.MaxInt64, BackoffMultiplier: 10}, 3, math.MaxInt64},
		{"one nanosecond", &serviceconfig.RetryPolicy{InitialBackoff: 1, MaxBackoff: 1, BackoffMultiplier: 1}, 1, 1},
	} {
		for _, rnd := range []float64{0, 0.25, 0.5, 0.999, math.Nextafter(1, 0)} {
			d := tt.p.Backoff(tt.n, rnd)
			if d < 0 || d >= tt.limit {
				t.Errorf("%s: Backoff(%d, %v) = %v; want in [0, %v)", tt.name, tt.n, rnd, d, tt.limit)
			}
		}
		// float64 holds 53 bits: allow that much rounding for huge limits.
		if d, half := tt.p.Backoff(tt.n, 0.5), tt.limit/2; tt.limit > 1 && (d < half-half>>52 || d > half+half>>52) {
			t.Errorf("%s: Backoff(%d, 0.5) = %v; want %v", tt.name, tt.n, d, half)
		}
	}
	var nilPolicy *serviceconfig.RetryPolicy
	if d := nilPolicy.Backoff(1, 0.5); d != 0 {
		t.Errorf("nil policy: Backoff = %v; want 0", d)
	}
	if d := (&serviceconfig.RetryPolicy{}).Backoff(1, 0.5); d != 0 {
		t.Errorf("zero policy: Backoff = %v; want 0", d)
	}
}
