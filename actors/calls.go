package actors

import (
	"context"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/grpcactor/grpcactor/channel"
)

// UnaryMethod makes unary calls by message. Make one with Unary.
type UnaryMethod[Req, Resp any] struct {
	c      *channel.UnaryUnaryCallable[Req, Resp]
	method string
}

// Unary returns the unary method's message form (method is the full name,
// "/package.Service/Method"; opts as for channel.UnaryUnary).
func Unary[Req, Resp any](ch *channel.Channel, method string, opts ...channel.MethodOption[Req, Resp]) *UnaryMethod[Req, Resp] {
	return &UnaryMethod[Req, Resp]{channel.UnaryUnary(ch, method, opts...), method}
}

// Send starts the call and returns at once; its outcome arrives as one
// *Reply[Resp] in the mailbox of ctx's actor (or ReplyTo's). opts mixes
// the channel's call options with ReplyTo.
func (m *UnaryMethod[Req, Resp]) Send(ctx actor.SenderContext, req Req, opts ...channel.CallOption) *Ref {
	o := parseOptions(ctx, opts)
	u := &unaryCall[Resp]{ref: Ref{method: m.method, to: o.dest}}
	o.track(&u.ref)
	call := m.c.Start(context.Background(), req, u.done, o.opts...)
	u.ref.set(unaryImpl{call})
	return &u.ref
}

// unaryCall is a unary call made by message: its Ref (which knows where
// the Reply goes) and its done callback, in one allocation.
type unaryCall[Resp any] struct {
	ref Ref
}

// done delivers the call's Reply.
func (u *unaryCall[Resp]) done(resp Resp, call *channel.Call, err error) {
	u.ref.untrack()
	code, details := statusOf(err)
	u.ref.deliver(&Reply[Resp]{Ref: &u.ref, Value: resp, Err: err, Code: code, Details: details, Header: call.InitialMetadata(), Trailer: call.TrailingMetadata()})
}

// ServerStreamMethod makes server-streaming calls by message. Make one
// with ServerStream.
type ServerStreamMethod[Req, Resp any] struct {
	c      *channel.UnaryStreamCallable[Req, Resp]
	method string
}

// ServerStream returns the server-streaming method's message form.
func ServerStream[Req, Resp any](ch *channel.Channel, method string, opts ...channel.MethodOption[Req, Resp]) *ServerStreamMethod[Req, Resp] {
	return &ServerStreamMethod[Req, Resp]{channel.UnaryStream(ch, method, opts...), method}
}

// Send starts the call and returns at once: each response arrives as a
// *Message[Resp] (within the demand: Demand, Ref.Request), then one *End.
func (m *ServerStreamMethod[Req, Resp]) Send(ctx actor.SenderContext, req Req, opts ...channel.CallOption) *Ref {
	o := parseOptions(ctx, opts)
	ref := &Ref{method: m.method, to: o.dest}
	o.track(ref)
	sc := m.c.Start(context.Background(), req, streamHandler[Resp](o.demand, ref), o.opts...)
	ref.set(streamImpl[Req, Resp]{sc})
	return ref
}

// streamHandler delivers a streaming call's events as messages.
func streamHandler[Resp any](demand int, ref *Ref) channel.StreamHandler[Resp] {
	return channel.StreamHandler[Resp]{
		Demand:       demand,
		OnMessage:    func(v Resp) { ref.deliver(&Message[Resp]{Ref: ref, Value: v}) },
		OnSendCredit: func(n int) { ref.deliver(&SendCredit{Ref: ref, N: n}) },
		OnEnd: func(call *channel.Call, err error) {
			ref.untrack()
			code, details := statusOf(err)
			ref.deliver(&End{Ref: ref, Err: err, Code: code, Details: details, Header: call.InitialMetadata(), Trailer: call.TrailingMetadata()})
		},
	}
}

// ClientStreamMethod makes client-streaming calls by message. Make one
// with ClientStream.
type ClientStreamMethod[Req, Resp any] struct {
	c      *channel.StreamUnaryCallable[Req, Resp]
	method string
}

// ClientStream returns the client-streaming method's message form.
func ClientStream[Req, Resp any](ch *channel.Channel, method string, opts ...channel.MethodOption[Req, Resp]) *ClientStreamMethod[Req, Resp] {
	return &ClientStreamMethod[Req, Resp]{channel.StreamUnary(ch, method, opts...), method}
}

// Open starts the call and returns at once. The actor sends requests with
// Ref.Send as *SendCredit allows and ends them with Ref.CloseSend; the
// outcome arrives as one *Reply[Resp].
func (m *ClientStreamMethod[Req, Resp]) Open(ctx actor.SenderContext, opts ...channel.CallOption) *Ref {
	o := parseOptions(ctx, opts)
	ref := &Ref{method: m.method, to: o.dest}
	o.track(ref)
	var resp Resp // owned by the call's callbacks, which run one at a time
	sc := m.c.Start(context.Background(), channel.StreamHandler[Resp]{
		OnMessage:    func(v Resp) { resp = v },
		OnSendCredit: func(n int) { ref.deliver(&SendCredit{Ref: ref, N: n}) },
		OnEnd: func(call *channel.Call, err error) {
			ref.untrack()
			code, details := statusOf(err)
			ref.deliver(&Reply[Resp]{Ref: ref, Value: resp, Err: err, Code: code, Details: details, Header: call.InitialMetadata(), Trailer: call.TrailingMetadata()})
		},
	}, o.opts...)
	ref.set(streamImpl[Req, Resp]{sc})
	return ref
}

// BidiStreamMethod makes bidirectional-streaming calls by message. Make
// one with BidiStream.
type BidiStreamMethod[Req, Resp any] struct {
	c      *channel.StreamStreamCallable[Req, Resp]
	method string
}

// BidiStream returns the bidirectional-streaming method's message form.
func BidiStream[Req, Resp any](ch *channel.Channel, method string, opts ...channel.MethodOption[Req, Resp]) *BidiStreamMethod[Req, Resp] {
	return &BidiStreamMethod[Req, Resp]{channel.StreamStream(ch, method, opts...), method}
}

// Open starts the call and returns at once. The actor sends requests with
// Ref.Send as *SendCredit allows and ends them with Ref.CloseSend; each
// response arrives as a *Message[Resp] (within the demand), then one *End.
func (m *BidiStreamMethod[Req, Resp]) Open(ctx actor.SenderContext, opts ...channel.CallOption) *Ref {
	o := parseOptions(ctx, opts)
	ref := &Ref{method: m.method, to: o.dest}
	o.track(ref)
	sc := m.c.Start(context.Background(), streamHandler[Resp](o.demand, ref), o.opts...)
	ref.set(streamImpl[Req, Resp]{sc})
	return ref
}
