//go:build !linux

package main

import (
	"os/exec"
	"time"
)

// setServerSysProcAttr does nothing here: the server also exits when its
// stdin, a pipe from the benchmark, closes.
func setServerSysProcAttr(cmd *exec.Cmd) {}

// processCPU is not measured on this system (the CPU column shows 0).
func processCPU() time.Duration { return 0 }

// serverCPU is not measured on this system (the column shows -).
func serverCPU() (time.Duration, bool) { return 0, false }

// ioCounts is not measured on this system (ok is false: the columns show -).
func ioCounts() (reads, writes uint64, ok bool) { return 0, 0, false }

// machineCPU is not measured on this system (the idle column shows -).
func machineCPU() (idle, total uint64, ok bool) { return 0, 0, false }
