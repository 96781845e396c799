package actorsremote

import (
	"context"
	"io"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/grpcactor/grpcactor/actors"
	"github.com/grpcactor/grpcactor/actors/actorspb"
	"github.com/grpcactor/grpcactor/channel"
	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/credentials"
	"github.com/grpcactor/grpcactor/metadata"
	"github.com/grpcactor/grpcactor/status"
	"google.golang.org/protobuf/types/known/durationpb"
)

// kind is a call's kind.
type kind int

const (
	kindUnary kind = iota
	kindServer
	kindClient
	kindBidi
)

// UnaryMethod makes unary calls by message on a remote channel: the
// counterpart of actors.UnaryMethod. Make one with Unary.
type UnaryMethod[Req, Resp any] struct{ m method[Req, Resp] }

// ServerStreamMethod makes server-streaming calls by message on a remote
// channel. Make one with ServerStream.
type ServerStreamMethod[Req, Resp any] struct{ m method[Req, Resp] }

// ClientStreamMethod makes client-streaming calls by message on a remote
// channel. Make one with ClientStream.
type ClientStreamMethod[Req, Resp any] struct{ m method[Req, Resp] }

// BidiStreamMethod makes bidirectional-streaming calls by message on a
// remote channel. Make one with BidiStream.
type BidiStreamMethod[Req, Resp any] struct{ m method[Req, Resp] }

// Unary returns the unary method's message form on the remote channel ch,
// as actors.Unary does on a local channel: Send's outcome arrives as one
// *actors.Reply[Resp]. Req and Resp are protobuf messages or []byte,
// unless WithCodec is given.
func Unary[Req, Resp any](ch *Channel, method string, opts ...MethodOption[Req, Resp]) *UnaryMethod[Req, Resp] {
	return &UnaryMethod[Req, Resp]{newMethod(ch, method, opts)}
}

// ServerStream returns the server-streaming method's message form on ch:
// *actors.Message[Resp] within the demand, then one *actors.End.
func ServerStream[Req, Resp any](ch *Channel, method string, opts ...MethodOption[Req, Resp]) *ServerStreamMethod[Req, Resp] {
	return &ServerStreamMethod[Req, Resp]{newMethod(ch, method, opts)}
}

// ClientStream returns the client-streaming method's message form on ch:
// *actors.SendCredit, then one *actors.Reply[Resp].
func ClientStream[Req, Resp any](ch *Channel, method string, opts ...MethodOption[Req, Resp]) *ClientStreamMethod[Req, Resp] {
	return &ClientStreamMethod[Req, Resp]{newMethod(ch, method, opts)}
}

// BidiStream returns the bidirectional-streaming method's message form on
// ch: *actors.SendCredit and *actors.Message[Resp], then one *actors.End.
func BidiStream[Req, Resp any](ch *Channel, method string, opts ...MethodOption[Req, Resp]) *BidiStreamMethod[Req, Resp] {
	return &BidiStreamMethod[Req, Resp]{newMethod(ch, method, opts)}
}

// Send starts the call and returns at once, as actors.UnaryMethod.Send.
// opts are the channel's call options (Timeout, Metadata, WaitForReady,
// Compression, MaxSendMessageSize, MaxReceiveMessageSize,
// ContentSubtype and HashKey travel to the gateway; CallCredentials run
// on this node when the gateway asks, see the package doc) with
// actors.ReplyTo.
func (u *UnaryMethod[Req, Resp]) Send(ctx actor.SenderContext, req Req, opts ...channel.CallOption) *actors.Ref {
	return u.m.start(ctx, kindUnary, &req, opts)
}

// Send starts the call and returns at once, as
// actors.ServerStreamMethod.Send; actors.Demand bounds the responses in
// flight end to end (the gateway's stream opens its window only as the
// demand allows).
func (s *ServerStreamMethod[Req, Resp]) Send(ctx actor.SenderContext, req Req, opts ...channel.CallOption) *actors.Ref {
	return s.m.start(ctx, kindServer, &req, opts)
}

// Open starts the call and returns at once, as
// actors.ClientStreamMethod.Open. The send credit is the gateway
// channel's, end to end.
func (c *ClientStreamMethod[Req, Resp]) Open(ctx actor.SenderContext, opts ...channel.CallOption) *actors.Ref {
	return c.m.start(ctx, kindClient, nil, opts)
}

// Open starts the call and returns at once, as
// actors.BidiStreamMethod.Open.
func (b *BidiStreamMethod[Req, Resp]) Open(ctx actor.SenderContext, opts ...channel.CallOption) *actors.Ref {
	return b.m.start(ctx, kindBidi, nil, opts)
}

// method is what the four forms share.
type method[Req, Resp any] struct {
	ch    *Channel
	name  string
	codec codec[Req, Resp]
}

func newMethod[Req, Resp any](ch *Channel, name string, opts []MethodOption[Req, Resp]) method[Req, Resp] {
	return method[Req, Resp]{ch: ch, name: name, codec: newCodec(opts)}
}

