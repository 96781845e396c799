package serviceconfig

import (
	"math"
	"sync/atomic"
)

// Throttling is the retry token bucket of gRFC A6 ("Throttling Retry
// Attempts and Hedged RPCs"), configured by retryThrottling. The bucket
// starts full at MaxTokens; every call that fails with a retryable code
// takes one token (OnFailure), every successful call gives back TokenRatio
// (OnSuccess), and retries are allowed only while more than half of
// MaxTokens remain (Allow). Arithmetic is in thousandths of a token, as in
// C-core, so it does not drift.
//
// A Throttling is safe for concurrent use. The zero value with the two
// fields set is a full bucket; set the fields before first use and do not
// change them afterwards. A nil *Throttling means no throttling: Allow
// reports true and the other methods do nothing.
type Throttling struct {
	// MaxTokens is the bucket's size: 1 to 1000 when parsed.
	MaxTokens float64
	// TokenRatio is what a success gives back: > 0, with at most 3
	// decimal places honoured.
	TokenRatio float64

	// deficit is how many milli-tokens the bucket is below MaxTokens, so
	// that the zero value is a full bucket.
	deficit atomic.Int64
}

// limits returns MaxTokens and TokenRatio in milli-tokens.
func (t *Throttling) limits() (maxMilli, ratioMilli int64) {
	m := t.MaxTokens
	if !(m > 0) { // also NaN
		return 0, 0
	}
	m = min(m, 1e12)
	maxMilli = int64(math.Round(m * 1000))
	if r := t.TokenRatio; r > 0 {
		ratioMilli = int64(math.Round(min(r, m) * 1000))
	}
	return maxMilli, ratioMilli
}

// Allow reports whether a retry may proceed: whether more than MaxTokens/2
// tokens remain. A call that has just failed should report it with
// OnFailure first, then ask Allow.
func (t *Throttling) Allow() bool {
	if t == nil {
		return true
	}
	maxMilli, _ := t.limits()
	tokens := maxMilli - min(t.deficit.Load(), maxMilli)
	return 2*tokens > maxMilli
}

// OnFailure records a call that failed with a retryable code (or a server
// pushback saying not to retry): one token fewer, never below 0.
func (t *Throttling) OnFailure() {
	if t == nil {
		return
	}
	maxMilli, _ := t.limits()
	t.add(1000, maxMilli)
}

// OnSuccess records a successful call: TokenRatio tokens more, never above
// MaxTokens.
func (t *Throttling) OnSuccess() {
	if t == nil {
		return
	}
	maxMilli, ratioMilli := t.limits()
	t.add(-ratioMilli, maxMilli)
}

// add moves the deficit by delta, keeping it in [0, maxMilli].
func (t *Throttling) add(delta, maxMilli int64) {
	for {
		old := t.deficit.Load()
		d := min(max(old+delta, 0), maxMilli)
		if d == old || t.deficit.CompareAndSwap(old, d) {
			return
		}
	}
}

// Tokens returns how many tokens the bucket holds now (0 for a nil
// Throttling).
func (t *Throttling) Tokens() float64 {
	if t == nil {
		return 0
	}
	maxMilli, _ := t.limits()
	return float64(maxMilli-min(t.deficit.Load(), maxMilli)) / 1000
}
