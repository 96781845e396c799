package channel

import (
	"io"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/internal/bufpool"
	"github.com/grpcactor/grpcactor/internal/serviceconfig"
	"github.com/grpcactor/grpcactor/internal/transport"
	"github.com/grpcactor/grpcactor/status"
)

// retryState is a call's retry bookkeeping (gRFC A6): the transparent
// retries of attempts that never reached the server, and the attempts
// made under the service config's retry policy. The decisions are made
// once, here, for the blocking calls (recvMsg, restart) and the started
// ones (tryRecv) alike; each only waits its own way.
type retryState struct {
	retries  int16 // transparent retries of streams the server refused, at most maxTransparentRetries (callState.mu)
	attempts int16 // attempts made under the retry policy, the first included, at most 5 (receive side); int16s: room for callState.slot
	// The retry policy, the throttling, a started call's backoff timer
	// and a hedged call's hedger are in callState.ext.
}

// retryNext is what follows an attempt whose receive side ended.
type retryNext int

const (
	retryNone        retryNext = iota // the call ends with the attempt's outcome
	retryTransparent                  // the attempt never reached the server: try transparentRetry
	retryPolicy                       // a new attempt under the retry policy, after a delay
)

// attemptEnded decides what follows an attempt on s whose receive side
// ended with err (io.EOF for OK). For retryTransparent the caller moves
// the call on through transparentRetry and, if that refuses, asks
// policyOrEnd with the attempt's status.
func (cs *callState) attemptEnded(s *transport.Stream, err error) (retryNext, time.Duration) {
	if err != io.EOF && s.Unprocessed() {
		return retryTransparent, 0
	}
	return cs.policyOrEnd(s, toStatus(err))
}

// policyOrEnd applies the retry policy to an attempt on s that ended with
// st (nil for OK): retryPolicy and the delay before the next attempt (the
// throttle told of the failure, the retry logged, the attempt's stats
// ended), or retryNone (the throttle told of a success, if it was one).
func (cs *callState) policyOrEnd(s *transport.Stream, st *status.Error) (retryNext, time.Duration) {
	if st == nil {
		if t := cs.throttling(); t != nil {
			t.OnSuccess()
		}
		return retryNone, 0
	}
	if p := cs.retryPolicy(); p == nil || !p.Retryable(st.Code()) {
		return retryNone, 0
	}
	if t := cs.throttling(); t != nil {
		t.OnFailure()
	}
	delay, retry := cs.retryDelay(s, st)
	if !retry {
		return retryNone, 0
	}
	cs.logRetry("retry policy", int(cs.attempts)+1, st, delay)
	cs.endAttempt(st)
	return retryPolicy, delay
}

// transparentRetry reports whether the call moves on from an attempt on s
// that ended without reaching the server (and, if so, counts, logs and
// ends that attempt); the caller opens the next one.
func (cs *callState) transparentRetry(s *transport.Stream) bool {
	if !cs.retryable(s) {
		return false
	}
	if cs.ch.opts.logger != nil || cs.ch.opts.stats != nil {
		st, _ := s.Status()
		cs.logRetry("transparent", 0, st, 0)
		cs.endAttempt(retriedStatus(st))
	}
	return true
}

// nextPolicyAttempt counts the attempt a policy retry is about to open
// (attemptMu held, or a started call's attempt restarting).
func (cs *callState) nextPolicyAttempt() {
	cs.hdr.PreviousAttempts = int32(cs.attempts)
	cs.attempts++
}

// retryAfter waits delay and opens the next attempt of a blocking call
// whose attempt on s is retried under the policy. It returns nil when a
// new attempt runs, or the error that ended the wait (deadline,
// cancellation) or the opening.
func (cs *callState) retryAfter(s *transport.Stream, delay time.Duration) error {
	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-cs.ctx().Done():
			t.Stop()
			return status.FromContext(cs.ctx())
		}
	}
	cs.attemptMu.Lock()
	defer cs.attemptMu.Unlock()
	if cs.cur() != s {
		return nil
	}
	cs.nextPolicyAttempt()
	return cs.startLocked()
}

