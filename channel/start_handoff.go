package channel

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/interceptors"
	"github.com/grpcactor/grpcactor/metadata"
	"github.com/grpcactor/grpcactor/status"
)

// CallKind is the kind of a call, after the four interceptor interfaces.
type CallKind int

// The kinds of call.
const (
	KindUnaryUnary   CallKind = iota + 1 // one request, one response
	KindUnaryStream                      // one request, a response stream
	KindStreamUnary                      // a request stream, one response
	KindStreamStream                     // both streams
)

// String returns the kind's interceptor name, for example "UnaryUnary".
func (k CallKind) String() string {
	switch k {
	case KindUnaryUnary:
		return "UnaryUnary"
	case KindUnaryStream:
		return "UnaryStream"
	case KindStreamUnary:
		return "StreamUnary"
	case KindStreamStream:
		return "StreamStream"
	}
	return "CallKind(" + strconv.Itoa(int(k)) + ")"
}

// StartInterceptor is implemented by an interceptor that can also hand on
// a call started with Start without blocking: it sees the call's details
// and lets it proceed (with details it may change, and a hook for the
// end) or rejects it, at once or later, from any goroutine.
//
// On a channel from Intercept, a started call whose interceptors (those of
// its kind) all implement StartInterceptor goes through InterceptStart
// instead of their blocking methods, and no goroutine waits for it at any
// point: while the interceptors decide and while it is in flight, the
// call is state, completed by callbacks. If any of them does not
// implement it, Start runs the blocking chain on a goroutine of the
// call's. The blocking methods still serve Call, Open and Future.
//
// InterceptStart must not block, and answers h exactly once (a second
// answer is ignored). It cannot see or replace the request or the
// responses: an interceptor that must implements only the blocking
// interfaces. While the interceptors decide, the call's context and its
// Timeout bound the wait: a call that ends meanwhile ends CANCELLED or
// DEADLINE_EXCEEDED without an answer, and a later answer is ignored.
type StartInterceptor interface {
	InterceptStart(ctx context.Context, h *Handoff)
}

// Handoff is a call started with Start on its way through one
// StartInterceptor: answer it with Proceed or Reject.
type Handoff struct {
	c        handoffChain
	next     int
	kind     CallKind
	details  *interceptors.ClientCallDetails
	answered atomic.Bool
}

// handoffChain is the started call a Handoff belongs to.
type handoffChain interface {
	proceed(next int, d *interceptors.ClientCallDetails, onEnd func(error))
	abort(st *status.Error) bool
}

// Kind returns the kind of the call.
func (h *Handoff) Kind() CallKind { return h.kind }

// Details returns the call's details as the interceptors before this one
// left them; the interceptor may change them in place.
func (h *Handoff) Details() *interceptors.ClientCallDetails { return h.details }

// Proceed lets the call go on with d (nil: Details()). onEnd, if not nil,
// runs once when the call ends, with its error (nil for OK, else a
// *status.Error), before the caller's callbacks learn of the end (the
// hooks of later interceptors first); it must not block.
func (h *Handoff) Proceed(d *interceptors.ClientCallDetails, onEnd func(err error)) {
	if !h.answered.CompareAndSwap(false, true) {
		return
	}
	if d == nil {
		d = h.details
	}
	h.c.proceed(h.next, d, onEnd)
}

// Reject ends the call with err without sending it: a *status.Error as it
// is, any other error INTERNAL (as an error a blocking interceptor
// returns), nil UNKNOWN.
func (h *Handoff) Reject(err error) {
	if !h.answered.CompareAndSwap(false, true) {
		return
	}
	st, _ := icError(err).(*status.Error)
	if st == nil {
		st = status.Errorf(codes.Unknown, "an interceptor rejected the %s call to %s without an error", h.kind, h.details.Method)
	}
	h.c.abort(st)
}

