package actorsys

import (
	"sync"
	"time"
)

// Timers are an actor's timers as messages: a timer that fires sends its
// message to the actor, so the actor's logic never sleeps and a timer's
// expiry is one more message in its mailbox. Timers are named by a kind;
// arming a kind replaces the timer of that kind still pending. A Timers
// belongs to one actor and is used only from its Receive; stale firings
// (a timer stopped too late to stop it sending) are told apart by the
// messages themselves, usually by a generation number.
type Timers[K comparable] struct {
	send func(msg any)
	m    map[K]*time.Timer

	// mu orders firings against StopAll: a timer whose Stop came too late
	// (its goroutine already running) sends under mu only if StopAll has
	// not run since it was armed, so nothing reaches the actor once it has stopped its timers
	// (a message then would be a dead letter).
	mu    sync.Mutex
	epoch uint64 // incremented by StopAll
}

// NewTimers returns timers that deliver their messages with send (which
// runs on the timer's goroutine and must not block: a mailbox Send).
func NewTimers[K comparable](send func(msg any)) *Timers[K] {
	return &Timers[K]{send: send}
}

// Arm sends msg after d, stopping the pending timer of the same kind.
func (t *Timers[K]) Arm(kind K, d time.Duration, msg any) {
	t.Stop(kind)
	if t.m == nil {
		t.m = make(map[K]*time.Timer)
	}
	t.mu.Lock()
	epoch := t.epoch
	t.mu.Unlock()
	t.m[kind] = time.AfterFunc(d, func() {
		t.mu.Lock()
		defer t.mu.Unlock()
		if t.epoch == epoch {
			t.send(msg)
		}
	})
}

// Stop stops the timer of kind, if one is pending.
func (t *Timers[K]) Stop(kind K) {
	if tm := t.m[kind]; tm != nil {
		tm.Stop()
		delete(t.m, kind)
	}
}

// StopAll stops every pending timer, as when the actor stops: no timer
// sends anything once it has returned, even one already firing. Timers
// armed after it work as usual.
func (t *Timers[K]) StopAll() {
	t.mu.Lock()
	t.epoch++
	t.mu.Unlock()
	for _, tm := range t.m {
		tm.Stop()
	}
	clear(t.m)
}
