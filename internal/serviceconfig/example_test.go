package serviceconfig_test

import (
	"fmt"

	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/internal/serviceconfig"
)

func Example() {
	cfg, err := serviceconfig.Parse(`{
		"loadBalancingConfig": [{"grpclb": {}}, {"round_robin": {}}],
		"methodConfig": [
			{"name": [{}], "timeout": "10s"},
			{
				"name": [{"service": "helloworld.Greeter", "method": "SayHello"}],
				"waitForReady": true,
				"retryPolicy": {
					"maxAttempts": 4,
					"initialBackoff": ".1s",
					"maxBackoff": "1s",
					"backoffMultiplier": 2,
					"retryableStatusCodes": ["UNAVAILABLE", "resource_exhausted"]
				}
			}
		],
		"retryThrottling": {"maxTokens": 10, "tokenRatio": 0.1}
	}`)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("lb policy:", cfg.LBPolicy)

	mc, _ := cfg.Method("/helloworld.Greeter/SayHello")
	p := mc.Retry
	fmt.Println("SayHello: wait for ready", *mc.WaitForReady, "attempts", p.MaxAttempts, "codes", p.RetryableCodes)
	fmt.Println("  retry UNAVAILABLE:", p.Retryable(codes.Unavailable), "retry INTERNAL:", p.Retryable(codes.Internal))
	for n := 1; n <= 5; n++ {
		fmt.Printf("  retry %d: longest delay %v, draw 0.5 gives %v\n", n, p.Backoff(n, 1), p.Backoff(n, 0.5))
	}

	other, _ := cfg.Method("/helloworld.Greeter/SayGoodbye")
	fmt.Println("SayGoodbye: timeout", other.Timeout, "retry", other.Retry != nil)

	th := cfg.Throttling
	for range 5 {
		th.OnFailure()
	}
	fmt.Println("after 5 failures:", th.Tokens(), "tokens, retries allowed:", th.Allow())
	th.OnSuccess()
	fmt.Println("after a success:", th.Tokens(), "tokens, retries allowed:", th.Allow())

	_, err = serviceconfig.Parse(`{"methodConfig": [{"name": [{}]},
		{"name": [{"service": "s"}], "retryPolicy": {"maxAttempts": 1}}]}`)
	fmt.Println(err)
	// Output:
	// lb policy: round_robin
	// SayHello: wait for ready true attempts 4 codes [UNAVAILABLE RESOURCE_EXHAUSTED]
	//   retry UNAVAILABLE: true retry INTERNAL: false
	//   retry 1: longest delay 99.999999ms, draw 0.5 gives 50ms
	//   retry 2: longest delay 199.999999ms, draw 0.5 gives 100ms
	//   retry 3: longest delay 399.999999ms, draw 0.5 gives 200ms
	//   retry 4: longest delay 799.999999ms, draw 0.5 gives 400ms
	//   retry 5: longest delay 999.999999ms, draw 0.5 gives 500ms
	// SayGoodbye: timeout 10s retry false
	// after 5 failures: 5 tokens, retries allowed: false
	// after a success: 5.1 tokens, retries allowed: true
	// methodConfig[1].retryPolicy.maxAttempts: 1 is invalid (must be > 1)
}
