package channel

import (
	"context"
	"io"
	"iter"
	"sync"
	"time"

	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/futures"
	"github.com/grpcactor/grpcactor/interceptors"
	"github.com/grpcactor/grpcactor/internal/transport"
	"github.com/grpcactor/grpcactor/metadata"
	"github.com/grpcactor/grpcactor/status"
)

// Call is an RPC in progress or finished: grpcio's Call and RpcContext.
// The accessors that need the end of the call wait for it. It implements
// interceptors.Call.
type Call struct {
	m callMode
}

// InitialMetadata waits for the response headers and returns their
// metadata (empty for a trailers-only response).
func (c *Call) InitialMetadata() metadata.MD { return c.m.InitialMetadata() }

// TrailingMetadata waits for the end of the call and returns the trailers.
func (c *Call) TrailingMetadata() metadata.MD { return c.m.TrailingMetadata() }

// Code waits for the end of the call and returns its status code.
func (c *Call) Code() codes.Code { return c.m.Code() }

// Details waits for the end of the call and returns its status message.
func (c *Call) Details() string { return c.m.Details() }

// Err waits for the end of the call and returns its status error, nil for
// OK.
func (c *Call) Err() error { return c.m.err() }

// Cancel cancels the call: it ends CANCELLED and the server is told
// (RST_STREAM). It returns false if the call had already ended, or ended
// on its own (with its own status) as the cancel came.
func (c *Call) Cancel() bool { return c.m.Cancel() }

// cancelWith cancels the call with st (Cancel's status on an intercepted
// call).
func (c *Call) cancelWith(st *status.Error) { c.m.cancelWith(st) }

// IsActive reports whether the call is still in progress.
func (c *Call) IsActive() bool { return c.m.IsActive() }

// Done is closed when the call has ended.
func (c *Call) Done() <-chan struct{} { return c.m.Done() }

// TimeRemaining returns the time left before the call's deadline, and
// false if it has none.
func (c *Call) TimeRemaining() (time.Duration, bool) { return c.m.TimeRemaining() }

// Method returns the call's full method name.
func (c *Call) Method() string { return c.m.method() }

// state is the call's own call state, nil for a call an interceptor chain
// returned.
func (c *Call) state() *callState {
	if p, ok := c.m.(plainCall); ok {
		return p.cs
	}
	return nil
}

// callMode is what a Call is, in one of its two modes: the RPC's own call
// (plainCall) or, on a channel from Intercept, whatever the interceptor
// chain returned (interceptedCall).
type callMode interface {
	interceptors.Call
	err() error
	cancelWith(st *status.Error)
	method() string
	peer() string
}

// plainCall is the Call of an RPC this package made: its call state.
type plainCall struct{ cs *callState }

func newCall(cs *callState) Call { return Call{plainCall{cs}} }

func (p plainCall) InitialMetadata() metadata.MD { return p.cs.headerMD() }

func (p plainCall) TrailingMetadata() metadata.MD {
	<-p.cs.doneCh()
	return p.cs.trailer
}

func (p plainCall) Code() codes.Code {
	<-p.cs.doneCh()
	if p.cs.final == nil {
		return codes.OK
	}
	return p.cs.final.Code()
}

func (p plainCall) Details() string {
	<-p.cs.doneCh()
	if p.cs.final == nil {
		return ""
	}
	return p.cs.final.Details()
}

func (p plainCall) err() error {
	<-p.cs.doneCh()
	return p.cs.finalErr()
}

func (p plainCall) Cancel() bool {
	if p.cs.isDone() {
		return false
	}
	p.cs.cancel(status.New(codes.Canceled, "call cancelled by the client"))
	// The call may have ended on its own between the check and the
	// cancel (finish keeps the first end, and returns only once the
	// call's final status is set): true only if it ended CANCELLED.
	return p.cs.final.Code() == codes.Canceled
}

func (p plainCall) cancelWith(st *status.Error)          { p.cs.cancel(st) }
func (p plainCall) IsActive() bool                       { return !p.cs.isDone() }
func (p plainCall) Done() <-chan struct{}                { return p.cs.doneCh() }
func (p plainCall) TimeRemaining() (time.Duration, bool) { return p.cs.timeRemaining() }
func (p plainCall) method() string                       { return p.cs.hdr.Method }

