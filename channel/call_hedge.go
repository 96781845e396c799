package channel

import (
	"io"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/grpcactor/grpcactor/balancer"
	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/internal/serviceconfig"
	"github.com/grpcactor/grpcactor/internal/transport"
	"github.com/grpcactor/grpcactor/status"
)

// hedger runs a hedged call's race (gRFC A6 hedgingPolicy) until one
// attempt is committed; from then on the call is an ordinary committed
// call on that attempt's stream. hedgeCore decides; the hedger opens
// attempts (each with a pick the channel actor answers by calling back),
// arms the hedging timer (a time.AfterFunc), watches each attempt's
// stream through its call header's hook (Notify for a started call, whose
// streams are polled, Watch for a blocking one) and commits. No goroutine
// waits for the race: a blocking call's caller waits for decided, as it
// waits for its stream.
//
// A blocking client- or bidirectional-streaming call (streaming) races
// while its requests arrive: each request (and the half-close) is kept in
// req and queued on every attempt on the wire (sendRacing), and an
// attempt that opens later is sent req first, all under mu so that a
// replay and a new request cannot interleave. Once req passes the retry
// buffer's limit the call commits to the attempt on which the most was
// sent (gRFC A6). A started streaming call does the same (sendAsync),
// its send credit granted during the race until the buffer's limit
// (sendReady).
type hedger struct {
	cs        *callState
	policy    *serviceconfig.HedgingPolicy
	throttle  *serviceconfig.Throttling
	req       [][]byte    // the call's framed requests, sent on every attempt (h.mu once streaming)
	begun     bool        // hedgeable ran (callState.mu)
	racing    bool        // hedgeable said yes: the race runs (callState.mu)
	streaming atomic.Bool // the requests arrive during the race (set by hedgeable, before any)

	// Guarded by mu, for a streaming call.
	closed   bool // the call half-closed (always, for a call that is not streaming)
	reqBytes int  // the bytes in req
	overflow bool // req passed retryBufferLimit: commit to an attempt on the wire

	mu       sync.Mutex
	core     hedgeCore
	atts     []*hedgeAttempt // by attempt number
	timer    *time.Timer
	timerGen int           // the armed timer's generation: an older one that fires is ignored
	over     bool          // the call ended: no attempt may open
	winner   *hedgeAttempt // the committed attempt
	decided  chan struct{} // closed once an attempt is committed
}

// hedgeAttempt is one attempt of a hedged call.
type hedgeAttempt struct {
	h   *hedger
	n   int // attempt number, 0 for the first
	hdr transport.CallHdr

	// Guarded by h.mu.
	stream   *transport.Stream
	err      error // the attempt could not open a stream
	ended    bool  // its end was given to the core
	pickReq  *pickReq
	pickDone func(balancer.DoneInfo)
}

// newHedger returns the hedger of a call under policy p.
func newHedger(cs *callState, p *serviceconfig.HedgingPolicy) *hedger {
	return &hedger{cs: cs, policy: p, core: hedgeCore{max: p.MaxAttempts, delay: p.HedgingDelay}, decided: make(chan struct{})}
}

// hedgeable reports whether the call is hedged: it has a hedging policy
// and its requests so far fit the retry buffer. A call not yet
// half-closed (client- or bidi-streaming) races while it sends
// (streaming).
// Otherwise the call runs one attempt (with transparent retries), as a
// call without a policy. Only the call's first start asks.
func (cs *callState) hedgeable() bool {
	h := cs.hedged()
	if h == nil {
		return false
	}
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if h.begun {
		return false // the race has run (a later attempt is not hedged)
	}
	h.begun = true
	n := 0
	for _, b := range cs.sent {
		n += len(b)
	}
	if cs.committed || n > retryBufferLimit {
		return false
	}
	if !cs.closedSend {
		h.streaming.Store(true)
		h.reqBytes = n
	}
	// A copy of the list: a unary call's is a pooled slot that the call
	// clears and gives back when it returns (dropSent), while an attempt
	// opening late may still read h.req (a race the detector caught once).
	h.req, h.racing, h.closed = slices.Clone(cs.sent), true, cs.closedSend
	cs.attempts = 1
	return true
}

// startHedged runs a blocking call's race and returns once an attempt is
// committed (nil: the call goes on on its stream), or the error that ended
// the call before that. The call credentials are asked once, before the
// first attempt's pick (every attempt sends the same headers).
func (cs *callState) startHedged() error {
	h := cs.hedged()
	cs.beginAttempt()
	if !cs.credsDone {
		cs.credsDone = true
		if err := cs.addCallCredentials(); err != nil {
			return err
		}
	}
	h.begin()
	if h.streaming.Load() {
		return nil // the caller sends its requests during the race (sendRacing)
	}
	return cs.awaitCommit(h)
}

