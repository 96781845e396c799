package channel_test

import (
	"testing"

	"go.uber.org/goleak"
)

// protoactor-go's dead-letter log throttle runs a goroutine for up to a
// second after a message reaches a stopped actor; it is the library's, and
// bounded.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/asynkron/protoactor-go/actor.NewDeadLetter.NewThrottle.func4.1"))
}
