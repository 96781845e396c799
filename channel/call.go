package channel

import (
	"context"
	"errors"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/grpcactor/grpcactor/balancer"
	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/compression"
	"github.com/grpcactor/grpcactor/credentials"
	"github.com/grpcactor/grpcactor/internal/bufpool"
	"github.com/grpcactor/grpcactor/internal/serviceconfig"
	"github.com/grpcactor/grpcactor/internal/transport"
	"github.com/grpcactor/grpcactor/internal/wire"
	"github.com/grpcactor/grpcactor/metadata"
	"github.com/grpcactor/grpcactor/status"
)

const (
	// maxTransparentRetries bounds how often a call that never reached the
	// server is re-sent on another connection.
	maxTransparentRetries = 5
	// retryBufferLimit is how many request bytes a call keeps for a
	// transparent retry before it gives up the ability (256 KiB, as
	// grpc-go).
	retryBufferLimit = 256 << 10
)

// callState is one RPC across its attempts: the byte-level half of every
// call kind. Send-side methods are called from one goroutine at a time,
// receive-side methods from one goroutine at a time (for a call started
// with Start, its pump).
//
// Its state is in parts, each with one owner:
//   - callConfig: fixed when the call is made, except hdr, which changes
//     only under attemptMu (call credentials, the attempt count);
//   - attempt: the current attempt (stream, peer, stats, pending pick),
//     guarded by mu and replaced only under attemptMu;
//   - replay: the retry buffer, guarded by mu;
//   - retryState: transparent and policy retries (call_retry.go) and
//     the hedger of a hedged call (call_hedge.go, its own lock), changed
//     by the receive side or, for a sender's transparent retry, under
//     attemptMu;
//   - lifetime: how the call ends (context watch, final status,
//     metadata), written once by finish.
//
// Lock order: attemptMu before mu. Neither is held while user code or the
// channel's actor runs; mu is never held across a call into the
// transport. The hedger's mu is taken with neither held; it is held
// across a stream's Enqueue (which never blocks nor calls back), so that
// a hedged streaming call's replay and new requests cannot interleave.
type callState struct {
	callConfig

	// attemptMu serializes sends with moves to a new attempt, so that a
	// replay and a new message cannot interleave.
	attemptMu sync.Mutex
	// mu guards attempt, replay, the retry counts and the lifetime's
	// watch and timers.
	mu sync.Mutex
	// The flags of callConfig, replay and attempt, after the mutexes (4
	// bytes each), in one word.
	callFlags
	replayFlags
	attemptFlags

	attempt
	replay
	retryState
	// slot is the call's index (plus one) in its shard of its channel's
	// registry, guarded by the shard's lock (registry.go).
	slot uint32
	lifetime
}

// callConfig is what a call is made with: fixed once newCallState returns
// (hdr aside, see callState).
type callConfig struct {
	ch *Channel
	// parent is the caller's context with the call's timeout; the call's
	// own context (ctx) is the call itself as a callCtx (callctx.go)
	// over it, whose state cause and std are. The method's name is
	// hdr.Method.
	parent    context.Context
	cause     atomic.Pointer[status.Error]
	std       atomic.Pointer[stdCtx]
	stopTimer context.CancelFunc
	hdr       transport.CallHdr
	// maxSend is the request size limit; the response's is maxRecv().
	maxSend int
	// What the call keeps of its options (callOptions, which only
	// newCallState sees whole): md is its metadata option (without the
	// call credentials' metadata, which hdr gets: a pick's PickInfo).
	// The rarer ones are in ext, with the call's retry policy.
	md         metadata.MD
	compressor compression.Compressor
	ext        *callExtras // nil for most calls
}

// callFlags are the flags of callConfig: async is set for a call started
// with Start (its pump in hdr.Notify); ownDeadline means hdr.Deadline is
// enforced by timer, not by ctx.
type callFlags struct {
	waitForReady bool
	async        bool
	ownDeadline  bool
}