// startHedgedAsync starts a started call's race; the call's pump is
// notified once an attempt is committed.
func (cs *callState) startHedgedAsync() {
	cs.mu.Lock()
	cs.restarting = true
	cs.mu.Unlock()
	cs.beginAttempt()
	if !cs.credsDone {
		cs.credsDone = true
		if cs.ext != nil && len(cs.ext.creds) > 0 || len(cs.ch.creds.CallCredentials()) > 0 {
			go func() { // call credentials may block
				if err := cs.addCallCredentials(); err != nil {
					cs.endAsync(err)
					return
				}
				cs.hedged().begin()
			}()
			return
		}
	}
	cs.hedged().begin()
	if cs.hedged().streaming.Load() {
		cs.hdr.Notify() // the pump grants send credit for the race (sendReady)
	}
}

// awaitHedge waits, if the call is racing hedged attempts, until one is
// committed or the call ends.
func (cs *callState) awaitHedge() {
	h := cs.hedged()
	if h == nil {
		return
	}
	cs.mu.Lock()
	racing := h.racing
	cs.mu.Unlock()
	if racing {
		select {
		case <-h.decided:
		case <-cs.doneCh():
		}
	}
}

// begin opens the first attempt (and, for a zero hedging delay, the
// others).
func (h *hedger) begin() {
	h.mu.Lock()
	p := h.core.begin(h.throttle)
	h.mu.Unlock()
	h.perform(p)
}

// perform carries out a plan of the core, taken under h.mu (released).
func (h *hedger) perform(p hedgePlan) {
	h.mu.Lock()
	if h.over {
		h.mu.Unlock()
		return
	}
	if h.winner != nil {
		// A plan taken before another event committed the call: what it
		// would open or arm is moot.
		p.open, p.reopen, p.arm = 0, -1, false
	}
	if p.stop || p.arm {
		h.timerGen++
		if h.timer != nil {
			h.timer.Stop()
			h.timer = nil
		}
	}
	if p.arm {
		gen := h.timerGen
		h.timer = time.AfterFunc(p.after, func() { h.fired(gen) })
	}
	var open []*hedgeAttempt
	var oldDone func(balancer.DoneInfo)
	if p.reopen >= 0 {
		old := h.atts[p.reopen]
		oldDone, old.pickDone = old.pickDone, nil
		a := h.newAttemptLocked(p.reopen)
		h.atts[p.reopen] = a
		open = append(open, a)
	}
	for range p.open {
		a := h.newAttemptLocked(len(h.atts))
		h.atts = append(h.atts, a)
		open = append(open, a)
	}
	var w *hedgeAttempt
	if p.commit >= 0 {
		w = h.atts[p.commit]
		h.winner = w
	}
	h.mu.Unlock()
	if oldDone != nil {
		oldDone(balancer.DoneInfo{Err: retriedStatus(nil)})
	}
	for _, a := range open {
		a.open()
	}
	if w != nil {
		h.commit(w)
	}
}

func (h *hedger) newAttemptLocked(n int) *hedgeAttempt {
	a := &hedgeAttempt{h: h, n: n, hdr: h.cs.hdr}
	a.hdr.PreviousAttempts = int32(n)
	if h.cs.async {
		a.hdr.Notify = a.event
	} else {
		a.hdr.Notify, a.hdr.Watch = nil, a.event
	}
	return a
}

// fired is the hedging timer of generation gen.
func (h *hedger) fired(gen int) {
	h.mu.Lock()
	if h.over || gen != h.timerGen {
		h.mu.Unlock()
		return
	}
	h.timer = nil
	p := h.core.timer(h.throttle)
	h.mu.Unlock()
	h.perform(p)
}

