package channel

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"sync"
	"time"

	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/compression"
	"github.com/grpcactor/grpcactor/credentials"
	"github.com/grpcactor/grpcactor/futures"
	"github.com/grpcactor/grpcactor/interceptors"
	"github.com/grpcactor/grpcactor/metadata"
	"github.com/grpcactor/grpcactor/status"
)

// chain is the interceptors of a channel, per kind of call, outermost
// first.
type chain struct {
	all []any
	uu  []interceptors.UnaryUnary
	us  []interceptors.UnaryStream
	su  []interceptors.StreamUnary
	ss  []interceptors.StreamStream
}

// Intercept returns a channel whose calls go through ics (grpcio's
// intercept_channel): each value implements one or more of
// interceptors.UnaryUnary, UnaryStream, StreamUnary and StreamStream and is
// used for the kinds of call it implements; the first listed runs first.
// Intercepting an intercepted channel puts the new interceptors outside
// the old ones. The result shares everything else with ch: connections,
// connectivity, subscriptions; closing either closes both. A value that
// implements no interceptor interface is an error naming its position and
// type.
func Intercept(ch *Channel, ics ...any) (*Channel, error) {
	if ch == nil || ch.chanState == nil {
		return nil, errors.New("channel.Intercept: the channel is nil")
	}
	c := &chain{}
	for i, ic := range ics {
		if b, ok := ic.(ChannelBinder); ok {
			ic = b.BindChannel(ch)
		}
		if ic == nil || !interceptors.Implements(ic) {
			return nil, fmt.Errorf("channel.Intercept: interceptor %d (%T) implements none of interceptors.UnaryUnary, UnaryStream, StreamUnary, StreamStream", i, ic)
		}
		c.add(ic)
	}
	if ch.chain != nil {
		for _, ic := range ch.chain.all {
			c.add(ic)
		}
	}
	return &Channel{chanState: ch.chanState, chain: c}, nil
}

func (c *chain) add(ic any) {
	c.all = append(c.all, ic)
	if i, ok := ic.(interceptors.UnaryUnary); ok {
		c.uu = append(c.uu, i)
	}
	if i, ok := ic.(interceptors.UnaryStream); ok {
		c.us = append(c.us, i)
	}
	if i, ok := ic.(interceptors.StreamUnary); ok {
		c.su = append(c.su, i)
	}
	if i, ok := ic.(interceptors.StreamStream); ok {
		c.ss = append(c.ss, i)
	}
}

// callDetails returns the details a chain starts from: the method and the
// call's options.
func callDetails(method string, opts []CallOption) *interceptors.ClientCallDetails {
	var o callOptions
	for _, opt := range opts {
		if opt != nil {
			opt.applyCall(&o)
		}
	}
	d := &interceptors.ClientCallDetails{Method: method, Metadata: o.md.Copy()}
	if o.timeoutSet {
		t := o.timeout
		d.Timeout = &t
	}
	if o.wfrSet {
		w := o.waitForReady
		d.WaitForReady = &w
	}
	if o.compressionSet {
		d.Compression = o.compressor
		if d.Compression == nil {
			d.Compression = compression.Identity
		}
	}
	switch len(o.creds) {
	case 0:
	case 1:
		d.Credentials = o.creds[0]
	default:
		d.Credentials, _ = credentials.CompositeCall(o.creds...)
	}
	return d
}

// detailsOptions turns details back into the options of the RPC, with
// the wire options ctx carries.
func detailsOptions(ctx context.Context, d *interceptors.ClientCallDetails) []CallOption {
	var w wireOptions
	if ctx != nil {
		w, _ = ctx.Value(wireOptionsKey{}).(wireOptions)
	}
	return detailsOptionsWire(w, d)
}

// detailsOptionsWire turns details back into the options of the RPC, with
// the wire options w.
func detailsOptionsWire(w wireOptions, d *interceptors.ClientCallDetails) []CallOption {
	var o callOptions
	o.wire = w
	if d.Timeout != nil {
		o.timeout, o.timeoutSet = *d.Timeout, true
	}
	o.md = d.Metadata
	if d.WaitForReady != nil {
		o.waitForReady, o.wfrSet = *d.WaitForReady, true
	}
	if d.Compression != nil {
		Compression(d.Compression).applyCall(&o)
	}
	if d.Credentials != nil {
		o.creds = []credentials.CallCredentials{d.Credentials}
	}
	return []CallOption{callOptionFunc(func(dst *callOptions) { *dst = o })}
}

