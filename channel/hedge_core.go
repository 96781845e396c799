package channel

import (
	"strconv"
	"time"

	"github.com/grpcactor/grpcactor/codes"
)

// hedgeCore is gRFC A6's hedging decision for one call, a pure state
// machine: given the call's start, a hedging timer firing, and an
// attempt's response headers or end, it says which attempts to open,
// when the timer fires next and which attempt the call commits to. The
// call's hedger (call_hedge.go) performs what it says.
//
// The rules: the first attempt goes out at once, then one more each
// hedgingDelay (all at once for a zero delay) up to maxAttempts, while the
// retry throttle allows; the first attempt to receive response headers,
// or to end with OK or a fatal code (one not in nonFatalStatusCodes), is
// committed and the others are cancelled; an attempt that ends with a
// non-fatal code sends the next hedge at once (counting a failure for the
// throttle) unless the server's grpc-retry-pushback-ms says otherwise: a
// valid value delays the next hedge by that much, a negative or malformed
// one stops hedging. When every attempt has ended and no more may be sent,
// the call commits to the last one to end (its status is the call's).
type hedgeCore struct {
	max   int           // attempts allowed, the first included
	delay time.Duration // hedgingDelay

	sent    int  // attempts opened (an attempt opened again counts once)
	live    int  // attempts opened and not yet ended
	stopped bool // no more hedges: a pushback or the throttle said so
	waiting bool // the timer, armed for a pushback, opens the next hedge
	done    bool // an attempt was committed
	reopens int  // attempts opened again after they never reached the server
	last    int  // the attempt that ended last
}

// throttler is the retry throttle as the hedging decision uses it
// (*serviceconfig.Throttling; a nil one allows everything).
type throttler interface {
	OnFailure()
	Allow() bool
}

// hedgeOutcome is how an attempt ended.
type hedgeOutcome struct {
	code        codes.Code
	nonFatal    bool     // code is in nonFatalStatusCodes
	unprocessed bool     // the attempt never reached the server's application
	pushback    []string // the trailers' grpc-retry-pushback-ms values
}

// hedgePlan is what the hedger does after a step, in this order: stop or
// (re)arm the timer, open the attempt again (reopen), open `open` new
// attempts (numbered on from those opened before), commit.
type hedgePlan struct {
	open   int
	reopen int // the attempt to open again (a transparent retry), or -1
	arm    bool
	after  time.Duration // when the timer fires, if arm
	stop   bool          // stop the timer
	commit int           // the attempt the call commits to, or -1
}

func (p hedgePlan) String() string {
	s := "open " + strconv.Itoa(p.open)
	if p.reopen >= 0 {
		s += ", reopen " + strconv.Itoa(p.reopen)
	}
	if p.arm {
		s += ", arm " + p.after.String()
	}
	if p.stop {
		s += ", stop"
	}
	if p.commit >= 0 {
		s += ", commit " + strconv.Itoa(p.commit)
	}
	return s
}

func noPlan() hedgePlan { return hedgePlan{reopen: -1, commit: -1} }

// openOne opens the next hedge, rearming the timer for the one after.
func (c *hedgeCore) openOne(p *hedgePlan) {
	c.sent++
	c.live++
	p.open++
	c.waiting = false
	if c.sent < c.max {
		p.arm, p.after, p.stop = true, c.delay, false
	} else {
		p.arm, p.stop = false, true
	}
}

// begin opens the call's first attempt, and with a zero delay every other
// one the throttle allows.
func (c *hedgeCore) begin(t throttler) hedgePlan {
	p := noPlan()
	c.openOne(&p)
	if c.delay == 0 {
		for c.sent < c.max && !c.stopped {
			if !t.Allow() {
				c.stopped = true
				break
			}
			c.openOne(&p)
		}
		p.arm, p.stop = false, false
	}
	return p
}

// timer is the hedging timer firing: the next hedge, if one may go.
func (c *hedgeCore) timer(t throttler) hedgePlan {
	p := noPlan()
	if c.done {
		return p
	}
	c.waiting = false
	if !c.stopped && c.sent < c.max {
		if t.Allow() {
			c.openOne(&p)
			return p
		}
		c.stopped = true
	}
	c.commitIfOver(&p)
	return p
}

// headers is attempt i receiving response headers: it wins.
func (c *hedgeCore) headers(i int) hedgePlan { return c.commitTo(i) }

// commitTo ends the race with attempt i the winner: the others are
// cancelled and no hedge follows. Once the race is over it does nothing.
func (c *hedgeCore) commitTo(i int) hedgePlan {
	p := noPlan()
	if c.done {
		return p
	}
	c.done = true
	p.commit, p.stop = i, true
	return p
}

// ended is attempt i ending with o (before any response headers).
func (c *hedgeCore) ended(i int, o hedgeOutcome, t throttler) hedgePlan {
	p := noPlan()
	if c.done {
		return p
	}
	if o.unprocessed && c.reopens < maxTransparentRetries {
		// Never reached the server: sent again, as a transparent retry,
		// without counting against maxAttempts.
		c.reopens++
		p.reopen = i
		return p
	}
	c.live--
	c.last = i
	if !o.nonFatal {
		c.done = true
		p.commit, p.stop = i, true
		return p
	}
	t.OnFailure()
	if len(o.pushback) > 0 {
		ms, err := strconv.Atoi(o.pushback[0])
		switch {
		case err != nil || ms < 0:
			c.stopped, c.waiting = true, false
			p.stop = true
		case !c.stopped && c.sent < c.max:
			c.waiting = true
			p.arm, p.after = true, time.Duration(ms)*time.Millisecond
		}
	} else if !c.stopped && c.sent < c.max {
		if t.Allow() {
			c.openOne(&p)
		} else {
			c.stopped, c.waiting = true, false
			p.stop = true
		}
	}
	c.commitIfOver(&p)
	return p
}

// overflow is the call's requests passing the retry buffer's limit
// (gRFC A6: a client- or bidirectional-streaming call commits to the
// attempt i on which the most messages were sent; the others are
// cancelled and no hedge follows).
func (c *hedgeCore) overflow(i int) hedgePlan { return c.commitTo(i) }

// commitIfOver commits the last attempt to end once none is running and
// none may follow.
func (c *hedgeCore) commitIfOver(p *hedgePlan) {
	if c.live == 0 && p.open == 0 && !c.waiting {
		c.done = true
		p.commit, p.arm, p.stop = c.last, false, true
	}
}