// open picks a connection for the attempt (at once from the published
// picker, else by asking the channel actor, which calls back) and opens
// its stream.
func (a *hedgeAttempt) open() {
	cs := a.h.cs
	if conn, done := cs.ch.pickNow(cs.pickInfo()); conn != nil {
		a.openOn(conn, done)
		return
	}
	if cs.ch.closed.Load() && cs.ch.snap.Load().state == Shutdown {
		a.failed(errChannelClosed)
		return
	}
	req := &pickReq{waitForReady: cs.waitForReady, info: cs.pickInfo()}
	req.notify = func(r pickResult) {
		a.h.mu.Lock()
		a.pickReq = nil
		a.h.mu.Unlock()
		if r.err != nil {
			a.failed(r.err)
			return
		}
		a.openOn(r.conn, r.done)
	}
	a.h.mu.Lock()
	over := a.h.over
	if !over {
		a.pickReq = req
	}
	a.h.mu.Unlock()
	if over {
		return
	}
	if !cs.ch.tell(msgPick{req}) {
		a.h.mu.Lock()
		a.pickReq = nil
		a.h.mu.Unlock()
		a.failed(errChannelClosed)
		return
	}
	a.h.mu.Lock()
	over = a.h.over
	a.h.mu.Unlock()
	if over {
		a.cancel(errHedgeLost) // the call ended before the pick was told
	}
}

// openOn opens the attempt's stream on conn and sends the call's
// requests on it.
func (a *hedgeAttempt) openOn(conn *transport.Conn, done func(balancer.DoneInfo)) {
	h, cs := a.h, a.h.cs
	h.mu.Lock()
	lost := h.over || (h.winner != nil && h.winner != a)
	if !lost {
		a.pickDone = done
	}
	h.mu.Unlock()
	if lost {
		if done != nil {
			done(balancer.DoneInfo{Err: errHedgeLost})
		}
		return
	}
	s, err := conn.NewStream(cs.ctx(), &a.hdr)
	if err != nil {
		a.failed(err)
		return
	}
	h.mu.Lock()
	a.stream = s
	lost = h.over || (h.winner != nil && h.winner != a)
	if lost {
		h.mu.Unlock()
		s.Cancel(errHedgeLost)
		return
	}
	// The requests so far, under mu: a streaming call's new request
	// (sendRacing) comes after them.
	for i, b := range h.req {
		if s.Enqueue(b, h.closed && i == len(h.req)-1) != nil {
			break
		}
	}
	if len(h.req) == 0 && h.closed {
		_ = s.Enqueue(nil, true)
	}
	commit := h.overflow && h.winner == nil
	var p hedgePlan
	if commit {
		p = h.core.overflow(a.n) // the first attempt on the wire after the buffer overflowed
	}
	h.mu.Unlock()
	if a.n == 0 && !h.streaming.Load() {
		for _, b := range h.req {
			if b != nil {
				cs.statsOut(b) // the call's stats count its requests once
			}
		}
	}
	if commit {
		h.perform(p)
	}
	a.event() // what happened before the stream was recorded
}

// sendRacing sends a streaming call's framed request (nil with last for
// the half-close alone) while the race runs: it is kept for the attempts
// to come and queued on every attempt on the wire (Enqueue: the retry
// buffer's limit bounds what waits). A request that takes the kept bytes
// past retryBufferLimit commits the call to the attempt on which the most
// was sent (the least still queued), or, with none on the wire yet, to
// the first to open. Once an attempt is committed it returns false and
// that attempt's stream (nil if it has none, or the call is over) for the
// caller to write on. A blocking caller (wait) is told to wait for the
// commit instead while the buffer has overflowed with no attempt on the
// wire (gRFC A6: the request stays pending, not buffered); a started
// call's requests are bounded by its send credit, which stops then.
func (h *hedger) sendRacing(frame []byte, last, wait bool) (s *transport.Stream, racing, waitCommit bool) {
	h.mu.Lock()
	if h.winner != nil || h.over {
		if h.winner != nil {
			s = h.winner.stream
		}
		h.mu.Unlock()
		return s, false, false
	}
	if wait && h.overflow {
		h.mu.Unlock()
		return nil, true, true
	}
	if frame != nil {
		h.req = append(h.req, frame)
		h.reqBytes += len(frame)
	}
	if last {
		h.closed = true
	}
	for _, a := range h.atts {
		if a.stream != nil && !a.ended {
			_ = a.stream.Enqueue(frame, last)
		}
	}
	var p hedgePlan
	commit := false
	if h.reqBytes > retryBufferLimit && !h.overflow {
		h.overflow = true
		if w := h.fullestLocked(); w != nil {
			p, commit = h.core.overflow(w.n), true
		}
	}
	h.mu.Unlock()
	if commit {
		h.perform(p)
	}
	return nil, true, false
}

