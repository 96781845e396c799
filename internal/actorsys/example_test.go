package actorsys_test

import (
	"fmt"
	"time"

	"github.com/grpcactor/grpcactor/internal/actorsys"
)

// Default is one system for the whole process.
func ExampleDefault() {
	a, b := actorsys.Default(), actorsys.Default()
	fmt.Println(a == b)
	// Output: true
}

// A timer fires by sending its message; arming a kind again replaces the
// pending timer of that kind.
func ExampleTimers() {
	fired := make(chan any, 2)
	timers := actorsys.NewTimers[string](func(msg any) { fired <- msg })
	timers.Arm("idle", time.Hour, "stale idle check")
	timers.Arm("idle", 0, "idle check")
	fmt.Println(<-fired)
	timers.StopAll()
	// Output: idle check
}
