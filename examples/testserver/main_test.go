package main

import (
	"context"
	"net"
	"testing"

	"github.com/grpcactor/grpcactor/channel"
	"github.com/grpcactor/grpcactor/internal/leakcheck"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
)

func TestMain(m *testing.M) { leakcheck.VerifyTestMain(m) }

func TestServes(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := newServer()
	done := make(chan struct{})
	go func() { defer close(done); srv.Serve(lis) }()
	defer func() { srv.Stop(); <-done }()
	ch, err := channel.Insecure(lis.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	empty := channel.UnaryUnary[*testgrpc.Empty, *testgrpc.Empty](ch, "/grpc.testing.TestService/EmptyCall")
	if _, err := empty.Call(context.Background(), &testgrpc.Empty{}); err != nil {
		t.Fatal(err)
	}
}
