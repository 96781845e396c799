package actorscluster_test

import (
	"fmt"
	"net"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/grpcactor/grpcactor/actors"
	"github.com/grpcactor/grpcactor/actors/actorscluster"
	"github.com/grpcactor/grpcactor/actors/actorsremote"
	"github.com/grpcactor/grpcactor/channel"
	"google.golang.org/grpc"
	"google.golang.org/grpc/interop"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
)

// An actor on each member of a three-member cluster calls a gRPC server
// through the one channel grain of the server's target. The members were
// started with the kind of NewKind (cluster.WithKinds), allowing the
// target and the TestService's methods.
func Example() {
	addr, stop := exampleServer()
	defer stop()
	for i, m := range pool.shared.members {
		c := m.c // the member's *cluster.Cluster
		ch := actorscluster.Channel(c, addr)
		unary := actorsremote.Unary[*testgrpc.SimpleRequest, *testgrpc.SimpleResponse](ch, "/grpc.testing.TestService/UnaryCall")
		done := make(chan struct{})
		pid := c.ActorSystem.Root.Spawn(actor.PropsFromFunc(func(ctx actor.Context) {
			switch r := ctx.Message().(type) {
			case *actor.Started:
				unary.Send(ctx, &testgrpc.SimpleRequest{ResponseSize: int32(i + 1)}, channel.Timeout(time.Minute))
			case *actors.Reply[*testgrpc.SimpleResponse]:
				fmt.Printf("member %d: %v, %d bytes\n", i, r.Code, len(r.Value.GetPayload().GetBody()))
				close(done)
			}
		}))
		<-done
		_ = c.ActorSystem.Root.StopFuture(pid).Wait()
		ch.Close()
	}
	// Output:
	// member 0: OK, 1 bytes
	// member 1: OK, 2 bytes
	// member 2: OK, 3 bytes
}

// exampleServer runs grpc-go's interop TestService on loopback.
func exampleServer() (addr string, stop func()) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	s := grpc.NewServer()
	testgrpc.RegisterTestServiceServer(s, interop.NewTestServer())
	go s.Serve(lis)
	return lis.Addr().String(), s.Stop
}