// startable returns a chain's interceptors as StartInterceptors, if they
// all are.
func startable[I any](ics []I) ([]StartInterceptor, bool) {
	out := make([]StartInterceptor, len(ics))
	for i, ic := range ics {
		s, ok := any(ic).(StartInterceptor)
		if !ok {
			return nil, false
		}
		out[i] = s
	}
	return out, true
}

// startChain is a call started with Start on a channel whose interceptors
// are all StartInterceptors: it goes through them by callbacks, then
// starts as a plain call (launch), whose Call and request side it then
// stands for. It is the Call (callMode) and the request side (streamSide)
// the caller holds from the start.
type startChain[Req, Resp any] struct {
	ch   *Channel
	kind CallKind
	name string // the method
	ics  []StartInterceptor
	ctx  context.Context
	wire wireOptions
	// launch starts the plain call with the details the interceptors
	// left; failed tells the caller's callback of a call that ended
	// before it started.
	launch func(d *interceptors.ClientCallDetails, opts []CallOption) (*Call, streamSide[Req])
	failed func(st *status.Error)
	callv  Call // Call{c}, what the caller's callbacks receive

	ready chan struct{} // closed once call is set
	done  chan struct{} // closed at the end of the call

	mu          sync.Mutex
	call        *Call           // the plain call once launched, or the finished call
	side        streamSide[Req] // the plain call's request side once launched
	launched    bool            // the plain call owns the end from now on
	ended       bool
	endErr      error
	onEnds      []func(error)
	stopWatch   func() bool
	timer       *time.Timer
	deadline    time.Time // of the hand-off: the context's or the Timeout's
	demand      int       // granted by Request before the launch
	closedEarly bool      // CloseSend came before the launch
	// cancelLate is a cancel that came while the plain call was being
	// launched (launched, call not yet set): the launch applies it.
	cancelLate *status.Error
}

// newStartChain prepares a started call through ics; begin sends it on.
func newStartChain[Req, Resp any](ch *Channel, ctx context.Context, kind CallKind, method string, ics []StartInterceptor) *startChain[Req, Resp] {
	if ctx == nil {
		ctx = context.Background()
	}
	c := &startChain[Req, Resp]{ch: ch, kind: kind, name: method, ics: ics, ctx: ctx, ready: make(chan struct{}), done: make(chan struct{})}
	c.callv = Call{c}
	return c
}

// begin hands the call to the first interceptor, its context and Timeout
// watched meanwhile (by callbacks, not a goroutine).
func (c *startChain[Req, Resp]) begin(opts []CallOption) {
	var o callOptions
	for _, opt := range opts {
		if opt != nil {
			opt.applyCall(&o)
		}
	}
	c.wire = o.wire
	d := callDetails(c.name, opts)
	c.mu.Lock()
	if dl, ok := c.ctx.Deadline(); ok {
		c.deadline = dl
	}
	if o.timeoutSet {
		if dl := time.Now().Add(o.timeout); c.deadline.IsZero() || dl.Before(c.deadline) {
			c.deadline = dl
		}
		c.timer = time.AfterFunc(o.timeout, func() {
			c.abort(status.Errorf(codes.DeadlineExceeded, "deadline exceeded (timeout %v) while the interceptors had the %s call to %s", o.timeout, c.kind, c.name))
		})
	}
	if c.ctx.Done() != nil {
		c.stopWatch = context.AfterFunc(c.ctx, func() { c.abort(status.FromContext(c.ctx)) })
	}
	c.mu.Unlock()
	c.proceed(0, d, nil)
}

