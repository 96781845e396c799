package channel

import (
	"context"
	"testing"

	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/interceptors"
	"github.com/grpcactor/grpcactor/status"
)

// asyncProceed is a StartInterceptor that hands each call's Handoff to
// the test, which lets it proceed.
type asyncProceed chan *Handoff

func (a asyncProceed) InterceptStart(_ context.Context, h *Handoff) { a <- h }

// InterceptUnaryUnary lets a blocking call through (Intercept wants an
// interceptor of at least one blocking kind; this test makes none).
func (asyncProceed) InterceptUnaryUnary(ctx context.Context, d *interceptors.ClientCallDetails, req any, next interceptors.UnaryInvoker) (any, interceptors.Call, error) {
	return next(ctx, d, req)
}

// TestStartCancelDuringLaunch cancels a started, intercepted call while
// its plain call is being launched (after the last interceptor let it
// proceed, before the launch returns). The cancel must not be lost: before,
// Cancel returned false there and the call went on as if never cancelled.
// The call waits for a server that never answers (wait-for-ready on an
// address nothing listens on), so only the cancel can end it.
func TestStartCancelDuringLaunch(t *testing.T) {
	for _, viaFuture := range []bool{false, true} {
		name := map[bool]string{false: "Call.Cancel", true: "Future.Cancel"}[viaFuture]
		t.Run(name, func(t *testing.T) {
			base, err := Insecure("127.0.0.1:1")
			if err != nil {
				t.Fatal(err)
			}
			defer base.Close()
			handoffs := make(asyncProceed, 1)
			ch, err := Intercept(base, handoffs)
			if err != nil {
				t.Fatal(err)
			}
			u := UnaryUnary[[]byte, []byte](ch, "/grpc.testing.TestService/UnaryCall")
			ended := make(chan error, 1)
			var call *Call
			var fut *CallFuture[[]byte]
			if viaFuture {
				fut = u.Future(context.Background(), []byte("q"), WaitForReady(true))
				call = fut.Call()
			} else {
				call = u.Start(context.Background(), []byte("q"), func(_ []byte, _ *Call, err error) { ended <- err }, WaitForReady(true))
			}
			h := <-handoffs
			chain := call.m.(*startChain[[]byte, []byte])
			launching, release := make(chan struct{}), make(chan struct{})
			launch := chain.launch
			chain.launch = func(d *interceptors.ClientCallDetails, opts []CallOption) (*Call, streamSide[[]byte]) {
				close(launching)
				<-release
				return launch(d, opts)
			}
			go h.Proceed(h.Details(), nil)
			<-launching
			var cancelled bool
			if viaFuture {
				cancelled = fut.Cancel()
			} else {
				cancelled = call.Cancel()
			}
			close(release)
			if !cancelled {
				t.Fatal("Cancel during the launch returned false")
			}
			if viaFuture {
				if _, err := fut.Result(context.Background()); !fut.Cancelled() {
					t.Fatalf("future after Cancel: %v, want cancelled", err)
				}
			} else if err := <-ended; status.Code(err) != codes.Canceled {
				t.Fatalf("call ended with %v, want CANCELLED", err)
			}
			<-call.Done()
			if c := call.Code(); c != codes.Canceled {
				t.Fatalf("call code %v, want CANCELLED", c)
			}
		})
	}
}