// callExtras is what few calls need, made by newCallState for a call with
// a retry or hedging policy, call credentials of its own, a hash key or a
// deadline timer of its own; the pointer is fixed once newCallState
// returns, backoff and timer are guarded by callState.mu.
type callExtras struct {
	creds    []credentials.CallCredentials // the call's own call credentials
	hashKey  *string                       // HashKey
	retry    *serviceconfig.RetryPolicy    // nil: no policy retries
	throttle *serviceconfig.Throttling
	backoff  *time.Timer // a started call's wait before its next attempt
	timer    *time.Timer // the call's own deadline (ownDeadline)
	hedge    *hedger     // nil: not hedged (call_hedge.go)
}

// hedged returns the hedger of a hedged call, or nil.
func (cs *callState) hedged() *hedger {
	if cs.ext == nil {
		return nil
	}
	return cs.ext.hedge
}

// extras returns the call's callExtras, made on first use (newCallState).
func (cs *callState) extras() *callExtras {
	if cs.ext == nil {
		cs.ext = new(callExtras)
	}
	return cs.ext
}

// retryPolicy returns the call's retry policy, or nil.
func (cs *callState) retryPolicy() *serviceconfig.RetryPolicy {
	if cs.ext == nil {
		return nil
	}
	return cs.ext.retry
}

// throttling returns the retry throttling of the call's service config
// (for a call with a retry or hedging policy), or nil.
func (cs *callState) throttling() *serviceconfig.Throttling {
	if cs.ext == nil {
		return nil
	}
	return cs.ext.throttle
}

// callOptionsPool holds the callOptions newCallState applies a call's
// options to (applyCallOptions): on the heap, as an option is an
// interface, but one per call only for as long as it takes to read it.
// No pointer to it outlives applyCallOptions: an option's applyCall only
// stores values into it, and it is copied out and cleared before the Put.
var callOptionsPool = sync.Pool{New: func() any { return new(callOptions) }}

// applyCallOptions returns the call options opts make.
func applyCallOptions(opts []CallOption) callOptions {
	if len(opts) == 0 {
		return callOptions{}
	}
	p := callOptionsPool.Get().(*callOptions)
	for _, opt := range opts {
		if opt != nil {
			opt.applyCall(p)
		}
	}
	o := *p
	*p = callOptions{}
	callOptionsPool.Put(p)
	return o
}

// attempt is the call's current attempt (guarded by callState.mu).
type attempt struct {
	// stream is the attempt's stream (its connection is the call's
	// peer): replaced under mu, read by cur without it.
	stream atomic.Pointer[transport.Stream]
	// stats is the attempts' stats, made by the first attempt under a
	// WithStatsHandler (nil without).
	stats *attemptsStats
	// pickReq is the pending pick of a started call's next attempt
	// (attemptFlags.restarting), if any.
	pickReq *pickReq
	// pickDone is the policy's Done for the current attempt's pick
	// (pick.go).
	pickDone func(balancer.DoneInfo)
}

// replay is the retry buffer: the frames the call sent, kept to be
// replayed on a new attempt until the call commits (a response arrived,
// or the buffer passed retryBufferLimit). Guarded by callState.mu.
type replay struct {
	sent      [][]byte
	sentBytes int
}

// attemptFlags are attempt's flags (guarded by callState.mu).
type attemptFlags struct {
	// restarting is set while a started call's next attempt is being
	// opened (or waits for its backoff): its request is not recycled
	// then (singleAttempt).
	restarting bool
	// credsDone: the call credentials were asked (once per call, by
	// whoever opens the first attempt: under attemptMu, or a started
	// call's opening attempt).
	credsDone bool
}

// replayFlags are replay's flags (guarded by callState.mu).
type replayFlags struct {
	closedSend bool
	committed  bool
	recvSeen   bool
}

// lifetime is how the call ends. The watch and the timers are guarded by
// callState.mu; final, header and trailer are written once, by finish,
// before done closes.
type lifetime struct {
	stopWatch func() bool

	// done is closed when the call has finished (finish has run: over).
	// It is made by the first who waits on it (doneCh): a unary caller
	// waits on its stream instead, so most calls make none. Both under
	// mu.
	done     chan struct{}
	doneOnce sync.Once
	// The flags follow doneOnce (12 bytes), in its padding: 8 bytes less
	// per call.
	released bool // release ran: no timer may be armed any more
	// pickEnded says the call has finished: final is set (under mu, by
	// endPick), for a pick's Done that comes after (pick.go).
	pickEnded bool
	over      bool // finish has run: done is closed, or need not be made
	// shard is the call's shard in its channel's registry (registry.go),
	// set once, when it is added; in the flags' padding.
	shard   uint8
	final   *status.Error // valid after done
	header  metadata.MD
	trailer metadata.MD
}