// fullestLocked is the attempt on the wire on which the most of the
// requests was sent (the fewest bytes still queued; the oldest of equals),
// or nil (h.mu held).
func (h *hedger) fullestLocked() *hedgeAttempt {
	var best *hedgeAttempt
	var least int64
	for _, a := range h.atts {
		if a.stream == nil || a.ended {
			continue
		}
		if q := a.stream.Queued(); best == nil || q < least {
			best, least = a, q
		}
	}
	return best
}

// awaitStreamingHedge waits, for a blocking streaming call racing hedged
// attempts, until one is committed: nil, or the error that ended the
// call (or the committed attempt, which could not open a stream).
func (cs *callState) awaitStreamingHedge() error {
	h := cs.hedged()
	if h == nil || !h.streaming.Load() {
		return nil
	}
	return cs.awaitCommit(h)
}

// awaitCommit waits until h commits an attempt or the call's context
// ends: nil, or the error that ended the call (or the committed attempt,
// which could not open a stream).
func (cs *callState) awaitCommit(h *hedger) error {
	select {
	case <-h.decided:
	case <-cs.ctx().Done():
		return status.FromContext(cs.ctx())
	}
	h.mu.Lock()
	w := h.winner
	h.mu.Unlock()
	if w.stream == nil {
		return w.err
	}
	return nil
}

// failed ends an attempt that could not open a stream with err.
func (a *hedgeAttempt) failed(err error) {
	a.h.mu.Lock()
	a.err = err
	a.h.mu.Unlock()
	a.event()
}

// event is the attempt's stream hook: response headers, a message or the
// end arrived (or, for a started call, some request bytes were written).
// Before the race is decided it steps the core; on the committed attempt
// of a started call it runs the call's pump.
func (a *hedgeAttempt) event() {
	h := a.h
	h.mu.Lock()
	if h.winner == a {
		open := a.stream != nil
		h.mu.Unlock()
		if h.cs.async && open {
			h.cs.hdr.Notify()
		}
		return
	}
	s, err := a.stream, a.err
	if h.core.done || h.over || a.ended || h.atts[a.n] != a || (s == nil && err == nil) {
		h.mu.Unlock()
		return
	}
	var p hedgePlan
	var logged *status.Error // an attempt's end that sends the next hedge, to log
	if s != nil && s.HeadersReceived() {
		p = h.core.headers(a.n)
	} else {
		var o hedgeOutcome
		var st *status.Error
		if s != nil {
			var finished bool
			if st, finished = s.Status(); !finished {
				h.mu.Unlock()
				return
			}
			o.unprocessed = s.Unprocessed()
			if st != nil {
				o.pushback = st.TrailingMetadata().Get("grpc-retry-pushback-ms")
			}
		} else {
			st = failStatus(err)
		}
		a.ended = true
		if st != nil {
			o.code = st.Code()
		}
		o.nonFatal = h.policy.NonFatal(o.code)
		p = h.core.ended(a.n, o, h.throttle)
		if p.reopen < 0 && p.commit < 0 {
			logged = st
		}
	}
	h.mu.Unlock()
	if logged != nil && h.cs.ch.opts.logger != nil {
		h.cs.logRetry("hedge", a.n+1, logged, 0)
	}
	h.perform(p)
}

// errHedgeLost is the status of a hedged attempt cancelled because
// another one was committed.
var errHedgeLost = status.New(codes.Canceled, "hedged attempt cancelled: another attempt of the call was committed")

// commit makes w the call's attempt: the others are cancelled (RST_STREAM
// CANCEL for those on the wire), w's stream becomes the call's, and the
// caller (a blocking call waiting on decided, or a started call's pump)
// goes on.
func (h *hedger) commit(w *hedgeAttempt) {
	cs := h.cs
	h.mu.Lock()
	losers := h.losersLocked(w)
	if h.streaming.Load() {
		h.req = nil // sent on w, which alone goes on
	}
	// Every attempt the race made or may still make, transparent
	// retries included: the core counts one in the hold of mu that plans
	// it, and plans none once it has committed (before this ran). One
	// means that w's stream alone was ever given the request, so recycle
	// may look at it alone; with more, an attempt still picking or
	// opening may yet send the request (until it sees the winner, under
	// mu), and no buffer is recycled. A winner without a stream leaves
	// the call none: nothing is recycled either.
	attempts := h.core.sent + h.core.reopens
	done := w.pickDone // the call's from now on
	w.pickDone = nil
	h.mu.Unlock()
	for _, a := range losers {
		a.cancel(errHedgeLost)
	}
	if w.stream != nil {
		cs.mu.Lock()
		cs.stream.Store(w.stream)
		cs.attempts = int16(attempts) // more than one: no buffer is recycled
		cs.commitLocked()
		cs.restarting = false
		cs.mu.Unlock()
		cs.setPickDone(done)
	}
	close(h.decided)
	if cs.async {
		if w.stream == nil {
			cs.endAsync(w.err)
			return
		}
		cs.hdr.Notify()
	}
}

