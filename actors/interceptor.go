package actors

import (
	"context"
	"errors"
	"io"
	"iter"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/eventstream"
	"github.com/grpcactor/grpcactor/channel"
	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/interceptors"
	"github.com/grpcactor/grpcactor/internal/actorsys"
	"github.com/grpcactor/grpcactor/status"
)

// Kind is the kind of call a middleware actor is asked about: the
// channel's CallKind.
type Kind = channel.CallKind

// The kinds of call, after the four interceptor interfaces.
const (
	KindUnaryUnary   = channel.KindUnaryUnary   // one request, one response
	KindUnaryStream  = channel.KindUnaryStream  // one request, a response stream
	KindStreamUnary  = channel.KindStreamUnary  // a request stream, one response
	KindStreamStream = channel.KindStreamStream // both streams
)

// Intercept is the message a middleware actor receives for each call made
// through a channel that Interceptor is attached to. The actor answers it
// with ctx.Respond(&Proceed{...}) or ctx.Respond(&Reject{...}), at once or
// later (keep ctx.Sender() and ctx.Send to it: a rate limiter holds calls
// that way), before Deadline.
type Intercept struct {
	// ID identifies the call; its CallDone carries the same ID.
	ID uint64
	// Kind is the kind of call.
	Kind Kind
	// Details are the call's details (method, timeout, metadata,
	// credentials, wait-for-ready, compression): a copy of its own that
	// the actor may change and return in Proceed.
	Details *interceptors.ClientCallDetails
	// Deadline is when the call ends DEADLINE_EXCEEDED if the actor has
	// not answered: the call's deadline, or the Interceptor's answer
	// timeout for a call without one. Zero if neither is set.
	Deadline time.Time
}

// Proceed is the answer that lets a call go on.
type Proceed struct {
	// Details are the details the call goes on with, changes included
	// (they reach the wire: added metadata is sent to the server). Nil
	// keeps the details as they were. The call owns them once sent: the
	// actor must not change them afterwards.
	Details *interceptors.ClientCallDetails
	// NotifyDone asks for a *CallDone, sent to the middleware actor when
	// the call ends.
	NotifyDone bool
}

// Reject is the answer that ends a call without sending it: the call fails
// with Status (UNKNOWN if nil).
type Reject struct {
	Status *status.Error
}

// CallDone is the message a middleware actor receives when a call it let
// proceed with NotifyDone ends. For a streaming response the end is seen
// when the caller reads it (Recv returns io.EOF or an error) or cancels the
// call; a stream abandoned unread never reports one.
//
// A CallDone with Unanswered set arrives, whether asked for or not, when a
// call ends (its deadline passed or its context ended) while the actor had
// not yet answered its Intercept: an actor that holds calls (a rate
// limiter) lets go of the one with that ID; an answer it still sends is
// ignored. If its answer crossed the call's end, it receives this
// CallDone for a call it already let proceed: either way the call is over.
type CallDone struct {
	// ID and Kind are those of the call's Intercept.
	ID   uint64
	Kind Kind
	// Method is the method the call went to.
	Method string
	// Code and Details are the call's final status (OK and "" on
	// success).
	Code    codes.Code
	Details string
	// Duration is the time from the hand-off to the end of the call.
	Duration time.Duration
	// Unanswered is set when the call ended before the actor answered.
	Unanswered bool
}

// DefaultAnswerTimeout is how long a call without a deadline waits for the
// middleware actor's answer.
const DefaultAnswerTimeout = 30 * time.Second

// InterceptorOption configures an Interceptor.
type InterceptorOption func(*Middleware)

// AnswerTimeout bounds the wait for the middleware actor's answer for calls
// that have no deadline; a call with a deadline waits until it. A zero or
// negative d waits without limit. Default: DefaultAnswerTimeout.
func AnswerTimeout(d time.Duration) InterceptorOption {
	return func(m *Middleware) { m.answerTimeout = d }
}

// Middleware is the interceptor Interceptor returns: it implements all
// four interceptor interfaces and hands each call to a middleware actor.
type Middleware struct {
	pid           *actor.PID
	answerTimeout time.Duration
	sys           *actor.ActorSystem // set by BindChannel; nil: the default system
}