// maxRecv returns the call's response size limit (-1 for none): its own
// in hdr, or else the channel's.
func (cs *callState) maxRecv() int {
	if cs.hdr.OwnMaxReceive {
		return cs.hdr.MaxReceiveMessageSize
	}
	return cs.ch.opts.maxRecv
}

// ctx returns the call's context: the call itself, as a callCtx.
func (cs *callState) ctx() context.Context { return (*callCtx)(cs) }

// newCall prepares a call; watch makes a streaming call watch its context
// (a unary caller always waits on it itself).
func (ch *Channel) newCall(ctx context.Context, method string, opts []CallOption, watch bool) (*callState, error) {
	return ch.newCallState(ctx, method, opts, watch, nil)
}

// newCallState is newCall; a non-nil notify makes the call asynchronous
// (see Start): notify runs its event pump.
func (ch *Channel) newCallState(ctx context.Context, method string, opts []CallOption, watch bool, notify func()) (*callState, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	cs := &callState{}
	cs.ch, cs.async = ch, notify != nil
	o := applyCallOptions(opts)
	if err := checkMethod(method); err != nil {
		return nil, status.New(codes.Internal, err.Error())
	}
	if err := metadata.Validate(o.md); err != nil {
		// Refused before anything is sent, naming the key (grpc-go and
		// grpcio fail such a call INTERNAL too).
		return nil, status.Errorf(codes.Internal, "call to %s: invalid metadata: %v", method, err)
	}
	maxRecv := ch.opts.maxRecv
	cs.maxSend = ch.opts.maxSend
	if w := o.wire; w.maxRecvSet || w.maxSendSet {
		if w.maxRecvSet {
			maxRecv = max(w.maxRecv, -1)
		}
		if w.maxSendSet {
			cs.maxSend = max(w.maxSend, -1)
		}
	}
	if sc := ch.serviceConfig(); sc != nil {
		if mc, ok := sc.Method(method); ok {
			if mc.Timeout > 0 && (!o.timeoutSet || mc.Timeout < o.timeout) {
				o.timeout = mc.Timeout
			}
			if mc.WaitForReady != nil && !o.wfrSet {
				o.waitForReady = *mc.WaitForReady
			}
			if mc.MaxRequestBytes != nil {
				cs.maxSend = minLimit(cs.maxSend, *mc.MaxRequestBytes)
			}
			if mc.MaxResponseBytes != nil {
				maxRecv = minLimit(maxRecv, *mc.MaxResponseBytes)
			}
			if ch.opts.enableRetries && mc.Retry != nil {
				cs.extras().retry = mc.Retry
				cs.extras().throttle = sc.Throttling
			} else if ch.opts.enableRetries && mc.Hedging != nil {
				h := newHedger(cs, mc.Hedging)
				h.throttle = sc.Throttling
				cs.extras().throttle = sc.Throttling
				cs.extras().hedge = h
			}
		}
	}
	if o.timeoutSet || o.timeout > 0 {
		// A zero or negative timeout expires at once, as grpcio's
		// timeout=0 does.
		if cs.async && ctx.Done() == nil {
			// A started call under a context that never ends: a timer
			// of its own (armed by watch) instead of a context that
			// needs a watcher, a few hundred bytes less per call.
			cs.ownDeadline = true
		} else {
			ctx, cs.stopTimer = context.WithTimeout(ctx, o.timeout)
		}
	}
	cs.parent = ctx
	comp := ch.opts.compressor
	if o.compressionSet {
		comp = o.compressor
	}
	cs.compressor, cs.md, cs.waitForReady = comp, o.md, o.waitForReady
	if len(o.creds) > 0 {
		cs.extras().creds = o.creds
	}
	if o.wire.hashKey != nil {
		cs.extras().hashKey = o.wire.hashKey
	}
	if cs.ownDeadline {
		cs.extras() // for its timer (watch)
	}
	cs.hdr = transport.CallHdr{
		Method:         method,
		Metadata:       o.md,
		AcceptEncoding: compression.AcceptEncoding(),
	}
	if comp != nil {
		cs.hdr.SendCompress = comp.Name()
	}
	if cs.async {
		cs.hdr.Notify = notify
	}
	if d, ok := cs.ctx().Deadline(); ok {
		cs.hdr.Deadline = d
	} else if cs.ownDeadline {
		cs.hdr.Deadline = time.Now().Add(o.timeout)
	}
	cs.hdr.ContentSubtype = o.wire.subtype
	if maxRecv != ch.opts.maxRecv || maxRecv == 0 { // the connection reads 0 as its default
		cs.hdr.MaxReceiveMessageSize, cs.hdr.OwnMaxReceive = maxRecv, true
	}
	if (cs.ext != nil && len(cs.ext.creds) > 0 || len(ch.creds.CallCredentials()) > 0) && !ch.creds.SendsCallCredentials() {
		// Fail before waiting for a connection the credentials could
		// never be sent over.
		cs.release()
		return nil, errPlaintextCallCreds(ch)
	}
	if !ch.addCall(cs) {
		cs.release()
		return nil, errChannelClosed
	}
	if watch {
		cs.watch()
	}
	return cs, nil
}

