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
	addr := cxReservePort(t)
	ch := cxDial(t, "ipv4:"+addr, channel.WithConnectBackoff(20*time.Millisecond, 50*time.Millisecond, time.Second))
	rec := cxNewRecorder()
	ch.Subscribe(rec.Add, false)

	cancelled := channel.ReadyFuture(ch)
	cxWaitState(t, ch, channel.TransientFailure, cxBound)
	if !cancelled.Cancel() {
		t.Fatal("Cancel of a waiting ReadyFuture returned false")
	}
	if !cancelled.Cancelled() {
		t.Error("Cancelled() = false after Cancel")
	}
	if _, err := cancelled.Result(cxCtx(t, cxBound)); !errors.Is(err, futures.ErrCancelled) {
		t.Errorf("Result after Cancel: %v, want futures.ErrCancelled", err)
	}
	// The channel goes on retrying by itself: once a server listens on
	// the port it becomes READY with nothing else asking it to connect.
	srv := cxStartServer(t, cxServerConfig{Addr: addr})
	rec.WaitFor(t, channel.Ready, cxBound)
	if _, err := cancelled.Result(cxCtx(t, cxBound)); !errors.Is(err, futures.ErrCancelled) {
		t.Errorf("the cancelled future changed when the channel became READY: %v", err)
	}

	// A future waiting when the channel closes fails CANCELLED.
	srv.Stop()
	cxWaitState(t, ch, channel.Idle, cxBound)
	waiting := channel.ReadyFuture(ch)
	ch.Close()
	_, err := waiting.Result(cxCtx(t, cxBound))
	st := cxWantCode(t, "ReadyFuture waiting at Close", err, codes.Canceled)
	if st.Details() != "channel closed before it became READY" {
		t.Errorf("ReadyFuture at Close: message %q", st.Details())
	}
	if _, err := cancelled.Result(cxCtx(t, cxBound)); !errors.Is(err, futures.ErrCancelled) {
		t.Errorf("the cancelled future changed at Close: %v", err)
	}
	_, err = channel.ReadyFuture(ch).Result(cxCtx(t, cxBound))
	cxWantCode(t, "ReadyFuture of a closed channel", err, codes.Canceled)
	rec.WaitFor(t, channel.Shutdown, cxBound) // delivered on the subscription's goroutine, maybe after Close returns
	cxCheckSequence(t, "subscriber", rec.States(), channel.Idle, true)

	srv2 := cxStartServer(t, cxServerConfig{})
	ready := cxDial(t, srv2.Addr())
	if _, err := cxEmptyCall(ready).Call(cxCtx(t, cxBound), &testgrpc.Empty{}); err != nil {
		t.Fatal(err)
	}
	f := channel.ReadyFuture(ready)
	if _, err := f.Result(cxCtx(t, cxBound)); err != nil {
		t.Fatalf("ReadyFuture of a READY channel: %v", err)
	}
	if f.Cancel() {
		t.Error("Cancel of a completed ReadyFuture returned true")
	}
}
