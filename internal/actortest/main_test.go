package actortest_test

import (
	"testing"

	"github.com/grpcactor/grpcactor/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.VerifyTestMain(m) }
