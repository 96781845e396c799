package actorsremote_test

import (
	"testing"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/grpcactor/grpcactor/actors"
	"github.com/grpcactor/grpcactor/actors/actorspb"
	"github.com/grpcactor/grpcactor/actors/actorsremote"
	"github.com/grpcactor/grpcactor/channel"
	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/metadata"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
)

// The per-call message size limits and content subtype travel to the
// gateway, whose channel applies them: a response over the call's
// receive limit and a request over its send limit end RESOURCE_EXHAUSTED
// (unary and server-streaming), and the content subtype reaches the
// server in the content-type.
func TestCallWireOptionsTravel(t *testing.T) {
	s := newSetup(t)
	unary := actorsremote.Unary[*simpleReq, *simpleResp](s.remoteCh, unaryCall)
	stream := actorsremote.ServerStream[*outReq, *outResp](s.remoteCh, streamingOutputCall)
	big := &simpleReq{Payload: &testgrpc.Payload{Body: make([]byte, 100)}}
	for _, c := range []struct {
		name string
		send func(ctx actor.Context)
		want codes.Code
		with string
	}{
		{"response over MaxReceiveMessageSize", func(ctx actor.Context) {
			unary.Send(ctx, &simpleReq{ResponseSize: 100}, channel.MaxReceiveMessageSize(50))
		}, codes.ResourceExhausted, "larger than max"},
		{"request over MaxSendMessageSize", func(ctx actor.Context) {
			unary.Send(ctx, big, channel.MaxSendMessageSize(50))
		}, codes.ResourceExhausted, "larger than max"},
		{"both limits lifted", func(ctx actor.Context) {
			unary.Send(ctx, big, channel.MaxSendMessageSize(-1), channel.MaxReceiveMessageSize(-1))
		}, codes.OK, ""},
		{"stream message over MaxReceiveMessageSize", func(ctx actor.Context) {
			stream.Send(ctx, bulk(3, 100), channel.MaxReceiveMessageSize(50))
		}, codes.ResourceExhausted, "larger than max"},
		{"content subtype", func(ctx actor.Context) {
			unary.Send(ctx, &simpleReq{}, channel.ContentSubtype("proto"), channel.Metadata(metadata.Pairs("x-echo-content-type", "1")))
		}, codes.OK, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, out := replyCatcher(t, s.cl, c.send)
			var code codes.Code
			var details string
			var header metadata.MD
			switch m := (<-out).(type) {
			case *actors.Reply[*simpleResp]:
				code, details, header = m.Code, m.Details, m.Header
			case *actors.End:
				code, details = m.Code, m.Details
			}
			wantCode(t, c.name, code, c.want, details, c.with)
			if c.name == "content subtype" {
				if got := header.Get("x-content-type"); len(got) != 1 || got[0] != "application/grpc+proto" {
					t.Errorf("the server saw content-type %q, want application/grpc+proto", got)
				}
			}
		})
	}
}

// A gateway refuses malformed per-call limits and subtypes
// INVALID_ARGUMENT naming them.
func TestGatewayRefusesBadWireOptions(t *testing.T) {
	s := newSetup(t)
	req := mustMarshal(&simpleReq{})
	tooSmall, tooBig := int64(-2), int64(1)<<40
	for _, c := range []struct {
		msg  *actorspb.UnaryRequest
		with string
	}{
		{&actorspb.UnaryRequest{Id: 1, Method: unaryCall, Request: req, MaxSendMessageSize: &tooSmall}, "max_send_message_size -2"},
		{&actorspb.UnaryRequest{Id: 2, Method: unaryCall, Request: req, MaxReceiveMessageSize: &tooBig}, "max_receive_message_size 1099511627776"},
		{&actorspb.UnaryRequest{Id: 3, Method: unaryCall, Request: req, ContentSubtype: "a b"}, `content subtype "a b"`},
	} {
		_, out := replyCatcher(t, s.cl, func(ctx actor.Context) { ctx.Request(s.gateway, c.msg) })
		m := (<-out).(*actorspb.UnaryResponse)
		wantCode(t, c.with, codes.Code(m.GetCode()), codes.InvalidArgument, m.GetDetails(), c.with)
	}
}
