package transport

import (
	"context"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/internal/wire"
	"github.com/grpcactor/grpcactor/metadata"
	"github.com/grpcactor/grpcactor/status"
)

// CallHdr is what a stream's request HEADERS carry.
type CallHdr struct {
	// Method is the full method path, "/package.Service/Method".
	Method string
	// Authority overrides the connection's :authority when non-empty.
	Authority string
	// Deadline, when non-zero, is sent as grpc-timeout (computed when the
	// HEADERS frame is written).
	Deadline time.Time
	// Metadata is the call's custom metadata; "-bin" values are sent
	// base64-encoded. Reserved headers in it are ignored.
	Metadata metadata.MD
	// SendCompress is the grpc-encoding of the request messages, "" for
	// none.
	SendCompress string
	// AcceptEncoding is the grpc-accept-encoding value, "" to omit it.
	AcceptEncoding string
	// ContentSubtype, when set, makes content-type
	// "application/grpc+<subtype>".
	ContentSubtype string
	// MaxReceiveMessageSize overrides the connection's receive limit for
	// this stream when OwnMaxReceive is set (negative: unlimited; zero:
	// only empty messages).
	MaxReceiveMessageSize int
	// Notify, if set, is called after something happened on a stream of
	// this call: its response headers or a message arrived, it ended, or
	// some of its queued bytes were written. It runs on the goroutine that
	// caused the event (the connection's reader, a goroutine cancelling
	// the stream; events the connection actor causes run it on a
	// goroutine of their own, never inside the actor), possibly several
	// at once and
	// possibly before NewStream returns; it must not block. The stream's
	// receive window is still credited only as RecvMsg or TryRecvMsg
	// consume messages, so a consumer that stops reading back-pressures
	// the server. Such a stream is polled and has no wake-up channels:
	// use TryRecvMsg, Enqueue and HeaderIfReady (RecvMsg, Write and
	// Header would wait for the end of the stream).
	Notify func()
	// Watch, if set, is called when response headers or a message arrived
	// on a stream of this call or it ended, as Notify is, but leaves the
	// stream's blocking methods as they are (a hedged call watches its
	// attempts so). It must not block.
	Watch func()
	// OneResponse says the call takes one response message and then the
	// status (a unary call): RecvMsg waits for the end of the stream
	// before it returns the message, one wake-up per call and no wake-up
	// channel; received bytes are credited back as they arrive; a second
	// message ends the stream with ErrManyResponses (RST_STREAM CANCEL).
	OneResponse bool
	// OwnMaxReceive says MaxReceiveMessageSize is this stream's limit.
	OwnMaxReceive bool
	// PreviousAttempts, when positive, is sent as
	// grpc-previous-rpc-attempts (beside the flags: 8 bytes less per
	// call).
	PreviousAttempts int32
}

// ErrManyResponses ends a OneResponse stream whose server sent a second
// message.
var ErrManyResponses = status.New(codes.Internal, "cardinality violation: the server sent more than one response message")