// watch cancels the call when its context ends (or its own deadline
// passes).
func (cs *callState) watch() {
	if cs.ownDeadline {
		t := time.AfterFunc(time.Until(cs.hdr.Deadline), func() {
			cs.cancel(status.FromContextError(context.DeadlineExceeded))
		})
		cs.mu.Lock()
		cs.ext.timer = t
		cs.mu.Unlock()
	}
	if cs.parent.Done() == nil {
		return // only Cancel or the deadline ends it
	}
	// The callback may run before AfterFunc returns (a context that is
	// already done), so the stop function is published under mu.
	stop := context.AfterFunc(cs.parent, func() { cs.cancel(status.FromContext(cs.parent)) })
	cs.mu.Lock()
	cs.stopWatch = stop
	cs.mu.Unlock()
}

// ctxEnded ends the call with its context's status if the context has
// ended and the call has not. The watcher (watch) does the same, but on a
// goroutine of its own: a caller that cancelled its context and then
// sends or receives would otherwise race it, and could see the server's
// answer instead of CANCELLED. Sends and receives of a blocking call
// check first, as grpc-go's do (a started call's pump is not the
// caller's goroutine, and leaves it to the watcher).
func (cs *callState) ctxEnded() {
	if cs.async {
		return
	}
	select {
	case <-cs.parent.Done(): // nil, never ready, for a context that cannot end
	default:
		return
	}
	if !cs.isDone() {
		cs.cancel(status.FromContext(cs.parent))
	}
}

// release frees the call's context resources and stops its timers (its
// own deadline, a started call's retry backoff).
func (cs *callState) release() {
	cs.mu.Lock()
	stop := cs.stopWatch
	var timer, backoff *time.Timer
	if e := cs.ext; e != nil {
		timer, backoff = e.timer, e.backoff
		e.backoff = nil
	}
	cs.released = true
	cs.mu.Unlock()
	if stop != nil {
		stop()
	}
	if timer != nil {
		timer.Stop()
	}
	if backoff != nil {
		backoff.Stop()
	}
	if h := cs.hedged(); h != nil {
		h.abort()
	}
	cs.endCtx(nil)
	if cs.stopTimer != nil {
		cs.stopTimer()
	}
}

// start picks a connection and opens the call's first stream.
func (cs *callState) start() error {
	if cs.hedgeable() {
		return cs.startHedged()
	}
	cs.attemptMu.Lock()
	defer cs.attemptMu.Unlock()
	return cs.startLocked()
}

// restart moves the call to a new stream after failed ended without
// reaching the server (a transparent retry), unless another goroutine
// already did. It returns failed's status if the call cannot be retried.
func (cs *callState) restart(failed *transport.Stream) error {
	cs.attemptMu.Lock()
	defer cs.attemptMu.Unlock()
	if cs.cur() != failed {
		return nil
	}
	if !cs.transparentRetry(failed) {
		st, _ := failed.Status()
		if st == nil {
			return io.EOF
		}
		return st
	}
	return cs.startLocked()
}

