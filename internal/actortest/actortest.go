// Package actortest holds helpers that tests of actors (package actors and
// its subpackages) share: an error collector that actors report to and
// the test goroutine checks, and a mailbox middleware that counts the
// messages of one type waiting in a mailbox.
package actortest

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
)

// Errors gathers what a test's actors report, for the test goroutine.
// The zero value is ready to use.
type Errors struct {
	mu   sync.Mutex
	errs []string
}

// Errorf records a failure; it may be called from any goroutine.
func (c *Errors) Errorf(format string, args ...any) {
	c.mu.Lock()
	c.errs = append(c.errs, fmt.Sprintf(format, args...))
	c.mu.Unlock()
}

// Check fails t with the first ten failures recorded (and how many more).
func (c *Errors) Check(t testing.TB) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, e := range c.errs {
		if i == 10 {
			t.Errorf("... and %d more", len(c.errs)-10)
			break
		}
		t.Error(e)
	}
}

// MessageCounter is a protoactor mailbox middleware
// (mailbox.MailboxMiddleware) that counts the messages of type M waiting
// in the mailbox: Pending now, Max the most at once.
type MessageCounter[M any] struct {
	Pending, Max atomic.Int64
}

// MailboxStarted does nothing.
func (c *MessageCounter[M]) MailboxStarted() {}

// MailboxEmpty does nothing.
func (c *MessageCounter[M]) MailboxEmpty() {}

// MessagePosted counts a message of type M in.
func (c *MessageCounter[M]) MessagePosted(m any) {
	if _, ok := m.(M); ok {
		n := c.Pending.Add(1)
		for {
			old := c.Max.Load()
			if n <= old || c.Max.CompareAndSwap(old, n) {
				break
			}
		}
	}
}

// MessageReceived counts a message of type M out.
func (c *MessageCounter[M]) MessageReceived(m any) {
	if _, ok := m.(M); ok {
		c.Pending.Add(-1)
	}
}