// Stream is one call's HTTP/2 stream. Write and CloseSend may be called
// from one goroutine at a time, RecvMsg from one goroutine at a time (not
// necessarily the same); Header, Trailer, Status, Done and Cancel from any.
type Stream struct {
	conn *Conn
	ctx  context.Context
	rh   *reqHeaders // the request headers except grpc-timeout
	hdr  *CallHdr

	fieldsSize int64 // header list size of fields (HTTP/2's count)
	// nextLive links the streams admitted and not yet taken by the actor
	// (liveSet.pending); written before the stream is pushed, then the
	// actor's.
	nextLive *Stream

	// Owned by the connection core (the actor's goroutine).
	timeout  time.Duration // time left, sent as grpc-timeout, set when HEADERS are written (0: none)
	sendFlow outFlow
	outq     []*dataReq
	outHead  int // bytes of outq[0] already written

	// The stream's small fields, whatever their owner, in one place: no
	// padding between them (a stream's size class is part of every
	// call's heap).
	id uint32 // core
	// liveIdx (actor) is the stream's index + 1 in its connection's
	// liveSet.known, 0 before the actor takes it, -1 once forgotten.
	liveIdx int32
	// ended is set, under mu, when the stream ends (finished): a check
	// that needs no lock and no channel.
	ended       atomic.Bool
	msgHead     int32 // mu: msgs taken
	started     bool  // core: HEADERS written
	endQueued   bool  // core
	endSent     bool  // core
	remoteEnded bool  // core
	blocked     bool  // core: waiting for send window
	gotHeaders  bool  // reader
	// initialOK (reader): the response headers were a valid gRPC
	// response (HTTP 200, a gRPC content-type, nothing malformed), with
	// the metadata in header. That is all the end of the stream needs of
	// them (initialBlock), so their decoded block is not kept.
	initialOK   bool
	headerDone  bool // mu
	headersRecv bool // mu: response headers arrived (not a trailers-only response)
	finished    bool // mu
	unprocessed bool // mu
	neverSent   bool // mu

	// Owned by the reader goroutine.
	deframer wire.Deframer
	// resp is what a few responses' headers bring (set by the reader):
	// the grpc-encoding of a gRPC response's messages, or a non-gRPC
	// response.
	resp atomic.Pointer[respExtra]

	// Write quota, shared between the writer and the actor.
	queued atomic.Int64
	// writeCh wakes a Write waiting for quota; the first Write that
	// waits makes it (most streams never wait).
	writeCh atomic.Pointer[chan struct{}]
	// The end message the reader sends the actor lives here, so that a
	// call allocates none (the actor only reads it); a newStream message
	// comes from a pool (newStreams), a unary call's opening is its
	// request's dataReq. The request data, the response headers and
	// messages are not kept here: they would stay allocated for as long
	// as a call waits on its server (issue 9 bounds a call in flight at
	// 2 KiB of heap), while a separate allocation of each is short-lived
	// or needed anyway.
	endMsg remoteEnded
	outq0  [1]*dataReq // outq's first backing array

	mu       sync.Mutex // guards the fields below (and those marked mu)
	msgs     []wire.Message
	recvFlow inFlow // the stream's receive window
	header   metadata.MD
	trailer  metadata.MD
	st       *status.Error
	// sig wakes RecvMsg: a message or the end arrived. A streaming
	// stream's is made with it; a OneResponse stream's is a channel from
	// wakers, set only while RecvMsg waits for the end; a polled stream
	// (Notify) has none.
	sig      chan struct{}
	headerCh chan struct{} // closed when headers arrive or the stream ends; made by the first Header that waits
	done     chan struct{} // closed when the stream ends; made by the first Done before that
}

// closedCh is a closed channel.
var closedCh = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// respExtra is what a stream keeps of response headers that most
// responses lack: the grpc-encoding of a gRPC response (enc, read by the
// caller), or a response that is not gRPC (an HTTP status other than 200
// or another content-type: nonGRPC, the reader's alone).
type respExtra struct {
	enc     string
	nonGRPC *nonGRPCResponse
}

// nonGRPCResponse is a response that is not gRPC: its headers, and the
// start of its body for the call's error message.
type nonGRPCResponse struct {
	headers *wire.HeaderBlock
	body    []byte
}

// nonGRPC returns the stream's non-gRPC response, if it is one (reader).
func (s *Stream) nonGRPC() *nonGRPCResponse {
	if r := s.resp.Load(); r != nil {
		return r.nonGRPC
	}
	return nil
}

// timeoutValue is the grpc-timeout value of the stream's HEADERS (the
// connection actor; timeout is positive).
func (s *Stream) timeoutValue() string { return wire.EncodeTimeout(s.timeout) }

// Peer returns the address of the stream's connection.
func (s *Stream) Peer() string { return s.conn.Address() }

// Unprocessed reports whether the stream ended without the server having
// processed it (never sent, refused with REFUSED_STREAM, or above a
// GOAWAY's last stream id), so that the call may be retried transparently.
func (s *Stream) Unprocessed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.finished && s.unprocessed
}

// RecvCompress returns the response's grpc-encoding ("" before the headers
// or when the server sent none).
func (s *Stream) RecvCompress() string {
	if r := s.resp.Load(); r != nil {
		return r.enc
	}
	return ""
}

func (s *Stream) finishedFast() bool { return s.ended.Load() }