// Interceptor returns an interceptor for channel.Intercept that hands each
// call, of every kind, to the actor pid before it starts: the actor
// receives an *Intercept and answers *Proceed (the call goes on, with the
// details it returns) or *Reject (the call ends with its status). Token
// refreshers, rate limiters and auditors that live in an actor system sit
// on a channel's path this way.
//
// It talks to the actor through the actor system of the channel it is
// attached to (used unattached, through the library's default system),
// without protoactor's RequestFuture and without a goroutine of its own:
// the calling goroutine waits for the answer. The wait honours the call's
// deadline, and its context:
//   - an actor that is not running (stopped, or never started) ends the
//     call UNAVAILABLE, at once or as soon as it stops;
//   - an actor that does not answer in time ends it DEADLINE_EXCEEDED;
//   - an actor that panics ends the calls it was handed and had not
//     answered INTERNAL (whatever its supervisor then does, even a
//     restart that keeps its mailbox: their answers would come from state
//     that is gone); with Recover in its Props, only the call it panicked
//     on ends INTERNAL and the actor keeps its state;
//   - any other answer ends the call INTERNAL;
//
// each with a message naming the actor's PID.
func Interceptor(pid *actor.PID, opts ...InterceptorOption) *Middleware {
	if pid == nil {
		panic("actors.Interceptor: nil PID")
	}
	m := &Middleware{pid: pid, answerTimeout: DefaultAnswerTimeout}
	for _, opt := range opts {
		if opt != nil {
			opt(m)
		}
	}
	return m
}

// BindChannel implements channel.ChannelBinder: channel.Intercept uses a
// copy of m that talks to the actor through ch's actor system.
func (m *Middleware) BindChannel(ch *channel.Channel) any {
	if m == nil {
		return nil // Intercept reports it
	}
	c := *m
	c.sys = ch.ActorSystem()
	return &c
}

// InterceptUnaryUnary implements interceptors.UnaryUnary.
func (m *Middleware) InterceptUnaryUnary(ctx context.Context, details *interceptors.ClientCallDetails, req any, next interceptors.UnaryInvoker) (any, interceptors.Call, error) {
	d, done, err := m.handOff(ctx, KindUnaryUnary, details)
	if err != nil {
		return nil, nil, err
	}
	resp, call, err := next(ctx, d, req)
	done.report(err)
	return resp, call, err
}

// InterceptUnaryStream implements interceptors.UnaryStream.
func (m *Middleware) InterceptUnaryStream(ctx context.Context, details *interceptors.ClientCallDetails, req any, next interceptors.UnaryStreamInvoker) (interceptors.ClientStream, error) {
	d, done, err := m.handOff(ctx, KindUnaryStream, details)
	if err != nil {
		return nil, err
	}
	cs, err := next(ctx, d, req)
	return done.wrap(cs, err)
}

// InterceptStreamUnary implements interceptors.StreamUnary.
func (m *Middleware) InterceptStreamUnary(ctx context.Context, details *interceptors.ClientCallDetails, reqs iter.Seq[any], next interceptors.StreamUnaryInvoker) (any, interceptors.Call, error) {
	d, done, err := m.handOff(ctx, KindStreamUnary, details)
	if err != nil {
		return nil, nil, err
	}
	resp, call, err := next(ctx, d, reqs)
	done.report(err)
	return resp, call, err
}

// InterceptStreamStream implements interceptors.StreamStream.
func (m *Middleware) InterceptStreamStream(ctx context.Context, details *interceptors.ClientCallDetails, reqs iter.Seq[any], next interceptors.StreamStreamInvoker) (interceptors.ClientStream, error) {
	d, done, err := m.handOff(ctx, KindStreamStream, details)
	if err != nil {
		return nil, err
	}
	cs, err := next(ctx, d, reqs)
	return done.wrap(cs, err)
}