func (p plainCall) peer() string {
	if s := p.cs.cur(); s != nil {
		return s.Peer()
	}
	return ""
}

// interceptedCall is the Call of what an interceptor chain returned that
// is not the RPC's own Call (a call of its own, or none: finishedCall).
type interceptedCall struct {
	ic   interceptors.Call
	name string
}

func newInterceptedCall(ic interceptors.Call, method string) Call {
	return Call{interceptedCall{ic, method}}
}

func (i interceptedCall) InitialMetadata() metadata.MD         { return i.ic.InitialMetadata() }
func (i interceptedCall) TrailingMetadata() metadata.MD        { return i.ic.TrailingMetadata() }
func (i interceptedCall) Code() codes.Code                     { return i.ic.Code() }
func (i interceptedCall) Details() string                      { return i.ic.Details() }
func (i interceptedCall) Cancel() bool                         { return i.ic.Cancel() }
func (i interceptedCall) cancelWith(*status.Error)             { i.ic.Cancel() }
func (i interceptedCall) IsActive() bool                       { return i.ic.IsActive() }
func (i interceptedCall) Done() <-chan struct{}                { return i.ic.Done() }
func (i interceptedCall) TimeRemaining() (time.Duration, bool) { return i.ic.TimeRemaining() }
func (i interceptedCall) method() string                       { return i.name }

func (i interceptedCall) err() error {
	if code := i.ic.Code(); code != codes.OK {
		return status.New(code, i.ic.Details()).WithMetadata(i.ic.InitialMetadata(), i.ic.TrailingMetadata())
	}
	return nil
}

func (i interceptedCall) peer() string {
	if p, ok := i.ic.(interface{ Peer() string }); ok {
		return p.Peer()
	}
	return ""
}

// UnaryUnaryCallable makes one-request, one-response calls to a method
// (grpcio's UnaryUnaryMultiCallable).
type UnaryUnaryCallable[Req, Resp any] struct {
	callable[Req, Resp]
}

// UnaryUnary returns a callable for the unary method, a full name such as
// "/helloworld.Greeter/SayHello".
func UnaryUnary[Req, Resp any](ch *Channel, method string, opts ...MethodOption[Req, Resp]) *UnaryUnaryCallable[Req, Resp] {
	return &UnaryUnaryCallable[Req, Resp]{newCallable(ch, method, opts)}
}

// Call makes the call and returns the response, or a *status.Error.
func (u *UnaryUnaryCallable[Req, Resp]) Call(ctx context.Context, req Req, opts ...CallOption) (Resp, error) {
	if u.chain != nil && len(u.chain.uu) > 0 {
		resp, _, err := u.intercepted(ctx, req, opts)
		return resp, err
	}
	resp, _, err := u.invoke(ctx, req, opts)
	return resp, err
}

// WithCall makes the call and returns the response with the finished
// *Call (its metadata, code and details), or a *status.Error with the Call.
func (u *UnaryUnaryCallable[Req, Resp]) WithCall(ctx context.Context, req Req, opts ...CallOption) (Resp, *Call, error) {
	if u.chain != nil && len(u.chain.uu) > 0 {
		return u.intercepted(ctx, req, opts)
	}
	resp, cs, err := u.invoke(ctx, req, opts)
	if cs == nil {
		return resp, nil, err
	}
	return resp, &Call{plainCall{cs}}, err
}

// Future starts the call and returns at once with a future of its
// response, which is also the call (metadata, code, details, cancel). It
// is built on Start: no goroutine waits for the call (except, on a channel
// from Intercept whose interceptors are not all StartInterceptors, the one
// that runs the interceptor chain).
func (u *UnaryUnaryCallable[Req, Resp]) Future(ctx context.Context, req Req, opts ...CallOption) *CallFuture[Resp] {
	if u.chain != nil && len(u.chain.uu) > 0 {
		if _, ok := startable(u.chain.uu); !ok {
			return u.interceptedFuture(ctx, req, opts)
		}
	}
	f := &CallFuture[Resp]{Promise: futures.New[Resp](u.ch.sys), started: make(chan struct{})}
	f.call = u.Start(ctx, req, func(resp Resp, _ *Call, err error) { f.Complete(resp, err) }, opts...)
	f.Promise.CancelIf(f.call.Cancel) // false once the call has ended on its own
	close(f.started)
	return f
}