// notify runs the call's Notify hook, if any.
func (s *Stream) notify() {
	if s.hdr != nil && s.hdr.Notify != nil {
		s.hdr.Notify()
	}
	if s.hdr != nil && s.hdr.Watch != nil {
		s.hdr.Watch()
	}
}

// notifyOffActor runs the Notify hook, if any, on a goroutine of its own:
// the connection actor calls it, and a call's callbacks (which the hook
// may run) never run inside an actor's Receive, where one that blocks or
// closes the channel would stall or deadlock the connection.
func (s *Stream) notifyOffActor() {
	if s.hdr != nil && s.hdr.Notify != nil {
		go s.hdr.Notify()
	}
}

// wrote tells the stream's writer that n of its queued bytes left the
// transport (connection actor).
func (s *Stream) wrote(n int) {
	if s.queued.Add(-int64(n)) <= int64(s.conn.cfg.WriteQuota) {
		if ch := s.writeCh.Load(); ch != nil {
			select {
			case *ch <- struct{}{}:
			default:
			}
		}
	}
	s.notifyOffActor()
}

// Queued returns how many bytes given to Write or Enqueue still wait in
// the transport (not yet written to the socket nor dropped).
func (s *Stream) Queued() int64 { return s.queued.Load() }

// Enqueue is Write that never blocks: buf is queued however many bytes
// already wait. The caller bounds what it queues (with Queued and the
// Notify hook).
func (s *Stream) Enqueue(buf []byte, end bool) error {
	return s.enqueue(buf, end, false)
}

// EnqueuePooled is Enqueue for a buffer taken from bufpool that the
// caller gives up: the transport is its only holder and gives it back to
// bufpool once all its bytes are written or dropped. The caller must not
// touch buf after the call, whatever it returns.
func (s *Stream) EnqueuePooled(buf []byte, end bool) error {
	return s.enqueue(buf, end, true)
}

func (s *Stream) enqueue(buf []byte, end, pooled bool) error {
	if err := s.endErr(); err != nil {
		if pooled {
			recycleSendBuf(buf)
		}
		return err
	}
	s.queued.Add(int64(len(buf)))
	s.conn.send(s.dataReq(buf, end, pooled))
	return nil
}

// dataReq returns the message that queues buf, from dataReqs.
func (s *Stream) dataReq(buf []byte, end, pooled bool) *dataReq {
	m := dataReqs.Get().(*dataReq)
	*m = dataReq{s: s, buf: buf, end: end, pooled: pooled}
	return m
}

// dataReqs recycles dataReq messages: each has one owner at a time (the
// writer until it sends it, then the connection core, which frees it
// once its bytes are written or dropped), and one per call was the
// largest transport allocation a unary call made.
var dataReqs = sync.Pool{New: func() any { return new(dataReq) }}

// free gives m back to dataReqs (the core, done with it).
func (m *dataReq) free() {
	*m = dataReq{}
	dataReqs.Put(m)
}

// writeWait returns the channel that wakes a Write waiting for quota
// (nil for a polled stream, whose Write waits for the end of the stream).
func (s *Stream) writeWait() chan struct{} {
	if s.hdr.Notify != nil {
		return nil
	}
	if ch := s.writeCh.Load(); ch != nil {
		return *ch
	}
	ch := make(chan struct{}, 1)
	s.writeCh.CompareAndSwap(nil, &ch)
	return *s.writeCh.Load()
}

// Done is closed when the stream has ended, successfully or not. The
// channel is made by the first Done before the end (a unary call never
// asks for it: its RecvMsg waits on a pooled channel, see waitEnd).
func (s *Stream) Done() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.finished {
		return closedCh
	}
	if s.done == nil {
		s.done = make(chan struct{})
	}
	return s.done
}

// Write queues buf, one or more whole gRPC messages (prefix included), to be
// sent on the stream; end half-closes the stream after it. Ownership of buf
// passes to the transport. Write blocks while more than the write quota of
// this stream's bytes wait to be sent. It returns the stream's status error
// if the stream has ended (io.EOF if it ended OK), as the status of a
// call comes from RecvMsg.
func (s *Stream) Write(buf []byte, end bool) error {
	return s.write(buf, end, false)
}

