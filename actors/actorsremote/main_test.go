package actorsremote_test

import (
	"testing"

	"github.com/grpcactor/grpcactor/internal/leakcheck"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(poolM{m}, leakcheck.Options()...)
}
