package actorsremote_test

import (
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/grpcactor/grpcactor/actors"
	"github.com/grpcactor/grpcactor/actors/actorsremote"
	"github.com/grpcactor/grpcactor/channel"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
)

// An actor on one node calls a gRPC server through a channel that lives
// on another node. gatewayNode and callerNode are actor systems with
// protoactor's remote layer started, each on its own port
// (remote.NewRemote(system, remote.Configure("127.0.0.1", 0)).Start()).
func Example() {
	gatewayNode, callerNode := pool.shared[0].sys, pool.shared[1].sys
	addr, stop := exampleServer() // a gRPC server with grpc.testing.TestService

	// The gateway node holds the channel and serves it.
	ch, _ := channel.Insecure(addr)
	defer ch.Close()
	gw, _ := actorsremote.Serve(gatewayNode, ch, "example", actorsremote.Allow("/grpc.testing.TestService/*"))
	defer func() { _ = gatewayNode.Root.StopFuture(gw).Wait() }()

	// The caller node reaches it by address and name. With a local
	// channel, this line would be actors.Unary[...](ch, ...).
	remoteCh := actorsremote.Remote(callerNode, gatewayNode.Address(), "example")
	defer remoteCh.Close()
	unary := actorsremote.Unary[*testgrpc.SimpleRequest, *testgrpc.SimpleResponse](remoteCh, "/grpc.testing.TestService/UnaryCall")

	done := make(chan struct{})
	pid := callerNode.Root.Spawn(actor.PropsFromFunc(func(ctx actor.Context) {
		switch m := ctx.Message().(type) {
		case *actor.Started:
			unary.Send(ctx, &testgrpc.SimpleRequest{ResponseSize: 3}, channel.Timeout(10*time.Second))
		case *actors.Reply[*testgrpc.SimpleResponse]:
			fmt.Println("reply:", m.Code, len(m.Value.GetPayload().GetBody()), "bytes")
			close(done)
		}
	}))
	<-done
	_ = callerNode.Root.StopFuture(pid).Wait()
	stop()
	// Output:
	// reply: OK 3 bytes
}