// WritePooled is Write for a buffer taken from bufpool that the caller
// gives up: the transport is its only holder and gives it back to
// bufpool once all its bytes are written or dropped. The caller must not
// touch buf after the call, whatever it returns.
func (s *Stream) WritePooled(buf []byte, end bool) error {
	return s.write(buf, end, true)
}

func (s *Stream) write(buf []byte, end, pooled bool) error {
	if err := s.endErr(); err != nil {
		if pooled {
			recycleSendBuf(buf)
		}
		return err
	}
	q := s.queued.Add(int64(len(buf)))
	s.conn.send(s.dataReq(buf, end, pooled))
	quota := int64(s.conn.cfg.WriteQuota)
	var wake, done <-chan struct{}
	if q > quota {
		// Published before queued is read again: the actor's wrote
		// either sees the channel or has already lowered queued.
		wake, done = s.writeWait(), s.Done()
		q = s.queued.Load()
	}
	for q > quota {
		select {
		case <-wake:
		case <-done:
			return s.endErr()
		case <-s.ctx.Done():
			s.Cancel(status.FromContext(s.ctx))
			return s.endErr()
		}
		q = s.queued.Load()
	}
	return nil
}

// NeverSent reports whether the stream ended without any of it leaving
// the client (the connection was not ready, draining or closing): such a
// call may be retried on another connection any number of times.
func (s *Stream) NeverSent() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.finished && s.neverSent
}

// finishUnsent ends a stream that never left the client.
func (s *Stream) finishUnsent(st *status.Error) {
	s.markUnsent()
	s.finish(st, nil, true, true)
}

// finishUnsentInActor is finishUnsent for the connection actor.
func (s *Stream) finishUnsentInActor(st *status.Error) {
	s.markUnsent()
	s.finishInActor(st, nil, true, true)
}

func (s *Stream) markUnsent() {
	s.mu.Lock()
	if !s.finished {
		s.neverSent = true
	}
	s.mu.Unlock()
}

// Drained reports whether the transport holds none of the buffers given to
// Write any more: every byte was written to the socket or dropped. Only
// then may a caller reuse a buffer it wrote.
func (s *Stream) Drained() bool { return s.queued.Load() == 0 }

// CloseSend half-closes the stream: no more messages will be sent.
func (s *Stream) CloseSend() error { return s.Write(nil, true) }

func (s *Stream) endErr() error {
	if !s.ended.Load() {
		return nil
	}
	s.mu.Lock()
	st := s.st
	s.mu.Unlock()
	if st == nil {
		return io.EOF
	}
	return st
}

// RecvMsg returns the next whole message. At the end of the stream it
// returns io.EOF if the status is OK and the status error otherwise.
// Messages that arrived before a server error are returned first; after a
// local cancellation none are.
func (s *Stream) RecvMsg() (wire.Message, error) {
	for {
		if !s.hdr.OneResponse || s.finishedFast() {
			if m, ok, err := s.TryRecvMsg(); ok {
				return m, err
			}
		}
		if s.hdr.OneResponse {
			s.waitEnd()
			continue
		}
		// Read without mu: only a streaming stream gets here, whose sig
		// is made with it and never changes. A OneResponse stream's sig
		// (a pooled waker) is read and sent on under mu only (waitEnd).
		var wake <-chan struct{} = s.sig // the end sends on it too
		if s.sig == nil {
			wake = s.Done() // a polled stream's RecvMsg waits for the end
		}
		select {
		case <-wake:
		case <-s.ctx.Done():
			s.Cancel(status.FromContext(s.ctx))
		}
	}
}

// waitEnd waits for the end of a OneResponse stream (or its context's)
// on a channel from wakers, published in sig while it waits: end sends
// on it under mu, so once waitEnd has taken it back under mu nobody can
// send on it any more, and, drained, it goes back to the pool. A unary
// call so makes no wake-up channel of its own.
func (s *Stream) waitEnd() {
	s.mu.Lock()
	if s.finished {
		s.mu.Unlock()
		return
	}
	w := wakers.Get().(chan struct{})
	s.sig = w
	s.mu.Unlock()
	if ctxDone := s.ctx.Done(); ctxDone == nil {
		<-w // under a context that never ends: a plain receive, cheaper than a select
	} else {
		select {
		case <-w:
		case <-ctxDone:
			s.Cancel(status.FromContext(s.ctx))
		}
	}
	s.mu.Lock()
	s.sig = nil
	s.mu.Unlock()
	select {
	case <-w:
	default:
	}
	wakers.Put(w)
}

