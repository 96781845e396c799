package actortest_test

import (
	"fmt"

	"github.com/grpcactor/grpcactor/internal/actortest"
)

// A MessageCounter counts the messages of one type a mailbox holds.
func Example() {
	var c actortest.MessageCounter[string]
	c.MessagePosted("a")
	c.MessagePosted(1) // not a string: not counted
	c.MessagePosted("b")
	c.MessageReceived("a")
	fmt.Println("pending", c.Pending.Load(), "max", c.Max.Load())

	// Output:
	// pending 1 max 2
}