func (u *UnaryUnaryCallable[Req, Resp]) invoke(ctx context.Context, req Req, opts []CallOption) (Resp, *callState, error) {
	cs, err := u.ch.newCall(ctx, u.method, opts, false)
	if err != nil {
		var zero Resp
		return zero, nil, err
	}
	resp, err := u.run(cs, req)
	return resp, cs, err
}

// run makes the call cs: one request, one response.
func (u *UnaryUnaryCallable[Req, Resp]) run(cs *callState, req Req) (Resp, error) {
	var zero Resp
	buf, err := u.codec.encode(req, true)
	if err == nil {
		buf, err = cs.frame(buf)
	}
	if err != nil {
		return zero, cs.finish(failStatus(err))
	}
	slot := sentSlots.Get().(*[1][]byte)
	slot[0] = buf
	cs.sent = slot[:]
	cs.closedSend = true
	cs.hdr.OneResponse = true // recvOne takes the response at the end
	defer cs.dropSent(slot, buf)
	if err := cs.start(); err != nil {
		return zero, cs.finish(failStatus(err))
	}
	return recvOne(cs, &u.codec)
}

// sentSlots recycles the one-frame retry buffers of unary calls (see run).
var sentSlots = sync.Pool{New: func() any { return new([1][]byte) }}

// dropSent takes the call's retry buffer, a slot from sentSlots, back for
// the pool once the call is over: no attempt can be opening then
// (attemptMu), nor start later (the call's context has ended). Then it
// recycles the request frame buf as recycle does, with what recycle
// reads taken in the same hold of mu.
func (cs *callState) dropSent(slot *[1][]byte, buf []byte) {
	cs.attemptMu.Lock()
	cs.mu.Lock()
	cs.sent = nil
	s, single := cs.singleAttempt()
	cs.mu.Unlock()
	cs.attemptMu.Unlock()
	slot[0] = nil
	sentSlots.Put(slot)
	recycleIf(buf, s, single)
}

// CallFuture is a call started with Future: a futures.Future of the
// response that is also the call.
type CallFuture[Resp any] struct {
	*futures.Promise[Resp]
	call    *Call
	started chan struct{}
}

// Call returns the call behind the future, once it has started (nil if it
// could not start, for example on a closed channel). On a channel from
// Intercept it is known once the interceptor chain has returned, that is
// at the end of the call: cancel such a call with the future's Cancel.
func (f *CallFuture[Resp]) Call() *Call {
	<-f.started
	return f.call
}

// InitialMetadata waits for the response headers.
func (f *CallFuture[Resp]) InitialMetadata() metadata.MD {
	if c := f.Call(); c != nil {
		return c.InitialMetadata()
	}
	return nil
}

// TrailingMetadata waits for the end of the call and returns its trailers.
func (f *CallFuture[Resp]) TrailingMetadata() metadata.MD {
	if c := f.Call(); c != nil {
		return c.TrailingMetadata()
	}
	return nil
}

// Code waits for the end of the call and returns its status code.
func (f *CallFuture[Resp]) Code() codes.Code {
	if c := f.Call(); c != nil {
		return c.Code()
	}
	_, err := f.Result(context.Background())
	return status.Code(err)
}

// Details waits for the end of the call and returns its status message.
func (f *CallFuture[Resp]) Details() string {
	if c := f.Call(); c != nil {
		return c.Details()
	}
	_, err := f.Result(context.Background())
	if st, ok := status.FromError(err); ok && st != nil {
		return st.Details()
	}
	return ""
}

// ResponseStream is the response side of a server-streaming or
// bidirectional call: grpcio's response iterator, which is also the Call.
type ResponseStream[Resp any] struct {
	Call
	decode func([]byte) (Resp, error)
	recv   func() (Resp, error) // instead of decode, on an intercepted channel
}

// Recv returns the next response. At a clean end it returns io.EOF; if
// the call failed, its *status.Error.
func (r *ResponseStream[Resp]) Recv() (Resp, error) {
	if r.recv != nil {
		return r.recv()
	}
	var zero Resp
	cs := r.state()
	data, err := cs.recvMsg()
	if err != nil {
		return zero, err
	}
	resp, err := r.decode(data)
	if err != nil {
		return zero, cs.fail(toStatus(err))
	}
	return resp, nil
}

