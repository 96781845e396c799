package actors_test

import (
	"testing"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/grpcactor/grpcactor/actors"
	"github.com/grpcactor/grpcactor/channel"
	"github.com/grpcactor/grpcactor/codes"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
)

// A call that ends before Send returns (here: on a closed channel) is
// reported to another actor (ReplyTo) only once its Ref is complete:
// Reply.Ref.Call() and End.Ref.Call() are never nil.
func TestReplyToRefCallNeverNil(t *testing.T) {
	_, addr := startTestServer(t)
	ch := newChannel(t, addr)
	ch.Close()
	sys := quietSystem()
	const n = 200
	got := make(chan *channel.Call, 2*n)
	pid := sys.Root.Spawn(actor.PropsFromFunc(func(ctx actor.Context) {
		switch m := ctx.Message().(type) {
		case *actors.Reply[*simpleResp]:
			got <- m.Ref.Call()
		case *actors.End:
			got <- m.Ref.Call()
		}
	}))
	defer func() { _ = sys.Root.StopFuture(pid).Wait() }()
	unary := actors.Unary[*simpleReq, *simpleResp](ch, unaryCall)
	stream := actors.ServerStream[*testgrpc.StreamingOutputCallRequest, *testgrpc.StreamingOutputCallResponse](ch, streamingOutputCall)
	for range n {
		unary.Send(sys.Root, &simpleReq{}, actors.ReplyTo(pid))
		stream.Send(sys.Root, &testgrpc.StreamingOutputCallRequest{}, actors.ReplyTo(pid))
	}
	for range 2 * n {
		c := <-got
		if c == nil {
			t.Fatal("a Reply or End reached the ReplyTo actor with Ref.Call() nil")
		}
		if c.Code() == codes.OK {
			t.Fatal("a call on a closed channel ended OK")
		}
	}
}