// handOff asks the middleware actor about a call and waits for its answer:
// the details to go on with and, if the actor asked for it, the CallDone
// reporter (nil otherwise), or the error that ends the call.
func (m *Middleware) handOff(ctx context.Context, kind Kind, details *interceptors.ClientCallDetails) (*interceptors.ClientCallDetails, *doneReporter, error) {
	start := time.Now()
	sys := m.sys
	if sys == nil {
		sys = actorsys.Default()
	}
	d := copyDetails(details)

	deadline, hasDeadline, fromTimeout, callDeadline := m.answerDue(ctx, d, start)
	// ctx.Done covers a deadline of the context's own; a timer covers
	// the others.
	var expired <-chan time.Time
	if hasDeadline && (fromTimeout || !callDeadline) {
		t := time.NewTimer(time.Until(deadline))
		defer t.Stop()
		expired = t.C
	}

	h, l := attach(sys, m.pid)
	defer l.detach(h)
	msg := &Intercept{ID: h.id, Kind: kind, Details: d}
	if hasDeadline {
		msg.Deadline = deadline
	}
	sys.Root.RequestWithCustomSender(m.pid, msg, h.pid)

	var answer any
	select {
	case answer = <-h.reply:
	case <-ctx.Done():
		ctxSt := status.FromContextError(ctx.Err())
		st := status.Errorf(ctxSt.Code(), "%s while middleware actor %s had the %s call to %s", ctxSt.Details(), m.pid, kind, d.Method).WithCause(ctx.Err())
		unanswered(sys, m.pid, h.id, kind, d.Method, start, st)
		return nil, nil, st
	case <-expired:
		what := "the call's deadline"
		if !callDeadline {
			what = "its answer timeout (actors.AnswerTimeout) " + m.answerTimeout.String()
		}
		st := status.Errorf(codes.DeadlineExceeded, "middleware actor %s did not answer the %s call to %s before %s", m.pid, kind, d.Method, what)
		unanswered(sys, m.pid, h.id, kind, d.Method, start, st)
		return nil, nil, st
	}

	return m.decide(sys, answer, kind, details, d, h.id, start, deadline, fromTimeout)
}

// decide turns the middleware actor's answer into the details to go on
// with and the CallDone reporter (nil if not asked for), or the error that
// ends the call.
func (m *Middleware) decide(sys *actor.ActorSystem, answer any, kind Kind, details, d *interceptors.ClientCallDetails, id uint64, start, deadline time.Time, fromTimeout bool) (*interceptors.ClientCallDetails, *doneReporter, error) {
	switch a := answer.(type) {
	case *Proceed:
		if a == nil {
			break
		}
		out := d
		if a.Details != nil {
			out = a.Details
		}
		// The call's own timeout counts from its start: what the
		// hand-off took comes off it, unless the actor set another.
		if fromTimeout && out.Timeout != nil && details.Timeout != nil && *out.Timeout == *details.Timeout {
			left := time.Until(deadline)
			c := *out // the actor's value stays as it sent it
			c.Timeout = &left
			out = &c
		}
		var done *doneReporter
		if a.NotifyDone {
			done = &doneReporter{sys: sys, pid: m.pid, id: id, kind: kind, method: out.Method, start: start}
		}
		return out, done, nil
	case *Reject:
		if a == nil {
			break
		}
		if a.Status == nil {
			return nil, nil, status.Errorf(codes.Unknown, "middleware actor %s rejected the %s call to %s without a status", m.pid, kind, d.Method)
		}
		return nil, nil, a.Status
	case *actor.DeadLetterResponse:
		return nil, nil, status.Errorf(codes.Unavailable, "middleware actor %s is not running (stopped, or never started): the %s call to %s was not handed off", m.pid, kind, d.Method)
	case *status.Error:
		return nil, nil, a // from the link: the actor stopped or failed
	}
	return nil, nil, status.Errorf(codes.Internal, "middleware actor %s answered the %s call to %s with %T, want *actors.Proceed or *actors.Reject", m.pid, kind, d.Method, answer)
}

// answerDue says when the answer is due: by the call's deadline, the
// earlier of the context's and the details' timeout (fromTimeout when the
// latter); without either (callDeadline false), after the answer timeout.
func (m *Middleware) answerDue(ctx context.Context, d *interceptors.ClientCallDetails, start time.Time) (deadline time.Time, hasDeadline, fromTimeout, callDeadline bool) {
	deadline, hasDeadline = ctx.Deadline()
	if d.Timeout != nil {
		if t := start.Add(*d.Timeout); !hasDeadline || t.Before(deadline) {
			deadline, hasDeadline, fromTimeout = t, true, true
		}
	}
	callDeadline = hasDeadline
	if !hasDeadline && m.answerTimeout > 0 {
		deadline, hasDeadline = start.Add(m.answerTimeout), true
	}
	return deadline, hasDeadline, fromTimeout, callDeadline
}