// All iterates over the responses; the last pair carries the call's error
// if it failed (a clean end yields no error). Breaking out of the loop
// cancels the call.
func (r *ResponseStream[Resp]) All() iter.Seq2[Resp, error] {
	return func(yield func(Resp, error) bool) {
		for {
			resp, err := r.Recv()
			if err == io.EOF {
				return
			}
			if err != nil {
				yield(resp, err)
				return
			}
			if !yield(resp, nil) {
				r.cancelWith(status.New(codes.Canceled, "response iteration stopped by the client"))
				return
			}
		}
	}
}

// UnaryStreamCallable makes one-request, streamed-response calls (grpcio's
// UnaryStreamMultiCallable).
type UnaryStreamCallable[Req, Resp any] struct {
	callable[Req, Resp]
}

// UnaryStream returns a callable for the server-streaming method.
func UnaryStream[Req, Resp any](ch *Channel, method string, opts ...MethodOption[Req, Resp]) *UnaryStreamCallable[Req, Resp] {
	return &UnaryStreamCallable[Req, Resp]{newCallable(ch, method, opts)}
}

// Call sends req and returns the response stream. It returns an error only
// if the call could not start.
func (u *UnaryStreamCallable[Req, Resp]) Call(ctx context.Context, req Req, opts ...CallOption) (*ResponseStream[Resp], error) {
	if u.chain != nil && len(u.chain.us) > 0 {
		return u.intercepted(ctx, req, opts)
	}
	cs, err := u.ch.newCall(ctx, u.method, opts, true)
	if err != nil {
		return nil, err
	}
	buf, err := u.codec.encode(req, false)
	if err == nil {
		buf, err = cs.frame(buf)
	}
	if err == nil {
		cs.sent = [][]byte{buf}
		cs.closedSend = true
		err = cs.start()
	}
	if err != nil {
		return nil, cs.finish(failStatus(err))
	}
	return &ResponseStream[Resp]{Call: newCall(cs), decode: u.codec.decode}, nil
}

// openStream starts a call whose requests the caller sends.
func openStream(ch *Channel, ctx context.Context, method string, opts []CallOption) (*callState, error) {
	cs, err := ch.newCall(ctx, method, opts, true)
	if err != nil {
		return nil, err
	}
	if err := cs.start(); err != nil {
		return nil, cs.finish(failStatus(err))
	}
	return cs, nil
}

// sendReq serializes and sends one request on a streaming call.
func sendReq[Req, Resp any](cs *callState, c *codec[Req, Resp], req Req) error {
	buf, err := c.encode(req, true)
	if err == nil {
		buf, err = cs.frame(buf)
	}
	if err != nil {
		return cs.fail(toStatus(err))
	}
	return cs.sendMsg(buf, false)
}

// pumpRequests sends every request of reqs and half-closes. An iterator
// that panics, or that abandons its goroutine (runtime.Goexit) before it
// finishes, ends the call UNKNOWN; the call never hangs waiting for a
// half-close that cannot come. It stops early when the call ends.
func pumpRequests[Req, Resp any](cs *callState, c *codec[Req, Resp], reqs iter.Seq[Req]) {
	finished := false
	defer func() {
		if r := recover(); r != nil {
			if te, ok := r.(reqTypeError); ok {
				cs.fail(te.st) // an interceptor's request of the wrong type
				return
			}
			cs.fail(status.Errorf(codes.Unknown, "request iterator panicked: %v", r))
		} else if !finished {
			cs.fail(status.New(codes.Unknown, "request iterator was abandoned before it finished (runtime.Goexit)"))
		}
	}()
	if reqs != nil {
		for req := range reqs {
			if !cs.activeSend() {
				finished = true
				return
			}
			if err := sendReq(cs, c, req); err != nil {
				finished = true
				return
			}
		}
	}
	finished = true
	if cs.activeSend() {
		_ = cs.closeSend()
	}
}

func (cs *callState) activeSend() bool { return !cs.isDone() }

// ClientStream is the interactive form of a client-streaming call.
type ClientStream[Req, Resp any] struct {
	Call
	codec *codec[Req, Resp]
	// On an intercepted channel: Send feeds pipe, the chain's answer
	// arrives on result.
	pipe   *reqPipe
	result chan unaryResult[Resp]
}

