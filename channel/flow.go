package channel

import (
	"io"
	"sync"
)

// flow is a started call's demand (how many responses its caller will
// take: StreamHandler.Demand, then Request) and send credit (how many
// requests it may send: OnSendCredit), the one implementation for every
// started call, plain or intercepted. Its methods are safe from any
// goroutine; none blocks but await.
type flow struct {
	mu        sync.Mutex
	demand    int
	unlimited bool
	credit    int
	closed    bool          // CloseSend came, or the call ended: no more credit
	sig       chan struct{} // new demand, credit or the end, for the one goroutine that may await them (nil if none does)
}

func (f *flow) init(demand int, unlimited, closed, awaited bool) {
	f.demand, f.unlimited, f.closed = demand, unlimited || demand <= 0, closed
	if awaited {
		f.sig = make(chan struct{}, 1)
	}
}

// takeDemand takes one response's worth of demand; false if none is left.
func (f *flow) takeDemand() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.unlimited {
		return true
	}
	if f.demand <= 0 {
		return false
	}
	f.demand--
	return true
}

// giveDemand gives back what takeDemand took (no response came).
func (f *flow) giveDemand() {
	f.mu.Lock()
	if !f.unlimited {
		f.demand++
	}
	f.mu.Unlock()
}

// addDemand grants n more responses; false for a call without a limit
// (nothing changed).
func (f *flow) addDemand(n int) bool {
	f.mu.Lock()
	if f.unlimited {
		f.mu.Unlock()
		return false
	}
	f.demand += n
	f.mu.Unlock()
	f.signal()
	return true
}

// takeCredit takes one request's worth of credit: io.EOF if the call has
// ended, errSendAfterClose after CloseSend, errNoSendCredit without
// credit. then, if set, runs under the flow's lock once the credit is
// taken (to keep requests in order with CloseSend).
func (f *flow) takeCredit(ended bool, then func()) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case ended:
		return io.EOF
	case f.closed:
		return errSendAfterClose
	case f.credit <= 0:
		return errNoSendCredit
	}
	f.credit--
	if then != nil {
		then()
	}
	return nil
}

// addCredit grants n more requests; false once closed.
func (f *flow) addCredit(n int) bool {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return false
	}
	f.credit += n
	f.mu.Unlock()
	f.signal()
	return true
}

// topUp raises the credit to limit once it fell to half, if ok (checked
// under the lock) allows; it returns what was granted.
func (f *flow) topUp(limit int, ok func() bool) int {
	f.mu.Lock()
	if f.closed || f.credit > limit/2 || !ok() {
		f.mu.Unlock()
		return 0
	}
	n := limit - f.credit
	f.credit = limit
	f.mu.Unlock()
	f.signal()
	return n
}

// close ends the credit (CloseSend, or the end of the call); false if it
// had already ended. then, if set, runs under the lock on the first close.
func (f *flow) close(then func()) bool {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return false
	}
	f.closed = true
	f.credit = 0
	if then != nil {
		then()
	}
	f.mu.Unlock()
	f.signal()
	return true
}

// end takes away what credit is left, at the end of the call.
func (f *flow) end() {
	f.mu.Lock()
	f.credit = 0
	f.mu.Unlock()
	f.signal()
}

func (f *flow) signal() {
	if f.sig == nil {
		return
	}
	select {
	case f.sig <- struct{}{}:
	default:
	}
}

// awaitCredit waits, on a goroutine that may block, for send credit;
// false once done closes first.
func (f *flow) awaitCredit(done <-chan struct{}) bool {
	return f.await(done, func() bool { return f.credit > 0 })
}

// awaitDemand waits, on a goroutine that may block, for demand and takes
// one response's worth; false once done closes first.
func (f *flow) awaitDemand(done <-chan struct{}) bool {
	return f.await(done, func() bool {
		if f.unlimited {
			return true
		}
		if f.demand > 0 {
			f.demand--
			return true
		}
		return false
	})
}

// await waits until has (called under the lock) holds, or done closes.
func (f *flow) await(done <-chan struct{}, has func() bool) bool {
	for {
		f.mu.Lock()
		ok := has()
		f.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-done:
			return false
		case <-f.sig:
		}
	}
}
