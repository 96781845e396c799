package main

import (
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strings"
	"time"
)

// environment describes the machine and the build.
type environment struct {
	goos, goarch string
	numCPU       int
	gomaxprocs   int
	cpuModel     string
	goVersion    string
	grpcGo       string
	protoactor   string
	commit       string
	loadStart    string
	started      time.Time
}

func readEnvironment() environment {
	e := environment{
		goos: runtime.GOOS, goarch: runtime.GOARCH,
		numCPU: runtime.NumCPU(), gomaxprocs: runtime.GOMAXPROCS(0),
		goVersion: runtime.Version(), cpuModel: "unknown", started: time.Now(),
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				e.cpuModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			switch d.Path {
			case "google.golang.org/grpc":
				e.grpcGo = d.Version
			case "github.com/asynkron/protoactor-go":
				e.protoactor = d.Version
			}
		}
	}
	if out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output(); err == nil {
		e.commit = strings.TrimSpace(string(out))
		if out, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(out) > 0 {
			e.commit += " with uncommitted changes"
		}
	}
	e.loadStart = loadAvg()
	return e
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// --- number formatting ---

func fmtDur(ns float64) string {
	switch {
	case math.IsNaN(ns):
		return "-"
	case ns < 1e3:
		return fmt.Sprintf("%.0fns", ns)
	case ns < 1e6:
		return fmt.Sprintf("%.1fµs", ns/1e3)
	case ns < 1e9:
		return fmt.Sprintf("%.2fms", ns/1e6)
	}
	return fmt.Sprintf("%.2fs", ns/1e9)
}

func fmtBytes(b float64) string {
	switch {
	case math.IsNaN(b):
		return "-"
	case math.Abs(b) < 10<<10:
		return fmt.Sprintf("%.0f B", b)
	case math.Abs(b) < 1<<20:
		return fmt.Sprintf("%.1f KiB", b/(1<<10))
	}
	return fmt.Sprintf("%.2f MiB", b/(1<<20))
}

func fmtRate(v float64) string {
	switch {
	case math.IsNaN(v):
		return "-"
	case v < 100:
		return fmt.Sprintf("%.1f", v)
	}
	// Thousands separated by commas.
	s := fmt.Sprintf("%.0f", v)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func fmtRatio(ours, theirs float64) string {
	if math.IsNaN(ours) || math.IsNaN(theirs) || theirs == 0 {
		if ours == 0 && theirs == 0 {
			return "1.00×"
		}
		return "-"
	}
	return fmt.Sprintf("%.2f×", ours/theirs)
}

func mbPerSec(opsPerSec float64, bytesPerOp int) float64 {
	if bytesPerOp == 0 {
		return math.NaN()
	}
	return opsPerSec * float64(bytesPerOp) / 1e6
}

// --- tables ---

// table is a list of rows of cells; a row shorter than the header has its
// last cell spanning the remaining columns (and not counted in widths).
type table struct {
	header []string
	rows   [][]string
}

func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }

func (t *table) writeText(w io.Writer) {
	width := make([]int, len(t.header))
	for i, h := range t.header {
		width[i] = len([]rune(h))
	}
	for _, r := range t.rows {
		if len(r) < len(t.header) {
			continue
		}
		for i, c := range r {
			width[i] = max(width[i], len([]rune(c)))
		}
	}
	line := func(cells []string) {
		var b strings.Builder
		for i, c := range cells {
			if i > 0 {
				b.WriteString("  ")
			}
			if i == len(cells)-1 {
				b.WriteString(c)
				break
			}
			b.WriteString(c)
			b.WriteString(strings.Repeat(" ", width[i]-len([]rune(c))))
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
	line(t.header)
	total := 0
	for _, n := range width {
		total += n + 2
	}
	fmt.Fprintln(w, strings.Repeat("-", total-2))
	for _, r := range t.rows {
		line(r)
	}
}

func mdEscape(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

func (t *table) writeMarkdown(w io.Writer) {
	row := func(cells []string) {
		out := make([]string, len(t.header))
		for i := range out {
			if i < len(cells) {
				out[i] = mdEscape(cells[i])
			}
		}
		fmt.Fprintf(w, "| %s |\n", strings.Join(out, " | "))
	}
	row(t.header)
	seps := make([]string, len(t.header))
	for i := range seps {
		seps[i] = "---"
		if i >= 2 {
			seps[i] = "--:"
		}
	}
	fmt.Fprintf(w, "|%s|\n", strings.Join(seps, "|"))
	for _, r := range t.rows {
		row(r)
	}
}

func shortErr(msg string, n int) string {
	s := strings.ReplaceAll(msg, "\n", " ")
	if len(s) > n {
		s = s[:n] + "…"
	}
	return s
}

func (rep *report) failures() int {
	n := 0
	for _, r := range rep.rows {
		failed := r.ours.failed() || r.theirs.failed()
		for _, p := range r.peers {
			failed = failed || p.s.failed()
		}
		if failed {
			n++
		}
	}
	if rep.idle != nil {
		for _, rs := range [][]idleResult{rep.idle.ours, rep.idle.theirs} {
			for _, r := range rs {
				if r.err != nil {
					n++
					break
				}
			}
		}
	}
	if rep.inflight != nil {
		n += rep.inflight.failures()
	}
	return n
}

// fmtServer formats a run's server CPU per op, "-" when not measured.
func fmtServer(r result) string {
	if !r.serverCounted {
		return "-"
	}
	return fmtDur(r.perOp(float64(r.serverCPU)))
}

// fmtIdle formats the machine's idle share as a percentage, "-" when not
// measured.
func fmtIdle(v float64) string {
	if math.IsNaN(v) {
		return "-"
	}
	return fmt.Sprintf("%.0f%%", 100*v)
}

// fmtPerOp formats a per-op count (system calls), "-" when not measured.
func fmtPerOp(v float64) string {
	if math.IsNaN(v) {
		return "-"
	}
	return fmt.Sprintf("%.2f", v)
}

func (rep *report) mainTable(errWidth int) *table {
	t := &table{header: []string{"workload", "client", "ops/s", "MB/s", "p50", "p99", "CPU/op", "server CPU/op", "idle", "allocs/op", "B/op", "reads/op", "writes/op"}}
	ratio := func(label string, r rowResult, o, g summary) {
		if o.runs == 0 || g.runs == 0 {
			t.add("", label, "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-")
			return
		}
		mb := "-"
		if r.w.respBytes > 0 {
			mb = fmtRatio(o.opsPerSec, g.opsPerSec)
		}
		t.add("", label, fmtRatio(o.opsPerSec, g.opsPerSec), mb, fmtRatio(o.p50, g.p50), fmtRatio(o.p99, g.p99),
			fmtRatio(o.cpuPerOp, g.cpuPerOp), fmtRatio(o.serverOp, g.serverOp), "-", fmtRatio(o.allocsOp, g.allocsOp), fmtRatio(o.bytesOp, g.bytesOp),
			fmtRatio(o.readsOp, g.readsOp), fmtRatio(o.writesOp, g.writesOp))
	}
	for _, r := range rep.rows {
		clients := []peerSummary{{ours.name, r.ours}, {theirs.name, r.theirs}}
		clients = append(clients, r.peers...)
		for i, c := range clients {
			s, name, label := c.s, "", c.name
			if i == 0 {
				name = r.w.key
			}
			if s.runs > 0 {
				t.add(name, label, fmtRate(s.opsPerSec), fmtRate(mbPerSec(s.opsPerSec, r.w.respBytes)),
					fmtDur(s.p50), fmtDur(s.p99), fmtDur(s.cpuPerOp), fmtDur(s.serverOp), fmtIdle(s.idle), fmt.Sprintf("%.1f", s.allocsOp), fmtBytes(s.bytesOp),
					fmtPerOp(s.readsOp), fmtPerOp(s.writesOp))
				name = ""
			}
			if s.failed() {
				t.add(name, label, "FAIL: "+shortErr(s.failure(), errWidth))
			}
		}
		ratio("ours/grpc-go", r, r.ours, r.theirs)
		for _, p := range r.peers {
			if p.name == limit.name && p.s.runs > 0 {
				ratio("ours/limit", r, r.ours, p.s)
			}
		}
	}
	return t
}

type idleSummary struct {
	heapInuse, heapAlloc, goroutines float64
	err                              error
}

func summarizeIdle(rs []idleResult) idleSummary {
	var s idleSummary
	var h, a, g []float64
	for _, r := range rs {
		if r.err != nil {
			if s.err == nil {
				s.err = r.err
			}
			continue
		}
		h, a, g = append(h, r.heapInuse), append(a, r.heapAlloc), append(g, r.goroutines)
	}
	s.heapInuse, s.heapAlloc, s.goroutines = median(h), median(a), median(g)
	return s
}

func (rep *report) idleTable(errWidth int) *table {
	t := &table{header: []string{"idle READY channels", "client", "heap in use/channel", "live heap/channel", "goroutines/channel"}}
	o, g := summarizeIdle(rep.idle.ours), summarizeIdle(rep.idle.theirs)
	for i, s := range []idleSummary{o, g} {
		name, label := "", ours.name
		if i == 0 {
			name = fmt.Sprintf("%d channels", idleChannels)
		} else {
			label = theirs.name
		}
		if s.err != nil {
			t.add(name, label, "FAIL: "+shortErr(s.err.Error(), errWidth))
			continue
		}
		t.add(name, label, fmtBytes(s.heapInuse), fmtBytes(s.heapAlloc), fmt.Sprintf("%.2f", s.goroutines))
	}
	if o.err == nil && g.err == nil {
		t.add("", "ours/grpc-go", fmtRatio(o.heapInuse, g.heapInuse), fmtRatio(o.heapAlloc, g.heapAlloc), fmtRatio(o.goroutines, g.goroutines))
	} else {
		t.add("", "ours/grpc-go", "-", "-", "-")
	}
	return t
}

func (rep *report) headerLines() []string {
	e, c := rep.env, rep.cfg
	l := []string{
		fmt.Sprintf("machine: %s/%s, %d CPUs (GOMAXPROCS %d), %s; load average at start %s, at end %s",
			e.goos, e.goarch, e.numCPU, e.gomaxprocs, e.cpuModel, e.loadStart, loadAvg()),
		fmt.Sprintf("build: %s, grpc-go %s, protoactor-go %s, grpcactor %s", e.goVersion, orUnknown(e.grpcGo), orUnknown(e.protoactor), orUnknown(e.commit)),
		fmt.Sprintf("command: %s", c.cmdline),
		fmt.Sprintf("date: %s", e.started.UTC().Format("2006-01-02 15:04 UTC")),
		fmt.Sprintf("server: grpc-go %s interop TestService in a separate process (pid %d) on 127.0.0.1, plaintext, shared by both clients", orUnknown(e.grpcGo), rep.serverPID),
		fmt.Sprintf("method: per row, %v warm-up of each client, then %d × %v timed runs alternating grpcactor, grpc-go (then the peers, on the rows they support); medians over runs. Closed loop: each worker issues its next op as soon as the previous returns.", c.warmup, c.rounds, c.duration),
		"columns: CPU/op is this process's user+system CPU (getrusage; the client only, the server is another process) / ops; server CPU/op is the server process's user+system CPU (/proc/PID/stat, in 10 ms ticks) / ops: the two processes share the machine's cores, so where the CPU is the limit, ops/s follows the sum of the two; idle is the share of the machine's CPU time, all cores, that was idle during the run (/proc/stat: idle and iowait), the median over runs: well above 0 %, neither process was short of a core all the time; allocs/op and B/op are runtime.MemStats Mallocs and TotalAlloc deltas / ops in this process; reads/op and writes/op are this process's read and write system calls (syscr, syscw of /proc/self/io) / ops; MB/s is response payload bytes only.",
		"ratio = grpcactor / grpc-go: for ops/s and MB/s higher is better (≥ 1.00× means grpcactor is faster); for p50, p99, CPU/op, server CPU/op, allocs/op and B/op lower is better (≤ 1.00× means grpcactor is better).",
	}
	if len(c.peers) > 0 {
		l = append(l, "peers: "+peerLegend(c.peers))
	}
	if c.smoke {
		l = append(l, "SMOKE RUN: every row for 0.2 s, one round — these numbers only show that the program works, they are not measures.")
	}
	l = append(l, fmt.Sprintf("floor: loopback TCP round trip (1-byte ping-pong to an echo goroutine in the server process): p50 %s, p99 %s, %s round trips/s",
		fmtDur(rep.floor.p50), fmtDur(rep.floor.p99), fmtRate(rep.floor.opsPerSec)))
	return l
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

func (rep *report) legend() []string {
	var l []string
	for _, r := range rep.rows {
		l = append(l, fmt.Sprintf("%s: %s", r.w.key, r.w.desc))
	}
	if rep.idle != nil {
		l = append(l, fmt.Sprintf("%s: %d channels per client, one 0B call on each, then 300 ms idle and GC; growth of HeapInuse (and HeapAlloc) and of the goroutine count / %d (one channel opened and closed first, so one-time library state is not counted)", idleKey, idleChannels, idleChannels))
	}
	if rep.inflight != nil {
		l = append(l, inflightLegend())
	}
	if rep.profiled != "" {
		l = append(l, fmt.Sprintf("profiled: %s (grpcactor only, an extra run after the measured ones)", rep.profiled))
	}
	return l
}

func (rep *report) failureLines() []string {
	var l []string
	for _, r := range rep.rows {
		if r.ours.failed() {
			l = append(l, fmt.Sprintf("%s, grpcactor: %s", r.w.key, r.ours.failure()))
		}
		if r.theirs.failed() {
			l = append(l, fmt.Sprintf("%s, grpc-go: %s", r.w.key, r.theirs.failure()))
		}
		for _, p := range r.peers {
			if p.s.failed() {
				l = append(l, fmt.Sprintf("%s, %s: %s", r.w.key, p.name, p.s.failure()))
			}
		}
	}
	if rep.idle != nil {
		if s := summarizeIdle(rep.idle.ours); s.err != nil {
			l = append(l, fmt.Sprintf("%s, grpcactor: %v", idleKey, s.err))
		}
		if s := summarizeIdle(rep.idle.theirs); s.err != nil {
			l = append(l, fmt.Sprintf("%s, grpc-go: %v", idleKey, s.err))
		}
	}
	if rep.inflight != nil {
		l = append(l, rep.inflight.failureLines()...)
	}
	return l
}

func (rep *report) writeText(w io.Writer) {
	fmt.Fprintln(w, "grpcactor vs grpc-go: client benchmark")
	for _, l := range rep.headerLines() {
		fmt.Fprintln(w, l)
	}
	fmt.Fprintln(w)
	if len(rep.rows) > 0 {
		rep.mainTable(90).writeText(w)
		fmt.Fprintln(w)
	}
	if g := rep.goalsTable(); g != nil {
		g.writeText(w)
		fmt.Fprintln(w)
	}
	if rep.idle != nil {
		rep.idleTable(90).writeText(w)
		fmt.Fprintln(w)
	}
	if rep.inflight != nil {
		rep.inflight.table(90).writeText(w)
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w, "rows:")
	for _, l := range rep.legend() {
		fmt.Fprintln(w, "  "+l)
	}
	if f := rep.failureLines(); len(f) > 0 {
		fmt.Fprintln(w, "\nFAILURES:")
		for _, l := range f {
			fmt.Fprintln(w, "  "+l)
		}
	}
}

func (rep *report) writeMarkdown(w io.Writer) {
	fmt.Fprintln(w, "### grpcactor vs grpc-go: client benchmark")
	fmt.Fprintln(w)
	for _, l := range rep.headerLines() {
		if k, v, ok := strings.Cut(l, ": "); ok && k == "command" {
			l = k + ": `" + v + "`"
		}
		fmt.Fprintln(w, "- "+l)
	}
	fmt.Fprintln(w)
	if len(rep.rows) > 0 {
		rep.mainTable(200).writeMarkdown(w)
		fmt.Fprintln(w)
	}
	if g := rep.goalsTable(); g != nil {
		g.writeMarkdown(w)
		fmt.Fprintln(w)
	}
	if rep.idle != nil {
		rep.idleTable(200).writeMarkdown(w)
		fmt.Fprintln(w)
	}
	if rep.inflight != nil {
		rep.inflight.table(200).writeMarkdown(w)
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w, "Rows:")
	fmt.Fprintln(w)
	for _, l := range rep.legend() {
		k, v, _ := strings.Cut(l, ": ")
		fmt.Fprintf(w, "- `%s`: %s\n", k, v)
	}
	if f := rep.failureLines(); len(f) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "Failures:")
		fmt.Fprintln(w)
		for _, l := range f {
			fmt.Fprintln(w, "- "+l)
		}
	}
}
