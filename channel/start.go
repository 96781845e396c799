package channel

import (
	"context"
	"fmt"
	"io"
	"iter"
	"sync"

	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/internal/transport"
	"github.com/grpcactor/grpcactor/metadata"
	"github.com/grpcactor/grpcactor/status"
)

// The callback form of every call kind (Start): the call starts and Start
// returns at once; what happens later reaches the caller through
// callbacks. No goroutine waits for the call: its events (the channel
// becoming ready, response headers, messages, the end, request bytes
// written) run the call's pump on the goroutine that caused them.

// DefaultSendCredit is how many requests a started client- or
// bidirectional-streaming call lets its caller send ahead
// (StreamHandler.OnSendCredit) while fewer than the connection's write
// quota (64 KiB) of its bytes wait to be written; more credit comes as
// they are written. A server that stops reading thus stops the credit: at
// most the write quota plus DefaultSendCredit requests are ever buffered.
const DefaultSendCredit = 16

// StreamHandler receives the events of a call started with Start. Every
// callback runs on a goroutine of the runtime's (the connection's frame
// reader, a short-lived one for what an actor of the runtime caused, a
// timer; never inside an actor's Receive) or on the goroutine that called
// Request, Send, CloseSend or Cancel; never two at once for
// one call, and in order: OnHeader, then OnSendCredit and OnMessage
// interleaved, then OnEnd, exactly once. A callback must not block: it
// holds up the connection's other calls. A panic in one ends the call
// INTERNAL (a panic in OnEnd is logged to the channel's logger).
type StreamHandler[Resp any] struct {
	// OnHeader, if set, receives the response headers' metadata (not
	// called for a trailers-only response: OnEnd's Call has it).
	OnHeader func(md metadata.MD)
	// OnMessage receives each response. For a server- or bidirectional-
	// streaming call it is called at most as many times as demand was
	// granted (Demand, then Request). For a client-streaming call it
	// receives the one response, right before OnEnd with a nil error.
	OnMessage func(resp Resp)
	// OnSendCredit, if set, tells a client- or bidirectional-streaming
	// call's caller that it may Send n more requests (see
	// DefaultSendCredit). No request may be sent before the first credit.
	OnSendCredit func(n int)
	// OnEnd receives the finished call and its error: nil for OK, else a
	// *status.Error.
	OnEnd func(call *Call, err error)
	// Demand is how many responses OnMessage may receive before Request
	// grants more; 0 means no limit. The stream's HTTP/2 receive window
	// is credited back only as responses are delivered, so a caller that
	// grants no demand back-pressures the server once the window (4 MiB)
	// is full.
	Demand int
}

// StreamCall is a call started with Start on a streaming method: the Call
// (metadata, code, details, Cancel) with the request side and the demand
// control.
type StreamCall[Req, Resp any] struct {
	Call
	s streamSide[Req]
}

// streamSide is a started streaming call's request side and demand: the
// plain call's (asyncCall) or an intercepted call's.
type streamSide[Req any] interface {
	send(req Req) error
	closeSend() error
	request(n int)
}

// Send sends one request without waiting. It needs send credit
// (StreamHandler.OnSendCredit): without, it returns a RESOURCE_EXHAUSTED
// *status.Error and sends nothing (the call goes on). It returns io.EOF if
// the call has ended, a *status.Error if the request could not be
// serialized or is over the send limit (the call then fails).
func (s *StreamCall[Req, Resp]) Send(req Req) error { return s.s.send(req) }

// CloseSend half-closes the call: no more requests.
func (s *StreamCall[Req, Resp]) CloseSend() error { return s.s.closeSend() }

// Request grants n more responses to OnMessage (see
// StreamHandler.Demand). It does nothing for a call without a limit.
func (s *StreamCall[Req, Resp]) Request(n int) {
	if n > 0 {
		s.s.request(n)
	}
}

// pump runs a call's step function on whichever goroutine kicks it, one
// at a time: a kick while a step runs makes that goroutine step again.
type pump struct {
	mu      sync.Mutex
	running bool
	again   bool
}

func (p *pump) kick(step func()) {
	p.mu.Lock()
	if p.running {
		p.again = true
		p.mu.Unlock()
		return
	}
	p.running = true
	for {
		p.again = false
		p.mu.Unlock()
		step()
		p.mu.Lock()
		if !p.again {
			p.running = false
			p.mu.Unlock()
			return
		}
	}
}