// icError makes what an interceptor returned a *status.Error.
func icError(err error) error {
	if err == nil {
		return nil
	}
	if st, ok := status.FromError(err); ok && st != nil {
		return st // a status, or a context error's
	}
	return status.Errorf(codes.Internal, "interceptor failed: %v", err).WithCause(err)
}

// recovered turns a panic in an interceptor into the call's error.
func recovered(method string, err *error) {
	if r := recover(); r != nil {
		*err = status.Errorf(codes.Internal, "interceptor panicked on %s: %v", method, r)
	}
}

// The messages of a value of the wrong type from an interceptor: its type,
// the method, the type the callable wants.
const (
	wrongReq  = "an interceptor passed a request of type %T to %s, want %T"
	wrongResp = "an interceptor returned a response of type %T for %s, want %T"
)

// as converts what an interceptor handed over to the callable's type T; a
// value of another type is INTERNAL with msg (wrongReq or wrongResp).
func as[T any](v any, msg, method string) (T, error) {
	r, ok := v.(T)
	if !ok && v != nil {
		var zero T
		return zero, status.Errorf(codes.Internal, msg, v, method, zero)
	}
	return r, nil
}

// reqTypeError is what typedReqs panics with, for the request pump to
// fail the call with st.
type reqTypeError struct{ st *status.Error }

// typedReqs turns an interceptor's request iterator back into the
// callable's type; a value of another type stops the requests and ends the
// call INTERNAL (through the request pump's panic handling).
func typedReqs[Req any](reqs iter.Seq[any], method string) iter.Seq[Req] {
	return func(yield func(Req) bool) {
		for v := range reqs {
			r, err := as[Req](v, wrongReq, method)
			if err != nil {
				panic(reqTypeError{err.(*status.Error)})
			}
			if !yield(r) {
				return
			}
		}
	}
}

func anyReqs[Req any](reqs iter.Seq[Req]) iter.Seq[any] {
	return func(yield func(any) bool) {
		for r := range reqs {
			if !yield(r) {
				return
			}
		}
	}
}

// plain returns a copy of the callable that makes the RPC itself, for
// the end of a chain, bound to method.
func (c *callable[Req, Resp]) plain(method string) callable[Req, Resp] {
	p := *c
	p.chain, p.method = nil, method
	return p
}

// buildChain wraps terminal in ics, the first outermost.
func buildChain[I, N any](ics []I, terminal N, wrap func(ic I, next N) N) N {
	next := terminal
	for i := len(ics) - 1; i >= 0; i-- {
		next = wrap(ics[i], next)
	}
	return next
}

func unaryChain(ics []interceptors.UnaryUnary, terminal interceptors.UnaryInvoker) interceptors.UnaryInvoker {
	return buildChain(ics, terminal, func(ic interceptors.UnaryUnary, next interceptors.UnaryInvoker) interceptors.UnaryInvoker {
		return func(ctx context.Context, d *interceptors.ClientCallDetails, req any) (any, interceptors.Call, error) {
			return ic.InterceptUnaryUnary(ctx, d, req, next)
		}
	})
}

func unaryStreamChain(ics []interceptors.UnaryStream, terminal interceptors.UnaryStreamInvoker) interceptors.UnaryStreamInvoker {
	return buildChain(ics, terminal, func(ic interceptors.UnaryStream, next interceptors.UnaryStreamInvoker) interceptors.UnaryStreamInvoker {
		return func(ctx context.Context, d *interceptors.ClientCallDetails, req any) (interceptors.ClientStream, error) {
			return ic.InterceptUnaryStream(ctx, d, req, next)
		}
	})
}

func streamUnaryChain(ics []interceptors.StreamUnary, terminal interceptors.StreamUnaryInvoker) interceptors.StreamUnaryInvoker {
	return buildChain(ics, terminal, func(ic interceptors.StreamUnary, next interceptors.StreamUnaryInvoker) interceptors.StreamUnaryInvoker {
		return func(ctx context.Context, d *interceptors.ClientCallDetails, reqs iter.Seq[any]) (any, interceptors.Call, error) {
			return ic.InterceptStreamUnary(ctx, d, reqs, next)
		}
	})
}

