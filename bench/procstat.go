package main

import (
	"strconv"
	"strings"
)

// parseCPULine reads the "cpu" line of /proc/stat (the machine's CPU
// time, all cores, in clock ticks): idle is idle plus iowait, total the
// sum of user, nice, system, idle, iowait, irq, softirq and steal (guest
// time, which follows, is already counted in user and nice). ok is false
// for any other line.
func parseCPULine(line string) (idle, total uint64, ok bool) {
	f := strings.Fields(line)
	if len(f) < 5 || f[0] != "cpu" {
		return 0, 0, false
	}
	for i, v := range f[1:min(len(f), 9)] {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return 0, 0, false
		}
		total += n
		if i == 3 || i == 4 {
			idle += n
		}
	}
	return idle, total, true
}
