package channel

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/status"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	grpcmd "google.golang.org/grpc/metadata"
	grpcstatus "google.golang.org/grpc/status"
)

// pushbackServer fails every UnaryCall UNAVAILABLE and asks the client to
// retry in an hour (grpc-retry-pushback-ms).
type pushbackServer struct {
	testgrpc.UnimplementedTestServiceServer
	calls chan struct{}
}

func (s *pushbackServer) UnaryCall(ctx context.Context, _ *testgrpc.SimpleRequest) (*testgrpc.SimpleResponse, error) {
	_ = grpc.SetTrailer(ctx, grpcmd.Pairs("grpc-retry-pushback-ms", "3600000"))
	s.calls <- struct{}{}
	return nil, grpcstatus.Error(grpccodes.Unavailable, "come back in an hour")
}

// A started call cancelled while it waits for its next attempt under the
// retry policy stops the backoff timer: nothing of the call is left to run
// an hour later.
func TestStartCancelStopsRetryBackoff(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	ps := &pushbackServer{calls: make(chan struct{}, 4)}
	testgrpc.RegisterTestServiceServer(srv, ps)
	go srv.Serve(lis)
	defer srv.Stop()

	ch, err := Insecure(lis.Addr().String(), WithServiceConfig(`{"methodConfig": [{
		"name": [{"service": "grpc.testing.TestService", "method": "UnaryCall"}],
		"retryPolicy": {"maxAttempts": 3, "initialBackoff": "1s", "maxBackoff": "1s",
			"backoffMultiplier": 1, "retryableStatusCodes": ["UNAVAILABLE"]}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	u := UnaryUnary[*testgrpc.SimpleRequest, *testgrpc.SimpleResponse](ch, "/grpc.testing.TestService/UnaryCall")
	ended := make(chan error, 1)
	c := u.Start(context.Background(), &testgrpc.SimpleRequest{}, func(_ *testgrpc.SimpleResponse, _ *Call, err error) { ended <- err })
	<-ps.calls
	cs := c.state()
	// The pushback arrives with the status; poll for the armed timer
	// (the deadline only bounds a failure).
	var backoff *time.Timer
	for deadline := time.Now().Add(20 * time.Second); backoff == nil; {
		if time.Now().After(deadline) {
			t.Fatal("the retry backoff timer was never armed")
		}
		cs.mu.Lock()
		backoff = cs.ext.backoff
		cs.mu.Unlock()
		if backoff == nil {
			time.Sleep(time.Millisecond)
		}
	}
	if !c.Cancel() {
		t.Fatal("Cancel: the call had already ended")
	}
	if err := <-ended; status.Code(err) != codes.Canceled {
		t.Fatalf("call ended with %v, want CANCELLED", err)
	}
	if backoff.Stop() {
		t.Fatal("the retry backoff timer was still armed after Cancel")
	}
	cs.mu.Lock()
	left := cs.ext.backoff
	cs.mu.Unlock()
	if left != nil {
		t.Fatal("the call still holds its backoff timer")
	}
	select {
	case <-ps.calls:
		t.Fatal("a second attempt reached the server")
	default:
	}
}
