package serviceconfig_test

import (
	"sync"
	"testing"

	"github.com/grpcactor/grpcactor/internal/serviceconfig"
)

func TestThrottlingA6Example(t *testing.T) {
	c, err := serviceconfig.Parse(`{"retryThrottling": {"maxTokens": 10, "tokenRatio": 0.1}}`)
	if err != nil {
		t.Fatal(err)
	}
	th := c.Throttling
	check := func(step string, tokens float64, allow bool) {
		t.Helper()
		if got := th.Tokens(); got != tokens {
			t.Errorf("%s: Tokens = %v; want %v", step, got, tokens)
		}
		if got := th.Allow(); got != allow {
			t.Errorf("%s: Allow = %v; want %v", step, got, allow)
		}
	}
	check("start full", 10, true)
	th.OnSuccess()
	check("success when full stays at max", 10, true)
	for i := range 4 {
		th.OnFailure()
		check("failure", float64(9-i), true)
	}
	th.OnFailure()
	check("5 failures: at the threshold (5 <= 10/2)", 5, false)
	th.OnSuccess()
	check("one success: 5.1 > 5", 5.1, true)
	th.OnFailure()
	check("4.1", 4.1, false)
	for range 9 {
		th.OnSuccess()
	}
	check("nine successes: exactly 5.0, no float drift", 5, false)
	th.OnSuccess()
	check("5.1", 5.1, true)
	for range 20 {
		th.OnFailure()
	}
	check("floor at 0", 0, false)
	for range 50 {
		th.OnSuccess()
	}
	check("fifty successes: 5", 5, false)
	for range 1000 {
		th.OnSuccess()
	}
	check("cap at max", 10, true)
}

func TestThrottlingSmall(t *testing.T) {
	// maxTokens 1: the threshold is 0.5, so one failure stops retries and
	// one success (ratio 1) restores them.
	th := &serviceconfig.Throttling{MaxTokens: 1, TokenRatio: 1}
	if !th.Allow() {
		t.Fatal("full bucket: Allow = false")
	}
	th.OnFailure()
	if th.Allow() || th.Tokens() != 0 {
		t.Fatalf("after failure: Allow, Tokens = %v, %v; want false, 0", th.Allow(), th.Tokens())
	}
	th.OnSuccess()
	if !th.Allow() || th.Tokens() != 1 {
		t.Fatalf("after success: Allow, Tokens = %v, %v; want true, 1", th.Allow(), th.Tokens())
	}
}

func TestThrottlingOddValues(t *testing.T) {
	var nilT *serviceconfig.Throttling
	nilT.OnFailure()
	nilT.OnSuccess()
	if !nilT.Allow() || nilT.Tokens() != 0 {
		t.Errorf("nil: Allow, Tokens = %v, %v; want true, 0", nilT.Allow(), nilT.Tokens())
	}
	zero := &serviceconfig.Throttling{}
	zero.OnFailure()
	zero.OnSuccess()
	if zero.Allow() {
		t.Error("MaxTokens 0: Allow = true; want false (0 is not > 0)")
	}
	// A ratio above MaxTokens refills the bucket at once.
	big := &serviceconfig.Throttling{MaxTokens: 3, TokenRatio: 1e9}
	big.OnFailure()
	big.OnFailure()
	big.OnSuccess()
	if big.Tokens() != 3 {
		t.Errorf("huge ratio: Tokens = %v; want 3", big.Tokens())
	}
}

func TestThrottlingConcurrent(t *testing.T) {
	th := &serviceconfig.Throttling{MaxTokens: 1000, TokenRatio: 0.5}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				th.OnFailure()
				th.OnSuccess()
				th.OnSuccess()
				_ = th.Allow()
			}
		})
	}
	wg.Wait()
	// Each round nets zero (-1 + 0.5 + 0.5) and never reaches a bound.
	if got := th.Tokens(); got != 1000 {
		t.Errorf("Tokens = %v; want 1000", got)
	}
	for range 8 {
		wg.Go(func() {
			for range 200 {
				th.OnFailure()
			}
		})
	}
	wg.Wait()
	if got := th.Tokens(); got != 0 {
		t.Errorf("after 1600 failures: Tokens = %v; want 0", got)
	}
}
