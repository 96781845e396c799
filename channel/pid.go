package channel

import (
	"context"
	"fmt"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/grpcactor/grpcactor/actors/actorspb"
	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/compression"
	"github.com/grpcactor/grpcactor/status"
)

// PID returns the PID of the channel's actor. Besides the runtime's own
// messages it accepts, from any actor, an *actorspb.UnaryRequest sent
// with ctx.Request (a unary call given as the method's name and the
// serialized request) and answers the sender with an
// *actorspb.UnaryResponse (the serialized response, the status code and
// details, the initial and trailing metadata) when the call ends. The
// call runs as one started with Start: no goroutine waits for it. A
// message it does not understand, sent with a sender, is answered with an
// UnaryResponse of code UNIMPLEMENTED that names the message's type.
// Every handle Intercept derives from a channel shares its actor; calls
// made through the PID do not pass through interceptors.
func (ch *Channel) PID() *actor.PID { return ch.pid }

// CallOptionBase, embedded in a struct, makes it a CallOption that the
// channel ignores: other packages (package actors' Demand and ReplyTo)
// define their own options this way, to be given in the same list as the
// channel's.
type CallOptionBase struct{}

func (CallOptionBase) applyCall(*callOptions) {}

// unaryRequest starts the call an UnaryRequest asks for; the response
// goes to the request's sender when the call ends.
func (a *chanActor) unaryRequest(ctx actor.Context, m *actorspb.UnaryRequest) {
	sender := ctx.Sender()
	if sender == nil {
		return // nobody to answer
	}
	sys := ctx.ActorSystem()
	id := m.GetId()
	reply := func(r *actorspb.UnaryResponse) {
		r.Id = id
		sys.Root.Send(sender, r)
	}
	if m.GetCallCredentials() {
		reply(&actorspb.UnaryResponse{Code: int32(codes.InvalidArgument), Details: "UnaryRequest.call_credentials: only a gateway (actors/actorsremote) asks for call credentials; give them to the channel"})
		return
	}
	var opts []CallOption
	if t := m.GetTimeout(); t != nil {
		if err := t.CheckValid(); err != nil {
			reply(&actorspb.UnaryResponse{Code: int32(codes.InvalidArgument), Details: "UnaryRequest.timeout: " + err.Error()})
			return
		}
		opts = append(opts, Timeout(t.AsDuration()))
	}
	if md := actorspb.ToMD(m.GetMetadata()); md != nil {
		opts = append(opts, Metadata(md))
	}
	if m.GetWaitForReady() {
		opts = append(opts, WaitForReady(true))
	}
	if name := m.GetCompression(); name != "" {
		c, ok := compression.Get(name)
		if !ok {
			reply(&actorspb.UnaryResponse{Code: int32(codes.InvalidArgument), Details: "UnaryRequest.compression: unknown compressor " + name})
			return
		}
		opts = append(opts, Compression(c))
	}
	if n := m.MaxSendMessageSize; n != nil {
		opts = append(opts, MaxSendMessageSize(int(max(*n, -1))))
	}
	if n := m.MaxReceiveMessageSize; n != nil {
		opts = append(opts, MaxReceiveMessageSize(int(max(*n, -1))))
	}
	if st := m.GetContentSubtype(); st != "" {
		opts = append(opts, ContentSubtype(st))
	}
	if m.HashKey != nil {
		opts = append(opts, HashKey(m.HashKey))
	}
	base := &Channel{chanState: a.ch.chanState}
	UnaryUnary[[]byte, []byte](base, m.GetMethod()).Start(context.Background(), m.GetRequest(), func(resp []byte, call *Call, err error) {
		r := &actorspb.UnaryResponse{}
		if err != nil {
			st := status.Convert(err)
			r.Code, r.Details = int32(st.Code()), st.Details()
		} else {
			r.Response = resp
		}
		r.InitialMetadata = actorspb.FromMD(call.InitialMetadata())
		r.TrailingMetadata = actorspb.FromMD(call.TrailingMetadata())
		reply(r)
	}, opts...)
}

// unknownMessage answers a message the channel's actor does not
// understand, if it has a sender.
func unknownMessage(ctx actor.Context) {
	if s := ctx.Sender(); s != nil {
		ctx.Respond(&actorspb.UnaryResponse{
			Code:    int32(codes.Unimplemented),
			Details: fmt.Sprintf("the channel's actor does not understand a message of type %T; send *actorspb.UnaryRequest", ctx.Message()),
		})
	}
}
