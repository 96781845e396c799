package channel

import (
	"context"
	"io"
	"iter"
	"sync"

	"github.com/grpcactor/grpcactor/interceptors"
	"github.com/grpcactor/grpcactor/status"
)

// Start on a channel from Intercept: through StartInterceptors by
// callbacks (start_handoff.go) when every interceptor of the call's kind
// is one, else through the blocking chain on a goroutine of the call's.

func (u *UnaryUnaryCallable[Req, Resp]) startIntercepted(ctx context.Context, req Req, done func(Resp, *Call, error), opts []CallOption) *Call {
	if ics, ok := startable(u.chain.uu); ok {
		c := newStartChain[Req, Resp](u.ch, ctx, KindUnaryUnary, u.method, ics)
		c.launch = func(d *interceptors.ClientCallDetails, opts []CallOption) (*Call, streamSide[Req]) {
			p := UnaryUnaryCallable[Req, Resp]{u.plain(d.Method)}
			return p.Start(c.ctx, req, func(resp Resp, call *Call, err error) {
				c.ending(call, err)
				done(resp, &c.callv, err)
			}, opts...), nil
		}
		c.failed = func(st *status.Error) {
			var zero Resp
			done(zero, &c.callv, st)
		}
		c.begin(opts)
		return &c.callv
	}
	return startUnaryIntercepted(ctx, u.method, func(ctx context.Context) (Resp, *Call, error) { return u.intercepted(ctx, req, opts) }, done)
}

func (u *UnaryStreamCallable[Req, Resp]) startIntercepted(ctx context.Context, req Req, h StreamHandler[Resp], opts []CallOption) *StreamCall[Req, Resp] {
	if ics, ok := startable(u.chain.us); ok {
		c := newStartChain[Req, Resp](u.ch, ctx, KindUnaryStream, u.method, ics)
		c.launch = func(d *interceptors.ClientCallDetails, opts []CallOption) (*Call, streamSide[Req]) {
			p := UnaryStreamCallable[Req, Resp]{u.plain(d.Method)}
			sc := p.Start(c.ctx, req, c.wrap(h), opts...)
			return &sc.Call, sc.s
		}
		return c.startStream(h, opts)
	}
	return startStreamIntercepted[Req](ctx, u.method, h, false, func(ctx context.Context, _ iter.Seq[any]) (*ResponseStream[Resp], error) {
		return u.intercepted(ctx, req, opts)
	})
}

func (u *StreamUnaryCallable[Req, Resp]) startIntercepted(ctx context.Context, h StreamHandler[Resp], opts []CallOption) *StreamCall[Req, Resp] {
	if ics, ok := startable(u.chain.su); ok {
		c := newStartChain[Req, Resp](u.ch, ctx, KindStreamUnary, u.method, ics)
		c.launch = func(d *interceptors.ClientCallDetails, opts []CallOption) (*Call, streamSide[Req]) {
			p := StreamUnaryCallable[Req, Resp]{u.plain(d.Method)}
			sc := p.Start(c.ctx, c.wrap(h), opts...)
			return &sc.Call, sc.s
		}
		return c.startStream(h, opts)
	}
	return startClientStreamIntercepted(ctx, u, h, opts)
}

func (u *StreamStreamCallable[Req, Resp]) startIntercepted(ctx context.Context, h StreamHandler[Resp], opts []CallOption) *StreamCall[Req, Resp] {
	if ics, ok := startable(u.chain.ss); ok {
		c := newStartChain[Req, Resp](u.ch, ctx, KindStreamStream, u.method, ics)
		c.launch = func(d *interceptors.ClientCallDetails, opts []CallOption) (*Call, streamSide[Req]) {
			p := StreamStreamCallable[Req, Resp]{u.plain(d.Method)}
			sc := p.Start(c.ctx, c.wrap(h), opts...)
			return &sc.Call, sc.s
		}
		return c.startStream(h, opts)
	}
	return startStreamIntercepted[Req](ctx, u.method, h, true, func(ctx context.Context, reqs iter.Seq[any]) (*ResponseStream[Resp], error) {
		return u.intercepted(ctx, reqs, opts)
	})
}

// startUnaryIntercepted runs an intercepted unary-response call on a
// goroutine of its own (interceptors block by contract) and reports to
// done.
func startUnaryIntercepted[Resp any](ctx context.Context, method string, run func(context.Context) (Resp, *Call, error), done func(Resp, *Call, error)) *Call {
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithCancel(ctx)
	pc := newPendingCall(ctx, cancel)
	go func() {
		resp, call, err := run(ctx)
		pc.set(call)
		done(resp, call, err)
	}()
	c := newInterceptedCall(pc, method)
	return &c
}

// icAsync is a streaming call started with Start on a channel from
// Intercept whose interceptors block. Interceptors block by contract, so the chain and its response
// stream run on a goroutine of the call's, and the requests reach the
// chain's iterator from a second one; the caller still never blocks: Send
// takes credit, Request grants demand.
type icAsync[Req, Resp any] struct {
	h     StreamHandler[Resp]
	cbMu  sync.Mutex       // one callback at a time
	f     flow             // demand (awaited by the call's goroutine) and send credit
	queue chan icItem[Req] // room for every credit and the close
	pipe  *reqPipe
	ctx   context.Context
}