// asyncCall is a call started with Start: the typed half.
type asyncCall[Req, Resp any] struct {
	cs    *callState
	codec *codec[Req, Resp]
	call  *Call // &callv
	callv Call
	h     StreamHandler[Resp]
	// unary: the response is held until the end and goes to done (or to
	// OnMessage before OnEnd for a client-streaming call).
	unary bool
	done  func(Resp, *Call, error)
	req   []byte // a unary request, recycled at the end
	p     pump

	// Owned by the pump.
	hdrSent bool
	ended   bool
	resp    Resp
	got     bool

	held    []byte // a message read ahead while there was no demand
	hasHeld bool

	sendable bool // a client- or bidirectional-streaming call
	f        flow // demand and send credit (awaited by a request iterator's goroutine)
}

func newAsync[Req, Resp any](c *callable[Req, Resp], ctx context.Context, opts []CallOption, h StreamHandler[Resp], unary, sendable bool) (*asyncCall[Req, Resp], error) {
	a := &asyncCall[Req, Resp]{codec: &c.codec, h: h, unary: unary, sendable: sendable}
	a.f.init(h.Demand, unary, !sendable, sendable)
	cs, err := c.ch.newCallState(ctx, c.method, opts, false, a.kick)
	if err != nil {
		return nil, err
	}
	a.cs = cs
	a.callv = newCall(cs)
	a.call = &a.callv
	return a, nil
}

func (a *asyncCall[Req, Resp]) kick() { a.p.kick(a.step) }

// endWith finishes the call with what tryRecv returned at its end (io.EOF
// for OK).
func (a *asyncCall[Req, Resp]) endWith(err error) {
	st := toStatus(err)
	if st == nil && a.unary && !a.got {
		st = errNoResponse
	}
	a.cs.finish(st)
}

// begin watches the call's context and opens its first attempt, once the
// call is set up.
func (a *asyncCall[Req, Resp]) begin() {
	a.cs.watch()
	a.cs.startAsync()
}

// step delivers what is ready: headers, responses within the demand,
// send credit, and the end.
func (a *asyncCall[Req, Resp]) step() {
	if a.ended {
		return
	}
	cs := a.cs
	if !a.hdrSent && a.h.OnHeader != nil {
		cs.mu.Lock()
		s, restarting := cs.stream.Load(), cs.restarting
		cs.mu.Unlock()
		if s != nil && !restarting && s.HeadersReceived() {
			a.hdrSent = true
			if md, ok := s.HeaderIfReady(); ok {
				a.safely("OnHeader", func() { a.h.OnHeader(md) })
			}
		}
	}
	for !cs.isDone() {
		if !a.f.takeDemand() {
			// No demand left: look one message ahead, so that the end of
			// a stream whose messages were all taken is delivered without
			// more demand (Reactive Streams' completion needs none). A
			// message found is held until demand comes.
			if a.unary || a.hasHeld {
				break
			}
			data, ok, err := cs.tryRecv()
			if !ok {
				break
			}
			if err != nil {
				a.endWith(err)
				break
			}
			a.held, a.hasHeld = data, true
			break
		}
		var data []byte
		var ok bool
		var err error
		if a.hasHeld {
			data, ok = a.held, true
			a.held, a.hasHeld = nil, false
		} else {
			data, ok, err = cs.tryRecv()
		}
		if !ok || err != nil {
			a.f.giveDemand()
		}
		if !ok {
			break
		}
		if err != nil {
			a.endWith(err)
			break
		}
		resp, derr := a.codec.decode(data)
		if derr != nil {
			cs.fail(toStatus(derr))
			break
		}
		if a.unary {
			if a.got {
				cs.fail(errManyResponses)
				break
			}
			a.resp, a.got = resp, true
			continue
		}
		a.safely("OnMessage", func() { a.h.OnMessage(resp) })
	}
	if !cs.isDone() {
		a.grantCredit()
		return
	}
	a.ended = true
	a.f.end()
	err := cs.finalErr()
	resp := a.resp
	if err != nil {
		var zero Resp
		resp = zero
	}
	if a.req != nil {
		cs.recycle(a.req)
		a.req = nil
	}
	defer func() {
		// The call is over: nothing to fail, so the panic is logged.
		if r := recover(); r != nil {
			cs.ch.logger().Error("grpcactor: call end callback panicked", "target", cs.ch.target, "method", cs.hdr.Method, "panic", fmt.Sprint(r))
		}
	}()
	switch {
	case a.done != nil:
		a.done(resp, a.call, err)
	default:
		if a.unary && err == nil && a.h.OnMessage != nil {
			// A panic here must not cost the caller its OnEnd: the call
			// ends for it INTERNAL, as a panic in any other callback.
			if p := panicOf(func() { a.h.OnMessage(resp) }); p != nil {
				err = status.Errorf(codes.Internal, "OnMessage callback of %s panicked: %v", cs.hdr.Method, p)
			}
		}
		if a.h.OnEnd != nil {
			a.h.OnEnd(a.call, err)
		}
	}
}