// wakers recycles the channels OneResponse streams wait on (waitEnd).
var wakers = sync.Pool{New: func() any { return make(chan struct{}, 1) }}

// TryRecvMsg is RecvMsg that never waits: ok is false when no message has
// arrived and the stream has not ended.
func (s *Stream) TryRecvMsg() (m wire.Message, ok bool, err error) {
	s.mu.Lock()
	if int(s.msgHead) < len(s.msgs) {
		msg := s.msgs[s.msgHead]
		s.msgs[s.msgHead] = wire.Message{}
		s.msgHead++
		var credit int64
		if int(s.msgHead) == len(s.msgs) {
			s.emptyMsgsLocked()
			credit = s.creditLocked()
		}
		s.mu.Unlock()
		if credit > 0 {
			s.conn.send(newWindowUpdate(s, uint32(credit)))
		}
		return msg, true, nil
	}
	if s.finished {
		st := s.st
		s.mu.Unlock()
		if st == nil {
			return wire.Message{}, true, io.EOF
		}
		return wire.Message{}, true, st
	}
	s.mu.Unlock()
	return wire.Message{}, false, nil
}

// creditLocked returns how many received bytes to credit back to the
// peer now, called when no complete message waits for the application:
// every byte received counts as consumed, and goes back once a quarter of
// the window has built up.
func (s *Stream) creditLocked() int64 {
	if s.finished {
		return 0
	}
	return s.recvFlow.consumeAll()
}

// Header waits for the response headers and returns their metadata. For a
// trailers-only response it returns empty metadata once the stream ended;
// it returns an error only if the stream failed before any headers.
func (s *Stream) Header() (metadata.MD, error) {
	var hc <-chan struct{}
	if s.hdr.Notify != nil {
		hc = s.Done() // a polled stream
	} else {
		// headerCh is made by the first Header that waits.
		s.mu.Lock()
		if s.headerDone {
			hc = closedCh
		} else {
			if s.headerCh == nil {
				s.headerCh = make(chan struct{})
			}
			hc = s.headerCh
		}
		s.mu.Unlock()
	}
	select {
	case <-hc:
	case <-s.ctx.Done():
		s.Cancel(status.FromContext(s.ctx))
		<-hc
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.header == nil && s.st != nil {
		return nil, s.st
	}
	if s.header == nil {
		return metadata.MD{}, nil
	}
	return s.header, nil
}

// HeaderIfReady returns the response header metadata if it has arrived.
func (s *Stream) HeaderIfReady() (metadata.MD, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.header, s.headerDone
}

// HeadersReceived reports whether the server's response headers arrived
// (with or without metadata): under gRFC A6 they commit a call, so it is
// not retried. A trailers-only response is not headers.
func (s *Stream) HeadersReceived() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.headersRecv
}

// Trailer returns the trailing metadata; valid after the stream ended.
func (s *Stream) Trailer() metadata.MD {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.trailer
}

// Status returns the final status (nil for OK) and whether the stream has
// ended.
func (s *Stream) Status() (*status.Error, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st, s.finished
}

// Cancel ends the stream locally with st (a CANCELLED or
// DEADLINE_EXCEEDED status, typically) and has the connection send
// RST_STREAM(CANCEL). Messages not yet read are dropped. It does nothing if
// the stream already ended.
func (s *Stream) Cancel(st *status.Error) {
	if st == nil {
		st = status.New(codes.Canceled, "call cancelled")
	}
	if s.finish(st, nil, false, true) {
		s.conn.send(&cancelStream{s: s})
	}
}

// finish ends the stream; the first call wins. trailer may be nil. local
// drops queued messages. It reports whether this call ended it.
func (s *Stream) finish(st *status.Error, trailer metadata.MD, unprocessed, local bool) bool {
	if !s.end(st, trailer, unprocessed, local) {
		return false
	}
	s.notify()
	return true
}

