package channel

import (
	"io"

	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/internal/transport"
	"github.com/grpcactor/grpcactor/status"
)

// The byte-level half of a call started with Start: its attempts open
// without waiting (a pick the channel actor answers by calling back, a
// stream whose events call the call's pump) and its receive side is
// polled by the pump, so that no goroutine waits for it.

// startAsync opens the call's next attempt without waiting. The call's
// pump is notified when the stream is open (or the call has failed).
func (cs *callState) startAsync() {
	if cs.hedgeable() {
		cs.startHedgedAsync()
		return
	}
	cs.mu.Lock()
	cs.restarting = true
	cs.mu.Unlock()
	if cs.ctx().Err() != nil {
		cs.endAsync(status.FromContext(cs.ctx()))
		return
	}
	cs.beginAttempt()
	if conn := cs.pickNow(); conn != nil {
		cs.openAsync(conn)
		return
	}
	if cs.ch.closed.Load() && cs.ch.snap.Load().state == Shutdown {
		cs.endAsync(errChannelClosed)
		return
	}
	req := &pickReq{waitForReady: cs.waitForReady, info: cs.pickInfo()}
	req.notify = func(r pickResult) {
		if r.err != nil {
			cs.endAsync(r.err)
			return
		}
		cs.setPickDone(r.done)
		cs.openAsync(r.conn)
	}
	cs.mu.Lock()
	cs.pickReq = req
	cs.mu.Unlock()
	if !cs.ch.tell(msgPick{req}) {
		cs.mu.Lock()
		cs.pickReq = nil
		cs.mu.Unlock()
		cs.endAsync(errChannelClosed)
		return
	}
	if cs.ctx().Err() != nil {
		cs.abandonPick() // cancel ran before the pick was recorded
	}
}

// abandonPick drops the call's pending pick, if any (its context ended).
func (cs *callState) abandonPick() {
	cs.mu.Lock()
	req := cs.pickReq
	cs.pickReq = nil
	cs.mu.Unlock()
	if req != nil && !req.abandoned.Swap(true) {
		cs.ch.tell(msgAbandoned{})
	}
}

// endAsync ends an asynchronous call that could not start an attempt.
func (cs *callState) endAsync(err error) {
	st := failStatus(err)
	if st.Code() == codes.DeadlineExceeded || st.Code() == codes.Canceled {
		if cs.ctx().Err() != nil {
			st = status.FromContext(cs.ctx())
		}
	}
	cs.finish(st)
}

// openAsync asks the call credentials (once per call, on a goroutine of
// their own as they may block) and opens a stream on conn.
func (cs *callState) openAsync(conn *transport.Conn) {
	cs.mu.Lock()
	cs.pickReq = nil
	cs.mu.Unlock()
	if !cs.credsDone {
		cs.credsDone = true
		if cs.ext != nil && len(cs.ext.creds) > 0 || len(cs.ch.creds.CallCredentials()) > 0 {
			go func() {
				if err := cs.addCallCredentials(); err != nil {
					cs.endAsync(err)
					return
				}
				cs.openStreamAsync(conn)
			}()
			return
		}
	}
	cs.openStreamAsync(conn)
}

// openStreamAsync opens the attempt's stream on conn and replays what the
// call has sent so far.
func (cs *callState) openStreamAsync(conn *transport.Conn) {
	if cs.ctx().Err() != nil {
		cs.endAsync(status.FromContext(cs.ctx()))
		return
	}
	// A request already whole (a unary call's, the call half-closed
	// with one message) goes with the stream's opening: one message to
	// the connection actor. Nothing can be added to it meanwhile.
	cs.mu.Lock()
	whole := cs.closedSend && len(cs.sent) == 1
	var first []byte
	if whole {
		first = cs.sent[0]
	}
	cs.mu.Unlock()
	var s *transport.Stream
	var err error
	if whole {
		s, err = conn.NewStreamWith(cs.parent, &cs.hdr, first, true)
	} else {
		s, err = conn.NewStream(cs.parent, &cs.hdr)
	}
	if err != nil {
		cs.endAsync(err)
		return
	}
	if whole && first != nil {
		// Before the pump can see the attempt (restarting is still set).
		cs.statsOut(first)
	}
	cs.attemptMu.Lock()
	cs.mu.Lock()
	cs.stream.Store(s)
	cs.restarting = false
	sent, closed := cs.sent, cs.closedSend
	cs.mu.Unlock()
	if whole {
		sent = sent[min(1, len(sent)):] // the first went with the opening
	}
	if cs.ctx().Err() != nil {
		// cancel ran meanwhile and saw the previous stream.
		s.Cancel(status.FromContext(cs.ctx()))
	} else if !whole || len(sent) > 0 {
		ok := true
		for i, b := range sent {
			// Reported before it is queued: once queued, the attempt may
			// end (and be reported) before this goroutine goes on.
			if b != nil {
				cs.statsOut(b)
			}
			if s.Enqueue(b, closed && i == len(sent)-1) != nil {
				ok = false
				break
			}
		}
		if ok && closed && len(sent) == 0 {
			_ = s.Enqueue(nil, true)
		}
	}
	cs.mu.Lock()
	if !cs.committed && cs.sentBytes > retryBufferLimit {
		cs.commitLocked() // sends made while the attempt was opening
	}
	cs.mu.Unlock()
	cs.attemptMu.Unlock()
	cs.hdr.Notify()
}

