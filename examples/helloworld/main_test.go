package main

import (
	"bytes"
	"testing"

	"github.com/grpcactor/grpcactor/internal/leakcheck"
)

func TestMain(m *testing.M) {
	leakcheck.VerifyTestMain(m)
}

const want = `1. unary
   sent payload "hello, world", asked for 13 bytes back
   response payload: 13 bytes
   initial metadata echoed back: x-grpc-test-echo-initial = ["hello from grpcactor"]
   status: OK

2. unary as a future
   done callback: response payload 13 bytes
   Result: response payload 13 bytes, status OK

3. server streaming
   response 1: payload 1 bytes
   response 2: payload 2 bytes
   response 3: payload 3 bytes
   end of stream after 3 responses, status OK

4. client streaming
   sent 3 requests: ["hey" "hello" "hi there"]
   aggregated_payload_size: 16

5. bidirectional streaming
   ping asking for 4 bytes -> pong with 4 bytes
   ping asking for 8 bytes -> pong with 8 bytes
   ping asking for 15 bytes -> pong with 15 bytes
   closed the send side; the server ended the call with status OK

6. an error status
   code: NOT_FOUND
   message: "no such greeting"
   details: 0 (the server attached no google.rpc.Status details)
   err: rpc error: code = NOT_FOUND desc = no such greeting

7. by message, from an actor
   reply: response payload 13 bytes, status OK
   message: payload 1 bytes
   message: payload 2 bytes
   message: payload 3 bytes
   end of stream, status OK
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
