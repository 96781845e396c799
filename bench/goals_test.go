package main

import (
	"bytes"
	"math"
	"strings"
	"testing"
)

// TestGoalsTable checks issue 10's goals table on made-up rows: a goal is
// shown only when all its rows were measured, met when every row meets
// its bound, and otherwise names the rows that miss it.
func TestGoalsTable(t *testing.T) {
	row := func(key string, ours, theirs summary, lim *summary) rowResult {
		r := rowResult{w: workload{key: key}, ours: ours, theirs: theirs}
		if lim != nil {
			r.peers = []peerSummary{{name: limit.name, s: *lim}}
		}
		return r
	}
	s := func(ops, cpu, writes, allocs, bytes, p50 float64) summary {
		return summary{runs: 3, opsPerSec: ops, cpuPerOp: cpu, writesOp: writes, readsOp: math.NaN(), allocsOp: allocs, bytesOp: bytes, p50: p50}
	}
	lim := s(100, 10, 0.1, 2, 100, 1)
	rep := &report{rows: []rowResult{
		row("unary/0B/c8", s(130, 19, 0.3, 8, 900, 1), s(100, 40, 0.3, 80, 5000, 1), &lim),
		row("unary/0B/c64", s(126, 21, 0.08, 8, 1000, 1), s(100, 30, 0.1, 80, 5000, 1), &lim),
		row("unary/1KiB/c8", s(140, 15, 0.3, 8, 2000, 1), s(100, 50, 0.7, 80, 6000, 1), &lim),
		row("unary/1KiB/c64", s(120, 12, 0.7, 8, 2000, 1), s(100, 40, 0.6, 80, 6000, 1), &lim),
		row("unary/0B/c1", s(100, 100, 1, 13, 1100, 80), s(100, 100, 1, 87, 5000, 100), nil),
		row("pingpong/1KiB", s(100, 100, 1, 5, 1200, 1), s(100, 100, 1, 14, 1500, 1), nil),
	}}
	var out bytes.Buffer
	rep.goalsTable().writeText(&out)
	got := out.String()
	for _, want := range []string{
		"ops/s ≥ 1.25× grpc-go's", "unary/0B/c8 1.30×; unary/0B/c64 1.26×; unary/1KiB/c8 1.40×; unary/1KiB/c64 1.20×", "no (unary/1KiB/c64)",
		"CPU/op ≤ 2× the floor's", "unary/0B/c64 2.10×", "no (unary/0B/c64)",
		"p50 ≤ 0.9× grpc-go's", "unary/0B/c1 0.80×",
		"at 64 callers ≤ grpc-go's", "unary/0B/c64 0.80×; unary/1KiB/c64 1.17×",
		"ping-pong 1 KiB", "pingpong/1KiB 0.80×",
		"bytes per unary call ≤ 1 KiB", "unary/0B/c8 900 B; unary/0B/c64 1000 B", "no (unary/0B/c1)",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("goals table lacks %q:\n%s", want, got)
		}
	}
	for _, absent := range []string{"1 MiB", "allocations per unary call"} {
		if strings.Contains(got, absent) {
			t.Errorf("goals table shows %q, whose rows were not all measured:\n%s", absent, got)
		}
	}
	if n := strings.Count(got, " yes"); n != 2 {
		t.Errorf("%d goals met, want 2 (p50 and ping-pong):\n%s", n, got)
	}
	if (&report{}).goalsTable() != nil {
		t.Errorf("a goals table without rows")
	}
}