func streamStreamChain(ics []interceptors.StreamStream, terminal interceptors.StreamStreamInvoker) interceptors.StreamStreamInvoker {
	return buildChain(ics, terminal, func(ic interceptors.StreamStream, next interceptors.StreamStreamInvoker) interceptors.StreamStreamInvoker {
		return func(ctx context.Context, d *interceptors.ClientCallDetails, reqs iter.Seq[any]) (interceptors.ClientStream, error) {
			return ic.InterceptStreamStream(ctx, d, reqs, next)
		}
	})
}

// callOf is the *Call behind what a chain returned: the RPC's own, or,
// when an interceptor answered without one, a finished call carrying the
// chain's result.
func callOf(ic interceptors.Call, err error, method string) *Call {
	if c, ok := ic.(*Call); ok {
		if c != nil {
			return c
		}
		ic = nil // a typed nil
	}
	if ic == nil {
		return &Call{newInterceptedCall(finishedCall(err), method).m}
	}
	return &Call{newInterceptedCall(ic, method).m}
}

// finished is a call that ended before it began: what a chain that made no
// RPC reports.
type finished struct {
	st   *status.Error
	done chan struct{}
}

func finishedCall(err error) *finished {
	f := &finished{done: make(chan struct{})}
	close(f.done)
	if err != nil {
		f.st = status.Convert(err)
	}
	return f
}

func (f *finished) InitialMetadata() metadata.MD {
	if f.st != nil && f.st.InitialMetadata() != nil {
		return f.st.InitialMetadata()
	}
	return metadata.MD{}
}

func (f *finished) TrailingMetadata() metadata.MD {
	if f.st != nil {
		return f.st.TrailingMetadata()
	}
	return nil
}

func (f *finished) Code() codes.Code {
	if f.st == nil {
		return codes.OK
	}
	return f.st.Code()
}

func (f *finished) Details() string {
	if f.st == nil {
		return ""
	}
	return f.st.Details()
}

func (f *finished) Cancel() bool                         { return false }
func (f *finished) IsActive() bool                       { return false }
func (f *finished) Done() <-chan struct{}                { return f.done }
func (f *finished) TimeRemaining() (time.Duration, bool) { return 0, false }

// streamOf adapts a typed response stream to interceptors.ClientStream.
type streamOf[Resp any] struct{ *ResponseStream[Resp] }

func (s streamOf[Resp]) Recv() (any, error) {
	r, err := s.ResponseStream.Recv()
	if err != nil {
		return nil, err
	}
	return r, nil
}

// --- the four kinds through their chains ---

func (u *UnaryUnaryCallable[Req, Resp]) terminal() interceptors.UnaryInvoker {
	return func(ctx context.Context, d *interceptors.ClientCallDetails, req any) (any, interceptors.Call, error) {
		r, err := as[Req](req, wrongReq, d.Method)
		if err != nil {
			return nil, nil, err
		}
		p := UnaryUnaryCallable[Req, Resp]{u.plain(d.Method)}
		resp, cs, err := p.invoke(ctx, r, detailsOptions(ctx, d))
		if cs == nil {
			return nil, nil, err
		}
		if err != nil {
			return nil, &Call{plainCall{cs}}, err
		}
		return resp, &Call{plainCall{cs}}, nil
	}
}

// intercepted runs a unary call through the chain.
func (u *UnaryUnaryCallable[Req, Resp]) intercepted(ctx context.Context, req Req, opts []CallOption) (Resp, *Call, error) {
	return runUnaryChain[Resp](ctx, u.method, func(ctx context.Context) (any, interceptors.Call, error) {
		return unaryChain(u.chain.uu, u.terminal())(withWireOptions(ctx, opts), callDetails(u.method, opts), req)
	})
}

func (u *UnaryUnaryCallable[Req, Resp]) interceptedFuture(ctx context.Context, req Req, opts []CallOption) *CallFuture[Resp] {
	return unaryChainFuture(&u.callable, ctx, func(ctx context.Context) (Resp, *Call, error) { return u.intercepted(ctx, req, opts) })
}

