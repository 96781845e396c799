package actorsremote

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/grpcactor/grpcactor/actors/actorspb"
	"github.com/grpcactor/grpcactor/channel"
	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/compression"
	"github.com/grpcactor/grpcactor/credentials"
	"github.com/grpcactor/grpcactor/metadata"
	"github.com/grpcactor/grpcactor/status"
	"google.golang.org/protobuf/types/known/durationpb"
)

// GatewayOption configures Serve.
type GatewayOption interface {
	applyGateway(*gatewayConfig) error
}

type gatewayConfig struct {
	allow allowList
}

type gatewayOptionFunc func(*gatewayConfig) error

func (f gatewayOptionFunc) applyGateway(c *gatewayConfig) error { return f(c) }

// Allow lets callers call methods: exact full names
// ("/package.Service/Method") or every method of a service
// ("/package.Service/*"). Several Allow options add up. Default: nothing
// is allowed; every call is refused PERMISSION_DENIED naming its method,
// so a gateway is never an open proxy.
func Allow(methods ...string) GatewayOption {
	return gatewayOptionFunc(func(c *gatewayConfig) error { return c.allow.add(methods) })
}

// Serve exposes ch to other nodes: it spawns, in system, the gateway
// actor named name, which makes the calls that callers on other nodes
// (Remote) send it on ch and sends them back what happens. system must
// have protoactor's remote layer started for other nodes to reach it; the
// gateway is then reached at (the node's address, name). Calls carry
// their deadline; a caller that stops or whose node is lost (protoactor
// delivers Terminated when the remote endpoint goes) has its calls
// cancelled. Stopping the returned PID cancels every call in progress;
// the channel is the caller's to close. The calls run as ch's started
// calls (channel's Start): no goroutine per call.
func Serve(system *actor.ActorSystem, ch *channel.Channel, name string, opts ...GatewayOption) (*actor.PID, error) {
	g, err := NewGateway(ch, name, opts...)
	if err != nil {
		return nil, err
	}
	pid, err := system.Root.SpawnNamed(actor.PropsFromProducer(func() actor.Actor { return g }), name)
	if err != nil {
		return nil, fmt.Errorf("actorsremote.Serve(%q): %w", name, err)
	}
	return pid, nil
}

// NewGateway returns the gateway logic that Serve runs, for an actor of
// another kind to run: an actor that is a gateway by identity rather than
// by name, such as package actorscluster's channel grain, passes every
// message it receives (the wire protocol's, *actor.Terminated,
// *actor.Stopping) to the gateway's Receive. name is the gateway's name in
// the statuses it sends (a stopped gateway's calls end UNAVAILABLE naming
// it). ch is the caller's to close, after the actor has stopped. A
// Gateway serves one actor and is not safe for use by several.
func NewGateway(ch *channel.Channel, name string, opts ...GatewayOption) (*Gateway, error) {
	var cfg gatewayConfig
	for _, o := range opts {
		if o != nil {
			if err := o.applyGateway(&cfg); err != nil {
				return nil, err
			}
		}
	}
	return &Gateway{
		ch:      ch,
		name:    name,
		allow:   cfg.allow,
		calls:   map[callKey]gwCall{},
		clients: map[string]*caller{},
		unary:   map[string]*channel.UnaryUnaryCallable[[]byte, []byte]{},
	}, nil
}

// callKey tells a gateway's calls apart: the caller's PID and its id.
type callKey struct {
	client string // address/id
	id     uint64
}

func keyOf(pid *actor.PID, id uint64) callKey {
	return callKey{client: pid.Address + "/" + pid.Id, id: id}
}

// gwCall is a call in progress on the gateway: a unary call's *Call, a
// streaming call's *StreamCall.
type gwCall interface{ Cancel() bool }

// caller is a watched caller (a Remote handle's actor on some node).
type caller struct {
	pid *actor.PID
	// gone: the caller stopped or its node was lost; its calls' callbacks
	// send it nothing more (a send to a lost node's address would make
	// protoactor try to reconnect to it for seconds).
	gone atomic.Bool
}

