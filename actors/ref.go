package actors

import (
	"sync"

	"github.com/grpcactor/grpcactor/channel"
	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/status"
)

// Ref is a call made by message: its Reply, Messages, End and SendCredit
// carry it. Its methods never block and are safe from any goroutine.
type Ref struct {
	method string
	to     dest
	mu     sync.Mutex
	impl   refImpl
	cancel bool // Cancel came before the call was set

	// The calling actor's calls in progress (watch.go): own is set before
	// the call starts; linked, prev and next are under own.mu.
	own        *owner
	linked     bool
	prev, next *Ref

	// Until the call is set, the messages its callbacks deliver wait in
	// pending (a call may end, or grant credit, before Start returns), so
	// that whoever receives one finds Call, Send and the rest working,
	// even in another actor (ReplyTo).
	ready   bool
	pending []any
}

// deliver sends a message of the call to its target once the Ref is set.
func (r *Ref) deliver(msg any) {
	r.mu.Lock()
	if !r.ready {
		r.pending = append(r.pending, msg)
		r.mu.Unlock()
		return
	}
	r.mu.Unlock()
	r.to.deliver(msg)
}

// refImpl is the call behind a Ref.
type refImpl interface {
	call() *channel.Call
	send(req any) error
	closeSend() error
	request(n int)
	cancel()
}

// Method returns the call's full method name.
func (r *Ref) Method() string { return r.method }

// Call returns the channel's call (metadata, code and details; the
// accessors that wait block, so read them after the end); nil for a call
// carried by a Backend (NewCall), as on a remote channel.
func (r *Ref) Call() *channel.Call {
	if i := r.get(); i != nil {
		return i.call()
	}
	return nil
}

// Send sends one request on a client- or bidirectional-streaming call. It
// needs credit (*SendCredit): without, it returns a RESOURCE_EXHAUSTED
// *status.Error and sends nothing. It returns io.EOF if the call has
// ended, a *status.Error for a request of the wrong type or one that
// cannot be serialized.
func (r *Ref) Send(req any) error {
	i := r.get()
	if i == nil {
		return status.Errorf(codes.FailedPrecondition, "Ref.Send on %s before the call started", r.method)
	}
	return i.send(req)
}

// CloseSend half-closes a client- or bidirectional-streaming call: no
// more requests.
func (r *Ref) CloseSend() error {
	i := r.get()
	if i == nil {
		return status.Errorf(codes.FailedPrecondition, "Ref.CloseSend on %s before the call started", r.method)
	}
	return i.closeSend()
}

// Request grants n more *Message to a streaming call started with Demand.
func (r *Ref) Request(n int) {
	if i := r.get(); i != nil {
		i.request(n)
	}
}

// Cancel cancels the call: it ends CANCELLED (RST_STREAM(CANCEL) on the
// wire), reported by its Reply or End as usual.
func (r *Ref) Cancel() {
	r.mu.Lock()
	i := r.impl
	if i == nil {
		r.cancel = true
	}
	r.mu.Unlock()
	if i != nil {
		i.cancel()
	}
}

func (r *Ref) get() refImpl {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.impl
}

func (r *Ref) set(i refImpl) {
	r.mu.Lock()
	r.impl = i
	for len(r.pending) > 0 { // in order: a callback meanwhile appends
		p := r.pending
		r.pending = nil
		r.mu.Unlock()
		for _, m := range p {
			r.to.deliver(m)
		}
		r.mu.Lock()
	}
	r.ready = true
	cancel := r.cancel
	r.mu.Unlock()
	if cancel {
		i.cancel()
	}
}

// unaryImpl is a unary call's side of a Ref.
type unaryImpl struct{ c *channel.Call }

func (u unaryImpl) call() *channel.Call { return u.c }
func (u unaryImpl) send(any) error {
	return status.New(codes.FailedPrecondition, "Ref.Send on a unary or server-streaming call: its request was given to Send")
}
func (u unaryImpl) closeSend() error { return nil }
func (u unaryImpl) request(int)      {}
func (u unaryImpl) cancel()          { u.c.Cancel() }

// streamImpl is a streaming call's side of a Ref.
type streamImpl[Req, Resp any] struct {
	sc *channel.StreamCall[Req, Resp]
}

func (s streamImpl[Req, Resp]) call() *channel.Call { return &s.sc.Call }

func (s streamImpl[Req, Resp]) send(req any) error {
	r, ok := req.(Req)
	if !ok {
		var want Req
		return status.Errorf(codes.InvalidArgument, "Ref.Send on %s: a request of type %T, the method takes %T", s.sc.Method(), req, want)
	}
	return s.sc.Send(r)
}

func (s streamImpl[Req, Resp]) closeSend() error { return s.sc.CloseSend() }
func (s streamImpl[Req, Resp]) request(n int)    { s.sc.Request(n) }
func (s streamImpl[Req, Resp]) cancel()          { s.sc.Cancel() }