// proceed hands the call to interceptor next, or launches it after the
// last; onEnd is the hook of the interceptor that let it proceed.
func (c *startChain[Req, Resp]) proceed(next int, d *interceptors.ClientCallDetails, onEnd func(error)) {
	c.mu.Lock()
	if c.ended {
		err := c.endErr
		c.mu.Unlock()
		if onEnd != nil {
			safeHook(onEnd, err) // the call ended while it decided
		}
		return
	}
	if onEnd != nil {
		c.onEnds = append(c.onEnds, onEnd)
	}
	if next < len(c.ics) {
		c.mu.Unlock()
		c.hand(next, d)
		return
	}
	c.launched = true
	stop, t := c.stopWatch, c.timer
	c.mu.Unlock()
	if stop != nil {
		stop()
	}
	if t != nil {
		t.Stop()
	}
	call, side := c.launch(d, detailsOptionsWire(c.wire, d))
	c.mu.Lock()
	if c.call == nil {
		c.call = call
		close(c.ready)
	}
	c.side = side
	demand, closeSend, late := c.demand, c.closedEarly, c.cancelLate
	c.cancelLate = nil
	c.mu.Unlock()
	if late != nil {
		call.cancelWith(late)
		return
	}
	if side != nil {
		if demand > 0 {
			side.request(demand)
		}
		if closeSend {
			_ = side.closeSend()
		}
	}
}

// hand gives the call to interceptor i; a panic in it ends the call
// INTERNAL (if it had not let the call go on).
func (c *startChain[Req, Resp]) hand(i int, d *interceptors.ClientCallDetails) {
	h := &Handoff{c: c, next: i + 1, kind: c.kind, details: d}
	defer func() {
		if r := recover(); r != nil {
			if h.answered.CompareAndSwap(false, true) {
				c.abort(status.Errorf(codes.Internal, "interceptor panicked on %s: %v", c.name, r))
			}
		}
	}()
	c.ics[i].InterceptStart(c.ctx, h)
}

// ending is the end of the launched call, reported by its callbacks
// before the caller's: the interceptors' hooks run.
func (c *startChain[Req, Resp]) ending(call *Call, err error) {
	c.mu.Lock()
	if c.call == nil {
		c.call = call
		close(c.ready)
	}
	c.ended, c.endErr = true, err
	hooks := c.onEnds
	c.onEnds = nil
	c.mu.Unlock()
	close(c.done)
	for i := len(hooks) - 1; i >= 0; i-- {
		safeHook(hooks[i], err)
	}
}

// abort ends a call that has not been launched with st: the hooks run and
// the caller is told. False if the call was launched or over.
func (c *startChain[Req, Resp]) abort(st *status.Error) bool {
	c.mu.Lock()
	if c.ended || c.launched {
		c.mu.Unlock()
		return false
	}
	c.ended, c.endErr = true, st
	c.call = &Call{newInterceptedCall(finishedCall(st), c.name).m}
	close(c.ready)
	hooks, stop, t := c.onEnds, c.stopWatch, c.timer
	c.onEnds = nil
	c.mu.Unlock()
	if stop != nil {
		stop()
	}
	if t != nil {
		t.Stop()
	}
	close(c.done)
	for i := len(hooks) - 1; i >= 0; i-- {
		safeHook(hooks[i], st)
	}
	defer func() {
		if r := recover(); r != nil {
			c.ch.logger().Error("grpcactor: call end callback panicked", "target", c.ch.target, "method", c.name, "panic", fmt.Sprint(r))
		}
	}()
	c.failed(st)
	return true
}

// safeHook runs an interceptor's end hook; a panic is dropped (the call
// is over).
func safeHook(hook func(error), err error) {
	defer func() { _ = recover() }()
	hook(err)
}

// wrap is the handler the launched call reports to: the caller's, with
// the end seen first by the chain, and no send credit after an early
// CloseSend.
func (c *startChain[Req, Resp]) wrap(h StreamHandler[Resp]) StreamHandler[Resp] {
	w := h
	if h.OnSendCredit != nil {
		w.OnSendCredit = func(n int) {
			c.mu.Lock()
			closed := c.closedEarly
			c.mu.Unlock()
			if !closed {
				h.OnSendCredit(n)
			}
		}
	}
	w.OnEnd = func(call *Call, err error) {
		c.ending(call, err)
		if h.OnEnd != nil {
			h.OnEnd(&c.callv, err)
		}
	}
	return w
}