type icItem[Req any] struct {
	req   Req
	close bool
}

func newICAsync[Req, Resp any](ctx context.Context, h StreamHandler[Resp], sendable bool) *icAsync[Req, Resp] {
	a := &icAsync[Req, Resp]{h: h, ctx: ctx}
	a.f.init(h.Demand, false, !sendable, true)
	if sendable {
		a.queue = make(chan icItem[Req], DefaultSendCredit+1)
		a.pipe = newReqPipe(ctx)
	}
	return a
}

func (a *icAsync[Req, Resp]) callback(fn func()) {
	a.cbMu.Lock()
	defer a.cbMu.Unlock()
	defer func() { _ = recover() }()
	fn()
}

func (a *icAsync[Req, Resp]) grant(n int) {
	if a.f.addCredit(n) && a.h.OnSendCredit != nil {
		a.callback(func() { a.h.OnSendCredit(n) })
	}
}

func (a *icAsync[Req, Resp]) send(req Req) error {
	return a.f.takeCredit(a.ctx.Err() != nil, func() { a.queue <- icItem[Req]{req: req} })
}

func (a *icAsync[Req, Resp]) closeSend() error {
	a.f.close(func() {
		if a.queue != nil {
			a.queue <- icItem[Req]{close: true}
		}
	})
	return nil
}

func (a *icAsync[Req, Resp]) request(n int) { a.f.addDemand(n) }

// feed moves the queued requests into the chain's iterator, one credit
// back for each taken (its own goroutine).
func (a *icAsync[Req, Resp]) feed() {
	for {
		select {
		case it := <-a.queue:
			if it.close {
				a.pipe.close()
				return
			}
			if a.pipe.send(it.req) != nil {
				return
			}
			a.grant(1)
		case <-a.ctx.Done():
			return
		}
	}
}

func (a *icAsync[Req, Resp]) typedSeq(method string) iter.Seq[any] {
	if a.pipe == nil {
		return nil
	}
	return a.pipe.seq()
}

// startStreamIntercepted starts a server- or bidirectional-streaming call
// through the chain (run) and delivers its responses to h.
func startStreamIntercepted[Req, Resp any](ctx context.Context, method string, h StreamHandler[Resp], sendable bool, run func(context.Context, iter.Seq[any]) (*ResponseStream[Resp], error)) *StreamCall[Req, Resp] {
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithCancel(ctx)
	a := newICAsync[Req](ctx, h, sendable)
	pc := newPendingCall(ctx, cancel)
	go func() {
		rs, err := run(ctx, a.typedSeq(method))
		if err != nil {
			c := &Call{newInterceptedCall(finishedCall(err), method).m}
			pc.set(c)
			cancel()
			if a.pipe != nil {
				a.pipe.end()
			}
			if h.OnEnd != nil {
				a.callback(func() { h.OnEnd(c, err) })
			}
			return
		}
		pc.set(&rs.Call)
		if sendable {
			go a.feed()
			a.grant(DefaultSendCredit)
		}
		if h.OnHeader != nil {
			md := rs.InitialMetadata()
			a.callback(func() { h.OnHeader(md) })
		}
		var end error
		for {
			// The next message or the end first, then demand for the
			// message: the end needs no demand (as in Reactive Streams),
			// so a demand that covers exactly the stream's messages ends
			// it. At most one message is read ahead of demand.
			resp, err := rs.Recv()
			if err != nil {
				if err != io.EOF {
					end = err
				}
				break
			}
			if !a.f.awaitDemand(ctx.Done()) {
				_, end = rs.Recv() // cancelled: the call's status
				if end == io.EOF {
					end = nil
				}
				break
			}
			if h.OnMessage != nil {
				a.callback(func() { h.OnMessage(resp) })
			}
		}
		if a.pipe != nil {
			a.pipe.end()
		}
		cancel()
		if h.OnEnd != nil {
			a.callback(func() { h.OnEnd(&rs.Call, end) })
		}
	}()
	return &StreamCall[Req, Resp]{Call: newInterceptedCall(pc, method), s: a}
}

// startClientStreamIntercepted starts a client-streaming call through the
// chain.
func startClientStreamIntercepted[Req, Resp any](ctx context.Context, u *StreamUnaryCallable[Req, Resp], h StreamHandler[Resp], opts []CallOption) *StreamCall[Req, Resp] {
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithCancel(ctx)
	a := newICAsync[Req](ctx, h, true)
	pc := newPendingCall(ctx, cancel)
	go a.feed()
	go func() {
		resp, call, err := u.intercepted(ctx, a.pipe.seq(), opts)
		a.pipe.end()
		pc.set(call)
		if err == nil && h.OnMessage != nil {
			a.callback(func() { h.OnMessage(resp) })
		}
		if h.OnEnd != nil {
			a.callback(func() { h.OnEnd(call, err) })
		}
	}()
	a.grant(DefaultSendCredit)
	return &StreamCall[Req, Resp]{Call: newInterceptedCall(pc, u.method), s: a}
}