// startLocked picks a connection and opens a stream, replaying what was
// sent on an earlier attempt that never reached the server. attemptMu is
// held, so no send interleaves with the replay.
func (cs *callState) startLocked() error {
	for {
		if err := cs.ctx().Err(); err != nil {
			return status.FromContext(cs.ctx())
		}
		cs.beginAttempt()
		conn, err := cs.pick()
		if err != nil {
			return err
		}
		if !cs.credsDone {
			// Once per call, when it first has a connection (a
			// wait-for-ready call may wait long), in the caller's
			// goroutine: never inside an actor.
			cs.credsDone = true
			if err := cs.addCallCredentials(); err != nil {
				return err
			}
		}
		cs.mu.Lock()
		sent, closed := cs.sent, cs.closedSend
		cs.mu.Unlock()
		// A whole request of one message (a unary call) goes with the
		// stream's opening: one message to the connection actor. The
		// stream watches the caller's context (parent); the call
		// cancels it itself (cancel, fail).
		whole := closed && len(sent) == 1
		var s *transport.Stream
		if whole {
			s, err = conn.NewStreamWith(cs.parent, &cs.hdr, sent[0], true)
		} else {
			s, err = conn.NewStream(cs.parent, &cs.hdr)
		}
		if err != nil {
			return err
		}
		cs.mu.Lock()
		cs.stream.Store(s)
		cs.mu.Unlock()
		if cs.ctx().Err() != nil {
			// cancel ran meanwhile and saw the previous stream: this one
			// must not outlive the call.
			s.Cancel(status.FromContext(cs.ctx()))
			return nil
		}
		ok := true
		if whole {
			if ok = !s.NeverSent(); ok {
				cs.statsOut(sent[0])
			}
			sent = nil
		}
		for i, b := range sent {
			end := closed && i == len(sent)-1
			if s.Write(b, end) != nil {
				ok = false
				break
			}
			cs.statsOut(b)
		}
		if ok && closed && len(sent) == 0 && !whole {
			ok = s.CloseSend() == nil
		}
		if ok || !cs.retryable(s) {
			// The stream is open, or ended in a way the receive side
			// reports (the server may even have answered already).
			return nil
		}
	}
}

// addCallCredentials adds the metadata of the channel's and the call's
// call credentials to the call's headers. They go only over TLS or local
// channel credentials.
func (cs *callState) addCallCredentials() error {
	ch := cs.ch
	var own []credentials.CallCredentials
	if cs.ext != nil {
		own = cs.ext.creds
	}
	creds := slices.Concat(ch.creds.CallCredentials(), own) // never append to the shared slice
	if len(creds) == 0 {
		return nil
	}
	if !ch.creds.SendsCallCredentials() {
		return errPlaintextCallCreds(ch)
	}
	md, err := credentials.RequestMetadata(cs.ctx(), credentials.NewRequestInfo(ch.authority(), cs.hdr.Method), creds...)
	if err != nil {
		return err
	}
	if len(md) > 0 {
		cs.hdr.Metadata = metadata.Join(cs.hdr.Metadata, md)
	}
	return nil
}

func errPlaintextCallCreds(ch *Channel) *status.Error {
	return status.Errorf(codes.Unauthenticated, "call credentials need a channel opened with Secure (TLS or local credentials); %s is plaintext, so they were not sent", ch.target)
}

// cur returns the stream of the call's current attempt (nil before one):
// an atomic load, no lock.
func (cs *callState) cur() *transport.Stream { return cs.stream.Load() }

