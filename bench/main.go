// Command bench measures this project's gRPC client (grpcactor) side by side
// with grpc-go's client, against one grpc-go interop TestService server that
// runs in its own process (this program re-executed with -serve), so that
// the client process holds only the client under test.
//
//	go run ./bench                         # every row, 3 s per run, 3 rounds
//	go run ./bench -rows unary/1KiB,pingpong -duration 5s
//	go run ./bench -smoke                  # every row for ~0.2 s, one round (CI)
//	go run ./bench -duration 2s -rounds 3 -markdown   # the table of BENCHMARKS.md
//	go run ./bench -rows unary/0B/c8 -cpuprofile cpu.out -memprofile mem.out
//	go run ./bench -list                   # the rows
//	go run ./bench -soak 10m               # the soak: one channel, server restarted every minute
//
// For every row, the two clients run alternately (grpcactor, grpc-go,
// grpcactor, grpc-go, ... -rounds times) after a warm-up of each, and the
// medians over rounds are reported: ops/s, p50 and p99 latency, process CPU
// per op, allocations and bytes allocated per op, and the ratio
// grpcactor / grpc-go. The memory and goroutines per idle READY channel and
// the loopback TCP round trip (the floor) are measured too.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"time"
)

// lockedWriter serializes writes to w.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func main() {
	if serveRequested() {
		if err := serve(os.Stdout, os.Stdin); err != nil {
			fmt.Fprintln(os.Stderr, "bench server:", err)
			os.Exit(1)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	err := run(ctx, os.Args[1:], commandLine(), os.Stdout, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// commandLine is the command as the user typed it, as far as it can be told:
// "go run ./bench ..." when this is a binary that go run built.
func commandLine() string {
	prog := os.Args[0]
	if strings.Contains(prog, string(filepath.Separator)+"go-build") {
		prog = "go run ./bench"
	}
	parts := []string{prog}
	for _, a := range os.Args[1:] {
		if a == "" || strings.ContainsAny(a, " \t'\"$\\*?;&|<>()") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}

type config struct {
	rows       []string
	duration   time.Duration
	warmup     time.Duration
	rounds     int
	cpuprofile string
	memprofile string
	profileRow string
	smoke      bool
	markdown   bool
	list       bool
	peers      []impl // clients measured besides grpcactor and grpc-go
	cmdline    string
	soak       soakConfig
}

func parseFlags(args []string, stderr io.Writer) (*config, error) {
	c := &config{}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	rows := fs.String("rows", "", "run only the rows whose name contains one of these comma-separated substrings (e.g. unary/1KiB,pingpong,idle); -list shows the names. Default: every row")
	fs.DurationVar(&c.duration, "duration", 3*time.Second, "length of each timed run")
	fs.DurationVar(&c.warmup, "warmup", time.Second, "warm-up of each client before a row's timed runs")
	fs.IntVar(&c.rounds, "rounds", 3, "timed runs of each client per row, alternating grpcactor and grpc-go; medians are reported")
	fs.StringVar(&c.cpuprofile, "cpuprofile", "", "write a CPU profile of grpcactor's client to this file, from an extra run of -duration on the profiled row (-profile-row)")
	fs.StringVar(&c.memprofile, "memprofile", "", "write an allocation profile of grpcactor's client to this file, from an extra run on the profiled row; FILE.base is the profile just before that run: go tool pprof -sample_index=alloc_space -base FILE.base FILE")
	fs.StringVar(&c.profileRow, "profile-row", "", "the row to profile with -cpuprofile/-memprofile: the first selected row containing this substring. Default: the first selected row")
	fs.BoolVar(&c.smoke, "smoke", false, "every selected row for 0.2 s after a 0.1 s warm-up, one round (overrides -duration, -warmup, -rounds): a check that the program and both clients work, not a measure")
	fs.BoolVar(&c.markdown, "markdown", false, "print the tables as Markdown (for BENCHMARKS.md)")
	fs.BoolVar(&c.list, "list", false, "list the rows and exit")
	peers := fs.String("peers", "connect-go,limit", "further clients measured on the rows they support, in the same rounds (comma-separated, \"\" for none): "+peerLegend(allPeers))
	fs.DurationVar(&c.soak.duration, "soak", 0, "instead of the benchmark, soak grpcactor's client for this long: one channel, unary and all streaming kinds mixed, the server killed and restarted every -soak-restart, a report line every -soak-report (e.g. -soak 10m)")
	fs.DurationVar(&c.soak.restart, "soak-restart", time.Minute, "with -soak: how often the server is killed and started again")
	fs.DurationVar(&c.soak.report, "soak-report", 30*time.Second, "with -soak: how often a report line is printed")
	fs.DurationVar(&c.soak.timeout, "soak-timeout", 5*time.Second, "with -soak: each call's deadline")
	fs.DurationVar(&c.soak.quiet, "soak-quiet", 10*time.Second, "with -soak: a call failing later than this after a restart fails the soak")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: go run ./bench [flags]\n\nMeasures grpcactor's client side by side with grpc-go's against one grpc-go interop server in a separate process.\n\nflags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	for _, r := range strings.Split(*rows, ",") {
		if r = strings.TrimSpace(r); r != "" {
			c.rows = append(c.rows, r)
		}
	}
	for _, p := range strings.Split(*peers, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		im, ok := peerByName(p)
		if !ok {
			return nil, fmt.Errorf("-peers: unknown client %q (known: %s)", p, peerNames())
		}
		c.peers = append(c.peers, im)
	}
	if c.smoke {
		c.duration, c.warmup, c.rounds = 200*time.Millisecond, 100*time.Millisecond, 1
	}
	if c.soak.duration < 0 || c.soak.restart <= 0 || c.soak.report <= 0 || c.soak.timeout <= 0 || c.soak.quiet <= 0 {
		return nil, errors.New("-soak must be >= 0; -soak-restart, -soak-report, -soak-timeout and -soak-quiet > 0")
	}
	if c.duration <= 0 || c.rounds < 1 || c.warmup < 0 {
		return nil, errors.New("-duration must be > 0, -rounds >= 1 and -warmup >= 0")
	}
	return c, nil
}

func (c *config) selected(key string) bool {
	if len(c.rows) == 0 {
		return true
	}
	for _, r := range c.rows {
		if strings.Contains(key, r) {
			return true
		}
	}
	return false
}

const idleKey = "idle/200"

// rowResult is one row's outcome for both clients.
type rowResult struct {
	w            workload
	ours, theirs summary
	peers        []peerSummary // the peers that support the row
}

// peerSummary is a client's summary on a row.
type peerSummary struct {
	name string
	s    summary
}

type idleRow struct {
	ours, theirs []idleResult
}

// report is everything the tables show.
type report struct {
	cfg       *config
	env       environment
	floor     summary
	rows      []rowResult
	idle      *idleRow
	inflight  *inflightRow // inflight.go
	serverPID int
	profiled  string
}

// run is the program: it parses args, starts the server, measures the
// selected rows and prints the report on stdout (progress on stderr). It
// returns an error if the program could not run, or if a row failed.
func run(ctx context.Context, args []string, cmdline string, stdout, stderr io.Writer) error {
	stderr = &lockedWriter{w: stderr} // shared with the server process's stderr
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	cfg.cmdline = cmdline
	if cfg.soak.duration > 0 {
		return runSoak(ctx, cfg.soak, stdout, stderr)
	}
	var selected []workload
	for _, w := range workloads() {
		if cfg.selected(w.key) {
			selected = append(selected, w)
		}
	}
	wantIdle := cfg.selected(idleKey)
	wantInFlight := cfg.selected(inflightKey)
	if cfg.list {
		for _, w := range workloads() {
			fmt.Fprintf(stdout, "%-20s %s\n", w.key, w.desc)
		}
		fmt.Fprintf(stdout, "%-20s %s\n", idleKey, fmt.Sprintf("memory and goroutines per idle READY channel (%d channels per client)", idleChannels))
		fmt.Fprintf(stdout, "%-20s %s\n", inflightKey, fmt.Sprintf("goroutines, heap and stack per unary call in flight (%d held by the server)", inflightCalls))
		return nil
	}
	if len(selected) == 0 && !wantIdle && !wantInFlight {
		return fmt.Errorf("%w %q (see -list)", errNoRows, strings.Join(cfg.rows, ","))
	}
	profiling := cfg.cpuprofile != "" || cfg.memprofile != ""
	var profileKey string
	if profiling {
		for _, w := range selected {
			if strings.Contains(w.key, cfg.profileRow) {
				profileKey = w.key
				break
			}
		}
		if profileKey == "" {
			return fmt.Errorf("-profile-row %q matches no selected row", cfg.profileRow)
		}
		if cfg.memprofile != "" {
			runtime.MemProfileRate = 64 << 10
		}
	}

	env := readEnvironment()
	srv, err := startServer(stderr)
	if err != nil {
		return err
	}
	defer srv.stop()
	rep := &report{cfg: cfg, env: env, serverPID: srv.pid(), profiled: profileKey}
	fmt.Fprintf(stderr, "bench: server pid %d on %s; %d rows, %v per run, %v warm-up, %d rounds\n",
		srv.pid(), srv.addr, len(selected), cfg.duration, cfg.warmup, cfg.rounds)

	// The floor.
	{
		s, _ := floorWorkload.open(ctx, impl{}, srv)
		var rs []result
		for range cfg.rounds {
			rs = append(rs, measure(ctx, s, 1, min(cfg.duration, time.Second)))
		}
		rep.floor = summarize(rs)
		fmt.Fprintf(stderr, "bench: %s p50 %s p99 %s\n", floorWorkload.key, fmtDur(rep.floor.p50), fmtDur(rep.floor.p99))
	}

	for _, w := range selected {
		if err := ctx.Err(); err != nil {
			return err
		}
		rr := runRow(ctx, cfg, w, srv, stderr, w.key == profileKey)
		rep.rows = append(rep.rows, rr)
	}
	if wantIdle && ctx.Err() == nil {
		rep.idle = &idleRow{}
		for round := range cfg.rounds {
			for _, im := range []impl{ours, theirs} {
				r := measureIdle(ctx, im, srv.addr, idleChannels)
				if im.name == ours.name {
					rep.idle.ours = append(rep.idle.ours, r)
				} else {
					rep.idle.theirs = append(rep.idle.theirs, r)
				}
				if r.err != nil {
					fmt.Fprintf(stderr, "bench: %s round %d/%d %s: FAIL %v\n", idleKey, round+1, cfg.rounds, im.name, r.err)
				} else {
					fmt.Fprintf(stderr, "bench: %s round %d/%d %s: %s heap in use, %.2f goroutines per channel\n", idleKey, round+1, cfg.rounds, im.name, fmtBytes(r.heapInuse), r.goroutines)
				}
			}
		}
	}
	if wantInFlight && ctx.Err() == nil {
		rep.inflight = runInFlight(ctx, cfg.rounds, srv.addr, stderr)
	}
	srv.stop()
	if cfg.markdown {
		rep.writeMarkdown(stdout)
	} else {
		rep.writeText(stdout)
	}
	if n := rep.failures(); n > 0 {
		return fmt.Errorf("%d row(s) failed (see the table)", n)
	}
	return nil
}

// runRow measures one row for both clients: sessions opened, each warmed
// up, then -rounds timed runs alternating grpcactor and grpc-go. A client
// whose run fails as a whole (setup, a hang, no op succeeding) is not run
// again on this row; failed ops are counted and the runs go on.
func runRow(ctx context.Context, cfg *config, w workload, srv *serverProc, progress io.Writer, profile bool) rowResult {
	impls := []impl{ours, theirs}
	for _, p := range cfg.peers {
		if p.supports == nil || p.supports(w) {
			impls = append(impls, p)
		}
	}
	sessions := make([]*session, len(impls))
	runs := make([][]result, len(impls))
	warm := make([]result, len(impls))
	failed := make([]error, len(impls))
	note := func(i int, what string, r result) {
		if r.failedOps > 0 {
			fmt.Fprintf(progress, "bench: %s %s %s: %d ops FAILED, first error: %v\n", w.key, what, impls[i].name, r.failedOps, r.firstFail)
		}
	}
	for i, im := range impls {
		var s *session
		err := withTimeout(30*time.Second, func() error {
			var err error
			s, err = w.open(ctx, im, srv)
			return err
		})
		if err != nil {
			failed[i] = fmt.Errorf("setting up: %w", err)
			fmt.Fprintf(progress, "bench: %s %s: FAIL %v\n", w.key, im.name, failed[i])
			continue
		}
		sessions[i] = s
	}
	if cfg.warmup > 0 {
		for i := range impls {
			if failed[i] != nil {
				continue
			}
			warm[i] = measure(ctx, sessions[i], w.conc, cfg.warmup)
			note(i, "warm-up", warm[i])
			if warm[i].err != nil {
				failed[i] = fmt.Errorf("warm-up: %w", warm[i].err)
				fmt.Fprintf(progress, "bench: %s %s: FAIL %v\n", w.key, impls[i].name, failed[i])
			}
		}
	}
	for round := range cfg.rounds {
		for i, im := range impls {
			if failed[i] != nil {
				continue
			}
			r := measure(ctx, sessions[i], w.conc, cfg.duration)
			runs[i] = append(runs[i], r)
			what := fmt.Sprintf("round %d/%d", round+1, cfg.rounds)
			note(i, what, r)
			if r.err != nil {
				failed[i] = r.err
				fmt.Fprintf(progress, "bench: %s %s %s: FAIL %v\n", w.key, what, im.name, r.err)
				continue
			}
			fmt.Fprintf(progress, "bench: %s %s %-10s %10.0f ops/s  p50 %-8s p99 %-8s CPU/op %-8s server %-8s allocs/op %.1f  reads/op %.2f writes/op %.2f\n",
				w.key, what, im.name, r.opsPerSec(), fmtDur(float64(r.p50)), fmtDur(float64(r.p99)),
				fmtDur(r.perOp(float64(r.cpu))), fmtServer(r), r.perOp(float64(r.mallocs)), r.perOp(float64(r.reads)), r.perOp(float64(r.writes)))
		}
	}
	if profile && failed[0] == nil {
		if err := profileRun(ctx, cfg, w, sessions[0]); err != nil {
			fmt.Fprintf(progress, "bench: profiling %s: %v\n", w.key, err)
		} else {
			fmt.Fprintf(progress, "bench: profiled %s (grpcactor, %v)\n", w.key, cfg.duration)
		}
	}
	for i, s := range sessions {
		if s == nil {
			continue
		}
		if err := withTimeout(10*time.Second, s.close); err != nil && failed[i] == nil {
			failed[i] = fmt.Errorf("closing the channel: %w", err)
		}
	}
	rr := rowResult{w: w}
	for i := range impls {
		s := summarize(runs[i])
		s.failedOps += warm[i].failedOps
		s.totalOps += warm[i].ops
		if s.firstFail == nil {
			s.firstFail = warm[i].firstFail
		}
		if s.err == nil && failed[i] != nil {
			s.err = failed[i]
		}
		switch i {
		case 0:
			rr.ours = s
		case 1:
			rr.theirs = s
		default:
			rr.peers = append(rr.peers, peerSummary{impls[i].name, s})
		}
	}
	return rr
}

// profileRun measures grpcactor's session once more with the requested
// profiles on.
func profileRun(ctx context.Context, cfg *config, w workload, s *session) error {
	if cfg.memprofile != "" {
		runtime.GC()
		if err := writeProfile("allocs", cfg.memprofile+".base"); err != nil {
			return err
		}
	}
	if cfg.cpuprofile != "" {
		f, err := os.Create(cfg.cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
	}
	r := measure(ctx, s, w.conc, cfg.duration)
	if cfg.cpuprofile != "" {
		pprof.StopCPUProfile()
	}
	if cfg.memprofile != "" {
		runtime.GC()
		if err := writeProfile("allocs", cfg.memprofile); err != nil {
			return err
		}
	}
	return r.err
}

func writeProfile(name, path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.Lookup(name).WriteTo(f, 0); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