// start makes the call's Ref and sends its first message through the
// handle's actor.
func (m *method[Req, Resp]) start(ctx actor.SenderContext, k kind, req *Req, opts []channel.CallOption) *actors.Ref {
	return actors.NewCall(ctx, m.name, opts, func(s actors.CallSetup) actors.Backend {
		c := &call[Req, Resp]{ch: m.ch, id: m.ch.nextID.Add(1), kind: k, setup: s, codec: &m.codec}
		d := channel.CallDetails(m.name, s.Options...)
		if m.codec.err != nil {
			c.fail(m.codec.err)
			return c
		}
		c.creds, c.timeout = d.Credentials, d.Timeout
		var b []byte
		if req != nil {
			var err error
			if b, err = m.codec.marshal(*req); err != nil {
				c.fail(status.Errorf(codes.Internal, "serializing request: %v", err))
				return c
			}
		}
		var timeout *durationpb.Duration
		if d.Timeout != nil {
			timeout = durationpb.New(*d.Timeout)
		}
		var comp string
		if d.Compression != nil {
			comp = d.Compression.Name()
		}
		wfr := d.WaitForReady != nil && *d.WaitForReady
		md := actorspb.FromMD(d.Metadata)
		w := channel.CallWireOptions(s.Options...)
		maxSend, maxRecv := int64Of(w.MaxSendMessageSize), int64Of(w.MaxReceiveMessageSize)
		out := &outbound{call: c, timeout: d.Timeout}
		if k == kindUnary {
			out.msg = &actorspb.UnaryRequest{Id: c.id, Method: m.name, Request: b, Timeout: timeout, Metadata: md, WaitForReady: wfr, Compression: comp,
				MaxSendMessageSize: maxSend, MaxReceiveMessageSize: maxRecv, ContentSubtype: w.ContentSubtype, HashKey: w.HashKey, CallCredentials: c.creds != nil}
		} else {
			out.msg = &actorspb.StreamOpen{Id: c.id, Method: m.name, Kind: actorspb.StreamKind(k), Request: b, Timeout: timeout, Metadata: md, WaitForReady: wfr, Compression: comp, Demand: uint32(max(s.Demand, 0)),
				MaxSendMessageSize: maxSend, MaxReceiveMessageSize: maxRecv, ContentSubtype: w.ContentSubtype, HashKey: w.HashKey, CallCredentials: c.creds != nil}
		}
		m.ch.sys.Root.Send(m.ch.client, out)
		return c
	})
}

// int64Of is *n as an int64, nil for nil.
func int64Of(n *int) *int64 {
	if n == nil {
		return nil
	}
	v := int64(*n)
	return &v
}

// call is one call on a remote channel: its Ref's backend (Send,
// CloseSend, Request, Cancel, from any goroutine) and its side in the
// handle's actor (the rcall methods, run there).
type call[Req, Resp any] struct {
	ch    *Channel
	id    uint64
	kind  kind
	setup actors.CallSetup
	codec *codec[Req, Resp]
	timer *time.Timer // owned by the handle's actor

	creds   credentials.CallCredentials // nil: none
	timeout *time.Duration

	mu         sync.Mutex
	sendCredit int
	ended      bool
	halfClosed bool

	resp Resp // a client-streaming call's response, owned by the handle's actor
}

func (c *call[Req, Resp]) deliver(msg any) { c.ch.sys.Root.Send(c.setup.ReplyTo, msg) }

// Send sends one request of a client- or bidirectional-streaming call if
// it has credit.
func (c *call[Req, Resp]) Send(req any) error {
	if c.kind == kindUnary || c.kind == kindServer {
		return status.New(codes.FailedPrecondition, "Ref.Send on a unary or server-streaming call: its request was given to Send")
	}
	r, ok := req.(Req)
	if !ok {
		var want Req
		return status.Errorf(codes.InvalidArgument, "Ref.Send on %s: a request of type %T, the method takes %T", c.setup.Ref.Method(), req, want)
	}
	c.mu.Lock()
	switch {
	case c.ended:
		c.mu.Unlock()
		return io.EOF
	case c.halfClosed:
		c.mu.Unlock()
		return status.Errorf(codes.FailedPrecondition, "Ref.Send on %s after CloseSend", c.setup.Ref.Method())
	case c.sendCredit <= 0:
		c.mu.Unlock()
		return status.Errorf(codes.ResourceExhausted, "Ref.Send on %s without send credit: wait for *actors.SendCredit", c.setup.Ref.Method())
	}
	c.sendCredit--
	c.mu.Unlock()
	b, err := c.codec.marshal(r)
	if err != nil {
		c.mu.Lock()
		c.sendCredit++
		c.mu.Unlock()
		return status.Errorf(codes.Internal, "serializing request: %v", err)
	}
	c.ch.sys.Root.Send(c.ch.client, &outbound{msg: &actorspb.StreamMessage{Id: c.id, Message: b}})
	return nil
}

