package resolver_test

import (
	"testing"
	"time"

	"github.com/grpcactor/grpcactor/internal/resolver"
)

func TestRateLimit(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	type step struct {
		now  time.Time
		want time.Duration
	}
	tests := []struct {
		name  string
		min   time.Duration
		steps []step
	}{
		{"first runs at once", 30 * time.Second, []step{{at(0), 0}}},
		{"second waits the rest of the interval", 30 * time.Second, []step{
			{at(0), 0},
			{at(0), 30 * time.Second},
			{at(10 * time.Second), 20 * time.Second},
			{at(29*time.Second + 999*time.Millisecond), time.Millisecond},
			{at(30 * time.Second), 0}, // exactly one interval later
			{at(31 * time.Second), 29 * time.Second},
		}},
		{"a wait is not a run", 30 * time.Second, []step{
			{at(0), 0},
			{at(20 * time.Second), 10 * time.Second},
			{at(25 * time.Second), 5 * time.Second},
			{at(45 * time.Second), 0},
			{at(60 * time.Second), 15 * time.Second},
		}},
		{"long after runs at once", 30 * time.Second, []step{
			{at(0), 0},
			{at(time.Hour), 0},
			{at(time.Hour + time.Second), 29 * time.Second},
		}},
		{"zero interval never waits", 0, []step{
			{at(0), 0}, {at(0), 0}, {at(time.Nanosecond), 0},
		}},
		{"negative interval never waits", -time.Second, []step{
			{at(0), 0}, {at(0), 0},
		}},
		{"clock going back waits one interval", 30 * time.Second, []step{
			{at(time.Hour), 0},
			{at(0), 30 * time.Second},
			{at(10 * time.Second), 20 * time.Second},
			{at(30 * time.Second), 0},
		}},
		{"default interval", resolver.DefaultMinInterval, []step{
			{at(0), 0},
			{at(time.Second), 29 * time.Second},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := resolver.RateLimit{MinInterval: tt.min}
			for i, s := range tt.steps {
				if got := r.Next(s.now); got != s.want {
					t.Errorf("step %d: Next(t0+%v) = %v, want %v", i, s.now.Sub(t0), got, s.want)
				}
			}
		})
	}
}

// TestRateLimitTimerLoop drives RateLimit the way the channel actor does: a
// wait becomes a timer, and when it fires the actor asks again.
func TestRateLimitTimerLoop(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	r := resolver.RateLimit{MinInterval: resolver.DefaultMinInterval}
	var runs []time.Time
	for range 5 {
		wait := r.Next(now)
		if wait > 0 {
			now = now.Add(wait) // the timer fires
			if again := r.Next(now); again != 0 {
				t.Fatalf("Next after the timer = %v, want 0", again)
			}
		}
		runs = append(runs, now)
		now = now.Add(time.Second) // the next request comes soon after
	}
	for i := 1; i < len(runs); i++ {
		if d := runs[i].Sub(runs[i-1]); d != resolver.DefaultMinInterval {
			t.Errorf("run %d came %v after the previous, want %v", i, d, resolver.DefaultMinInterval)
		}
	}
}