// Send sends one request. It returns io.EOF if the call has already ended
// (CloseAndRecv then gives its status), or a *status.Error if the request
// could not be serialized or is over the send limit.
func (s *ClientStream[Req, Resp]) Send(req Req) error {
	if s.pipe != nil {
		return s.pipe.send(req)
	}
	return sendReq(s.state(), s.codec, req)
}

// CloseAndRecv half-closes the call and waits for the response.
func (s *ClientStream[Req, Resp]) CloseAndRecv() (Resp, error) {
	if s.pipe != nil {
		s.pipe.close()
		r := <-s.result
		s.result <- r // a second CloseAndRecv gets the same answer
		return r.resp, r.err
	}
	cs := s.state()
	_ = cs.closeSend()
	return recvOne(cs, s.codec)
}

// The cardinality violations of a call with one response.
var (
	errNoResponse    = status.New(codes.Internal, "cardinality violation: the server sent no response message")
	errManyResponses = transport.ErrManyResponses
)

// recvOne receives the one response of a unary or client-streaming call.
func recvOne[Req, Resp any](cs *callState, c *codec[Req, Resp]) (Resp, error) {
	var zero Resp
	data, err := cs.recvMsg()
	if err == io.EOF {
		return zero, cs.fail(errNoResponse)
	}
	if err != nil {
		return zero, err
	}
	resp, err := c.decode(data)
	if err != nil {
		return zero, cs.fail(toStatus(err))
	}
	if _, err := cs.recvMsg(); err != io.EOF {
		if err == nil {
			return zero, cs.fail(errManyResponses)
		}
		return zero, err
	}
	return resp, nil
}

// StreamUnaryCallable makes streamed-request, one-response calls (grpcio's
// StreamUnaryMultiCallable).
type StreamUnaryCallable[Req, Resp any] struct {
	callable[Req, Resp]
}

// StreamUnary returns a callable for the client-streaming method.
func StreamUnary[Req, Resp any](ch *Channel, method string, opts ...MethodOption[Req, Resp]) *StreamUnaryCallable[Req, Resp] {
	return &StreamUnaryCallable[Req, Resp]{newCallable(ch, method, opts)}
}

// Open starts the call for requests sent one by one with Send.
func (u *StreamUnaryCallable[Req, Resp]) Open(ctx context.Context, opts ...CallOption) (*ClientStream[Req, Resp], error) {
	if u.chain != nil && len(u.chain.su) > 0 {
		return u.interceptedOpen(ctx, opts), nil
	}
	cs, err := openStream(u.ch, ctx, u.method, opts)
	if err != nil {
		return nil, err
	}
	return &ClientStream[Req, Resp]{Call: newCall(cs), codec: &u.codec}, nil
}

// Call sends every request of reqs, then waits for the response.
func (u *StreamUnaryCallable[Req, Resp]) Call(ctx context.Context, reqs iter.Seq[Req], opts ...CallOption) (Resp, error) {
	resp, _, err := u.WithCall(ctx, reqs, opts...)
	return resp, err
}

// WithCall is Call that also returns the finished *Call.
func (u *StreamUnaryCallable[Req, Resp]) WithCall(ctx context.Context, reqs iter.Seq[Req], opts ...CallOption) (Resp, *Call, error) {
	if u.chain != nil && len(u.chain.su) > 0 {
		return u.intercepted(ctx, anyReqs(reqs), opts)
	}
	var zero Resp
	cs, err := openStream(u.ch, ctx, u.method, opts)
	if err != nil {
		return zero, nil, err
	}
	resp, err := u.exchange(cs, reqs)
	return resp, &Call{plainCall{cs}}, err
}

// exchange sends reqs on the opened call cs and waits for its response.
func (u *StreamUnaryCallable[Req, Resp]) exchange(cs *callState, reqs iter.Seq[Req]) (Resp, error) {
	// The requests go out from a goroutine of the call's, so that a server
	// that answers before reading them all, or an iterator that blocks,
	// cannot hold the caller once the call has ended.
	go pumpRequests(cs, &u.codec, reqs)
	return recvOne(cs, &u.codec)
}