// runUnaryChain runs a chain with a single response and makes what it
// returned the callable's types: the response, the call (never nil) and a
// *status.Error.
func runUnaryChain[Resp any](ctx context.Context, method string, run func(context.Context) (any, interceptors.Call, error)) (resp Resp, call *Call, err error) {
	if ctx == nil {
		ctx = context.Background()
	}
	defer func() {
		if call == nil { // an interceptor panicked
			call = callOf(nil, err, method)
		}
	}()
	defer recovered(method, &err)
	v, ic, err := run(ctx)
	err = icError(err)
	call = callOf(ic, err, method)
	if err != nil {
		return resp, call, err
	}
	resp, err = as[Resp](v, wrongResp, method)
	return resp, call, err
}

// unaryChainFuture runs intercepted on a goroutine of its own and returns
// its future; the future's Cancel cancels the chain's context.
func unaryChainFuture[Req, Resp any](c *callable[Req, Resp], ctx context.Context, intercepted func(context.Context) (Resp, *Call, error)) *CallFuture[Resp] {
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithCancel(ctx)
	f := &CallFuture[Resp]{Promise: futures.New[Resp](c.ch.sys), started: make(chan struct{})}
	f.Promise.OnCancel(cancel)
	go func() {
		defer cancel()
		resp, call, err := intercepted(ctx)
		f.call = call
		close(f.started)
		f.Complete(resp, err)
	}()
	return f
}

func (u *UnaryStreamCallable[Req, Resp]) terminal() interceptors.UnaryStreamInvoker {
	return func(ctx context.Context, d *interceptors.ClientCallDetails, req any) (interceptors.ClientStream, error) {
		r, err := as[Req](req, wrongReq, d.Method)
		if err != nil {
			return nil, err
		}
		p := UnaryStreamCallable[Req, Resp]{u.plain(d.Method)}
		rs, err := p.Call(ctx, r, detailsOptions(ctx, d)...)
		if err != nil {
			return nil, err
		}
		return streamOf[Resp]{rs}, nil
	}
}

func (u *UnaryStreamCallable[Req, Resp]) intercepted(ctx context.Context, req Req, opts []CallOption) (rs *ResponseStream[Resp], err error) {
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithCancel(ctx)
	defer func() {
		if err != nil {
			cancel() // ends an RPC next may have started
		}
	}()
	defer recovered(u.method, &err)
	s, err := unaryStreamChain(u.chain.us, u.terminal())(withWireOptions(ctx, opts), callDetails(u.method, opts), req)
	return interceptedResult[Resp](ctx, s, err, u.method, cancel)
}

// interceptedResult is what a streaming chain returned as the callable's
// response stream; cancel is called when the stream ends.
func interceptedResult[Resp any](ctx context.Context, s interceptors.ClientStream, err error, method string, cancel context.CancelFunc) (*ResponseStream[Resp], error) {
	if err != nil {
		return nil, icError(err)
	}
	if s == nil {
		return nil, status.Errorf(codes.Internal, "an interceptor returned neither a response stream nor an error for %s", method)
	}
	go func() {
		select {
		case <-s.Done():
		case <-ctx.Done():
		}
		cancel()
	}()
	return interceptedStream[Resp](s, method), nil
}

// interceptedStream wraps what a chain returned as the callable's typed
// response stream.
func interceptedStream[Resp any](s interceptors.ClientStream, method string) *ResponseStream[Resp] {
	if ts, ok := s.(streamOf[Resp]); ok {
		return ts.ResponseStream // nothing wrapped it
	}
	return &ResponseStream[Resp]{Call: newInterceptedCall(s, method), recv: func() (Resp, error) {
		v, err := s.Recv()
		if err != nil {
			var zero Resp
			if err == io.EOF {
				return zero, io.EOF
			}
			return zero, icError(err)
		}
		return as[Resp](v, wrongResp, method)
	}}
}

