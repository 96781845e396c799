package transport

import "sync"

// pinnedDispatcher runs an actor's mailbox on one long-lived goroutine, as
// grpc-go's loopy writer is one goroutine per connection. protoactor's
// default dispatcher starts a fresh goroutine (and grows its stack) every
// time a mailbox goes from idle to busy, which on the per-call path costs
// more than the work itself. The mailbox schedules at most one run at a
// time, so a one-slot channel suffices; should it be full, or the
// dispatcher stopped, the run goes to a new goroutine, so no work is ever
// lost.
type pinnedDispatcher struct {
	work chan func()

	mu      sync.Mutex
	stopped bool
}

func newPinnedDispatcher() *pinnedDispatcher {
	d := &pinnedDispatcher{work: make(chan func(), 1)}
	go d.run()
	return d
}

// Schedule implements actor.Dispatcher.
func (d *pinnedDispatcher) Schedule(fn func()) {
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
func (d *pinnedDispatcher) Throughput() int { return 300 }

func (d *pinnedDispatcher) run() {
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

// stop makes the worker exit after its current run; later runs get
// goroutines of their own.
func (d *pinnedDispatcher) stop() {
	d.mu.Lock()
	d.stopped = true
	d.mu.Unlock()
	// Wake an idle worker so it exits.
	select {
	case d.work <- func() {}:
	default:
	}
}
