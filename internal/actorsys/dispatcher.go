package actorsys

import "sync"

// PinnedDispatcher runs an actor's mailbox on one long-lived goroutine, as
// grpc-go's loopy writer is one goroutine per connection (the connection
// actor uses it). protoactor's
// default dispatcher starts a fresh goroutine (and grows its stack) every
// time a mailbox goes from idle to busy, which on the per-call path costs
// more than the work itself. The mailbox schedules at most one run at a
// time, so a one-slot channel suffices; should it be full, or the
// dispatcher stopped, the run goes to a new goroutine, so no work is ever
// lost.
type PinnedDispatcher struct {
	work chan func()

	mu      sync.Mutex
	stopped bool
}

// NewPinnedDispatcher starts a dispatcher's worker goroutine; [PinnedDispatcher.Stop]
// ends it. One dispatcher serves one actor.
func NewPinnedDispatcher() *PinnedDispatcher {
	d := &PinnedDispatcher{work: make(chan func(), 1)}
	go d.run()
	return d
}

// Schedule implements actor.Dispatcher.
func (d *PinnedDispatcher) Schedule(fn func()) {
	d.mu.Lock()
	if d.stopped {
		d.mu.Unlock()
		go fn()
		return
	}
	select {
	case d.work <- fn:
		d.mu.Unlock()
	default:
		d.mu.Unlock()
		go fn()
	}
}

// Throughput implements actor.Dispatcher: messages per run before the
// mailbox yields.
func (d *PinnedDispatcher) Throughput() int { return 300 }

func (d *PinnedDispatcher) run() {
	for fn := range d.work {
		fn()
		d.mu.Lock()
		stopped := d.stopped
		d.mu.Unlock()
		if stopped {
			break
		}
	}
	// Hand anything scheduled meanwhile to a goroutine of its own.
	select {
	case fn := <-d.work:
		go fn()
	default:
	}
}

// Stop makes the worker exit after its current run (the actor calls it
// when it has stopped); later runs get goroutines of their own.
func (d *PinnedDispatcher) Stop() {
	d.mu.Lock()
	d.stopped = true
	d.mu.Unlock()
	// Wake an idle worker so it exits.
	select {
	case d.work <- func() {}:
	default:
	}
}
