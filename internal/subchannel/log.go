package subchannel

import (
	"context"
	"log/slog"

	"github.com/grpcactor/grpcactor/connectivity"
	"github.com/grpcactor/grpcactor/internal/transport"
)

// logEvent logs what the connection told the subchannel: a GOAWAY from
// the server, a connection that failed before it was ready, a ready
// connection that closed. Nothing is built unless the logger is enabled
// for the record's level.
func (a *subActor) logEvent(msg any) {
	l := a.cfg.Logger
	if l == nil || a.core.state == connectivity.Shutdown {
		return // silent, or our own drain and close
	}
	ctx := context.Background()
	switch m := msg.(type) {
	case *transport.EventReady:
		if l.Enabled(ctx, slog.LevelDebug) {
			l.LogAttrs(ctx, slog.LevelDebug, "connection ready", slog.String("address", a.sub.addr))
		}
	case *transport.EventGoAway:
		level := slog.LevelInfo
		if m.Code != 0 {
			level = slog.LevelWarn
		}
		if l.Enabled(ctx, level) {
			l.LogAttrs(ctx, level, "server sent GOAWAY", slog.String("address", a.sub.addr),
				slog.String("code", m.Code.String()), slog.String("debug", m.Debug))
		}
	case *transport.EventClosed:
		if m.Conn != a.core.conn {
			return // a draining connection ending as expected
		}
		level, what := slog.LevelWarn, "connection failed"
		if m.Established {
			level, what = slog.LevelInfo, "connection closed"
		}
		if !l.Enabled(ctx, level) {
			return
		}
		attrs := []slog.Attr{slog.String("address", a.sub.addr)}
		if m.Err != nil {
			attrs = append(attrs, slog.String("error", m.Err.Details()))
		}
		l.LogAttrs(ctx, level, what, attrs...)
	}
}

// logDialError logs a connection that could not even be started.
func (a *subActor) logDialError(err error) {
	ctx := context.Background()
	if l := a.cfg.Logger; l != nil && l.Enabled(ctx, slog.LevelWarn) {
		l.LogAttrs(ctx, slog.LevelWarn, "connection failed", slog.String("address", a.sub.addr), slog.String("error", err.Error()))
	}
}
