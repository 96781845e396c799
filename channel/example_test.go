package channel_test

import (
	"context"
	"fmt"
	"net"

	"github.com/grpcactor/grpcactor/channel"
	"github.com/grpcactor/grpcactor/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/interop"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
)

// startServer runs grpc-go's interop TestService on a free loopback port.
func startServer() (addr string, stop func()) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	s := grpc.NewServer()
	testgrpc.RegisterTestServiceServer(s, interop.NewTestServer())
	go s.Serve(lis)
	return lis.Addr().String(), s.Stop
}

func Example() {
	addr, stop := startServer()
	defer stop()

	ch, err := channel.Insecure(addr)
	if err != nil {
		panic(err)
	}
	defer ch.Close()

	unary := channel.UnaryUnary[*testgrpc.SimpleRequest, *testgrpc.SimpleResponse](ch, "/grpc.testing.TestService/UnaryCall")
	resp, err := unary.Call(context.Background(), &testgrpc.SimpleRequest{ResponseSize: 5})
	if err != nil {
		panic(err)
	}
	fmt.Println("response payload:", len(resp.GetPayload().GetBody()), "bytes")

	_, err = unary.Call(context.Background(), &testgrpc.SimpleRequest{
		ResponseStatus: &testgrpc.EchoStatus{Code: 5, Message: "no such thing"},
	})
	st, _ := status.FromError(err)
	fmt.Println(st.Code(), st.Details())
	// Output:
	// response payload: 5 bytes
	// NOT_FOUND no such thing
}