// Future starts the call and returns at once with a future of its
// response; the requests are read from reqs on a goroutine of the call's,
// which ends once reqs is exhausted: then no goroutine waits for the
// call (it is built on Start).
func (u *StreamUnaryCallable[Req, Resp]) Future(ctx context.Context, reqs iter.Seq[Req], opts ...CallOption) *CallFuture[Resp] {
	if u.chain != nil && len(u.chain.su) > 0 {
		return u.interceptedFuture(ctx, anyReqs(reqs), opts)
	}
	f := &CallFuture[Resp]{Promise: futures.New[Resp](u.ch.sys), started: make(chan struct{})}
	var resp Resp
	sc := u.Start(ctx, StreamHandler[Resp]{
		OnMessage: func(r Resp) { resp = r },
		OnEnd: func(_ *Call, err error) {
			if err != nil {
				var zero Resp
				resp = zero
			}
			f.Complete(resp, err)
		},
	}, opts...)
	f.call = &sc.Call
	f.Promise.CancelIf(f.call.Cancel) // false once the call has ended on its own
	close(f.started)
	if a, ok := sc.s.(*asyncCall[Req, Resp]); ok && !a.cs.isDone() {
		// The iterator may block: it runs on a goroutine of its own until
		// it is exhausted; the call then holds none.
		go a.sendAll(reqs)
	}
	return f
}

// BidiStream is the interactive form of a bidirectional-streaming call.
type BidiStream[Req, Resp any] struct {
	ResponseStream[Resp]
	codec *codec[Req, Resp]
	pipe  *reqPipe // on an intercepted channel: Send feeds the chain's iterator
}

// Send sends one request. It returns io.EOF if the call has already ended
// (Recv then gives its status), or a *status.Error if the request could not
// be serialized or is over the send limit.
func (s *BidiStream[Req, Resp]) Send(req Req) error {
	if s.pipe != nil {
		return s.pipe.send(req)
	}
	return sendReq(s.state(), s.codec, req)
}

// CloseSend half-closes the call: no more requests.
func (s *BidiStream[Req, Resp]) CloseSend() error {
	if s.pipe != nil {
		s.pipe.close()
		return nil
	}
	return s.state().closeSend()
}

// StreamStreamCallable makes bidirectional-streaming calls (grpcio's
// StreamStreamMultiCallable).
type StreamStreamCallable[Req, Resp any] struct {
	callable[Req, Resp]
}

// StreamStream returns a callable for the bidirectional-streaming method.
func StreamStream[Req, Resp any](ch *Channel, method string, opts ...MethodOption[Req, Resp]) *StreamStreamCallable[Req, Resp] {
	return &StreamStreamCallable[Req, Resp]{newCallable(ch, method, opts)}
}

// Open starts the call for requests sent one by one with Send.
func (u *StreamStreamCallable[Req, Resp]) Open(ctx context.Context, opts ...CallOption) (*BidiStream[Req, Resp], error) {
	if u.chain != nil && len(u.chain.ss) > 0 {
		return u.interceptedOpen(ctx, opts)
	}
	cs, err := openStream(u.ch, ctx, u.method, opts)
	if err != nil {
		return nil, err
	}
	return &BidiStream[Req, Resp]{ResponseStream: ResponseStream[Resp]{Call: newCall(cs), decode: u.codec.decode}, codec: &u.codec}, nil
}

// Call starts the call, sends the requests of reqs from a goroutine of the
// call's (grpcio's request-iterator thread) and returns the response stream.
func (u *StreamStreamCallable[Req, Resp]) Call(ctx context.Context, reqs iter.Seq[Req], opts ...CallOption) (*ResponseStream[Resp], error) {
	if u.chain != nil && len(u.chain.ss) > 0 {
		return u.intercepted(ctx, anyReqs(reqs), opts)
	}
	cs, err := openStream(u.ch, ctx, u.method, opts)
	if err != nil {
		return nil, err
	}
	go pumpRequests(cs, &u.codec, reqs)
	return &ResponseStream[Resp]{Call: newCall(cs), decode: u.codec.decode}, nil
}

// callable is what every multi-callable holds: its channel, its method and
// its codec.
type callable[Req, Resp any] struct {
	ch     *Channel
	method string
	codec  codec[Req, Resp]
	chain  *chain // the channel's interceptors, nil without
}

func newCallable[Req, Resp any](ch *Channel, method string, opts []MethodOption[Req, Resp]) callable[Req, Resp] {
	return callable[Req, Resp]{ch: ch, method: method, codec: newCodec(opts), chain: ch.chain}
}
