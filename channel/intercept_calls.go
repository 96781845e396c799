package channel

// The four kinds of call through their chains (Call, Open, Future), and
// what a chain returned made the callable's Call and response stream.

import (
	"context"
	"io"
	"iter"
	"sync"

	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/futures"
	"github.com/grpcactor/grpcactor/interceptors"
	"github.com/grpcactor/grpcactor/status"
)

func (u *UnaryUnaryCallable[Req, Resp]) terminal() interceptors.UnaryInvoker {
	return func(ctx context.Context, d *interceptors.ClientCallDetails, req any) (any, interceptors.Call, error) {
		r, err := as[Req](req, wrongReq, d.Method)
		if err != nil {
			return nil, nil, err
		}
		p := UnaryUnaryCallable[Req, Resp]{u.plain(d.Method)}
		cs, err := p.ch.newCall(ctx, p.method, detailsOptions(ctx, d), false)
		if err != nil {
			return nil, nil, err
		}
		chainCallsOf(ctx).made(cs)
		resp, err := p.run(cs, r)
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
// its future. The future's Cancel is decided as a plain call's is
// (chainCalls.cancel): refused once the chain has returned or its call
// has ended OK; else it cancels the chain's call and context.
func unaryChainFuture[Req, Resp any](c *callable[Req, Resp], ctx context.Context, intercepted func(context.Context) (Resp, *Call, error)) *CallFuture[Resp] {
	if ctx == nil {
		ctx = context.Background()
	}
	t := new(chainCalls)
	ctx, cancel := context.WithCancel(context.WithValue(ctx, chainCallsKey{}, t))
	f := &CallFuture[Resp]{Promise: futures.New[Resp](c.ch.sys), started: make(chan struct{})}
	f.Promise.CancelIf(func() bool { return t.cancel(cancel) })
	go func() {
		defer cancel()
		resp, call, err := intercepted(ctx)
		t.returned()
		f.call = call
		close(f.started)
		f.Complete(resp, err)
	}()
	return f
}

// chainCalls is what the future of a call through a blocking interceptor
// chain knows of the chain, for its Cancel: the last plain call the
// chain's terminal invoker made (with the chain's context: a retrying
// interceptor makes several), and whether the chain has returned.
type chainCalls struct {
	mu   sync.Mutex
	last *callState
	done bool
}

// chainCallsKey is the context key of a future's chainCalls.
type chainCallsKey struct{}

// chainCallsOf returns the chainCalls of the future whose chain ctx is
// from, or nil.
func chainCallsOf(ctx context.Context) *chainCalls {
	t, _ := ctx.Value(chainCallsKey{}).(*chainCalls)
	return t
}

// made records a plain call the terminal invoker made (t may be nil).
func (t *chainCalls) made(cs *callState) {
	if t == nil {
		return
	}
	t.mu.Lock()
	t.last = cs
	t.mu.Unlock()
}

// returned records that the chain has returned.
func (t *chainCalls) returned() {
	t.mu.Lock()
	t.done = true
	t.mu.Unlock()
}

// cancel decides a Cancel of the future, as grpcio's cancel() does for a
// call: false once the chain has returned (the future gets its result),
// or once its last call has ended OK (the chain is returning the
// response); otherwise the last call, if active, is cancelled (a call
// that ends OK just then refuses, as above) and so is the chain's
// context (cancelCtx), and the cancel is accepted. Accepted while the
// chain runs an interceptor (before its first call, between calls, or
// after a call that failed), the chain may still return a response (an
// interceptor that answers from a cache, or recovers from the error):
// the future is cancelled all the same.
func (t *chainCalls) cancel(cancelCtx context.CancelFunc) bool {
	t.mu.Lock()
	done, last := t.done, t.last
	t.mu.Unlock()
	if done {
		return false
	}
	if last != nil && !(plainCall{last}).Cancel() && last.isDone() && last.final == nil {
		return false
	}
	cancelCtx()
	return true
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
		cs, err := openStream(p.ch, ctx, p.method, detailsOptions(ctx, d))
		if err != nil {
			return nil, nil, err
		}
		chainCallsOf(ctx).made(cs)
		resp, err := p.exchange(cs, typedReqs[Req](reqs, d.Method))
		if err != nil {
			return nil, &Call{plainCall{cs}}, err
		}
		return resp, &Call{plainCall{cs}}, nil
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

// streamOf adapts a typed response stream to interceptors.ClientStream.
type streamOf[Resp any] struct{ *ResponseStream[Resp] }

func (s streamOf[Resp]) Recv() (any, error) {
	r, err := s.ResponseStream.Recv()
	if err != nil {
		return nil, err
	}
	return r, nil
}
