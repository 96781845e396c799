package leakcheck_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/grpcactor/grpcactor/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.VerifyTestMain(m) }

// A goroutine that is still running is found with the package's options:
// only the dead-letter throttle is ignored.
func TestOptionsFindOtherGoroutines(t *testing.T) {
	stop := make(chan struct{})
	started := make(chan struct{})
	go func() {
		close(started)
		<-stop
	}()
	<-started
	if err := goleak.Find(leakcheck.Options()...); err == nil {
		t.Error("goleak.Find with leakcheck.Options found no goroutine while one was blocked")
	}
	close(stop)
	leakcheck.VerifyNone(t)
}