// send sends msg to the caller unless it is gone or the gateway's actor
// system has stopped.
func (c *caller) send(sys *actor.ActorSystem, msg any) {
	if !c.gone.Load() && !sys.IsStopped() {
		sys.Root.Send(c.pid, msg)
	}
}

// gwEnded tells the gateway that a call has ended (from the call's end
// callback).
type gwEnded struct{ key callKey }

// Gateway is the gateway actor's logic (make one with NewGateway): it
// owns the table of calls in progress and the set of watched callers.
type Gateway struct {
	ch      *channel.Channel
	name    string
	allow   allowList
	calls   map[callKey]gwCall
	clients map[string]*caller // watched callers, by address/id
	unary   map[string]*channel.UnaryUnaryCallable[[]byte, []byte]
	// stopping: the gateway is stopping and cancels its calls, which end
	// UNAVAILABLE for their callers (read by the calls' end callbacks).
	stopping atomic.Bool
}

// endStatus is a gateway call's status for its caller: the call's, or
// UNAVAILABLE for a call cancelled because the gateway stopped.
func (g *Gateway) endStatus(err error) (int32, string) {
	s := status.Convert(err)
	if s.Code() == codes.Canceled && g.stopping.Load() {
		return int32(codes.Unavailable), fmt.Sprintf("gateway %q stopped during the call", g.name)
	}
	return int32(s.Code()), s.Details()
}

// Receive handles one message of the gateway's actor: the wire protocol's
// (package actorspb), *actor.Terminated for a watched caller and
// *actor.Stopping (every call in progress is cancelled and ends
// UNAVAILABLE for its caller). Other messages are ignored.
func (g *Gateway) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actorspb.UnaryRequest:
		g.startUnary(ctx, m)
	case *actorspb.StreamOpen:
		g.startStream(ctx, m)
	case *actorspb.StreamMessage:
		if sc := g.stream(ctx, m.GetId()); sc != nil {
			_ = sc.Send(m.GetMessage()) // credit was granted by this call: refused only after its end
		}
	case *actorspb.StreamDemand:
		if p := g.pending(ctx, m.GetId()); p != nil {
			p.demand += int(m.GetN())
		} else if sc := g.stream(ctx, m.GetId()); sc != nil {
			sc.Request(int(m.GetN()))
		}
	case *actorspb.StreamHalfClose:
		if p := g.pending(ctx, m.GetId()); p != nil {
			p.halfClosed = true
		} else if sc := g.stream(ctx, m.GetId()); sc != nil {
			_ = sc.CloseSend()
		}
	case *actorspb.CredentialsMetadata:
		if p := g.pending(ctx, m.GetId()); p != nil {
			g.credentials(p, m)
		}
	case *actorspb.CallCancel:
		if s := ctx.Sender(); s != nil {
			if c := g.calls[keyOf(s, m.GetId())]; c != nil {
				c.Cancel()
			}
		}
	case *gwEnded:
		delete(g.calls, m.key)
	case *actor.Terminated:
		g.clientLost(ctx, m.GetWho())
	case *actor.Stopping:
		g.stopping.Store(true)
		for _, c := range g.calls {
			c.Cancel()
		}
	}
}

// stream returns the streaming call of the sender's id, if in progress.
func (g *Gateway) stream(ctx actor.Context, id uint64) *channel.StreamCall[[]byte, []byte] {
	s := ctx.Sender()
	if s == nil {
		return nil
	}
	sc, _ := g.calls[keyOf(s, id)].(*channel.StreamCall[[]byte, []byte])
	return sc
}

// pending returns the sender's call of id if it waits for its call
// credentials' metadata.
func (g *Gateway) pending(ctx actor.Context, id uint64) *pendingCall {
	s := ctx.Sender()
	if s == nil {
		return nil
	}
	p, _ := g.calls[keyOf(s, id)].(*pendingCall)
	return p
}

// pendingCall is a call opened with call_credentials, waiting for the
// caller's CredentialsMetadata; the demand granted and the half-close
// sent meanwhile wait with it.
type pendingCall struct {
	g          *Gateway
	key        callKey
	received   time.Time
	timeout    *time.Duration
	start      func(extra []channel.CallOption) gwCall
	fail       func(code int32, details string)
	demand     int
	halfClosed bool
}

