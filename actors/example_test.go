package actors_test

import (
	"fmt"
	"net"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/grpcactor/grpcactor/actors"
	"github.com/grpcactor/grpcactor/channel"
	"github.com/grpcactor/grpcactor/internal/actorsys"
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

// quietSystem returns an actor system that logs nothing (the runtime's
// own quiet system, one per call).
func quietSystem() *actor.ActorSystem { return actorsys.NewQuiet() }

// An actor makes a unary call and a server-streaming call by message: the
// reply, the streamed messages (two at a time, as it grants demand) and
// the end arrive in its mailbox.
func Example() {
	addr, stop := startServer()
	defer stop()
	ch, err := channel.Insecure(addr)
	if err != nil {
		panic(err)
	}
	defer ch.Close()

	unary := actors.Unary[*testgrpc.SimpleRequest, *testgrpc.SimpleResponse](ch, "/grpc.testing.TestService/UnaryCall")
	stream := actors.ServerStream[*testgrpc.StreamingOutputCallRequest, *testgrpc.StreamingOutputCallResponse](ch, "/grpc.testing.TestService/StreamingOutputCall")

	sys := quietSystem()
	done := make(chan struct{})
	pid := sys.Root.Spawn(actor.PropsFromFunc(func(ctx actor.Context) {
		switch m := ctx.Message().(type) {
		case *actor.Started:
			unary.Send(ctx, &testgrpc.SimpleRequest{ResponseSize: 5}, channel.Timeout(10*time.Second))
		case *actors.Reply[*testgrpc.SimpleResponse]:
			fmt.Println("reply:", len(m.Value.GetPayload().GetBody()), "bytes,", m.Code)
			req := &testgrpc.StreamingOutputCallRequest{}
			for _, n := range []int32{1, 2, 3, 4} {
				req.ResponseParameters = append(req.ResponseParameters, &testgrpc.ResponseParameters{Size: n})
			}
			stream.Send(ctx, req, actors.Demand(2))
		case *actors.Message[*testgrpc.StreamingOutputCallResponse]:
			n := len(m.Value.GetPayload().GetBody())
			fmt.Println("message:", n, "bytes")
			if n%2 == 0 {
				m.Ref.Request(2) // two handled: two more
			}
		case *actors.End:
			fmt.Println("end:", m.Code, m.Err)
			close(done)
		}
	}))
	<-done
	_ = sys.Root.StopFuture(pid).Wait()
	// Output:
	// reply: 5 bytes, OK
	// message: 1 bytes
	// message: 2 bytes
	// message: 3 bytes
	// message: 4 bytes
	// end: OK <nil>
}
