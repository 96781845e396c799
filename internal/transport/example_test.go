package transport_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/grpcactor/grpcactor/internal/transport"
	"github.com/grpcactor/grpcactor/internal/wire"
	"google.golang.org/grpc"
	"google.golang.org/grpc/interop"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/protobuf/proto"
)

// One connection actor, one stream: the request is framed by hand here;
// package channel does this for every kind of call.
func Example() {
	lis, _ := net.Listen("tcp", "127.0.0.1:0")
	srv := grpc.NewServer()
	testgrpc.RegisterTestServiceServer(srv, interop.NewTestServer())
	go srv.Serve(lis)
	defer srv.Stop()

	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(slog.DiscardHandler)
	}))
	ready := make(chan struct{})
	conn, _ := transport.Spawn(sys.Root, transport.Config{
		Address: lis.Addr().String(),
		OnEvent: func(ev any) {
			if _, ok := ev.(*transport.EventReady); ok {
				close(ready)
			}
		},
	})
	<-ready

	req, _ := proto.Marshal(&testgrpc.SimpleRequest{ResponseSize: 3})
	s, _ := conn.NewStream(context.Background(), &transport.CallHdr{Method: "/grpc.testing.TestService/UnaryCall"})
	_ = s.Write(append(wire.AppendMsgHeader(nil, false, len(req)), req...), true)
	m, _ := s.RecvMsg()
	var resp testgrpc.SimpleResponse
	_ = proto.Unmarshal(m.Data, &resp)
	fmt.Println("payload:", len(resp.GetPayload().GetBody()), "bytes")

	conn.Close("")
	conn.Wait()
	// Output: payload: 3 bytes
}