// InterceptStart implements channel.StartInterceptor: a call started with
// Start (and so every call made by message) is handed to the actor with
// no goroutine waiting for the answer. The answer, or the actor's end,
// moves the call on from the goroutine that delivers it; timers and the
// context's AfterFunc bound the wait, with the same outcomes (and the
// same CallDone with Unanswered) as the blocking interceptor methods.
func (m *Middleware) InterceptStart(ctx context.Context, ho *channel.Handoff) {
	start := time.Now()
	sys := m.sys
	if sys == nil {
		sys = actorsys.Default()
	}
	kind := ho.Kind()
	details := ho.Details()
	d := copyDetails(details)
	deadline, hasDeadline, fromTimeout, callDeadline := m.answerDue(ctx, d, start)

	h, l := attach(sys, m.pid)
	w := &asyncWait{}
	onAnswer := func(answer any) {
		w.end()
		l.detach(h)
		var st *status.Error
		switch answer.(type) {
		case ctxEnded:
			ctxSt := status.FromContextError(ctx.Err())
			st = status.Errorf(ctxSt.Code(), "%s while middleware actor %s had the %s call to %s", ctxSt.Details(), m.pid, kind, d.Method).WithCause(ctx.Err())
		case answerExpired:
			what := "the call's deadline"
			if !callDeadline {
				what = "its answer timeout (actors.AnswerTimeout) " + m.answerTimeout.String()
			}
			st = status.Errorf(codes.DeadlineExceeded, "middleware actor %s did not answer the %s call to %s before %s", m.pid, kind, d.Method, what)
		}
		if st != nil {
			unanswered(sys, m.pid, h.id, kind, d.Method, start, st)
			ho.Reject(st)
			return
		}
		out, done, err := m.decide(sys, answer, kind, details, d, h.id, start, deadline, fromTimeout)
		if err != nil {
			ho.Reject(err)
			return
		}
		var onEnd func(error)
		if done != nil {
			onEnd = done.report
		}
		ho.Proceed(out, onEnd)
	}
	msg := &Intercept{ID: h.id, Kind: kind, Details: d}
	if hasDeadline {
		msg.Deadline = deadline
	}
	// ctx's end covers a deadline of the context's own; a timer covers
	// the others.
	var t *time.Timer
	if hasDeadline && (fromTimeout || !callDeadline) {
		t = time.AfterFunc(time.Until(deadline), func() { h.deliver(answerExpired{}) })
	}
	w.add(t, context.AfterFunc(ctx, func() { h.deliver(ctxEnded{}) }))
	h.listen(onAnswer)
	sys.Root.RequestWithCustomSender(m.pid, msg, h.pid)
}

// ctxEnded and answerExpired end a started call's wait for the answer.
type (
	ctxEnded      struct{}
	answerExpired struct{}
)

// asyncWait holds what bounds a started call's wait for the answer, to
// stop it once the wait is over (even if that came first).
type asyncWait struct {
	mu      sync.Mutex
	over    bool
	timer   *time.Timer
	stopCtx func() bool
}

func (w *asyncWait) add(t *time.Timer, stopCtx func() bool) {
	w.mu.Lock()
	if !w.over {
		w.timer, w.stopCtx = t, stopCtx
		w.mu.Unlock()
		return
	}
	w.mu.Unlock()
	if t != nil {
		t.Stop()
	}
	stopCtx()
}

func (w *asyncWait) end() {
	w.mu.Lock()
	w.over = true
	t, stopCtx := w.timer, w.stopCtx
	w.mu.Unlock()
	if t != nil {
		t.Stop()
	}
	if stopCtx != nil {
		stopCtx()
	}
}

// unanswered tells the middleware actor that a call it had not answered has
// ended, so that an actor holding calls can let go of it.
func unanswered(sys *actor.ActorSystem, pid *actor.PID, id uint64, kind Kind, method string, start time.Time, st *status.Error) {
	sys.Root.Send(pid, &CallDone{ID: id, Kind: kind, Method: method, Code: st.Code(), Details: st.Details(), Duration: time.Since(start), Unanswered: true})
}

