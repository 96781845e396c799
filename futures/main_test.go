package futures_test

import (
	"bytes"
	"context"
	"runtime"
	"strconv"
	"testing"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/grpcactor/grpcactor/internal/actorsys"
	"github.com/grpcactor/grpcactor/internal/leakcheck"
)

// TestMain fails the package if any test leaves a goroutine behind: mailbox
// goroutines exit when their mailbox is empty and the tests stop every actor
// they spawn; only protoactor's dead-letter throttle is ignored (a PipeTo to
// a stopped actor is a dead letter).
func TestMain(m *testing.M) {
	leakcheck.VerifyTestMain(m)
}

// newSystem returns an actor system that logs nothing.
func newSystem() *actor.ActorSystem {
	return actorsys.NewQuiet()
}

// goid returns the current goroutine's id, parsed from its stack header
// ("goroutine 123 [running]:"). Tests use it as a goroutine marker.
func goid() uint64 {
	var buf [64]byte
	b := buf[:runtime.Stack(buf[:], false)]
	b = bytes.TrimPrefix(b, []byte("goroutine "))
	if i := bytes.IndexByte(b, ' '); i >= 0 {
		b = b[:i]
	}
	id, err := strconv.ParseUint(string(b), 10, 64)
	if err != nil {
		panic("cannot parse goroutine id from " + string(buf[:]))
	}
	return id
}

// endedCtx returns a context that has already been cancelled.
func endedCtx() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

// isClosed reports whether ch is closed, without blocking.
func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
