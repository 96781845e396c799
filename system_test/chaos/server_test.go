package chaos_test

import (
	"context"
	"errors"
	"net"
	"syscall"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/grpcactor/grpcactor/system_test/chaos"
)

// The child server answers, holds calls on request, dies with SIGKILL (its
// held calls fail UNAVAILABLE, its port refuses) and comes back on the same
// port. grpc-go's client is the client here: the package under test is the
// helper, not grpcactor.
func TestServerKillAndRestart(t *testing.T) {
	s := chaos.StartServer(t)
	addr := s.Addr()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := testgrpc.NewTestServiceClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	if _, err := client.EmptyCall(ctx, &testgrpc.Empty{}); err != nil {
		t.Fatalf("EmptyCall: %v", err)
	}

	const n = 3
	errs := make(chan error, n)
	hold := metadata.AppendToOutgoingContext(ctx, chaos.HoldKey, "1")
	for range n {
		go func() {
			_, err := client.EmptyCall(hold, &testgrpc.Empty{})
			errs <- err
		}()
	}
	s.WaitHeld(t, n, bound)
	if s.Held() != n {
		t.Errorf("Held = %d, want %d", s.Held(), n)
	}
	s.Kill()
	for range n {
		if err := <-errs; status.Code(err) != codes.Unavailable {
			t.Errorf("held call after Kill: %v, want UNAVAILABLE", err)
		}
	}
	if c, err := net.Dial("tcp", addr); !errors.Is(err, syscall.ECONNREFUSED) {
		if c != nil {
			c.Close()
		}
		t.Errorf("dial after Kill: %v, want ECONNREFUSED", err)
	}
	if s.Running() {
		t.Error("Running after Kill")
	}

	s.Start()
	if s.Addr() != addr || s.Starts() != 2 {
		t.Errorf("after Start: Addr %s, Starts %d; want %s, 2", s.Addr(), s.Starts(), addr)
	}
	if _, err := client.EmptyCall(ctx, &testgrpc.Empty{}, grpc.WaitForReady(true)); err != nil {
		t.Fatalf("EmptyCall after restart: %v", err)
	}
}
