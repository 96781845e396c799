package resolver_test

import (
	"context"
	"fmt"
	"time"

	"github.com/grpcactor/grpcactor/internal/resolver"
)

func ExampleDNS_Resolve() {
	var d resolver.DNS // the system resolver; IP literals need no lookup
	for _, host := range []string{"127.0.0.1", "::1"} {
		addrs, err := d.Resolve(context.Background(), host, "50051")
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Println(addrs)
	}
	// Output:
	// [{tcp 127.0.0.1:50051}]
	// [{tcp [::1]:50051}]
}

func ExampleRateLimit() {
	r := resolver.RateLimit{MinInterval: resolver.DefaultMinInterval}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	fmt.Println(r.Next(start))                       // the first resolution runs now
	fmt.Println(r.Next(start.Add(10 * time.Second))) // a re-resolution soon after waits
	fmt.Println(r.Next(start.Add(30 * time.Second))) // and runs once the interval is over
	// Output:
	// 0s
	// 20s
	// 0s
}