// Cancel drops the call: cancelled by its caller, its caller lost, or
// the gateway stopping (the caller is then told UNAVAILABLE).
func (p *pendingCall) Cancel() bool {
	delete(p.g.calls, p.key)
	if p.g.stopping.Load() {
		p.fail(int32(codes.Unavailable), fmt.Sprintf("gateway %q stopped during the call", p.g.name))
	}
	return true
}

// credentials starts a pending call with its call credentials' metadata,
// or ends it with their failure. Its timeout counts from its arrival.
func (g *Gateway) credentials(p *pendingCall, m *actorspb.CredentialsMetadata) {
	if m.GetCode() != 0 {
		delete(g.calls, p.key)
		p.fail(m.GetCode(), m.GetDetails())
		return
	}
	var extra []channel.CallOption
	if md := actorspb.ToMD(m.GetMetadata()); len(md) > 0 {
		if err := metadataFromCredentials(md); err != nil {
			delete(g.calls, p.key)
			p.fail(int32(codes.Internal), fmt.Sprintf("gateway %q: call credentials' metadata: %v", g.name, err))
			return
		}
		extra = append(extra, channel.Metadata(md))
	}
	if p.timeout != nil {
		extra = append(extra, channel.Timeout(*p.timeout-time.Since(p.received)))
	}
	c := p.start(extra)
	g.calls[p.key] = c
	if sc, ok := c.(*channel.StreamCall[[]byte, []byte]); ok {
		if p.demand > 0 {
			sc.Request(p.demand)
		}
		if p.halfClosed {
			_ = sc.CloseSend()
		}
	}
}

// metadataFromCredentials checks the metadata a caller's call
// credentials made: no reserved key.
func metadataFromCredentials(md metadata.MD) error {
	for k := range md {
		if strings.HasPrefix(k, ":") || strings.HasPrefix(k, "grpc-") {
			return fmt.Errorf("key %q is reserved for gRPC itself", k)
		}
	}
	return nil
}

// watch returns the caller, watched.
func (g *Gateway) watch(ctx actor.Context, client *actor.PID) *caller {
	k := client.Address + "/" + client.Id
	c := g.clients[k]
	if c == nil {
		c = &caller{pid: client}
		g.clients[k] = c
		ctx.Watch(client)
	}
	return c
}

// clientLost cancels the calls of a caller that stopped or whose node was
// lost.
func (g *Gateway) clientLost(ctx actor.Context, who *actor.PID) {
	k := who.Address + "/" + who.Id
	c := g.clients[k]
	if c == nil {
		return
	}
	c.gone.Store(true)
	delete(g.clients, k)
	// The caller watched the gateway: forget it, or the gateway's own stop
	// would make protoactor notify the lost node, reconnecting to it for
	// seconds.
	if p, ok := ctx.ActorSystem().ProcessRegistry.GetLocal(ctx.Self().GetId()); ok {
		p.SendSystemMessage(ctx.Self(), &actor.Unwatch{Watcher: who})
	}
	n := 0
	for key, c := range g.calls {
		if key.client == k {
			c.Cancel()
			n++
		}
	}
	if n > 0 {
		ctx.Logger().Info("actorsremote: caller lost, its calls cancelled", slog.String("gateway", g.name), slog.String("caller", k), slog.Int("calls", n))
	}
}

// callFields are the fields of an UnaryRequest or StreamOpen that make
// the call's options.
type callFields struct {
	timeout          *durationpb.Duration
	md               []*actorspb.MetadataEntry
	wfr              bool
	comp             string
	maxSend, maxRecv *int64
	subtype          string
	hashKey          []byte // nil: none
}

