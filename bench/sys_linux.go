//go:build linux

package main

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// setServerSysProcAttr makes the kernel kill the server if the benchmark dies
// without stopping it.
func setServerSysProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// processCPU returns the user+system CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// serverCPU returns the user+system CPU time the benchmark's server
// process has used (utime and stime of /proc/PID/stat, all its threads, in
// clock ticks of 10 ms: Linux's USER_HZ is 100). ok is false if it cannot
// be read.
func serverCPU() (d time.Duration, ok bool) {
	if lastServerPID == 0 {
		return 0, false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(lastServerPID) + "/stat")
	if err != nil {
		return 0, false
	}
	// The fields after the command, which is in parentheses and may hold
	// spaces: state is the first, utime the 12th and stime the 13th.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, false
	}
	utime, err1 := strconv.ParseUint(f[11], 10, 64)
	stime, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond, true
}

// machineCPU returns the machine's CPU time so far, all cores, in clock
// ticks: idle (idle and iowait) and total (every state), from the first
// line of /proc/stat. ok is false if it cannot be read.
func machineCPU() (idle, total uint64, ok bool) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, false
	}
	line, _, _ := strings.Cut(string(b), "\n")
	return parseCPULine(line)
}

// ioCounts returns this process's read and write system calls so far
// (syscr and syscw of /proc/self/io: read, readv, pread and the like, and
// write, writev, pwrite; sendmsg/recvmsg are not counted, and neither
// client uses them). ok is false if the file cannot be read.
func ioCounts() (reads, writes uint64, ok bool) {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return 0, 0, false
	}
	var r, w bool
	for _, l := range strings.Split(string(b), "\n") {
		k, v, found := strings.Cut(l, ":")
		if !found {
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
		if err != nil {
			continue
		}
		switch k {
		case "syscr":
			reads, r = n, true
		case "syscw":
			writes, w = n, true
		}
	}
	return reads, writes, r && w
}
