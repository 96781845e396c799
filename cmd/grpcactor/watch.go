package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"

	"github.com/grpcactor/grpcactor/channel"
)

// watch prints the channel's connectivity changes as they happen, with the
// cause of each failure, until ctx ends (an interrupt or -max-time). It
// reads them from the runtime's own log records (channel.WithLogger) and
// keeps the channel connecting: a channel that goes IDLE is asked to
// connect again.
func (c *cli) watch(ctx context.Context, addr string) int {
	p := &watchPrinter{w: c.stdout}
	ch, err := c.dial(addr, channel.WithLogger(slog.New(p)))
	if err != nil {
		return c.fail("%v", err)
	}
	fmt.Fprintf(c.stdout, "watching %s (%s)\n", addr, ch.State(false))
	sub := ch.Subscribe(func(s channel.Connectivity) {
		if s == channel.Idle {
			ch.State(true)
		}
	}, true)
	<-ctx.Done()
	ch.Unsubscribe(sub)
	ch.Close()
	return 0
}

// watchPrinter is a slog.Handler that prints the runtime's connectivity
// records as lines: time, state or event, address and cause.
type watchPrinter struct {
	mu sync.Mutex
	w  io.Writer
}

func (p *watchPrinter) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelInfo }
func (p *watchPrinter) WithAttrs([]slog.Attr) slog.Handler           { return p }
func (p *watchPrinter) WithGroup(string) slog.Handler                { return p }

func (p *watchPrinter) Handle(_ context.Context, r slog.Record) error {
	attrs := map[string]string{}
	r.Attrs(func(a slog.Attr) bool {
		attrs[a.Key] = a.Value.String()
		return true
	})
	var line string
	switch r.Message {
	case "channel connectivity changed":
		line = attrs["to"]
		if cause := attrs["cause"]; cause != "" {
			line += "  cause: " + cause
		}
	case "server sent GOAWAY":
		line = fmt.Sprintf("  GOAWAY from %s: %s %q", attrs["address"], attrs["code"], attrs["debug"])
	default:
		line = "  " + r.Message
		if a := attrs["address"]; a != "" {
			line += " " + a
		}
		if e := attrs["error"]; e != "" {
			line += ": " + e
		}
		for _, k := range []string{"keepalive_time"} {
			if v := attrs[k]; v != "" {
				line += " " + strings.ReplaceAll(k, "_", " ") + " " + v
			}
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	_, err := fmt.Fprintf(p.w, "%s %s\n", r.Time.UTC().Format("2006-01-02T15:04:05.000000Z"), line)
	return err
}
