package main

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// op does one operation of a workload (a call, a round trip, a message, a
// channel's life) and returns how long it took.
type op func() (time.Duration, error)

// worker is one closed-loop goroutine's operation and what ends it (closing
// its stream, for example) once the run is over.
type worker struct {
	op   op
	stop func() error
}

// session is one client's side of a workload: its connections are made (and
// READY) before any run; newWorker is called before the clock starts.
type session struct {
	newWorker func(ctx context.Context) (worker, error)
	close     func() error
	// drive, if set, runs the workload's own closed loop instead of
	// newWorker's goroutines (msgform.go).
	drive driver
}

// maxWorkerErrors failed ops end a worker's run: an op that fails is
// counted and the worker goes on, so that one sporadic failure does not end
// the run, but a broken client does not spin.
const maxWorkerErrors = 10

// hangGrace is how long after the end of a run a call may still be in
// progress before the run is declared hung.
var hangGrace = 10 * time.Second

// errHung marks a run in which calls did not return.
var errHung = errors.New("hung")

// measure runs conc closed-loop workers of s for d and measures them: every
// worker issues its operation back to back until d has passed; the run ends
// when the last operation in flight has returned. Process CPU and the
// allocation counters are read just before the first and just after the last
// operation; a GC runs before the clock starts.
func measure(parent context.Context, s *session, conc int, d time.Duration) result {
	if s.drive != nil {
		return measureDriven(parent, s, conc, d)
	}
	ctx, cancel := context.WithCancel(parent)
	defer cancel()

	workers := make([]worker, 0, conc)
	stopAll := func() error {
		var first error
		for _, w := range workers {
			if w.stop == nil {
				continue
			}
			if err := w.stop(); err != nil && first == nil {
				first = err
			}
		}
		return first
	}
	for range conc {
		w, err := s.newWorker(ctx)
		if err != nil {
			stopAll()
			return result{err: fmt.Errorf("starting a worker: %w", err)}
		}
		workers = append(workers, w)
	}
	hists := make([]*histogram, conc)
	for i := range hists {
		hists[i] = new(histogram)
	}
	type outcome struct {
		ops  uint64
		err  error
		errs uint64
	}
	outcomes := make([]outcome, conc)
	var stop atomic.Bool
	var running atomic.Int32
	running.Store(int32(conc))
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer running.Add(-1)
			h, w, o := hists[i], workers[i], &outcomes[i]
			<-start
			for !stop.Load() {
				lat, err := w.op()
				if err != nil {
					if o.err == nil {
						o.err = err
					}
					o.errs++
					if o.errs >= maxWorkerErrors {
						return
					}
					continue
				}
				h.record(lat)
				o.ops++
			}
		}()
	}

	runtime.GC()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	c0 := countsBefore()
	t0 := time.Now()
	close(start)
	timer := time.AfterFunc(d, func() { stop.Store(true) })
	defer timer.Stop()

	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d + hangGrace):
		stop.Store(true)
		stuck := running.Load()
		cancel()
		select {
		case <-done:
			return result{err: fmt.Errorf("%w: %d of %d calls still in progress %v after the end of the run; they returned only when their context was cancelled", errHung, stuck, conc, hangGrace)}
		case <-time.After(5 * time.Second):
			return result{err: fmt.Errorf("%w: %d of %d calls still in progress %v after the end of the run, and %d did not return within 5s of cancelling their context", errHung, stuck, conc, hangGrace, running.Load())}
		}
	}
	elapsed := time.Since(t0)
	c1 := countsAfter()
	runtime.ReadMemStats(&m1)

	var r result
	var all histogram
	var errs uint64
	var firstErr error
	for i := range conc {
		all.merge(hists[i])
		r.ops += outcomes[i].ops
		errs += outcomes[i].errs
		if firstErr == nil && outcomes[i].err != nil {
			firstErr = outcomes[i].err
		}
	}
	r.elapsed = elapsed
	r.setCounts(c0, c1)
	r.mallocs = m1.Mallocs - m0.Mallocs
	r.allocated = m1.TotalAlloc - m0.TotalAlloc
	r.p50 = all.quantile(0.50)
	r.p99 = all.quantile(0.99)
	if firstErr != nil {
		r.failedOps = errs
		r.firstFail = describeErr(firstErr)
		if r.ops == 0 {
			r.err = fmt.Errorf("no op succeeded (%d failed); first error: %w", errs, r.firstFail)
		}
	}
	if err := withTimeout(10*time.Second, stopAll); err != nil && r.err == nil {
		r.err = fmt.Errorf("ending the run's streams: %w", err)
	}
	return r
}

// typedNilError is a non-nil error interface holding a nil pointer, which a
// caller cannot tell from a real error by err != nil.
type typedNilError struct{ err error }

func (e typedNilError) Error() string {
	return fmt.Sprintf("the call returned a non-nil error holding a nil %T (a typed nil: err != nil, but it carries no status)", e.err)
}

func (e typedNilError) Unwrap() error { return e.err }

// describeErr makes a typed-nil error say so, instead of printing "<nil>".
func describeErr(err error) error {
	if v := reflect.ValueOf(err); err != nil && v.Kind() == reflect.Pointer && v.IsNil() {
		return typedNilError{err}
	}
	return err
}

// withTimeout runs f and returns its error, or an error if it has not
// returned within d (f is then left running).
func withTimeout(d time.Duration, f func() error) error {
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		return fmt.Errorf("%w: did not return within %v", errHung, d)
	}
}
