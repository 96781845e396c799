package chaos_test

import (
	"testing"

	"github.com/grpcactor/grpcactor/internal/leakcheck"
	"github.com/grpcactor/grpcactor/system_test/chaos"
)

// TestMain becomes the child server when re-executed as one (StartServer),
// and otherwise runs the tests and checks for leaked goroutines.
func TestMain(m *testing.M) {
	chaos.ServeIfChild()
	leakcheck.VerifyTestMain(m)
}
