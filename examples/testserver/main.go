// Command testserver serves grpc-go's interop TestService with server
// reflection registered, for trying cmd/grpcactor by hand:
//
//	go run ./examples/testserver -addr localhost:50051 &
//	go run ./cmd/grpcactor -plaintext list localhost:50051
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/signal"

	"google.golang.org/grpc"
	"google.golang.org/grpc/interop"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/reflection"
)

func main() {
	addr := flag.String("addr", "localhost:50051", "address to listen on")
	flag.Parse()
	lis, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	srv := newServer()
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, os.Interrupt)
		<-sig
		srv.GracefulStop()
	}()
	fmt.Println("serving grpc.testing.TestService with reflection on", lis.Addr())
	if err := srv.Serve(lis); err != nil {
		log.Fatal(err)
	}
}

// newServer is the interop TestService with reflection (v1 and v1alpha).
func newServer() *grpc.Server {
	srv := grpc.NewServer()
	testgrpc.RegisterTestServiceServer(srv, interop.NewTestServer())
	reflection.Register(srv)
	return srv
}
