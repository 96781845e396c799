package leakcheck_test

import (
	"runtime"
	"sync"
	"testing"
	"time"

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

// SettledGoroutines waits for goroutines that are ending, and gives up
// after its bound when the count stays above the limit.
func TestSettledGoroutines(t *testing.T) {
	base := runtime.NumGoroutine()
	const n = 20
	stop := make(chan struct{})
	var started sync.WaitGroup
	started.Add(n)
	for range n {
		go func() {
			started.Done()
			<-stop
		}()
	}
	started.Wait()
	if got := leakcheck.SettledGoroutines(base, time.Millisecond); got < n {
		t.Errorf("SettledGoroutines(%d) with %d goroutines blocked: %d, want at least %d", base, n, got, n)
	}
	close(stop)
	if got := leakcheck.SettledGoroutines(base, 10*time.Second); got > base {
		t.Errorf("SettledGoroutines(%d) after the goroutines ended: %d", base, got)
	}
}
