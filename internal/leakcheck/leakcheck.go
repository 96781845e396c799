// Package leakcheck is the goroutine-leak check that grpcactor's test
// packages run after their tests (go.uber.org/goleak), with the one
// exception every package that runs actors needs.
//
// protoactor-go's dead-letter process throttles its log with
// actor.NewThrottle: the first dead letter of a period starts a goroutine
// that waits out the period (1 s by default) on a ticker and then ends. A
// message that reaches an actor a closing channel has just stopped is a
// dead letter, so that goroutine may still be waiting when a package's last
// test returns. It is the library's, bounded, and ends by itself; nothing
// else is ignored.
package leakcheck

import (
	"runtime"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// deadLetterThrottle is the function at the top of the stack of
// protoactor-go's dead-letter throttle goroutine.
const deadLetterThrottle = "github.com/asynkron/protoactor-go/actor.NewDeadLetter.NewThrottle.func4.1"

// Options returns the goleak options for a package whose tests run actors:
// protoactor-go's dead-letter throttle goroutine is ignored, followed by
// extra.
func Options(extra ...goleak.Option) []goleak.Option {
	return append([]goleak.Option{goleak.IgnoreTopFunction(deadLetterThrottle)}, extra...)
}

// VerifyTestMain runs the package's tests and then fails the package if a
// goroutine is left behind, other than the ones Options ignores. Call it
// from TestMain.
func VerifyTestMain(m *testing.M, extra ...goleak.Option) {
	goleak.VerifyTestMain(m, Options(extra...)...)
}

// VerifyNone fails t if a goroutine is running other than the ones Options
// ignores.
func VerifyNone(t testing.TB, extra ...goleak.Option) {
	t.Helper()
	goleak.VerifyNone(t, Options(extra...)...)
}

// SettledGoroutines returns runtime.NumGoroutine once it has fallen to limit
// or below (goroutines that have finished take a moment to exit), or the
// count it last saw when bound has passed. It polls; bound is only a
// failure bound, so a caller compares the result with what it expects.
func SettledGoroutines(limit int, bound time.Duration) int {
	deadline := time.Now().Add(bound)
	n := runtime.NumGoroutine()
	for n > limit && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
		n = runtime.NumGoroutine()
	}
	return n
}