// armRetry opens a started call's next attempt after delay, on a timer
// that release stops (a call cancelled during its backoff leaves no timer
// behind).
func (cs *callState) armRetry(delay time.Duration) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.released {
		return // the call is over
	}
	// Only under a retry policy, so ext is set.
	cs.ext.backoff = time.AfterFunc(delay, func() {
		cs.mu.Lock()
		cs.ext.backoff = nil
		cs.mu.Unlock()
		cs.startAsync()
	})
}

// retryable reports whether s failed without reaching the server and the
// call may move to a new attempt (and counts the attempt).
func (cs *callState) retryable(s *transport.Stream) bool {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.committed || cs.recvSeen || !s.Unprocessed() {
		return false
	}
	if s.NeverSent() {
		// Never left the client (the connection drained or closed as
		// the call picked it): gRFC A6 allows any number of such
		// retries, and the call's deadline is the only limit. This
		// cannot spin: a connection that refused a stream is never READY
		// again and pick hands out READY connections only, so each retry
		// waits for the next connection.
		return true
	}
	if cs.retries >= maxTransparentRetries {
		return false
	}
	cs.retries++
	return true
}

// retryDecision is gRFC A6's decision for an attempt that ended with code:
// retry when the code is retryable, the call has not committed (no
// response headers or message, retry buffer not exceeded), attempts remain
// and throttling allows; the delay is the policy's jittered backoff, or the
// server's grpc-retry-pushback-ms (a negative or malformed pushback means
// do not retry). attempts counts the attempts made so far. It is pure: rnd
// in [0, 1) is the jitter, allow the throttle's verdict.
func retryDecision(p *serviceconfig.RetryPolicy, code codes.Code, committed bool, attempts int, pushback []string, allow bool, rnd float64) (bool, time.Duration) {
	if p == nil || !p.Retryable(code) || committed || attempts >= p.MaxAttempts || !allow {
		return false, 0
	}
	if len(pushback) > 0 {
		ms, err := strconv.Atoi(pushback[0])
		if err != nil || ms < 0 {
			return false, 0
		}
		return true, time.Duration(ms) * time.Millisecond
	}
	return true, p.Backoff(attempts, rnd)
}

// retryDelay is the retry decision for an attempt on s that ended with
// a retryable st (the throttle told of the failure).
func (cs *callState) retryDelay(s *transport.Stream, st *status.Error) (time.Duration, bool) {
	cs.mu.Lock()
	committed := cs.committed || cs.recvSeen
	cs.mu.Unlock()
	if s.HeadersReceived() {
		committed = true // gRFC A6: response headers commit the call
	}
	if cs.attempts == 0 {
		cs.attempts = 1
	}
	t := cs.throttling()
	allow := t == nil || t.Allow()
	retry, delay := retryDecision(cs.retryPolicy(), st.Code(), committed, int(cs.attempts), st.TrailingMetadata().Get("grpc-retry-pushback-ms"), allow, rand.Float64())
	return delay, retry
}

// recycle gives a request buffer back to the pool once the call is over,
// when the transport provably holds no reference to it: one attempt only,
// and the stream drained.
func (cs *callState) recycle(buf []byte) {
	cs.mu.Lock()
	s, single := cs.singleAttempt()
	cs.mu.Unlock()
	recycleIf(buf, s, single)
}

// singleAttempt returns the current stream and whether it is the call's
// only attempt (mu held): no retry was sent (retries, attempts), and no
// attempt of a started call is being opened (restarting). A transparent
// retry of a stream that never left the client is not counted in
// retries, and a started call opens it without attemptMu, which a
// blocking call's dropSent waits for: until the new stream is stored it
// may already hold the request for the transport, while the stream seen
// here is the refused one, drained as it never queued anything. A call
// that ends while an attempt opens leaves its buffer to the garbage
// collector. A hedged call sets attempts when it commits (hedger.commit)
// and has no stream before, so only a race of one attempt passes.
func (cs *callState) singleAttempt() (*transport.Stream, bool) {
	return cs.stream.Load(), cs.retries == 0 && cs.attempts <= 1 && !cs.restarting
}

// recycleIf gives buf back to the pool if s, the only attempt, is
// drained (recycle).
func recycleIf(buf []byte, s *transport.Stream, single bool) {
	if single && s != nil && s.Drained() {
		bufpool.Put(buf)
	}
}
