package channel

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/futures"
	"github.com/grpcactor/grpcactor/status"
)

// ConnectivityChanged is the message a SubscribePID subscriber receives on
// every change of the channel's state (and once, at subscription, with the
// current state and Previous equal to it).
type ConnectivityChanged struct {
	Channel  *Channel
	State    Connectivity
	Previous Connectivity
}

// Subscription is a registration made with Subscribe or SubscribePID.
type Subscription struct {
	ch      *Channel
	cb      func(Connectivity)
	pid     *actor.PID
	removed atomic.Bool

	// Owned by the channel actor.
	delivered bool
	last      Connectivity

	// The callback's own serialized executor: a queue drained by a
	// goroutine that exists only while there is something to deliver.
	mu      sync.Mutex
	queue   []Connectivity
	running bool
}

// Subscribe calls cb with the channel's current state at once and then
// with every change, in order and never with the same state twice in a
// row, until Unsubscribe (grpcio's subscribe). Callbacks run on a
// goroutine of the subscription's own, never inside an actor's Receive: a
// slow callback delays neither the channel nor other subscribers. With
// tryToConnect an IDLE channel starts connecting. After Close, cb gets
// SHUTDOWN last.
func (ch *Channel) Subscribe(cb func(Connectivity), tryToConnect bool) *Subscription {
	s := &Subscription{ch: ch, cb: cb}
	ch.register(s, tryToConnect)
	return s
}

// SubscribePID sends a *ConnectivityChanged message to pid with the
// current state at once and on every change, as Subscribe does for a
// callback. A subscriber actor that stops is removed.
func (ch *Channel) SubscribePID(pid *actor.PID, tryToConnect bool) *Subscription {
	s := &Subscription{ch: ch, pid: pid}
	ch.register(s, tryToConnect)
	return s
}

func (ch *Channel) register(s *Subscription, tryToConnect bool) {
	ch.subsMu.Lock()
	if ch.unseen == nil || ch.snap.Load().state == Shutdown {
		ch.subsMu.Unlock()
		s.deliver(Shutdown)
		return
	}
	ch.unseen[s] = struct{}{}
	ch.subsMu.Unlock()
	ch.tell(msgSubscribe{sub: s, tryToConnect: tryToConnect}) // if the actor is gone, Close delivers SHUTDOWN
}

// Unsubscribe stops deliveries to sub: no callback starts after it
// returns, except one that was already being dispatched at that moment. Unsubscribing an unknown or already removed subscription does
// nothing.
func (ch *Channel) Unsubscribe(sub *Subscription) {
	if sub == nil || sub.ch != ch || sub.removed.Swap(true) {
		return
	}
	if ch.snap.Load().state != Shutdown {
		ch.tell(msgUnsubscribe{sub})
	}
}

// deliver queues state for the subscriber (channel actor, or the
// subscribing goroutine after shutdown).
func (s *Subscription) deliver(state Connectivity) {
	if s.removed.Load() || s.delivered && s.last == state {
		return
	}
	prev := s.last
	if !s.delivered {
		prev = state
	}
	s.delivered, s.last = true, state
	if s.pid != nil {
		s.ch.sys.Root.Send(s.pid, &ConnectivityChanged{Channel: s.ch, State: state, Previous: prev})
		return
	}
	s.mu.Lock()
	s.queue = append(s.queue, state)
	start := !s.running
	s.running = true
	s.mu.Unlock()
	if start {
		go s.drain()
	}
}

func (s *Subscription) drain() {
	for {
		s.mu.Lock()
		if len(s.queue) == 0 {
			s.running = false
			s.mu.Unlock()
			return
		}
		state := s.queue[0]
		s.queue = s.queue[1:]
		s.mu.Unlock()
		if !s.removed.Load() {
			s.call(state)
		}
	}
}

// call runs the callback. A panic ends only this call of it: it is logged
// and later states are still delivered.
func (s *Subscription) call(state Connectivity) {
	defer func() {
		if r := recover(); r != nil {
			s.ch.logger().Error("grpcactor: connectivity subscription callback panicked", "target", s.ch.target, "state", state.String(), "panic", fmt.Sprint(r))
		}
	}()
	s.cb(state)
}

func (a *chanActor) subscribe(m msgSubscribe) {
	s := m.sub
	a.ch.subsMu.Lock()
	delete(a.ch.unseen, s)
	a.ch.subsMu.Unlock()
	if s.removed.Load() {
		return
	}
	a.subscribers = append(a.subscribers, s)
	if s.pid != nil {
		a.ctx.Watch(s.pid)
	}
	s.deliver(a.core.state)
	if m.tryToConnect && a.core.state == Idle {
		effs := a.core.step(msgConnect{})
		a.publish()
		for _, e := range effs {
			a.perform(e)
		}
	}
}

func (a *chanActor) unsubscribe(s *Subscription) {
	s.removed.Store(true)
	for i, o := range a.subscribers {
		if o == s {
			a.subscribers = append(a.subscribers[:i], a.subscribers[i+1:]...)
			if s.pid != nil && !a.watching(s.pid) {
				a.ctx.Unwatch(s.pid)
			}
			return
		}
	}
}

// watching reports whether another subscription still names pid.
func (a *chanActor) watching(pid *actor.PID) bool {
	for _, o := range a.subscribers {
		if o.pid != nil && o.pid.Equal(pid) {
			return true
		}
	}
	return false
}

// notify tells every subscriber of a state change.
func (a *chanActor) notify(_, to Connectivity) {
	for _, s := range a.subscribers {
		s.deliver(to)
	}
}

// ReadyFuture returns a future that completes when ch is READY (grpcio's
// channel_ready_future). It asks an IDLE channel to connect. Result(ctx)
// gives futures.ErrTimeout when ctx ends first; Cancel detaches the future
// and leaves the channel alone; the future fails CANCELLED if the channel
// shuts down first.
func ReadyFuture(ch *Channel) futures.Future[struct{}] {
	p := futures.New[struct{}](ch.sys)
	var sub *Subscription
	var once sync.Once
	subReady := make(chan struct{})
	sub = ch.Subscribe(func(s Connectivity) {
		switch s {
		case Ready:
			p.Complete(struct{}{}, nil)
		case Shutdown:
			p.Fail(status.New(codes.Canceled, "channel closed before it became READY"))
		default:
			return
		}
		<-subReady
		once.Do(func() { ch.Unsubscribe(sub) })
	}, true)
	close(subReady)
	p.OnCancel(func() { once.Do(func() { ch.Unsubscribe(sub) }) })
	return p
}
