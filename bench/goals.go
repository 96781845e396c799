package main

import (
	"fmt"
	"math"
	"strings"
)

// The goals of issue 10 (speed), checked against the rows of a run: the
// report prints a table of them, with each goal's figures and whether the
// run met it, for every goal whose rows were all measured.

// goal is one of issue 10's goals: a bound on one figure of some rows,
// either on the ratio to another client's figure or on the absolute value.
type goal struct {
	text string   // the goal as the issue states it
	rows []string // the rows it applies to
	// value extracts the figure checked (a ratio or an absolute value)
	// from a row; ok is false when the row lacks what it needs.
	value func(r rowResult) (v float64, ok bool)
	// atMost: the figure must be at most bound; otherwise at least.
	atMost bool
	bound  float64
	format func(v float64) string
}

// issue10Goals are issue 10's goals, in the issue's order. The issue's 4
// callers on 1 MiB messages are the bench's 8.
var issue10Goals = []goal{
	{
		text: "unary 0 B and 1 KiB, 8 and 64 callers: ops/s ≥ 1.25× grpc-go's",
		rows: []string{"unary/0B/c8", "unary/0B/c64", "unary/1KiB/c8", "unary/1KiB/c64"},
		value: func(r rowResult) (float64, bool) {
			return ratioOf(r.ours.opsPerSec, r.theirs.opsPerSec)
		},
		bound: 1.25, format: fmtTimes,
	},
	{
		text: "the same rows: CPU/op ≤ 2× the floor's (limit)",
		rows: []string{"unary/0B/c8", "unary/0B/c64", "unary/1KiB/c8", "unary/1KiB/c64"},
		value: func(r rowResult) (float64, bool) {
			for _, p := range r.peers {
				if p.name == limit.name && p.s.runs > 0 {
					return ratioOf(r.ours.cpuPerOp, p.s.cpuPerOp)
				}
			}
			return 0, false
		},
		atMost: true, bound: 2, format: fmtTimes,
	},
	{
		text: "unary 0 B, 1 caller: p50 ≤ 0.9× grpc-go's",
		rows: []string{"unary/0B/c1"},
		value: func(r rowResult) (float64, bool) {
			return ratioOf(r.ours.p50, r.theirs.p50)
		},
		atMost: true, bound: 0.9, format: fmtTimes,
	},
	{
		text: "unary 1 MiB, 1, 8 and 64 callers: ops/s ≥ 1.0× grpc-go's",
		rows: []string{"unary/1MiB/c1", "unary/1MiB/c8", "unary/1MiB/c64"},
		value: func(r rowResult) (float64, bool) {
			return ratioOf(r.ours.opsPerSec, r.theirs.opsPerSec)
		},
		bound: 1, format: fmtTimes,
	},
	{
		text: "unary 1 MiB: write system calls per call ≤ grpc-go's",
		rows: []string{"unary/1MiB/c1", "unary/1MiB/c8", "unary/1MiB/c64"},
		value: func(r rowResult) (float64, bool) {
			return ratioOf(r.ours.writesOp, r.theirs.writesOp)
		},
		atMost: true, bound: 1, format: fmtTimes,
	},
	{
		text: "write system calls per call at 64 callers ≤ grpc-go's",
		rows: []string{"unary/0B/c64", "unary/1KiB/c64"},
		value: func(r rowResult) (float64, bool) {
			return ratioOf(r.ours.writesOp, r.theirs.writesOp)
		},
		atMost: true, bound: 1, format: fmtTimes,
	},
	{
		text: "allocations per unary call ≤ 12",
		rows: []string{"unary/0B/c1", "unary/0B/c8", "unary/0B/c64", "unary/1KiB/c1", "unary/1KiB/c8", "unary/1KiB/c64"},
		value: func(r rowResult) (float64, bool) {
			return r.ours.allocsOp, r.ours.runs > 0
		},
		atMost: true, bound: 12, format: func(v float64) string { return fmt.Sprintf("%.1f", v) },
	},
	{
		text: "bytes per unary call ≤ 1 KiB for 0 B messages",
		rows: []string{"unary/0B/c1", "unary/0B/c8", "unary/0B/c64"},
		value: func(r rowResult) (float64, bool) {
			return r.ours.bytesOp, r.ours.runs > 0
		},
		atMost: true, bound: 1024, format: fmtBytes,
	},
	{
		text: "ping-pong 1 KiB: bytes per op ≤ grpc-go's",
		rows: []string{"pingpong/1KiB"},
		value: func(r rowResult) (float64, bool) {
			return ratioOf(r.ours.bytesOp, r.theirs.bytesOp)
		},
		atMost: true, bound: 1, format: fmtTimes,
	},
}

// ratioOf is a/b, not ok when either is unknown or b is 0.
func ratioOf(a, b float64) (float64, bool) {
	if math.IsNaN(a) || math.IsNaN(b) || b == 0 {
		return 0, false
	}
	return a / b, true
}

func fmtTimes(v float64) string { return fmt.Sprintf("%.2f×", v) }

// met reports whether v meets g's bound.
func (g goal) met(v float64) bool {
	if g.atMost {
		return v <= g.bound
	}
	return v >= g.bound
}

// goalsTable is issue 10's goals checked against rep's rows: one line per
// goal whose rows were all measured by both clients, with each row's
// figure and "yes" or "no" (the rows that miss it named); nil when no goal
// applies.
func (rep *report) goalsTable() *table {
	byKey := map[string]rowResult{}
	for _, r := range rep.rows {
		if r.ours.runs > 0 && r.theirs.runs > 0 && !r.ours.failed() && !r.theirs.failed() {
			byKey[r.w.key] = r
		}
	}
	t := &table{header: []string{"issue 10 goal", "result", "met"}}
	for _, g := range issue10Goals {
		var figures, missed []string
		complete := true
		for _, key := range g.rows {
			r, ok := byKey[key]
			if !ok {
				complete = false
				break
			}
			v, ok := g.value(r)
			if !ok {
				complete = false
				break
			}
			figures = append(figures, key+" "+g.format(v))
			if !g.met(v) {
				missed = append(missed, key)
			}
		}
		if !complete {
			continue
		}
		verdict := "yes"
		if len(missed) > 0 {
			verdict = "no (" + strings.Join(missed, ", ") + ")"
		}
		t.add(g.text, strings.Join(figures, "; "), verdict)
	}
	if len(t.rows) == 0 {
		return nil
	}
	return t
}