// panicOf runs fn and returns what it panicked with, or nil.
func panicOf(fn func()) (p any) {
	defer func() { p = recover() }()
	fn()
	return nil
}

// safely runs a user callback; a panic fails the call INTERNAL.
func (a *asyncCall[Req, Resp]) safely(name string, fn func()) {
	defer func() {
		if r := recover(); r != nil {
			a.cs.fail(status.Errorf(codes.Internal, "%s callback of %s panicked: %v", name, a.cs.hdr.Method, r))
		}
	}()
	fn()
}

func (a *asyncCall[Req, Resp]) request(n int) {
	if a.f.addDemand(n) {
		a.kick()
	}
}

// grantCredit tops the caller's send credit up to DefaultSendCredit once
// it fell to half, while the stream's queued bytes are under the write
// quota (pump).
func (a *asyncCall[Req, Resp]) grantCredit() {
	if !a.sendable {
		return
	}
	n := a.f.topUp(DefaultSendCredit, func() bool { return a.cs.sendReady(transport.DefaultWriteQuota) })
	if n > 0 && a.h.OnSendCredit != nil {
		a.safely("OnSendCredit", func() { a.h.OnSendCredit(n) })
	}
}

func (a *asyncCall[Req, Resp]) send(req Req) error {
	if err := a.f.takeCredit(a.cs.isDone(), nil); err != nil {
		return err
	}
	buf, err := a.codec.encode(req, true)
	if err == nil {
		buf, err = a.cs.frame(buf)
	}
	if err != nil {
		return a.cs.fail(toStatus(err))
	}
	err = a.cs.sendAsync(buf, false)
	a.kick() // the credit may be topped up
	return err
}

func (a *asyncCall[Req, Resp]) closeSend() error {
	if !a.f.close(nil) || a.cs.isDone() {
		return nil
	}
	err := a.cs.closeSendAsync()
	if err == io.EOF {
		return nil
	}
	return err
}

// sendAll sends the requests of reqs as credit allows and half-closes, on
// the goroutine of a request iterator (which may block). A panicking or
// abandoned iterator ends the call UNKNOWN.
func (a *asyncCall[Req, Resp]) sendAll(reqs iter.Seq[Req]) {
	finished := false
	defer func() {
		if r := recover(); r != nil {
			if te, ok := r.(reqTypeError); ok {
				a.cs.fail(te.st)
				return
			}
			a.cs.fail(status.Errorf(codes.Unknown, "request iterator panicked: %v", r))
		} else if !finished {
			a.cs.fail(status.New(codes.Unknown, "request iterator was abandoned before it finished (runtime.Goexit)"))
		}
	}()
	if reqs != nil {
		for req := range reqs {
			if !a.f.awaitCredit(a.cs.doneCh()) || a.send(req) != nil {
				finished = true
				return
			}
		}
	}
	finished = true
	_ = a.closeSend()
}

// --- Start on each kind ---

