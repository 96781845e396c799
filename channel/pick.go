package channel

import (
	"github.com/grpcactor/grpcactor/balancer"
	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/internal/transport"
	"github.com/grpcactor/grpcactor/status"
)

// A call's side of the load-balancing policy: what its picker sees of the
// call, and the policy's Done for the attempt that used a pick.

var errPickAbandoned = status.New(codes.Canceled, "the call stopped waiting for a connection")

// HashKey gives the call a key for hash-based load balancing: with the
// ring_hash policy, calls with the same key go to the same server (while
// it is READY), so a key's state can live there. The key is hashed with
// XXH64; it takes precedence over the config's requestHashHeader. Other
// policies see it in balancer.PickInfo.HashKey. Default: none (ring_hash
// then uses the header, or a random hash).
func HashKey(b []byte) CallOption {
	key := string(b)
	return callOptionFunc(func(o *callOptions) { o.wire.hashKey = &key })
}

// pickInfo is what the policy's picker sees of the call.
func (cs *callState) pickInfo() balancer.PickInfo {
	info := balancer.PickInfo{Ctx: cs.ctx(), Method: cs.hdr.Method, Metadata: cs.md}
	if e := cs.ext; e != nil && e.hashKey != nil {
		info.HashKey = *e.hashKey
	}
	return info
}

// pick returns a connection for the call's next attempt (waiting for one
// as the call's options say).
func (cs *callState) pick() (*transport.Conn, error) {
	conn, done, err := cs.ch.pick(cs.ctx(), cs.pickInfo(), cs.waitForReady)
	if err == nil {
		cs.setPickDone(done)
	}
	return conn, err
}

// pickNow returns a connection from the published picker, or nil.
func (cs *callState) pickNow() *transport.Conn {
	conn, done := cs.ch.pickNow(cs.pickInfo())
	if conn != nil {
		cs.setPickDone(done)
	}
	return conn
}

// setPickDone records the Done of the pick the call's new attempt uses;
// the previous attempt's (over, as a new one starts) is called now. A
// call that has already finished calls it at once.
func (cs *callState) setPickDone(done func(balancer.DoneInfo)) {
	cs.mu.Lock()
	prev := cs.pickDone
	ended, endErr := cs.pickEnded, cs.finalErr()
	cs.pickDone = nil
	if !ended {
		cs.pickDone = done
	}
	cs.mu.Unlock()
	if prev != nil {
		prev(balancer.DoneInfo{Err: retriedStatus(nil)})
	}
	if ended && done != nil {
		done(balancer.DoneInfo{Err: endErr})
	}
}

// endPick records the call's final status st (under mu, so that a pick's
// Done that comes after reads it without a race) and tells the policy
// that the call ended with it.
func (cs *callState) endPick(st *status.Error) {
	cs.mu.Lock()
	info := balancer.DoneInfo{}
	if st != nil {
		info.Err = st
	}
	done := cs.pickDone
	cs.pickDone = nil
	cs.pickEnded, cs.final = true, st
	cs.mu.Unlock()
	if done != nil {
		done(info)
	}
}
