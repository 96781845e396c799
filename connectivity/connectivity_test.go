package connectivity_test

import (
	"fmt"
	"testing"

	"github.com/grpcactor/grpcactor/connectivity"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestString(t *testing.T) {
	want := []string{"IDLE", "CONNECTING", "READY", "TRANSIENT_FAILURE", "SHUTDOWN", "State(5)"}
	for i, w := range want {
		if got := connectivity.State(i).String(); got != w {
			t.Errorf("State(%d) = %q, want %q", i, got, w)
		}
	}
}

func ExampleState() {
	fmt.Println(connectivity.Connecting, connectivity.TransientFailure)
	// Output: CONNECTING TRANSIENT_FAILURE
}