// Start starts the call and returns at once; done runs once when the call
// ends, with the response (or a *status.Error) and the finished call. It
// runs on a goroutine of the runtime's (the connection's frame reader, a
// short-lived one for what an actor of the runtime caused, a timer; never
// inside an actor's Receive), on one that cancelled the call, or, for a
// call that cannot start (a closed channel, a request that cannot be
// serialized), on the caller's before Start returns; it must not block.
// done may be nil: the call then runs for its side effects, and the
// returned Call tells its outcome (Done, Err). No goroutine waits for the
// call meanwhile (except, on a channel from Intercept whose interceptors
// are not all StartInterceptors, the one that runs the interceptor chain,
// whose interceptors block by contract; and while call credentials are
// asked, as they may block too). Cancel the call with the returned Call.
func (u *UnaryUnaryCallable[Req, Resp]) Start(ctx context.Context, req Req, done func(resp Resp, call *Call, err error), opts ...CallOption) *Call {
	if done == nil {
		done = func(Resp, *Call, error) {}
	}
	if u.chain != nil && len(u.chain.uu) > 0 {
		return u.startIntercepted(ctx, req, done, opts)
	}
	a, err := newAsync(&u.callable, ctx, opts, StreamHandler[Resp]{}, true, false)
	if err != nil {
		var zero Resp
		c := &Call{newInterceptedCall(finishedCall(err), u.method).m}
		done(zero, c, err)
		return c
	}
	a.done = done
	buf, err := u.codec.encode(req, true)
	if err == nil {
		buf, err = a.cs.frame(buf)
	}
	if err != nil {
		a.cs.finish(failStatus(err))
		return a.call
	}
	a.req = buf
	a.cs.sent = [][]byte{buf}
	a.cs.closedSend = true
	a.begin()
	return a.call
}

// Start sends req and returns at once; the responses and the end go to h
// (see StreamHandler), within the demand h.Demand and Request grant.
func (u *UnaryStreamCallable[Req, Resp]) Start(ctx context.Context, req Req, h StreamHandler[Resp], opts ...CallOption) *StreamCall[Req, Resp] {
	if u.chain != nil && len(u.chain.us) > 0 {
		return u.startIntercepted(ctx, req, h, opts)
	}
	a, err := newAsync(&u.callable, ctx, opts, h, false, false)
	if err != nil {
		return failedStream[Req](u.method, h, err)
	}
	buf, err := u.codec.encode(req, false)
	if err == nil {
		buf, err = a.cs.frame(buf)
	}
	if err != nil {
		a.cs.finish(failStatus(err))
		return &StreamCall[Req, Resp]{Call: *a.call, s: a}
	}
	a.cs.sent = [][]byte{buf}
	a.cs.closedSend = true
	a.begin()
	return &StreamCall[Req, Resp]{Call: *a.call, s: a}
}

// failedStream reports a call that could not start to h.
func failedStream[Req, Resp any](method string, h StreamHandler[Resp], err error) *StreamCall[Req, Resp] {
	c := &Call{newInterceptedCall(finishedCall(err), method).m}
	if h.OnEnd != nil {
		h.OnEnd(c, err)
	}
	cs := &callState{}
	cs.over = true
	a := &asyncCall[Req, Resp]{ended: true, cs: cs}
	a.f.closed = true
	return &StreamCall[Req, Resp]{Call: *c, s: a}
}

var closedDone = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// Start opens the call and returns at once: requests go out with Send (as
// send credit allows) and CloseSend; the one response and the end go to
// h's OnMessage and OnEnd.
func (u *StreamUnaryCallable[Req, Resp]) Start(ctx context.Context, h StreamHandler[Resp], opts ...CallOption) *StreamCall[Req, Resp] {
	if u.chain != nil && len(u.chain.su) > 0 {
		return u.startIntercepted(ctx, h, opts)
	}
	a, err := newAsync(&u.callable, ctx, opts, h, true, true)
	if err != nil {
		return failedStream[Req](u.method, h, err)
	}
	a.begin()
	return &StreamCall[Req, Resp]{Call: *a.call, s: a}
}

// Start opens the call and returns at once: requests go out with Send (as
// send credit allows) and CloseSend; responses and the end go to h, within
// the demand h.Demand and Request grant.
func (u *StreamStreamCallable[Req, Resp]) Start(ctx context.Context, h StreamHandler[Resp], opts ...CallOption) *StreamCall[Req, Resp] {
	if u.chain != nil && len(u.chain.ss) > 0 {
		return u.startIntercepted(ctx, h, opts)
	}
	a, err := newAsync(&u.callable, ctx, opts, h, false, true)
	if err != nil {
		return failedStream[Req](u.method, h, err)
	}
	a.begin()
	return &StreamCall[Req, Resp]{Call: *a.call, s: a}
}
