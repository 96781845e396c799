package channel_test

import (
	"testing"

	"github.com/grpcactor/grpcactor/internal/leakcheck"
)

// protoactor-go's dead-letter log throttle runs a goroutine for up to a
// second after a message reaches a stopped actor; it is the library's, and
// bounded.
func TestMain(m *testing.M) {
	leakcheck.VerifyTestMain(m)
}