func (u *StreamUnaryCallable[Req, Resp]) terminal() interceptors.StreamUnaryInvoker {
	return func(ctx context.Context, d *interceptors.ClientCallDetails, reqs iter.Seq[any]) (any, interceptors.Call, error) {
		p := StreamUnaryCallable[Req, Resp]{u.plain(d.Method)}
		resp, call, err := p.WithCall(ctx, typedReqs[Req](reqs, d.Method), detailsOptions(ctx, d)...)
		var ic interceptors.Call
		if call != nil {
			ic = call
		}
		if err != nil {
			return nil, ic, err
		}
		return resp, ic, nil
	}
}

func (u *StreamUnaryCallable[Req, Resp]) intercepted(ctx context.Context, reqs iter.Seq[any], opts []CallOption) (Resp, *Call, error) {
	return runUnaryChain[Resp](ctx, u.method, func(ctx context.Context) (any, interceptors.Call, error) {
		return streamUnaryChain(u.chain.su, u.terminal())(withWireOptions(ctx, opts), callDetails(u.method, opts), reqs)
	})
}

func (u *StreamUnaryCallable[Req, Resp]) interceptedFuture(ctx context.Context, reqs iter.Seq[any], opts []CallOption) *CallFuture[Resp] {
	return unaryChainFuture(&u.callable, ctx, func(ctx context.Context) (Resp, *Call, error) { return u.intercepted(ctx, reqs, opts) })
}

// interceptedOpen is Open on an intercepted channel: Send feeds the
// request iterator the chain sees, CloseAndRecv ends it and waits for the
// chain's answer, which runs on a goroutine of the call's.
func (u *StreamUnaryCallable[Req, Resp]) interceptedOpen(ctx context.Context, opts []CallOption) *ClientStream[Req, Resp] {
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithCancel(ctx)
	pc := newPendingCall(ctx, cancel)
	reqs := newReqPipe(ctx)
	s := &ClientStream[Req, Resp]{Call: newInterceptedCall(pc, u.method), pipe: reqs, result: make(chan unaryResult[Resp], 1)}
	go func() {
		resp, call, err := u.intercepted(ctx, reqs.seq(), opts)
		reqs.end()
		pc.set(call)
		s.result <- unaryResult[Resp]{resp, err}
	}()
	return s
}

type unaryResult[Resp any] struct {
	resp Resp
	err  error
}

func (u *StreamStreamCallable[Req, Resp]) terminal() interceptors.StreamStreamInvoker {
	return func(ctx context.Context, d *interceptors.ClientCallDetails, reqs iter.Seq[any]) (interceptors.ClientStream, error) {
		p := StreamStreamCallable[Req, Resp]{u.plain(d.Method)}
		rs, err := p.Call(ctx, typedReqs[Req](reqs, d.Method), detailsOptions(ctx, d)...)
		if err != nil {
			return nil, err
		}
		return streamOf[Resp]{rs}, nil
	}
}

func (u *StreamStreamCallable[Req, Resp]) intercepted(ctx context.Context, reqs iter.Seq[any], opts []CallOption) (rs *ResponseStream[Resp], err error) {
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithCancel(ctx)
	defer func() {
		if err != nil {
			cancel()
		}
	}()
	defer recovered(u.method, &err)
	s, err := streamStreamChain(u.chain.ss, u.terminal())(withWireOptions(ctx, opts), callDetails(u.method, opts), reqs)
	return interceptedResult[Resp](ctx, s, err, u.method, cancel)
}

// interceptedOpen is Open on an intercepted channel: Send feeds the
// request iterator the chain sees.
func (u *StreamStreamCallable[Req, Resp]) interceptedOpen(ctx context.Context, opts []CallOption) (*BidiStream[Req, Resp], error) {
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithCancel(ctx)
	reqs := newReqPipe(ctx)
	rs, err := u.intercepted(ctx, reqs.seq(), opts)
	if err != nil {
		cancel() // ends an RPC next may have started, and the pipe
		return nil, err
	}
	go func() {
		// Send stops blocking once the call is over.
		select {
		case <-rs.Done():
		case <-ctx.Done():
		}
		reqs.end()
		cancel()
	}()
	return &BidiStream[Req, Resp]{ResponseStream: *rs, pipe: reqs}, nil
}