// copyDetails returns a copy of d that shares nothing the actor may change
// in place.
func copyDetails(d *interceptors.ClientCallDetails) *interceptors.ClientCallDetails {
	if d == nil {
		return &interceptors.ClientCallDetails{}
	}
	c := *d
	c.Metadata = d.Metadata.Copy()
	if d.Timeout != nil {
		t := *d.Timeout
		c.Timeout = &t
	}
	if d.WaitForReady != nil {
		w := *d.WaitForReady
		c.WaitForReady = &w
	}
	return &c
}

// doneReporter sends one call's CallDone to the middleware actor. A nil
// *doneReporter reports nothing.
type doneReporter struct {
	sys    *actor.ActorSystem
	pid    *actor.PID
	id     uint64
	kind   Kind
	method string
	start  time.Time
	once   sync.Once
}

// report sends the CallDone for a call that ended with err (nil, or
// io.EOF, for OK).
func (r *doneReporter) report(err error) {
	if r == nil {
		return
	}
	r.once.Do(func() {
		msg := &CallDone{ID: r.id, Kind: r.kind, Method: r.method, Duration: time.Since(r.start)}
		if err != nil && !errors.Is(err, io.EOF) {
			st := status.Convert(err)
			msg.Code, msg.Details = st.Code(), st.Details()
		}
		r.sys.Root.Send(r.pid, msg)
	})
}

// wrap returns the response stream of a streaming call, wrapped so that its
// end is reported, or reports a call that failed to start.
func (r *doneReporter) wrap(cs interceptors.ClientStream, err error) (interceptors.ClientStream, error) {
	if r == nil {
		return cs, err
	}
	if err != nil || cs == nil {
		r.report(err)
		return cs, err
	}
	return &reportingStream{ClientStream: cs, r: r}, nil
}

// reportingStream reports the end of a streaming call when its reader sees
// it, or when it is cancelled.
type reportingStream struct {
	interceptors.ClientStream
	r *doneReporter
}

func (s *reportingStream) Recv() (any, error) {
	v, err := s.ClientStream.Recv()
	if err != nil {
		s.r.report(err)
	}
	return v, err
}

func (s *reportingStream) Cancel() bool {
	ok := s.ClientStream.Cancel()
	if ok {
		s.r.report(status.New(codes.Canceled, "call cancelled by the client"))
	}
	return ok
}

// links holds one link per middleware actor in use, keyed by system and
// PID; a link removes itself when its actor stops.
var links sync.Map // linkKey -> *link

type linkKey struct {
	sys *actor.ActorSystem
	id  string // the actor's PID, as address/id
}

// link is the connection to one middleware actor: it watches the actor
// (a process registered in the system that receives its Terminated) and
// the system's supervision events, and fails the calls the actor holds
// when it stops or panics.
type link struct {
	sys    *actor.ActorSystem
	target *actor.PID
	key    linkKey
	self   *actor.PID // the watcher process
	sub    *eventstream.Subscription
	next   atomic.Uint64

	mu      sync.Mutex
	pending map[*handoff]struct{}
	dead    bool // the actor stopped: this link is gone, callers make another
}

// handoff is one call waiting for the middleware actor's answer: a tiny
// process registered under its own PID, the sender of the Intercept, whose
// only job is to pass the first message it receives to the waiting caller.
type handoff struct {
	id    uint64
	pid   *actor.PID
	reply chan any // capacity 1
	once  atomic.Bool
	// onAnswer, for a started call (no goroutine waits on reply), takes
	// the answer from reply: whichever of deliver and listen comes second
	// hands it over (an answer can come as soon as the handoff exists,
	// when its actor is already gone).
	onAnswer atomic.Pointer[func(any)]
}

// listen makes fn take the answer, now if it came already.
func (h *handoff) listen(fn func(any)) {
	h.onAnswer.Store(&fn)
	h.take(fn)
}

// take passes the answer to fn if it is there and nobody took it.
func (h *handoff) take(fn func(any)) {
	select {
	case m := <-h.reply:
		fn(m)
	default:
	}
}

// attach registers a new handoff with the link of sys and target, making
// the link (and watching the actor) if there is none.
func attach(sys *actor.ActorSystem, target *actor.PID) (*handoff, *link) {
	key := linkKey{sys: sys, id: target.Address + "/" + target.Id}
	for {
		v, ok := links.Load(key)
		if !ok {
			v, _ = links.LoadOrStore(key, newLink(sys, target, key))
		}
		l := v.(*link)
		if h := l.add(); h != nil {
			return h, l
		}
		links.CompareAndDelete(key, l) // a dead link: make a fresh one
	}
}