// CloseSend half-closes a client- or bidirectional-streaming call.
func (c *call[Req, Resp]) CloseSend() error {
	if c.kind == kindUnary || c.kind == kindServer {
		return nil
	}
	c.mu.Lock()
	skip := c.ended || c.halfClosed
	c.halfClosed = true
	c.mu.Unlock()
	if !skip {
		c.ch.sys.Root.Send(c.ch.client, &outbound{msg: &actorspb.StreamHalfClose{Id: c.id}})
	}
	return nil
}

// Request grants the gateway n more responses.
func (c *call[Req, Resp]) Request(n int) {
	if n <= 0 || c.setup.Demand <= 0 || (c.kind != kindServer && c.kind != kindBidi) {
		return
	}
	c.mu.Lock()
	ended := c.ended
	c.mu.Unlock()
	if !ended {
		c.ch.sys.Root.Send(c.ch.client, &outbound{msg: &actorspb.StreamDemand{Id: c.id, N: uint32(n)}})
	}
}

// Cancel ends the call CANCELLED and cancels it on the gateway.
func (c *call[Req, Resp]) Cancel() {
	c.mu.Lock()
	ended := c.ended
	c.mu.Unlock()
	if !ended {
		c.ch.sys.Root.Send(c.ch.client, &cancelCall{id: c.id})
	}
}

// credentials runs the call's call credentials for the gateway's
// request, on a goroutine of their own (they may block), and sends the
// gateway their metadata or their failure. A call that has ended
// meanwhile sends nothing (the handle drops it).
func (c *call[Req, Resp]) credentials(req *actorspb.CredentialsRequest) {
	if c.creds == nil {
		c.ch.sys.Root.Send(c.ch.client, &outbound{msg: &actorspb.CredentialsMetadata{Id: c.id, Code: int32(codes.Internal), Details: "the gateway asked for call credentials the call does not have"}})
		return
	}
	go func() {
		ctx := context.Background()
		if c.timeout != nil {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, *c.timeout)
			defer cancel()
		}
		r := &actorspb.CredentialsMetadata{Id: c.id}
		md, err := credentials.RequestMetadata(ctx, credentials.RequestInfo{ServiceURL: req.GetServiceUrl(), MethodName: req.GetMethodName()}, c.creds)
		if err != nil {
			st := status.Convert(err)
			r.Code, r.Details = int32(st.Code()), st.Details()
		} else {
			r.Metadata = actorspb.FromMD(md)
		}
		c.ch.sys.Root.Send(c.ch.client, &outbound{msg: r})
	}()
}

func (c *call[Req, Resp]) callID() uint64         { return c.id }
func (c *call[Req, Resp]) setTimer(t *time.Timer) { c.timer = t }

func (c *call[Req, Resp]) unaryResponse(r *actorspb.UnaryResponse) {
	var st *status.Error
	if r.GetCode() != 0 {
		st = status.New(codes.Code(r.GetCode()), r.GetDetails())
	} else if v, err := c.codec.unmarshal(r.GetResponse()); err != nil {
		st = status.Errorf(codes.Internal, "deserializing response: %v", err)
	} else {
		c.resp = v
	}
	c.end(st, actorspb.ToMD(r.GetInitialMetadata()), actorspb.ToMD(r.GetTrailingMetadata()))
}

func (c *call[Req, Resp]) message(b []byte) *status.Error {
	v, err := c.codec.unmarshal(b)
	if err != nil {
		return status.Errorf(codes.Internal, "deserializing response: %v", err)
	}
	if c.kind == kindClient {
		c.resp = v
		return nil
	}
	c.deliver(&actors.Message[Resp]{Ref: c.setup.Ref, Value: v})
	return nil
}

func (c *call[Req, Resp]) credit(n int) {
	c.mu.Lock()
	c.sendCredit += n
	c.mu.Unlock()
	c.deliver(&actors.SendCredit{Ref: c.setup.Ref, N: n})
}

// fail ends a call that was never sent.
func (c *call[Req, Resp]) fail(st *status.Error) { c.end(st, nil, nil) }

func (c *call[Req, Resp]) end(st *status.Error, header, trailer metadata.MD) {
	c.mu.Lock()
	if c.ended {
		c.mu.Unlock()
		return
	}
	c.ended = true
	c.mu.Unlock()
	if c.timer != nil {
		c.timer.Stop()
	}
	code, details, err := codes.OK, "", error(nil)
	var resp Resp
	if st != nil {
		code, details = st.Code(), st.Details()
		err = st.WithMetadata(header, trailer)
	} else {
		resp = c.resp
	}
	c.setup.Done()
	switch c.kind {
	case kindUnary, kindClient:
		c.deliver(&actors.Reply[Resp]{Ref: c.setup.Ref, Value: resp, Err: err, Code: code, Details: details, Header: header, Trailer: trailer})
	default:
		c.deliver(&actors.End{Ref: c.setup.Ref, Err: err, Code: code, Details: details, Header: header, Trailer: trailer})
	}
}
