package actorsys

import (
	"math/rand/v2"
	"time"
)

// Backoff is gRPC's connection backoff (connection-backoff document): the
// first delay Initial, then ×1.6 per attempt, capped at Max, each delay
// jittered by ±20 %.
type Backoff struct {
	Initial, Max time.Duration
	// Jitter returns a value in [-1, 1); nil means uniformly random.
	Jitter  func() float64
	attempt int
}

// Base returns the next delay without jitter and without counting it.
func (b *Backoff) Base() time.Duration {
	d := float64(b.Initial)
	for i := 0; i < b.attempt && d < float64(b.Max); i++ {
		d *= 1.6
	}
	if d > float64(b.Max) {
		d = float64(b.Max)
	}
	return time.Duration(d)
}

// Next returns the delay before the next attempt and counts the attempt.
func (b *Backoff) Next() time.Duration {
	d := float64(b.Base())
	var j float64
	if b.Jitter != nil {
		j = b.Jitter()
	} else {
		j = rand.Float64()*2 - 1
	}
	b.attempt++
	return time.Duration(d * (1 + 0.2*j))
}

// Reset starts the sequence over, as when a connection is established.
func (b *Backoff) Reset() { b.attempt = 0 }

// Attempts returns how many delays Next has handed out since the last Reset.
func (b *Backoff) Attempts() int { return b.attempt }
