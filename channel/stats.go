package channel

import (
	"context"

	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/internal/wire"
	"github.com/grpcactor/grpcactor/status"
)

// StatsHandler observes the attempts of every call on a channel: what an
// interceptor cannot see, because it happens below it (transparent
// retries, retries under the service config's retry policy, the size of
// each message on the wire). Package otelgrpcactor implements it to record
// gRFC A66's per-attempt metrics. Its methods run in the goroutines of the
// call (the caller's, a Future's, a stream's reader; for a call started
// with Start, wherever its callbacks run, see StreamHandler) and must not
// block.
type StatsHandler interface {
	// AttemptStarted is called when an attempt of a call begins, before
	// it picks a connection; ctx is the call's context. The returned
	// AttemptStats, if not nil, sees the attempt's messages and its end.
	AttemptStarted(ctx context.Context, info AttemptInfo) AttemptStats
}

// AttemptInfo describes an attempt.
type AttemptInfo struct {
	// Target is the channel's target as given to Insecure or Secure.
	Target string
	// CanonicalTarget is the target with its scheme
	// (Channel.CanonicalTarget): "dns:///host:port" for "host:port".
	CanonicalTarget string
	// Method is the full method name, "/package.Service/Method".
	Method string
	// Attempt counts the call's attempts, 1 for the first.
	Attempt int
}

// AttemptStats receives the events of one attempt. Calls to it are not
// concurrent with each other except OutMessage with InMessage.
type AttemptStats interface {
	// OutMessage reports a request message written on the attempt;
	// compressedSize is its size on the wire without the 5-byte message
	// prefix (after compression, if any).
	OutMessage(compressedSize int)
	// InMessage reports a response message received on the attempt, its
	// size on the wire without the prefix (before decompression).
	InMessage(compressedSize int)
	// End reports the attempt's end: nil for OK, else its status. An
	// attempt replaced by a retry ends with the status that caused it.
	End(st *status.Error)
}

// WithStatsHandler makes h observe every attempt of every call on the
// channel. Default: none (the calls pay one nil check).
func WithStatsHandler(h StatsHandler) Option {
	return optionFunc(func(o *options) error {
		o.stats = h
		return nil
	})
}

// beginAttempt ends the call's previous attempt (with its stream's
// status) and starts the next one. attemptMu is held.
func (cs *callState) beginAttempt() {
	h := cs.ch.opts.stats
	if h == nil {
		return
	}
	cs.mu.Lock()
	if cs.stats == nil {
		cs.stats = new(attemptsStats)
	}
	st := cs.stats
	prev, s := st.att, cs.stream.Load()
	st.att = nil
	st.n++
	n := st.n
	cs.mu.Unlock()
	if prev != nil {
		var st *status.Error
		if s != nil {
			st, _ = s.Status()
		}
		prev.End(retriedStatus(st))
	}
	a := h.AttemptStarted(cs.ctx(), AttemptInfo{Target: cs.ch.target, CanonicalTarget: cs.ch.canonical, Method: cs.hdr.Method, Attempt: int(n)})
	cs.mu.Lock()
	st.att = a
	cs.mu.Unlock()
}

// attemptsStats is a call's attempts' stats state (guarded by
// callState.mu), apart from the call's state, which most calls (those
// without a stats handler) do not need.
type attemptsStats struct {
	att AttemptStats // the current attempt's
	n   int32        // attempts begun
}

// attemptStats returns the current attempt's stats, or nil.
func (cs *callState) attemptStats() AttemptStats {
	if cs.ch.opts.stats == nil {
		return nil
	}
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.stats == nil {
		return nil
	}
	return cs.stats.att
}

// statsOut reports a framed request message written on the current attempt.
func (cs *callState) statsOut(frame []byte) {
	if a := cs.attemptStats(); a != nil {
		a.OutMessage(len(frame) - wire.MsgHeaderLen)
	}
}

// endAttempt ends the current attempt with the call's final status.
func (cs *callState) endAttempt(st *status.Error) {
	if cs.ch.opts.stats == nil {
		return
	}
	cs.mu.Lock()
	var a AttemptStats
	if cs.stats != nil {
		a, cs.stats.att = cs.stats.att, nil
	}
	cs.mu.Unlock()
	if a != nil {
		a.End(st)
	}
}

// retriedStatus is the status an attempt that is being retried ends with.
func retriedStatus(st *status.Error) *status.Error {
	if st == nil {
		return status.New(codes.Unavailable, "attempt replaced by a new one")
	}
	return st
}

// Peer returns the address of the server connection the call's latest
// attempt used: "" before it had one, or for a call an interceptor
// answered without an RPC.
func (c *Call) Peer() string {
	if c == nil || c.m == nil {
		return ""
	}
	return c.m.peer()
}
