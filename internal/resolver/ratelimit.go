package resolver

import "time"

// DefaultMinInterval is the default of grpc.dns_min_time_between_resolutions_ms:
// gRPC's dns resolver runs at most once every 30 seconds.
const DefaultMinInterval = 30 * time.Second

// RateLimit decides when a re-resolution may run: gRPC's dns resolver runs at
// most once per MinInterval (grpc.dns_min_time_between_resolutions_ms,
// default [DefaultMinInterval]). It is pure: it reads no clock and arms no
// timer; the caller passes the time and, when told to wait, arms a timer and
// asks again when it fires.
//
// The zero value allows every resolution, as the channel option 0 does; set
// MinInterval (usually to DefaultMinInterval) to limit. A RateLimit belongs
// to one resolver (one actor) and is not safe for concurrent use.
type RateLimit struct {
	// MinInterval is the least time between the starts of two resolutions;
	// zero or negative means no limit.
	MinInterval time.Duration

	last time.Time // start of the last resolution allowed; zero if none
}

// Next returns how long to wait before a resolution asked for at now may run
// (0 = run now), and records the run when it returns 0. The first call always
// returns 0.
//
// If now is before the last run (the clock went back), the last run is taken
// to be now, so the wait is MinInterval rather than however far the clock
// jumped.
func (r *RateLimit) Next(now time.Time) time.Duration {
	if r.MinInterval <= 0 || r.last.IsZero() {
		r.last = now
		return 0
	}
	if now.Before(r.last) {
		r.last = now
	}
	if wait := r.last.Add(r.MinInterval).Sub(now); wait > 0 {
		return wait
	}
	r.last = now
	return 0
}
