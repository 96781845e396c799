package subchannel_test

import (
	"fmt"
	"time"

	"github.com/grpcactor/grpcactor/internal/subchannel"
)

// The reconnect delays of gRPC's connection-backoff document, here without
// jitter: 1 s, then ×1.6 per attempt, capped at 120 s.
func ExampleBackoff() {
	b := subchannel.Backoff{Initial: time.Second, Max: 120 * time.Second, Jitter: func() float64 { return 0 }}
	for i := 0; i < 5; i++ {
		fmt.Print(b.Next().Round(time.Millisecond), " ")
	}
	fmt.Println()
	// Output: 1s 1.6s 2.56s 4.096s 6.554s
}
