package actors_test

import (
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/grpcactor/grpcactor/actors/actorspb"
	"github.com/grpcactor/grpcactor/channel"
	"github.com/grpcactor/grpcactor/codes"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
)

// The untyped protocol's per-call message size limits apply: a response
// over max_receive_message_size and a request over max_send_message_size
// end RESOURCE_EXHAUSTED; -1 lifts them. call_credentials, which only a
// gateway can ask for, is refused INVALID_ARGUMENT.
func TestChannelPIDMessageSizeLimits(t *testing.T) {
	_, addr := startTestServer(t)
	sys := quietSystem()
	ch, err := channel.Insecure(addr, channel.WithActorSystem(sys))
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	small, _ := proto.Marshal(&simpleReq{ResponseSize: 7})
	big, _ := proto.Marshal(&simpleReq{Payload: &testgrpc.Payload{Body: make([]byte, 100)}})
	limit, none, five := int64(50), int64(-1), int64(5)
	reqs := []*actorspb.UnaryRequest{
		{Id: 1, Method: unaryCall, Request: small, MaxReceiveMessageSize: &five},
		{Id: 2, Method: unaryCall, Request: big, MaxSendMessageSize: &limit},
		{Id: 3, Method: unaryCall, Request: big, MaxSendMessageSize: &none, MaxReceiveMessageSize: &none},
		{Id: 4, Method: unaryCall, Request: small, CallCredentials: true},
	}
	want := map[uint64]codes.Code{1: codes.ResourceExhausted, 2: codes.ResourceExhausted, 3: codes.OK, 4: codes.InvalidArgument}
	got := make(chan *actorspb.UnaryResponse, len(reqs))
	pid := sys.Root.Spawn(actor.PropsFromFunc(func(ctx actor.Context) {
		switch m := ctx.Message().(type) {
		case *actor.Started:
			for _, r := range reqs {
				r.Timeout = durationpb.New(time.Minute)
				ctx.Request(ch.PID(), r)
			}
		case *actorspb.UnaryResponse:
			got <- m
		}
	}))
	defer func() { _ = sys.Root.StopFuture(pid).Wait() }()
	for range reqs {
		r := <-got
		if c := codes.Code(r.GetCode()); c != want[r.GetId()] {
			t.Errorf("request %d ended %v %q, want %v", r.GetId(), c, r.GetDetails(), want[r.GetId()])
		}
	}
}
