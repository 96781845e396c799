package channel_test

// A unary call's request buffer goes back to bufpool only when no
// attempt of the call can still hand it to the transport.

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/grpcactor/grpcactor/channel"
	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/credentials"
	"github.com/grpcactor/grpcactor/metadata"
	"github.com/grpcactor/grpcactor/status"
)

// recycleProbe is a stats handler that runs onOut when the armed call's
// attempt n reports its request: for a started unary call, right after
// the attempt's stream was opened with the request and before the call
// sees that stream.
type recycleProbe struct {
	armed atomic.Bool
	n     int
	onOut func()
}

func (p *recycleProbe) AttemptStarted(_ context.Context, info channel.AttemptInfo) channel.AttemptStats {
	if !p.armed.Load() || info.Attempt != p.n {
		return nil
	}
	return probeStats{p.onOut}
}

type probeStats struct{ onOut func() }

func (s probeStats) OutMessage(int)  { s.onOut() }
func (probeStats) InMessage(int)     {}
func (probeStats) End(*status.Error) {}

// TestStartNeverSentRetryKeepsRequest: a started unary call whose first
// attempt never left the client (its connection closed between the pick
// and the stream's opening) is retried transparently without counting
// (NeverSent). While the retry opens its stream with the request, the
// call's stream is still the first attempt's, drained (it never queued
// anything): the request must not be recyclable then, or a Cancel (or
// the deadline) in that window gives the buffer back to bufpool while
// the new stream still holds it for the transport to write. The window
// is entered deterministically: the call credentials close the first
// connection before its stream opens, and the stats handler's report of
// the second attempt's request runs inside the window; there the test
// checks what recycle would see, and cancels the call.
func TestStartNeverSentRetryKeepsRequest(t *testing.T) {
	srv := startTRServer(t, func(conn, nth int) trAction { return trAnswer })
	ctx := codecCtx(t)
	var inWindow atomic.Bool
	var call atomic.Pointer[channel.Call]
	probe := &recycleProbe{n: 2}
	probe.onOut = func() {
		inWindow.Store(true)
		c := call.Load()
		if single, drained := channel.RecycleState(c); single && drained {
			t.Errorf("while the retry's stream holds the request, recycle would give it back to bufpool (single attempt, drained stream)")
		}
		c.Cancel()
	}
	ch, err := channel.Secure(srv.addr(), credentials.Local(credentials.LocalTCP), channel.WithStatsHandler(probe))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ch.Close() })
	uu := channel.UnaryUnary[[]byte, []byte](ch, trMethod)

	// Connection 0 up, and a started call of one attempt still counts
	// as one (its request is recycled).
	done := make(chan error, 1)
	first := uu.Start(ctx, []byte("first"), func(_ []byte, _ *channel.Call, err error) { done <- err })
	if err := <-done; err != nil {
		t.Fatalf("first call: %v", err)
	}
	if single, _ := channel.RecycleState(first); !single {
		t.Errorf("a started call of one attempt does not count as one: its request would never be recycled")
	}

	started := make(chan struct{})
	closeConn0 := credentials.MetadataPlugin("close-conn-0", func(ctx context.Context, _ credentials.RequestInfo) (metadata.MD, error) {
		<-started
		// The call has picked connection 0: close it, and wait until the
		// channel has seen it go (the connection stores its CLOSED state
		// before it tells the channel): the attempt's stream is refused
		// as it opens, never sent.
		srv.mu.Lock()
		srv.conns[0].Close()
		srv.mu.Unlock()
		if _, err := ch.WaitForStateChange(ctx, channel.Ready); err != nil {
			return nil, err
		}
		return nil, nil
	})
	probe.armed.Store(true)
	c := uu.Start(ctx, []byte("retried"), func(_ []byte, _ *channel.Call, err error) { done <- err }, channel.CallCredentials(closeConn0))
	call.Store(c)
	close(started)
	err = <-done
	if !inWindow.Load() {
		t.Fatalf("call ended (%v) without a second attempt opening", err)
	}
	if code := status.Code(err); code != codes.Canceled {
		t.Fatalf("call = %v (code %v); want CANCELLED", err, code)
	}
}

// TestHedgeRecycleCountsAttempts: a hedged call counts as one attempt,
// its request recyclable, only when its race opened one attempt; with a
// zero hedging delay both attempts open at once, and whichever wins, the
// other may still be picking or opening with the request: never
// recyclable, in the blocking and the started form.
func TestHedgeRecycleCountsAttempts(t *testing.T) {
	const both = `{"methodConfig":[{"name":[{}],"hedgingPolicy":{"maxAttempts":2,"hedgingDelay":"0s"}}]}`
	for _, tt := range []struct {
		name   string
		config string
		single bool
	}{
		{"OneAttempt", hedgeOnly, true},
		{"TwoAttempts", both, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := startTRServer(t, func(conn, nth int) trAction { return trAnswer })
			uu := trDial(t, srv, channel.WithServiceConfig(tt.config))
			ctx := codecCtx(t)
			_, c, err := uu.WithCall(ctx, []byte("hedged"))
			if err != nil {
				t.Fatalf("WithCall: %v", err)
			}
			if single, _ := channel.RecycleState(c); single != tt.single {
				t.Errorf("WithCall: single attempt = %v, want %v", single, tt.single)
			}
			done := make(chan error, 1)
			c = uu.Start(ctx, []byte("hedged"), func(_ []byte, _ *channel.Call, err error) { done <- err })
			if err := <-done; err != nil {
				t.Fatalf("Start: %v", err)
			}
			if single, _ := channel.RecycleState(c); single != tt.single {
				t.Errorf("Start: single attempt = %v, want %v", single, tt.single)
			}
		})
	}
}