// frame prefixes (and compresses) a serialized message; buf has
// wire.MsgHeaderLen bytes reserved in front of the payload.
func (cs *callState) frame(buf []byte) ([]byte, error) {
	payload := buf[wire.MsgHeaderLen:]
	compressed := false
	if c := cs.compressor; c != nil && len(payload) > 0 {
		// Room for incompressible data (deflate adds a few bytes per
		// block), so that the output stays in the pooled buffer.
		dst := bufpool.Get(wire.MsgHeaderLen + len(payload) + len(payload)/64 + 64)[:wire.MsgHeaderLen]
		out, err := c.Compress(dst, payload)
		if err != nil {
			return nil, status.Errorf(codes.Internal, "compressing request with %s: %v", c.Name(), err)
		}
		bufpool.Put(buf) // the uncompressed message was built by encode, for us alone
		buf, payload, compressed = out, out[wire.MsgHeaderLen:], true
	}
	if cs.maxSend >= 0 && len(payload) > cs.maxSend {
		return nil, status.Errorf(codes.ResourceExhausted, "trying to send message larger than max (%d vs. %d)", len(payload), cs.maxSend)
	}
	wire.AppendMsgHeader(buf[:0], compressed, len(payload))
	return buf, nil
}

// sendMsg sends one framed message. An io.EOF means the stream has ended;
// the call's status then comes from recvMsg.
func (cs *callState) sendMsg(frame []byte, last bool) error {
	cs.ctxEnded()
	if h := cs.hedged(); h != nil && h.streaming.Load() {
		return cs.sendHedged(frame, last)
	}
	cs.attemptMu.Lock()
	cs.mu.Lock()
	if !cs.committed {
		cs.sent = append(cs.sent, frame)
		cs.sentBytes += len(frame)
		if cs.sentBytes > retryBufferLimit {
			cs.commitLocked()
		}
	}
	if last {
		cs.closedSend = true
	}
	s := cs.stream.Load()
	// Committed, the call keeps no copy: the transport alone holds the
	// frame and recycles it once written.
	pooled := cs.committed
	cs.mu.Unlock()
	err := writeFrame(s, frame, last, pooled)
	if err == nil {
		cs.statsOut(frame)
	}
	cs.attemptMu.Unlock()
	if err == nil {
		return nil
	}
	// A retry replays the buffer, this frame included.
	return cs.sendFailed(s)
}

// writeFrame writes frame on s; with pooled, frame is the caller's alone
// (encode and frame made it and no retry buffer keeps it): the transport
// recycles it once written.
func writeFrame(s *transport.Stream, frame []byte, last, pooled bool) error {
	if pooled {
		return s.WritePooled(frame, last)
	}
	return s.Write(frame, last)
}

// enqueueFrame is writeFrame with Enqueue.
func enqueueFrame(s *transport.Stream, frame []byte, last, pooled bool) error {
	if pooled {
		return s.EnqueuePooled(frame, last)
	}
	return s.Enqueue(frame, last)
}

// sendFailed handles a send on a stream that has ended: a transparent
// retry moves the call to a new stream; with a retry policy and nothing
// committed yet, the receive side decides on a retry that will replay what
// was sent, so the send counts as done; otherwise io.EOF tells the sender
// that the call is over and its status comes from the receive side.
func (cs *callState) sendFailed(s *transport.Stream) error {
	if cs.restart(s) == nil {
		return nil
	}
	cs.mu.Lock()
	pending := cs.retryPolicy() != nil && !cs.committed && !cs.recvSeen
	cs.mu.Unlock()
	if pending {
		return nil
	}
	return io.EOF
}

func (cs *callState) closeSend() error {
	cs.ctxEnded()
	if h := cs.hedged(); h != nil && h.streaming.Load() {
		return cs.sendHedged(nil, true)
	}
	cs.attemptMu.Lock()
	cs.mu.Lock()
	if cs.closedSend {
		cs.mu.Unlock()
		cs.attemptMu.Unlock()
		return nil
	}
	cs.closedSend = true
	s := cs.stream.Load()
	cs.mu.Unlock()
	err := s.CloseSend()
	cs.attemptMu.Unlock()
	if err == nil {
		return nil
	}
	return cs.sendFailed(s)
}

func (cs *callState) commitLocked() {
	cs.committed = true
	cs.sent = nil
	cs.sentBytes = 0
}

// fail ends the call locally with st (cancelling the stream) and returns st.
func (cs *callState) fail(st *status.Error) *status.Error {
	if s := cs.cur(); s != nil {
		if hd, ok := s.HeaderIfReady(); ok && hd != nil && st.InitialMetadata() == nil {
			st = st.WithMetadata(hd, nil)
		}
		s.Cancel(st)
	}
	return cs.finish(st)
}