// tryRecv is recvMsg that never waits, for the call's pump: ok is false
// when nothing is ready (or a new attempt is opening). At the end it
// returns io.EOF for OK or the status error; the pump finishes the call.
func (cs *callState) tryRecv() (data []byte, ok bool, err error) {
	cs.mu.Lock()
	s, restarting := cs.stream.Load(), cs.restarting
	cs.mu.Unlock()
	if restarting || s == nil {
		return nil, false, nil
	}
	m, ok, err := s.TryRecvMsg()
	if !ok {
		return nil, false, nil
	}
	if err == nil {
		data, err = cs.received(s, m)
		return data, true, err
	}
	next, delay := cs.attemptEnded(s, err)
	if next == retryTransparent {
		if cs.transparentRetry(s) {
			cs.startAsync()
			return nil, false, nil
		}
		next, delay = cs.policyOrEnd(s, toStatus(err))
	}
	if next == retryPolicy {
		cs.mu.Lock()
		cs.restarting = true
		cs.mu.Unlock()
		cs.nextPolicyAttempt()
		cs.armRetry(delay)
		return nil, false, nil
	}
	return nil, true, err
}

// sendAsync sends one framed message of an asynchronous call without
// waiting (the caller bounds what it sends with send credit). While a new
// attempt opens, the message waits in the retry buffer and is replayed.
// An io.EOF means the call is over.
func (cs *callState) sendAsync(frame []byte, last bool) error {
	if h := cs.hedged(); h != nil && h.streaming.Load() {
		return cs.sendHedgedAsync(frame, last)
	}
	cs.attemptMu.Lock()
	cs.mu.Lock()
	if !cs.committed || cs.restarting {
		cs.sent = append(cs.sent, frame)
		cs.sentBytes += len(frame)
		if cs.sentBytes > retryBufferLimit && !cs.restarting {
			cs.commitLocked()
		}
	}
	if last {
		cs.closedSend = true
	}
	s, restarting := cs.stream.Load(), cs.restarting
	pooled := cs.committed && !restarting // not in the retry buffer (see sendMsg)
	cs.mu.Unlock()
	var err error
	if !restarting && s != nil {
		if frame != nil {
			cs.statsOut(frame) // before it is queued, as above
		}
		err = enqueueFrame(s, frame, last, pooled && frame != nil)
	}
	cs.attemptMu.Unlock()
	if err == nil {
		return nil
	}
	cs.mu.Lock()
	pending := !cs.committed && !cs.recvSeen && (cs.retryPolicy() != nil || s.Unprocessed())
	cs.mu.Unlock()
	if pending {
		return nil // the pump decides on a retry, which replays the message
	}
	return io.EOF
}

// closeSendAsync half-closes an asynchronous call without waiting.
func (cs *callState) closeSendAsync() error {
	cs.mu.Lock()
	closed := cs.closedSend
	cs.mu.Unlock()
	if closed {
		return nil
	}
	return cs.sendAsync(nil, true)
}

// sendReady reports whether the call has an open attempt that holds
// fewer than quota queued request bytes.
func (cs *callState) sendReady(quota int64) bool {
	if h := cs.hedged(); h != nil && h.streaming.Load() {
		if ready, racing := h.raceSendReady(); racing {
			return ready
		}
	}
	cs.mu.Lock()
	s, restarting, closed := cs.stream.Load(), cs.restarting, cs.closedSend
	cs.mu.Unlock()
	return s != nil && !restarting && !closed && s.Queued() < quota
}

// finalErr is the call's error once it is done: nil for OK.
func (cs *callState) finalErr() error {
	if cs.final == nil {
		return nil
	}
	return cs.final
}

// errNoSendCredit is Send's error on a started stream without credit.
var errNoSendCredit = status.New(codes.ResourceExhausted, "Send without send credit: wait for OnSendCredit (the request was not sent; the call goes on)")
