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
