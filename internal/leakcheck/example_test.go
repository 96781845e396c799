package leakcheck_test

import (
	"fmt"

	"go.uber.org/goleak"

	"github.com/grpcactor/grpcactor/internal/leakcheck"
)

// A package's TestMain calls leakcheck.VerifyTestMain(m); goleak.Find with
// the same options reports what would fail it. Here the goroutines running
// before the example (the test runner's) are ignored too.
func Example() {
	opts := append(leakcheck.Options(), goleak.IgnoreCurrent())

	stop, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		<-stop
	}()
	fmt.Println("a goroutine still running is found:", goleak.Find(opts...) != nil)

	close(stop)
	<-stopped
	fmt.Println("after it ends, nothing is found:", goleak.Find(opts...) == nil)
	// Output:
	// a goroutine still running is found: true
	// after it ends, nothing is found: true
}