// reqPipe carries the requests of an Open call on an intercepted channel
// from Send to the iterator the chain consumes. Send never blocks past the
// end of the call, its context, or the iterator's consumer giving up.
type reqPipe struct {
	ch        chan any
	closed    chan struct{} // CloseSend
	closeOnce sync.Once
	ctxDone   <-chan struct{}
	stopMu    sync.Mutex
	stop      chan struct{} // the call is over
	stopped   bool
	gone      chan struct{} // the iterator's consumer stopped
	goneOnce  sync.Once
}

func newReqPipe(ctx context.Context) *reqPipe {
	return &reqPipe{ch: make(chan any), closed: make(chan struct{}), ctxDone: ctx.Done(), stop: make(chan struct{}), gone: make(chan struct{})}
}

// end tells the pipe the call is over.
func (p *reqPipe) end() {
	p.stopMu.Lock()
	if !p.stopped {
		p.stopped = true
		close(p.stop)
	}
	p.stopMu.Unlock()
}

var errSendAfterClose = status.New(codes.Internal, "Send called after CloseSend")

func (p *reqPipe) send(v any) error {
	// A call that is over gives io.EOF, as Send does without
	// interceptors, even after CloseSend.
	select {
	case <-p.gone:
		return io.EOF
	case <-p.stop:
		return io.EOF
	case <-p.ctxDone:
		return io.EOF
	default:
	}
	select {
	case <-p.closed:
		return errSendAfterClose
	default:
	}
	select {
	case p.ch <- v:
		return nil
	case <-p.closed:
		return errSendAfterClose
	case <-p.gone:
		return io.EOF
	case <-p.stop:
		return io.EOF
	case <-p.ctxDone:
		return io.EOF
	}
}

func (p *reqPipe) close() { p.closeOnce.Do(func() { close(p.closed) }) }

func (p *reqPipe) seq() iter.Seq[any] {
	return func(yield func(any) bool) {
		defer p.goneOnce.Do(func() { close(p.gone) })
		for {
			select {
			case v := <-p.ch:
				if !yield(v) {
					return
				}
			case <-p.closed:
				return
			case <-p.stop:
				return
			case <-p.ctxDone:
				return
			}
		}
	}
}

// pendingCall is the call of an Open on an intercepted client-streaming
// channel until the chain has returned: accessors wait for the chain, then
// ask the call it returned.
type pendingCall struct {
	ctx      context.Context
	cancel   context.CancelFunc
	ready    chan struct{}
	call     *Call
	finished chan struct{} // closed once the chain returned and its call ended
}

func newPendingCall(ctx context.Context, cancel context.CancelFunc) *pendingCall {
	return &pendingCall{ctx: ctx, cancel: cancel, ready: make(chan struct{}), finished: make(chan struct{})}
}

func (p *pendingCall) set(c *Call) {
	p.call = c
	close(p.ready)
	select {
	case <-c.Done(): // the usual case: a client-streaming call is over when its chain returns
		close(p.finished)
		p.cancel()
	default:
		go func() {
			<-c.Done()
			close(p.finished)
			p.cancel()
		}()
	}
}

func (p *pendingCall) wait() *Call { <-p.ready; return p.call }

func (p *pendingCall) InitialMetadata() metadata.MD  { return p.wait().InitialMetadata() }
func (p *pendingCall) TrailingMetadata() metadata.MD { return p.wait().TrailingMetadata() }
func (p *pendingCall) Code() codes.Code              { return p.wait().Code() }
func (p *pendingCall) Details() string               { return p.wait().Details() }
func (p *pendingCall) Done() <-chan struct{}         { return p.finished }

func (p *pendingCall) Cancel() bool {
	select {
	case <-p.finished:
		return false
	default:
	}
	p.cancel()
	select {
	case <-p.ready:
		return p.call.Cancel()
	default:
		return true
	}
}

func (p *pendingCall) IsActive() bool {
	select {
	case <-p.ready:
		return p.call.IsActive()
	default:
		return true
	}
}

func (p *pendingCall) TimeRemaining() (time.Duration, bool) {
	select {
	case <-p.ready:
		return p.call.TimeRemaining()
	default:
	}
	d, ok := p.ctx.Deadline()
	if !ok {
		return 0, false
	}
	return max(time.Until(d), 0), true
}