// admit checks what every call needs: a sender to answer, a method the
// allow-list allows, an id not in use, valid options. It returns the
// call's options, or the status that refuses it (nil, nil: nobody to
// answer).
func (g *Gateway) admit(ctx actor.Context, id uint64, method string, f callFields) ([]channel.CallOption, *status.Error) {
	s := ctx.Sender()
	if s == nil {
		return nil, nil
	}
	if !g.allow.allows(method) {
		return nil, status.Errorf(codes.PermissionDenied, "method %s is not allowed by gateway %q", method, g.name)
	}
	if _, dup := g.calls[keyOf(s, id)]; dup {
		return nil, status.Errorf(codes.Internal, "gateway %q: call id %d of %s is already in progress", g.name, id, s)
	}
	var opts []channel.CallOption
	if f.timeout != nil {
		if err := f.timeout.CheckValid(); err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "gateway %q: timeout: %v", g.name, err)
		}
		opts = append(opts, channel.Timeout(f.timeout.AsDuration()))
	}
	if m := actorspb.ToMD(f.md); m != nil {
		opts = append(opts, channel.Metadata(m))
	}
	if f.wfr {
		opts = append(opts, channel.WaitForReady(true))
	}
	if f.comp != "" {
		c, ok := compression.Get(f.comp)
		if !ok {
			return nil, status.Errorf(codes.InvalidArgument, "gateway %q: unknown compressor %q", g.name, f.comp)
		}
		opts = append(opts, channel.Compression(c))
	}
	for _, l := range []struct {
		name string
		n    *int64
		opt  func(int) channel.CallOption
	}{{"max_send_message_size", f.maxSend, channel.MaxSendMessageSize}, {"max_receive_message_size", f.maxRecv, channel.MaxReceiveMessageSize}} {
		if l.n == nil {
			continue
		}
		if *l.n < -1 || *l.n > math.MaxInt32 {
			return nil, status.Errorf(codes.InvalidArgument, "gateway %q: %s %d: want -1 (no limit) to %d", g.name, l.name, *l.n, math.MaxInt32)
		}
		opts = append(opts, l.opt(int(*l.n)))
	}
	if f.subtype != "" {
		if !validSubtype(f.subtype) {
			return nil, status.Errorf(codes.InvalidArgument, "gateway %q: content subtype %q is not a token", g.name, f.subtype)
		}
		opts = append(opts, channel.ContentSubtype(f.subtype))
	}
	if f.hashKey != nil {
		opts = append(opts, channel.HashKey(f.hashKey))
	}
	return opts, nil
}

