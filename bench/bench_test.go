package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/grpcactor/grpcactor/internal/leakcheck"
)

// TestMain makes the test binary the benchmark's server when it is
// re-executed as one (startServer runs os.Executable, which here is the test
// binary, with GRPCACTOR_BENCH_SERVE=1); otherwise it runs the tests and
// fails if they leave a goroutine behind.
func TestMain(m *testing.M) {
	if os.Getenv(serveEnv) == "1" {
		if err := serve(os.Stdout, os.Stdin); err != nil {
			fmt.Fprintln(os.Stderr, "bench server:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	leakcheck.VerifyTestMain(m)
}

// TestSmoke runs the program with -smoke on a few rows, so that it keeps
// working as the library changes: both clients must complete every row, the
// table must show them, and the server process must be gone afterwards.
func TestSmoke(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out, progress bytes.Buffer
	rows := []string{"unary/1KiB/c8", "pingpong/0B", "serverstream/1KiB"}
	err := run(ctx, []string{"-smoke", "-rows", strings.Join(rows, ",")}, "go test ./bench", &out, &progress)
	t.Logf("stdout:\n%s\nstderr:\n%s", out.String(), progress.String())
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	table := out.String()
	for _, want := range append(rows, "floor: loopback TCP round trip", "grpcactor", "grpc-go", "connect-go", "limit", "ours/limit", "writes/op", "idle", "ours/grpc-go", "command: go test ./bench") {
		if !strings.Contains(table, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if strings.Contains(table, "FAIL") {
		t.Errorf("a row failed")
	}
	if strings.Contains(table, "unary/0B/c1") {
		t.Errorf("-rows did not filter: unary/0B/c1 ran")
	}
	assertServerGone(t)
}

// TestMarkdownAndIdle checks the Markdown output and the idle-channel measure.
func TestMarkdownAndIdle(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out, progress bytes.Buffer
	err := run(ctx, []string{"-smoke", "-markdown", "-rows", "connect,idle"}, "go test ./bench", &out, &progress)
	t.Logf("stdout:\n%s\nstderr:\n%s", out.String(), progress.String())
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	for _, want := range []string{"| connect |", "| 200 channels |", "goroutines/channel", "- command: `go test ./bench`"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
	assertServerGone(t)
}

func TestRowsMatchingNothing(t *testing.T) {
	err := run(context.Background(), []string{"-rows", "nosuchrow"}, "", &bytes.Buffer{}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "no row matches") {
		t.Fatalf("run -rows nosuchrow: %v, want an error", err)
	}
}

func TestHistogramQuantiles(t *testing.T) {
	var h histogram
	for i := 1; i <= 1000; i++ {
		h.record(time.Duration(i) * time.Microsecond)
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Microsecond}, {0.99, 990 * time.Microsecond}, {1, 1000 * time.Microsecond}} {
		got := h.quantile(c.q)
		if d := float64(got-c.want) / float64(c.want); d < -0.02 || d > 0.02 {
			t.Errorf("quantile(%v) = %v, want %v ± 2%%", c.q, got, c.want)
		}
	}
}

func assertServerGone(t *testing.T) {
	t.Helper()
	if lastServerPID == 0 {
		t.Fatal("no server was started")
	}
	if runtime.GOOS != "linux" {
		return
	}
	p, err := os.FindProcess(lastServerPID)
	if err != nil {
		return
	}
	if err := p.Signal(syscall.Signal(0)); err == nil {
		p.Kill()
		t.Fatalf("server process %d still running after run returned", lastServerPID)
	}
}

// TestReportMarksFailures checks that a row on which a client failed is
// marked in both output formats, with the numbers of its successful runs.
func TestReportMarksFailures(t *testing.T) {
	w := workloads()[0]
	ok := summarize([]result{{ops: 100, elapsed: time.Second, p50: time.Millisecond, p99: 2 * time.Millisecond}})
	bad := summarize([]result{{ops: 99, elapsed: time.Second, failedOps: 1, firstFail: describeErr((*typedNil)(nil))}})
	hung := summary{err: fmt.Errorf("%w: calls still in progress", errHung)}
	rep := &report{cfg: &config{cmdline: "x"}, rows: []rowResult{{w: w, ours: bad, theirs: ok}, {w: workloads()[1], ours: hung, theirs: ok}}}
	if n := rep.failures(); n != 2 {
		t.Errorf("failures() = %d, want 2", n)
	}
	for _, md := range []bool{false, true} {
		var b bytes.Buffer
		if md {
			rep.writeMarkdown(&b)
		} else {
			rep.writeText(&b)
		}
		out := b.String()
		for _, want := range []string{"FAIL: 1 of 100 ops failed", "1 of 100 ops failed; first error: the call returned a non-nil error holding a nil *main.typedNil", "FAIL: hung: calls still in progress", "99.0"} {
			if !strings.Contains(out, want) {
				t.Errorf("markdown=%v: output lacks %q:\n%s", md, want, out)
			}
		}
	}
}

type typedNil struct{}

func (*typedNil) Error() string { return "typed nil" }

// TestSoakShort runs the soak for a few seconds with a restart every
// second: every call kind keeps working across restarts, the report lines
// come out, no call fails away from a restart, and the server is gone
// afterwards.
func TestSoakShort(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out, progress bytes.Buffer
	err := run(ctx, []string{"-soak", "4s", "-soak-restart", "1500ms", "-soak-report", "1s", "-soak-quiet", "10s"}, "go test ./bench", &out, &progress)
	t.Logf("stdout:\n%s\nstderr:\n%s", out.String(), progress.String())
	if err != nil {
		t.Fatalf("run -soak: %v", err)
	}
	text := out.String()
	for _, want := range []string{"soak: 4s, one channel", "goroutines", "heap", "soak done:", "; 2 restarts;"} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	assertServerGone(t)
}