// startStream sends a streaming call on its way and returns it; h's OnEnd
// learns of a call that ends before it starts.
func (c *startChain[Req, Resp]) startStream(h StreamHandler[Resp], opts []CallOption) *StreamCall[Req, Resp] {
	c.failed = func(st *status.Error) {
		if h.OnEnd != nil {
			h.OnEnd(&c.callv, st)
		}
	}
	c.begin(opts)
	return &StreamCall[Req, Resp]{Call: c.callv, s: c}
}

// --- the Call (callMode) ---

func (c *startChain[Req, Resp]) wait() *Call { <-c.ready; return c.call }

func (c *startChain[Req, Resp]) InitialMetadata() metadata.MD  { return c.wait().InitialMetadata() }
func (c *startChain[Req, Resp]) TrailingMetadata() metadata.MD { return c.wait().TrailingMetadata() }
func (c *startChain[Req, Resp]) Code() codes.Code              { return c.wait().Code() }
func (c *startChain[Req, Resp]) Details() string               { return c.wait().Details() }
func (c *startChain[Req, Resp]) err() error                    { return c.wait().Err() }
func (c *startChain[Req, Resp]) Done() <-chan struct{}         { return c.done }
func (c *startChain[Req, Resp]) method() string                { return c.name }

func (c *startChain[Req, Resp]) IsActive() bool {
	select {
	case <-c.done:
		return false
	default:
		return true
	}
}

// Cancel ends the call CANCELLED: before the launch, here; during it, as
// the launch returns (true: the call has reported no end, and its request
// has at most just been handed to the connection; only a launch that
// fails the call at once, a closed channel for one, ends it otherwise);
// after it, through the plain call, which says whether the cancel is what
// ended it.
func (c *startChain[Req, Resp]) Cancel() bool {
	st := status.New(codes.Canceled, "call cancelled by the client")
	if c.abort(st) {
		return true
	}
	call, launching := c.lateCancel(st)
	if launching {
		return true
	}
	return call.Cancel()
}

func (c *startChain[Req, Resp]) cancelWith(st *status.Error) {
	if c.abort(st) {
		return
	}
	if call, launching := c.lateCancel(st); !launching {
		call.cancelWith(st)
	}
}

// lateCancel is a cancel with st of a call abort could not end: one being
// launched gets st as its cancelLate (launching true); otherwise call is
// the launched or finished call.
func (c *startChain[Req, Resp]) lateCancel(st *status.Error) (call *Call, launching bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.call == nil { // launched, since abort refused: the launch is under way
		if c.cancelLate == nil {
			c.cancelLate = st
		}
		return nil, true
	}
	return c.call, false
}

func (c *startChain[Req, Resp]) TimeRemaining() (time.Duration, bool) {
	select {
	case <-c.ready:
		return c.call.TimeRemaining()
	default:
	}
	c.mu.Lock()
	dl := c.deadline
	c.mu.Unlock()
	if dl.IsZero() {
		return 0, false
	}
	return max(time.Until(dl), 0), true
}

func (c *startChain[Req, Resp]) peer() string {
	select {
	case <-c.ready:
		return c.call.Peer()
	default:
		return ""
	}
}

// --- the request side (streamSide) ---

func (c *startChain[Req, Resp]) send(req Req) error {
	c.mu.Lock()
	side, ended, closed := c.side, c.ended, c.closedEarly
	c.mu.Unlock()
	switch {
	case side != nil:
		return side.send(req)
	case ended:
		return io.EOF
	case closed:
		return errSendAfterClose
	}
	return errNoSendCredit // credit comes once the call runs
}

func (c *startChain[Req, Resp]) closeSend() error {
	c.mu.Lock()
	side := c.side
	if side == nil {
		c.closedEarly = true
	}
	c.mu.Unlock()
	if side != nil {
		return side.closeSend()
	}
	return nil
}

func (c *startChain[Req, Resp]) request(n int) {
	c.mu.Lock()
	side := c.side
	if side == nil {
		c.demand += n
	}
	c.mu.Unlock()
	if side != nil {
		side.request(n)
	}
}
