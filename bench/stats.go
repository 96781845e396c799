package main

import (
	"fmt"
	"math"
	"math/bits"
	"slices"
	"strings"
	"time"
)

// subBits sub-buckets per power of two: 64, so a recorded latency is known
// within 1/64 (1.6 %) of its value, as in an HDR histogram.
const subBits = 6

// histogram counts latencies in nanoseconds in log-linear buckets. Recording
// never allocates; each worker has its own and they are merged at the end.
type histogram struct {
	counts [(64 - subBits + 1) << subBits]uint64
	n      uint64
}

func bucketOf(v uint64) int {
	if v < 1<<subBits {
		return int(v)
	}
	shift := bits.Len64(v) - 1 - subBits
	return (shift+1)<<subBits + int(v>>uint(shift)) - 1<<subBits
}

// bucketMid returns the middle of bucket i's range.
func bucketMid(i int) float64 {
	if i < 1<<subBits {
		return float64(i)
	}
	shift := i>>subBits - 1
	sub := i & (1<<subBits - 1)
	low := uint64(1<<subBits+sub) << uint(shift)
	return float64(low) + float64(uint64(1)<<uint(shift))/2
}

func (h *histogram) record(d time.Duration) {
	v := d.Nanoseconds()
	if v < 0 {
		v = 0
	}
	h.counts[bucketOf(uint64(v))]++
	h.n++
}

func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
}

// quantile returns the latency at quantile q (0..1), or 0 if empty.
func (h *histogram) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	if rank < 1 {
		rank = 1
	}
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return time.Duration(bucketMid(i))
		}
	}
	return 0
}

// result is one timed run of one client on one workload.
type result struct {
	ops       uint64
	elapsed   time.Duration
	cpu       time.Duration // process CPU (user+system) during the run
	mallocs   uint64        // runtime.MemStats.Mallocs delta
	allocated uint64        // runtime.MemStats.TotalAlloc delta
	// reads and writes are the process's read and write system calls
	// during the run (/proc/self/io), if ioCounted.
	reads, writes uint64
	ioCounted     bool
	// serverCPU is the server process's CPU (user+system) during the
	// run, if serverCounted (serverCPU).
	serverCPU     time.Duration
	serverCounted bool
	// idle is the share of the machine's CPU time (all cores) that was
	// idle during the run, if idleCounted (machineCPU): where it is well
	// above zero, neither process was short of a core all the time.
	idle        float64
	idleCounted bool
	p50, p99    time.Duration
	// err is a failure of the run as a whole (setup, hang, nothing succeeded):
	// its figures are not used.
	err error
	// failedOps ops returned an error (not counted in ops or latencies);
	// firstFail is the first.
	failedOps uint64
	firstFail error
}

func (r result) opsPerSec() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.ops) / r.elapsed.Seconds()
}

func (r result) perOp(v float64) float64 {
	if r.ops == 0 {
		return 0
	}
	return v / float64(r.ops)
}

// summary is the median, over rounds, of each figure of a client's runs.
type summary struct {
	runs       int
	opsPerSec  float64
	p50, p99   float64 // ns
	cpuPerOp   float64 // ns
	allocsOp   float64
	bytesOp    float64
	readsOp    float64 // read system calls per op (NaN: not measured)
	writesOp   float64 // write system calls per op (NaN: not measured)
	serverOp   float64 // the server's CPU per op, ns (NaN: not measured)
	idle       float64 // the machine's idle share, 0-1 (NaN: not measured)
	err        error   // first failure of a run as a whole, if any
	failedRuns int
	failedOps  uint64 // ops that failed, over every run (warm-up included)
	totalOps   uint64 // ops that succeeded, over every run (warm-up included)
	firstFail  error  // the first failed op's error
}

// failed reports whether the client failed on this row in any way.
func (s summary) failed() bool { return s.err != nil || s.failedOps > 0 }

// failure describes how the client failed on this row.
func (s summary) failure() string {
	var parts []string
	if s.err != nil {
		parts = append(parts, s.err.Error())
	}
	if s.failedOps > 0 {
		parts = append(parts, fmt.Sprintf("%d of %d ops failed; first error: %v", s.failedOps, s.failedOps+s.totalOps, s.firstFail))
	}
	return strings.Join(parts, "; ")
}

func summarize(rs []result) summary {
	var s summary
	var qps, p50, p99, cpu, allocs, bytes, reads, writes, server, idle []float64
	for _, r := range rs {
		s.failedOps += r.failedOps
		s.totalOps += r.ops
		if s.firstFail == nil {
			s.firstFail = r.firstFail
		}
		if r.err != nil {
			s.failedRuns++
			if s.err == nil {
				s.err = r.err
			}
			continue
		}
		qps = append(qps, r.opsPerSec())
		p50 = append(p50, float64(r.p50))
		p99 = append(p99, float64(r.p99))
		cpu = append(cpu, r.perOp(float64(r.cpu)))
		allocs = append(allocs, r.perOp(float64(r.mallocs)))
		bytes = append(bytes, r.perOp(float64(r.allocated)))
		if r.ioCounted {
			reads = append(reads, r.perOp(float64(r.reads)))
			writes = append(writes, r.perOp(float64(r.writes)))
		}
		if r.serverCounted {
			server = append(server, r.perOp(float64(r.serverCPU)))
		}
		if r.idleCounted {
			idle = append(idle, r.idle)
		}
	}
	s.runs = len(qps)
	s.opsPerSec = median(qps)
	s.p50 = median(p50)
	s.p99 = median(p99)
	s.cpuPerOp = median(cpu)
	s.allocsOp = median(allocs)
	s.bytesOp = median(bytes)
	s.readsOp = median(reads)
	s.writesOp = median(writes)
	s.serverOp = median(server)
	s.idle = median(idle)
	return s
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	v = slices.Clone(v)
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// counts is what a run reads of the system before and after it: this
// process's CPU and system calls, the server's CPU and the machine's
// idle and total CPU time.
type counts struct {
	cpu           time.Duration
	reads, writes uint64
	ioOK          bool
	server        time.Duration
	serverOK      bool
	idle, total   uint64
	machineOK     bool
}

// countsBefore reads the counts at the start of a run: the server's and
// the machine's first, this process's last, so that the reads of /proc
// for the others are not counted as this process's system calls.
func countsBefore() (c counts) {
	c.server, c.serverOK = serverCPU()
	c.idle, c.total, c.machineOK = machineCPU()
	c.cpu = processCPU()
	c.reads, c.writes, c.ioOK = ioCounts()
	return c
}

// countsAfter reads the counts at the end of a run, in the reverse order.
func countsAfter() (c counts) {
	c.cpu = processCPU()
	c.reads, c.writes, c.ioOK = ioCounts()
	c.server, c.serverOK = serverCPU()
	c.idle, c.total, c.machineOK = machineCPU()
	return c
}

// setCounts fills r's CPU, system call, server and idle figures from the
// counts before (c0) and after (c1) the run.
func (r *result) setCounts(c0, c1 counts) {
	r.cpu = c1.cpu - c0.cpu
	if c0.ioOK && c1.ioOK {
		// Less the read of /proc/self/io itself at the end.
		r.reads, r.writes, r.ioCounted = c1.reads-c0.reads-1, c1.writes-c0.writes, true
	}
	if c0.serverOK && c1.serverOK {
		r.serverCPU, r.serverCounted = c1.server-c0.server, true
	}
	if c0.machineOK && c1.machineOK && c1.total > c0.total {
		r.idle, r.idleCounted = float64(c1.idle-c0.idle)/float64(c1.total-c0.total), true
	}
}
