package main

import (
	"bytes"
	"testing"

	"github.com/grpcactor/grpcactor/internal/leakcheck"
)

func TestMain(m *testing.M) {
	leakcheck.VerifyTestMain(m)
}

const want = `1. a producer feeds 1000 items to 8 workers, each calling the server by message
   1000 calls: 990 OK, 10 failed
   10 x rpc error: code = NOT_FOUND desc = no such item

2. a middleware actor adds "authorization: Bearer demo-token" to every call
   it answered 1000 Intercepts; the server saw the token on 1000 of 1000 calls

3. the monitor prints the channel's connectivity while the server restarts
   stopping the server
   monitor: IDLE
   monitor: CONNECTING
   monitor: TRANSIENT_FAILURE
   starting the server again on the same port
   monitor: READY

4. a slow consumer reads a stream of 100 messages with demand 10
   granted 10 at the start, 5 more after every 5 processed
   delivered but not yet processed: never more than 10 (the demand)
   processed 100 messages, in order: true; end: OK
`

func TestRun(t *testing.T) {
	var out bytes.Buffer
	if err := run(&out); err != nil {
		t.Fatalf("run: %v\noutput so far:\n%s", err, out.String())
	}
	if got := out.String(); got != want {
		t.Errorf("output differs\n--- got:\n%s\n--- want:\n%s", got, want)
	}
}