// newLink makes a link; it starts watching on its first call.
func newLink(sys *actor.ActorSystem, target *actor.PID, key linkKey) *link {
	return &link{sys: sys, target: target, key: key, pending: map[*handoff]struct{}{}}
}

// add registers a handoff, or returns nil if the link is dead. The first
// call starts the link: it registers the watcher, subscribes to
// supervision events and then, without the lock (a Watch of a dead actor
// is answered at once, on this goroutine), watches the actor.
func (l *link) add() *handoff {
	l.mu.Lock()
	if l.dead {
		l.mu.Unlock()
		return nil
	}
	first := l.self == nil
	if first {
		l.self, _ = l.sys.ProcessRegistry.Add(l, "grpcactor-middleware"+l.sys.ProcessRegistry.NextId())
		l.sub = l.sys.EventStream.Subscribe(l.supervised)
	}
	h := &handoff{id: l.next.Add(1), reply: make(chan any, 1)}
	l.pending[h] = struct{}{}
	self := l.self
	l.mu.Unlock()
	// The handoff's PID is unique in the system: the link's id and the
	// call's number.
	h.pid, _ = l.sys.ProcessRegistry.Add(h, self.Id+"/"+strconv.FormatUint(h.id, 36))
	if first {
		proc, _ := l.sys.ProcessRegistry.Get(l.target)
		proc.SendSystemMessage(l.target, &actor.Watch{Watcher: self})
	}
	return h
}

// supervised fails the pending calls when the actor's supervisor handles a
// panic of it.
func (l *link) supervised(evt any) {
	if e, ok := evt.(*actor.SupervisorEvent); ok && e.Child != nil && e.Child.Equal(l.target) {
		directive := strings.TrimSuffix(e.Directive.String(), "Directive")
		l.failAll(status.Errorf(codes.Internal, "middleware actor %s panicked (%v) and its supervisor chose %s: the calls it held are failed", l.target, e.Reason, directive), false)
	}
}

// detach removes a handoff that has its answer, or gave up waiting.
func (l *link) detach(h *handoff) {
	l.sys.ProcessRegistry.Remove(h.pid)
	l.mu.Lock()
	delete(l.pending, h)
	l.mu.Unlock()
}

// failAll ends every pending hand-off with st; with stopped, the actor is
// gone and the link removes itself.
func (l *link) failAll(st *status.Error, stopped bool) {
	l.mu.Lock()
	hs := make([]*handoff, 0, len(l.pending))
	for h := range l.pending {
		hs = append(hs, h)
	}
	if stopped && !l.dead {
		l.dead = true
		links.CompareAndDelete(l.key, l)
		l.sys.EventStream.Unsubscribe(l.sub)
		l.sys.ProcessRegistry.Remove(l.self)
	}
	l.mu.Unlock()
	for _, h := range hs {
		h.deliver(st)
	}
}

// SendUserMessage implements actor.Process; the watcher takes no user
// messages.
func (l *link) SendUserMessage(*actor.PID, any) {}

// SendSystemMessage implements actor.Process: the actor's Terminated.
func (l *link) SendSystemMessage(_ *actor.PID, msg any) {
	if t, ok := msg.(*actor.Terminated); ok && t.Who != nil && t.Who.Equal(l.target) {
		l.failAll(status.Errorf(codes.Unavailable, "middleware actor %s stopped (%v) before answering", l.target, t.Why), true)
	}
}

// Stop implements actor.Process.
func (l *link) Stop(*actor.PID) {}

// deliver passes the first answer to the waiting caller.
func (h *handoff) deliver(msg any) {
	if h.once.CompareAndSwap(false, true) {
		h.reply <- msg
		if fn := h.onAnswer.Load(); fn != nil {
			h.take(*fn)
		}
	}
}

// SendUserMessage implements actor.Process: the middleware actor's answer
// (or a DeadLetterResponse when it is not running).
func (h *handoff) SendUserMessage(_ *actor.PID, msg any) {
	_, m, _ := actor.UnwrapEnvelope(msg)
	h.deliver(m)
}

// SendSystemMessage implements actor.Process; a handoff takes none.
func (h *handoff) SendSystemMessage(*actor.PID, any) {}

// Stop implements actor.Process.
func (h *handoff) Stop(*actor.PID) {}
