package main

import (
	"bytes"
	"fmt"
	"os"
	"regexp"
	"testing"

	"github.com/grpcactor/grpcactor/internal/leakcheck"
)

// TestMain is also the gateway process: the test re-executes its own
// binary with gatewayEnv set, as the command does.
func TestMain(m *testing.M) {
	if spec := os.Getenv(gatewayEnv); spec != "" {
		if err := gateway(spec); err != nil {
			fmt.Fprintln(os.Stderr, "gateway:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	leakcheck.VerifyTestMain(m)
}

const want = `1. the gateway process serves a channel to the gRPC server as "grpc"
2. the caller node's actor makes 3 unary calls by message through it
   reply: OK, 1 bytes
   reply: OK, 2 bytes
   reply: OK, 3 bytes
3. a server stream is in flight when the gateway process is killed
   stream message
   stream end: UNAVAILABLE (gateway ADDR/grpc lost)
4. the gateway process starts again on the same port; the next call goes through
   reply: OK, 1 bytes
`

// ran: TestRun ran in this process.
var ran bool

// The example runs as written: two OS processes, the gateway killed and
// restarted.
func TestRun(t *testing.T) {
	if ran {
		// remote.Start sets grpc-go's global logger, racing with the gRPC
		// goroutines of the run before (-count > 1).
		t.Skip("protoactor's remote layer starts once per process")
	}
	ran = true
	var out bytes.Buffer
	if err := run(&out, os.Args[0]); err != nil {
		t.Fatalf("run: %v\noutput so far:\n%s", err, out.String())
	}
	got := regexp.MustCompile(`127\.0\.0\.1:\d+`).ReplaceAllString(out.String(), "ADDR")
	if got != want {
		t.Errorf("output:\n%s\nwant:\n%s", got, want)
	}
}
