package channel

import (
	"context"
	"log/slog"
	"time"

	"github.com/grpcactor/grpcactor/status"
)

// WithLogger makes the channel log what an operator needs to know to
// logger: connectivity changes with their cause (Info; TRANSIENT_FAILURE at
// Warn), connection failures and GOAWAYs with the address (Warn and Info,
// from the subchannels), resolver results (Debug; failures at Warn),
// retries of calls (Debug), and keepalive pings the server refused (Warn).
// Every record carries the attribute "target". A record is built only when
// logger is enabled for its level, so a disabled level costs no allocation
// on any path. Default: nothing is logged.
func WithLogger(logger *slog.Logger) Option {
	return optionFunc(func(o *options) error {
		o.logger = logger
		return nil
	})
}

// logAt returns the channel's logger if it logs at level, nil otherwise;
// callers build their record only when it is not nil.
func (ch *chanState) logAt(level slog.Level) *slog.Logger {
	if l := ch.opts.logger; l != nil && l.Enabled(context.Background(), level) {
		return l
	}
	return nil
}

// logState logs a connectivity change of the channel, with the last
// connection or resolution error as its cause when the channel failed.
func (a *chanActor) logState(e effState) {
	level := slog.LevelInfo
	if e.to == TransientFailure {
		level = slog.LevelWarn
	}
	l := a.ch.logAt(level)
	if l == nil {
		return
	}
	attrs := []slog.Attr{
		slog.String("target", a.ch.target),
		slog.String("from", e.from.String()),
		slog.String("to", e.to.String()),
	}
	if e.to == TransientFailure && a.core.lastErr != nil {
		attrs = append(attrs, slog.String("cause", a.core.lastErr.Details()))
	}
	l.LogAttrs(context.Background(), level, "channel connectivity changed", attrs...)
}

// logResolved logs a resolver result.
func (a *chanActor) logResolved(m msgResolveDone) {
	if m.err != nil {
		if l := a.ch.logAt(slog.LevelWarn); l != nil {
			l.LogAttrs(context.Background(), slog.LevelWarn, "name resolution failed",
				slog.String("target", a.ch.target), slog.String("error", m.err.Details()))
		}
		return
	}
	if l := a.ch.logAt(slog.LevelDebug); l != nil {
		addrs := make([]string, len(m.addrs))
		for i, ad := range m.addrs {
			addrs[i] = ad.addr
		}
		l.LogAttrs(context.Background(), slog.LevelDebug, "name resolved",
			slog.String("target", a.ch.target), slog.Any("addresses", addrs))
	}
}

// logTooManyPings logs a server refusing the channel's keepalive pings.
func (a *chanActor) logTooManyPings(addr string, keepalive time.Duration) {
	if l := a.ch.logAt(slog.LevelWarn); l != nil {
		l.LogAttrs(context.Background(), slog.LevelWarn, "server refused keepalive pings (GOAWAY ENHANCE_YOUR_CALM too_many_pings); keepalive time doubled",
			slog.String("target", a.ch.target), slog.String("address", addr), slog.Duration("keepalive_time", keepalive))
	}
}

// logRetry logs a call moving to a new attempt.
func (cs *callState) logRetry(kind string, attempt int, cause *status.Error, delay time.Duration) {
	if l := cs.ch.logAt(slog.LevelDebug); l != nil {
		attrs := []slog.Attr{
			slog.String("target", cs.ch.target),
			slog.String("method", cs.hdr.Method),
			slog.String("kind", kind),
			slog.Int("attempt", attempt),
		}
		if cause != nil {
			attrs = append(attrs, slog.String("cause", cause.Details()))
		}
		if delay > 0 {
			attrs = append(attrs, slog.Duration("delay", delay))
		}
		l.LogAttrs(context.Background(), slog.LevelDebug, "retrying call", attrs...)
	}
}