// validSubtype reports whether s is a token (RFC 9110), as a content
// subtype must be.
func validSubtype(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

func (g *Gateway) startUnary(ctx actor.Context, m *actorspb.UnaryRequest) {
	client, id := ctx.Sender(), m.GetId()
	f := callFields{m.GetTimeout(), m.GetMetadata(), m.GetWaitForReady(), m.GetCompression(), m.MaxSendMessageSize, m.MaxReceiveMessageSize, m.GetContentSubtype(), m.HashKey}
	opts, st := g.admit(ctx, id, m.GetMethod(), f)
	if client == nil {
		return
	}
	if st == nil && m.GetCallCredentials() {
		st = g.checkCredentials()
	}
	if st != nil {
		ctx.Send(client, &actorspb.UnaryResponse{Id: id, Code: int32(st.Code()), Details: st.Details()})
		return
	}
	cl := g.watch(ctx, client)
	u := g.unary[m.GetMethod()]
	if u == nil {
		u = channel.UnaryUnary[[]byte, []byte](g.ch, m.GetMethod())
		g.unary[m.GetMethod()] = u
	}
	sys, self, key := ctx.ActorSystem(), ctx.Self(), keyOf(client, id)
	start := func(extra []channel.CallOption) gwCall {
		return u.Start(context.Background(), m.GetRequest(), func(resp []byte, call *channel.Call, err error) {
			r := &actorspb.UnaryResponse{Id: id, InitialMetadata: actorspb.FromMD(call.InitialMetadata()), TrailingMetadata: actorspb.FromMD(call.TrailingMetadata())}
			if err != nil {
				r.Code, r.Details = g.endStatus(err)
			} else {
				r.Response = resp
			}
			cl.send(sys, r)
			sys.Root.Send(self, &gwEnded{key})
		}, append(opts, extra...)...)
	}
	if m.GetCallCredentials() {
		g.askCredentials(ctx, key, m.GetMethod(), f, start, func(code int32, details string) {
			cl.send(sys, &actorspb.UnaryResponse{Id: id, Code: code, Details: details})
		})
		return
	}
	g.calls[key] = start(nil)
}

// checkCredentials refuses call credentials that the gateway's channel
// would not send.
func (g *Gateway) checkCredentials() *status.Error {
	if !g.ch.SendsCallCredentials() {
		return status.Errorf(codes.Unauthenticated, "gateway %q: call credentials need a channel opened with Secure (TLS or local credentials); the gateway's channel to %s is plaintext, so they were not asked for", g.name, g.ch.Target())
	}
	return nil
}

// askCredentials makes the call pending and asks its caller for its call
// credentials' metadata.
func (g *Gateway) askCredentials(ctx actor.Context, key callKey, method string, f callFields, start func([]channel.CallOption) gwCall, fail func(int32, string)) {
	p := &pendingCall{g: g, key: key, received: time.Now(), start: start, fail: fail}
	if f.timeout != nil {
		d := f.timeout.AsDuration()
		p.timeout = &d
	}
	g.calls[key] = p
	info := credentials.NewRequestInfo(g.ch.Authority(), method)
	ctx.Send(ctx.Sender(), &actorspb.CredentialsRequest{Id: key.id, ServiceUrl: info.ServiceURL, MethodName: info.MethodName})
}

func (g *Gateway) startStream(ctx actor.Context, m *actorspb.StreamOpen) {
	client, id := ctx.Sender(), m.GetId()
	f := callFields{m.GetTimeout(), m.GetMetadata(), m.GetWaitForReady(), m.GetCompression(), m.MaxSendMessageSize, m.MaxReceiveMessageSize, m.GetContentSubtype(), m.HashKey}
	opts, st := g.admit(ctx, id, m.GetMethod(), f)
	if client == nil {
		return
	}
	if st == nil && (m.GetKind() < actorspb.StreamKind_SERVER_STREAM || m.GetKind() > actorspb.StreamKind_BIDI_STREAM) {
		st = status.Errorf(codes.InvalidArgument, "gateway %q: StreamOpen for %s of unknown kind %v", g.name, m.GetMethod(), m.GetKind())
	}
	if st == nil && m.GetCallCredentials() {
		st = g.checkCredentials()
	}
	if st != nil {
		ctx.Send(client, &actorspb.StreamEnd{Id: id, Code: int32(st.Code()), Details: st.Details()})
		return
	}
	cl := g.watch(ctx, client)
	sys, self, key := ctx.ActorSystem(), ctx.Self(), keyOf(client, id)
	h := channel.StreamHandler[[]byte]{
		Demand:    int(m.GetDemand()),
		OnMessage: func(b []byte) { cl.send(sys, &actorspb.StreamMessage{Id: id, Message: b}) },
		OnEnd: func(call *channel.Call, err error) {
			e := &actorspb.StreamEnd{Id: id, InitialMetadata: actorspb.FromMD(call.InitialMetadata()), TrailingMetadata: actorspb.FromMD(call.TrailingMetadata())}
			if err != nil {
				e.Code, e.Details = g.endStatus(err)
			}
			cl.send(sys, e)
			sys.Root.Send(self, &gwEnded{key})
		},
	}
	if m.GetKind() != actorspb.StreamKind_SERVER_STREAM {
		h.OnSendCredit = func(n int) { cl.send(sys, &actorspb.StreamCredit{Id: id, N: uint32(n)}) }
	}
	start := func(extra []channel.CallOption) gwCall {
		bg, o := context.Background(), append(opts, extra...)
		switch m.GetKind() {
		case actorspb.StreamKind_SERVER_STREAM:
			return channel.UnaryStream[[]byte, []byte](g.ch, m.GetMethod()).Start(bg, m.GetRequest(), h, o...)
		case actorspb.StreamKind_CLIENT_STREAM:
			return channel.StreamUnary[[]byte, []byte](g.ch, m.GetMethod()).Start(bg, h, o...)
		default:
			return channel.StreamStream[[]byte, []byte](g.ch, m.GetMethod()).Start(bg, h, o...)
		}
	}
	if m.GetCallCredentials() {
		g.askCredentials(ctx, key, m.GetMethod(), f, start, func(code int32, details string) {
			cl.send(sys, &actorspb.StreamEnd{Id: id, Code: code, Details: details})
		})
		return
	}
	g.calls[key] = start(nil)
}
