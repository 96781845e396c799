package system_test

import (
	"errors"
	"testing"
	"time"

	testgrpc "google.golang.org/grpc/interop/grpc_testing"

	"github.com/grpcactor/grpcactor/channel"
	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/futures"
)

// ReadyFuture's Cancel detaches the future and leaves the channel's state
// machine alone; a future still waiting when the channel closes fails
// CANCELLED saying so; on a READY channel it completes at once.
func TestConnectivityReadyFutureCancelAndClose(t *testing.T) {
	addr := deadPort(t)
	ch := dial(t, "ipv4:"+addr, channel.WithConnectBackoff(20*time.Millisecond, 50*time.Millisecond, time.Second))
	rec := subscribeStates(ch, false)

	cancelled := channel.ReadyFuture(ch)
	waitState(t, ch, channel.TransientFailure, testTimeout)
	if !cancelled.Cancel() {
		t.Fatal("Cancel of a waiting ReadyFuture returned false")
	}
	if !cancelled.Cancelled() {
		t.Error("Cancelled() = false after Cancel")
	}
	if _, err := cancelled.Result(tctx(t)); !errors.Is(err, futures.ErrCancelled) {
		t.Errorf("Result after Cancel: %v, want futures.ErrCancelled", err)
	}
	// The channel goes on retrying by itself: once a server listens on
	// the port it becomes READY with nothing else asking it to connect.
	srv := startServer(t, serverConfig{Addr: addr})
	rec.WaitFor(t, channel.Ready, testTimeout)
	if _, err := cancelled.Result(tctx(t)); !errors.Is(err, futures.ErrCancelled) {
		t.Errorf("the cancelled future changed when the channel became READY: %v", err)
	}

	// A future waiting when the channel closes fails CANCELLED.
	srv.Stop()
	waitState(t, ch, channel.Idle, testTimeout)
	waiting := channel.ReadyFuture(ch)
	ch.Close()
	_, err := waiting.Result(tctx(t))
	st := wantStatus(t, "ReadyFuture waiting at Close", err, codes.Canceled, "")
	if st.Details() != "channel closed before it became READY" {
		t.Errorf("ReadyFuture at Close: message %q", st.Details())
	}
	if _, err := cancelled.Result(tctx(t)); !errors.Is(err, futures.ErrCancelled) {
		t.Errorf("the cancelled future changed at Close: %v", err)
	}
	_, err = channel.ReadyFuture(ch).Result(tctx(t))
	wantStatus(t, "ReadyFuture of a closed channel", err, codes.Canceled, "")
	rec.WaitFor(t, channel.Shutdown, testTimeout) // delivered on the subscription's goroutine, maybe after Close returns
	checkSequence(t, "subscriber", rec.States(), channel.Idle, true)

	srv2 := startServer(t, serverConfig{})
	ready := dial(t, srv2.Addr())
	if _, err := newStubs(ready).empty.Call(tctx(t), &testgrpc.Empty{}); err != nil {
		t.Fatal(err)
	}
	f := channel.ReadyFuture(ready)
	if _, err := f.Result(tctx(t)); err != nil {
		t.Fatalf("ReadyFuture of a READY channel: %v", err)
	}
	if f.Cancel() {
		t.Error("Cancel of a completed ReadyFuture returned true")
	}
}