// losersLocked takes every attempt but w out of the race, their picks and
// streams for cancel (h.mu held).
func (h *hedger) losersLocked(w *hedgeAttempt) []*hedgeAttempt {
	var out []*hedgeAttempt
	for _, a := range h.atts {
		if a != w {
			out = append(out, a)
		}
	}
	return out
}

// cancel ends an attempt that lost (or the call's end): its stream is
// reset, its pending pick abandoned, its pick's Done told.
func (a *hedgeAttempt) cancel(st *status.Error) {
	a.h.mu.Lock()
	s, req, done := a.stream, a.pickReq, a.pickDone
	a.pickReq, a.pickDone = nil, nil
	a.h.mu.Unlock()
	if s != nil {
		s.Cancel(st)
	}
	if req != nil && !req.abandoned.Swap(true) {
		a.h.cs.ch.tell(msgAbandoned{})
	}
	if done != nil {
		done(balancer.DoneInfo{Err: st})
	}
}

// abort ends the race because the call is over (release): the timer
// stops and every attempt is cancelled, the committed one too (a no-op
// once its stream has ended; a commit that raced with the call's end
// leaves no stream open).
func (h *hedger) abort() {
	h.mu.Lock()
	if h.over {
		h.mu.Unlock()
		return
	}
	h.over = true
	h.timerGen++
	if h.timer != nil {
		h.timer.Stop()
		h.timer = nil
	}
	all := h.atts
	h.mu.Unlock()
	st := status.New(codes.Canceled, "hedged attempt cancelled: the call ended")
	if f := h.cs.final; f != nil {
		st = f
	}
	for _, a := range all {
		a.cancel(st)
	}
}

// String describes the hedger for logs and test failures.
func (h *hedger) String() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return "hedged call: " + strconv.Itoa(h.core.sent) + " of " + strconv.Itoa(h.core.max) + " attempts sent"
}

// raceSendReady reports, for a streaming call racing hedged attempts,
// whether it may be given send credit: until its requests pass the retry
// buffer's limit (what is queued is bounded by that limit). racing is
// false once an attempt is committed (its stream then says).
func (h *hedger) raceSendReady() (ready, racing bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.winner != nil || h.over {
		return false, false
	}
	return !h.overflow && !h.closed, true
}

// sendHedgedAsync is sendAsync of a started streaming call under a
// hedging policy: sendHedged without waiting for the committed attempt's
// write quota (the caller's send credit bounds what it queues).
func (cs *callState) sendHedgedAsync(frame []byte, last bool) error {
	cs.mu.Lock()
	if last {
		cs.closedSend = true
	}
	cs.mu.Unlock()
	if frame != nil {
		cs.statsOut(frame) // before it is queued (see sendAsync)
	}
	s, racing, _ := cs.hedged().sendRacing(frame, last, false)
	if racing {
		return nil
	}
	// Committed: the frame was kept for no other attempt.
	if s == nil || enqueueFrame(s, frame, last, frame != nil) != nil {
		return io.EOF
	}
	return nil
}

// sendHedged is sendMsg (frame) and closeSend (nil, last) of a blocking
// streaming call under a hedging policy: to every attempt while the race
// runs, then to the committed one. An io.EOF means the call has ended;
// its status comes from recvMsg.
func (cs *callState) sendHedged(frame []byte, last bool) error {
	cs.mu.Lock()
	if frame == nil && cs.closedSend {
		cs.mu.Unlock()
		return nil
	}
	if last {
		cs.closedSend = true
	}
	cs.mu.Unlock()
	h := cs.hedged()
	s, racing, wait := h.sendRacing(frame, last, true)
	for wait {
		select {
		case <-h.decided:
		case <-cs.ctx().Done():
			return io.EOF // the call is over: recvMsg says how
		}
		s, racing, wait = h.sendRacing(frame, last, true)
	}
	if racing {
		if frame != nil {
			cs.statsOut(frame)
		}
		return nil
	}
	if s == nil || writeFrame(s, frame, last, frame != nil) != nil {
		return io.EOF
	}
	if frame != nil {
		cs.statsOut(frame)
	}
	return nil
}