// finishInActor is finish for the connection actor: the Notify hook runs
// off the actor (notifyOffActor).
func (s *Stream) finishInActor(st *status.Error, trailer metadata.MD, unprocessed, local bool) {
	if s.end(st, trailer, unprocessed, local) {
		s.notifyOffActor()
		if s.hdr != nil && s.hdr.Watch != nil {
			go s.hdr.Watch()
		}
	}
}

// end is finish without the Notify hook.
func (s *Stream) end(st *status.Error, trailer metadata.MD, unprocessed, local bool) bool {
	s.mu.Lock()
	if s.finished {
		s.mu.Unlock()
		return false
	}
	s.finished = true
	s.st = st
	s.trailer = trailer
	s.unprocessed = unprocessed
	if local {
		clear(s.msgs)
		s.emptyMsgsLocked()
	}
	if !s.headerDone {
		s.headerDone = true
		if s.headerCh != nil {
			close(s.headerCh)
		}
	}
	s.ended.Store(true)
	if s.done != nil {
		close(s.done)
	}
	select {
	case s.sig <- struct{}{}: // nil for a polled stream, and a OneResponse one whose RecvMsg is not waiting
	default:
	}
	s.mu.Unlock()
	return true
}

// deliverHeaders records the response headers (reader goroutine).
func (s *Stream) deliverHeaders(md metadata.MD) {
	s.mu.Lock()
	if !s.headerDone && !s.finished {
		s.header = md
		s.headerDone = true
		s.headersRecv = true
		if s.headerCh != nil {
			close(s.headerCh)
		}
	}
	s.mu.Unlock()
	s.notify()
}

// deliverData feeds a DATA frame's payload to the deframer and queues the
// complete messages (reader goroutine). flowLen is the frame's
// flow-controlled length, padding included. It returns the bytes to
// credit back now and an error that ends the stream.
func (s *Stream) deliverData(data []byte, flowLen int) (credit int64, got bool, err error) {
	credit, got, err = s.deliverDataLocked(data, flowLen)
	if got {
		s.notify()
	}
	return credit, got, err
}

func (s *Stream) deliverDataLocked(data []byte, flowLen int) (credit int64, got bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.finished {
		return int64(flowLen), false, nil
	}
	if c := s.conn; c != nil && c.cfg.BDP {
		if w := c.recvWin.Load(); w > s.recvFlow.window {
			s.recvFlow.window = w // grown by BDP estimation
		}
	}
	if !s.recvFlow.receive(int64(flowLen)) {
		return 0, false, status.Errorf(codes.Internal, "server violated stream flow control: %d bytes in flight, window is %d", s.recvFlow.received, s.recvFlow.window)
	}
	before := len(s.msgs)
	if s.msgs == nil {
		s.msgs = msgSlots.Get().(*[1]wire.Message)[:0]
	}
	err = s.deframer.Feed(data, func(m wire.Message) { s.msgs = append(s.msgs, m) })
	if err != nil {
		return 0, false, err
	}
	if len(s.msgs) > before {
		if s.hdr.OneResponse && len(s.msgs)-int(s.msgHead) > 1 {
			return 0, false, ErrManyResponses
		}
		if !s.hdr.OneResponse { // a OneResponse stream wakes at the end only
			select {
			case s.sig <- struct{}{}: // nil for Notify
			default:
			}
		}
		got = true
	}
	if int(s.msgHead) == len(s.msgs) || s.hdr.OneResponse {
		return s.creditLocked(), got, nil
	}
	return 0, got, nil
}

// msgSlots recycles one-message queues: most streams (a unary call's
// among them) hold at most one received message at a time, so a stream
// takes a slot when a message arrives and gives it back once the message
// is taken.
var msgSlots = sync.Pool{New: func() any { return new([1]wire.Message) }}

// emptyMsgsLocked empties the message queue, whose messages were taken
// or cleared: a one-message slot goes back to msgSlots, a larger queue
// is kept for the next messages.
func (s *Stream) emptyMsgsLocked() {
	s.msgHead = 0
	if cap(s.msgs) != 1 {
		s.msgs = s.msgs[:0]
		return
	}
	msgSlots.Put((*[1]wire.Message)(s.msgs[:1]))
	s.msgs = nil
}

func (s *Stream) partial() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.deframer.Partial()
}