// cancel ends the call with st from any goroutine: the stream is reset
// and the call finishes at once.
func (cs *callState) cancel(st *status.Error) {
	cs.endCtx(st)
	cs.abandonPick()
	if s := cs.cur(); s != nil {
		s.Cancel(st)
	}
	cs.finish(st)
}

// finish records the final status (nil = OK) and releases the call. It
// returns the status the caller must see: the error the call had already
// finished with, if any (a Close or cancel that beat the stream's own
// end), else st. It is never nil for a non-nil st, so that no typed nil
// reaches an error return.
func (cs *callState) finish(st *status.Error) *status.Error {
	cs.doneOnce.Do(func() {
		cs.endPick(st) // sets final
		cs.endAttempt(st)
		if s := cs.cur(); s != nil {
			cs.trailer = s.Trailer()
			if hd, ok := s.HeaderIfReady(); ok {
				cs.header = hd
			}
			if st != nil {
				if st.TrailingMetadata() != nil {
					cs.trailer = st.TrailingMetadata()
				}
				if st.InitialMetadata() != nil {
					cs.header = st.InitialMetadata()
				}
			}
		}
		cs.ch.removeCall(cs)
		cs.release()
		cs.closeDone()
	})
	if cs.hdr.Notify != nil {
		cs.hdr.Notify()
	}
	// final is written once, inside doneOnce, and every Do returns after
	// that write: no lock (a caller may hold mu).
	if f := cs.final; f != nil {
		return f
	}
	return st
}

// doneCh returns the channel closed when the call has finished, made on
// first use (closedDone once the call is over).
func (cs *callState) doneCh() <-chan struct{} {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.done == nil {
		if cs.over {
			return closedDone
		}
		cs.done = make(chan struct{})
	}
	return cs.done
}

// closeDone marks the call over and closes its done, if made (finish).
func (cs *callState) closeDone() {
	cs.mu.Lock()
	cs.over = true
	d := cs.done
	cs.mu.Unlock()
	if d != nil {
		close(d)
	}
}

// isDone reports whether the call has finished.
func (cs *callState) isDone() bool {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return cs.over
}

// headerMD waits for the response headers (or the end of the call).
func (cs *callState) headerMD() metadata.MD {
	if cs.async {
		cs.awaitHedge()
		// The call's pump owns its attempts: wait for it, never restart.
		if s := cs.cur(); s != nil {
			select {
			case <-s.Done():
			case <-cs.doneCh():
			}
			if md, ok := s.HeaderIfReady(); ok && s.HeadersReceived() {
				return md
			}
		}
		<-cs.doneCh()
		return cs.header
	}
	_ = cs.awaitStreamingHedge()
	s := cs.cur()
	if s == nil {
		<-cs.doneCh()
		return cs.header
	}
	for {
		md, err := s.Header()
		if err == nil {
			return md
		}
		if s.Unprocessed() && cs.restart(s) == nil {
			if s = cs.cur(); s != nil {
				continue // a transparent retry: the new stream's headers
			}
		}
		// The call failed before any headers: what the failure carried.
		if st := toStatus(err); st != nil && st.InitialMetadata() != nil {
			return st.InitialMetadata()
		}
		return metadata.MD{}
	}
}

// timeRemaining returns the time left before the deadline.
func (cs *callState) timeRemaining() (time.Duration, bool) {
	d, ok := cs.ctx().Deadline()
	if !ok {
		d, ok = cs.hdr.Deadline, cs.ownDeadline
	}
	if !ok {
		return 0, false
	}
	return time.Until(d), true
}

// failStatus is the status of a call that failed with err (never nil).
func failStatus(err error) *status.Error {
	if st := toStatus(err); st != nil {
		return st
	}
	return status.Errorf(codes.Internal, "call ended unexpectedly: %v", err)
}

// toStatus turns an error from the transport or the pick into a status.
func toStatus(err error) *status.Error {
	if err == nil || err == io.EOF {
		return nil
	}
	var st *status.Error
	if errors.As(err, &st) {
		return st
	}
	st, _ = status.FromError(err)
	return st
}

func minLimit(a, b int) int {
	if a < 0 {
		return b
	}
	if b < 0 || a < b {
		return a
	}
	return b
}
