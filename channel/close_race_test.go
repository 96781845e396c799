package channel_test

import (
	"context"
	"sync"
	"testing"

	"github.com/grpcactor/grpcactor/channel"
	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/status"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
)

// Close while goroutines make unary calls and open streams they leave
// open: every call either succeeds or ends CANCELLED, and every stream
// opened is cancelled by Close (none slips past its registry; a missed
// one would wait in Recv until the test's timeout).
func TestCloseRacesCalls(t *testing.T) {
	addr, stop := startServer()
	defer stop()
	for range 5 {
		ch, err := channel.Insecure(addr)
		if err != nil {
			t.Fatal(err)
		}
		unary := channel.UnaryUnary[*testgrpc.SimpleRequest, *testgrpc.SimpleResponse](ch, "/grpc.testing.TestService/UnaryCall")
		duplex := channel.StreamStream[*testgrpc.StreamingOutputCallRequest, *testgrpc.StreamingOutputCallResponse](ch, "/grpc.testing.TestService/FullDuplexCall")
		ctx := context.Background()
		const workers = 16
		var wg, ready sync.WaitGroup
		ready.Add(workers)
		for range workers {
			wg.Go(func() {
				var open []*channel.BidiStream[*testgrpc.StreamingOutputCallRequest, *testgrpc.StreamingOutputCallResponse]
				signalled := false
				for i := 0; ; i++ {
					if i%4 == 0 {
						bs, err := duplex.Open(ctx)
						if err != nil {
							wantCanceled(t, "stream opened as Close ran", err)
							break
						}
						open = append(open, bs)
					}
					if _, err := unary.Call(ctx, &testgrpc.SimpleRequest{}); err != nil {
						wantCanceled(t, "unary call as Close ran", err)
						break
					}
					if !signalled {
						signalled = true
						ready.Done() // a call made, a stream open
					}
				}
				if !signalled {
					ready.Done()
				}
				for _, bs := range open {
					_, err := bs.Recv()
					wantCanceled(t, "stream open at Close", err)
				}
			})
		}
		ready.Wait()
		ch.Close()
		wg.Wait()
	}
}

func wantCanceled(t *testing.T, what string, err error) {
	t.Helper()
	if st, ok := status.FromError(err); !ok || st.Code() != codes.Canceled {
		t.Errorf("%s: %v, want CANCELLED", what, err)
	}
}
