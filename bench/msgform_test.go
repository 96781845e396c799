package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// The message-form row runs on its actors' own loop: both clients
// complete it and the table shows it.
func TestSmokeMessageForm(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out, progress bytes.Buffer
	err := run(ctx, []string{"-smoke", "-rows", "unary-msg/0B/c64"}, "go test ./bench", &out, &progress)
	t.Logf("stdout:\n%s\nstderr:\n%s", out.String(), progress.String())
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if table := out.String(); !strings.Contains(table, "unary-msg/0B/c64") || strings.Contains(table, "FAIL") {
		t.Errorf("the row is missing or failed")
	}
	assertServerGone(t)
}

// Each in-flight form holds its calls and ends them CANCELLED; the
// message form and the Future add no goroutine per call, the blocking
// forms one each (the bounds are loose: other goroutines may come and
// go, not 0.75 per call).
func TestInFlightForms(t *testing.T) {
	const n = 200
	var progress bytes.Buffer
	srv, err := startServer(&progress)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		srv.stop()
		assertServerGone(t)
	}()
	for _, f := range inflightForms {
		r := measureInFlight(context.Background(), f, srv.addr, n)
		t.Logf("%s: %.3f goroutines, %.0f B heap, %.0f B stack per call", f.name, r.goroutines, r.heap, r.stack)
		if r.err != nil {
			t.Errorf("%s: %v", f.name, r.err)
			continue
		}
		blocking := strings.Contains(f.name, "blocking")
		if blocking && r.goroutines < 0.75 || !blocking && r.goroutines > 0.25 {
			t.Errorf("%s: %.3f goroutines per call in flight", f.name, r.goroutines)
		}
	}
}
