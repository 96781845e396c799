package channel

import (
	"bytes"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/internal/transport"
	"github.com/grpcactor/grpcactor/status"
)

// With the logger's level above the records', the runtime's log calls
// build nothing: no allocation.
func TestLogOffAllocatesNothing(t *testing.T) {
	ch := &Channel{chanState: &chanState{target: "dns:///example.com:443"}}
	ch.opts.logger = slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelError}))
	a := &chanActor{ch: ch, core: &core{lastErr: status.New(codes.Unavailable, "refused")}}
	cs := &callState{callConfig: callConfig{ch: ch, hdr: transport.CallHdr{Method: "/s.S/M"}}}
	st := status.New(codes.Unavailable, "try again")
	allocs := testing.AllocsPerRun(1000, func() {
		cs.logRetry("retry policy", 2, st, time.Millisecond)
		a.logState(effState{from: Connecting, to: TransientFailure})
		a.logState(effState{from: Idle, to: Connecting})
		a.logResolved(msgResolveDone{addrs: []address{{network: "tcp", addr: "1.2.3.4:443"}}})
		a.logTooManyPings("1.2.3.4:443", time.Minute)
	})
	if allocs != 0 {
		t.Fatalf("%v allocations with logging off, want 0", allocs)
	}
}

// BenchmarkLogOff is the runtime's log calls with the level off: 0
// allocs/op.
func BenchmarkLogOff(b *testing.B) {
	ch := &Channel{chanState: &chanState{target: "dns:///example.com:443"}}
	ch.opts.logger = slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelError}))
	cs := &callState{callConfig: callConfig{ch: ch, hdr: transport.CallHdr{Method: "/s.S/M"}}}
	st := status.New(codes.Unavailable, "try again")
	b.ReportAllocs()
	for b.Loop() {
		cs.logRetry("retry policy", 2, st, time.Millisecond)
	}
}

// The records the system tests cannot cheaply provoke (a server refusing
// keepalive pings takes 30 s of real pings) say what happened.
func TestLogTooManyPings(t *testing.T) {
	var buf bytes.Buffer
	ch := &Channel{chanState: &chanState{target: "localhost:50051"}}
	ch.opts.logger = slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
	a := &chanActor{ch: ch, core: &core{}}
	a.logTooManyPings("127.0.0.1:50051", 20*time.Second)
	want := `level=WARN msg="server refused keepalive pings (GOAWAY ENHANCE_YOUR_CALM too_many_pings); keepalive time doubled" target=localhost:50051 address=127.0.0.1:50051 keepalive_time=20s` + "\n"
	if buf.String() != want {
		t.Fatalf("got  %q\nwant %q", buf.String(), want)
	}
}
