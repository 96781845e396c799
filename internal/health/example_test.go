package health_test

import (
	"fmt"

	"github.com/grpcactor/grpcactor/internal/health"
)

func Example() {
	req := health.AppendRequest(nil, "echo.Echo")
	fmt.Printf("Watch %s request: % x\n", health.WatchMethod, req)
	st, err := health.DecodeResponse([]byte{0x08, 0x02})
	fmt.Println(st, err)
	// Output:
	// Watch /grpc.health.v1.Health/Watch request: 0a 09 65 63 68 6f 2e 45 63 68 6f
	// NOT_SERVING <nil>
}
