package main

import "testing"

func TestParseCPULine(t *testing.T) {
	for _, tc := range []struct {
		line        string
		idle, total uint64
		ok          bool
	}{
		// user nice system idle iowait irq softirq steal guest guest_nice
		{"cpu  100 2 30 400 5 6 7 8 90 1", 405, 558, true},
		{"cpu 10 0 10 80", 80, 100, true}, // an old kernel: no iowait
		{"cpu0 100 2 30 400 5 6 7 8 0 0", 0, 0, false},
		{"intr 1 2 3 4 5", 0, 0, false},
		{"cpu 1 2 x 4 5", 0, 0, false},
		{"cpu 1 2", 0, 0, false},
		{"", 0, 0, false},
	} {
		idle, total, ok := parseCPULine(tc.line)
		if idle != tc.idle || total != tc.total || ok != tc.ok {
			t.Errorf("parseCPULine(%q) = %d, %d, %v; want %d, %d, %v", tc.line, idle, total, ok, tc.idle, tc.total, tc.ok)
		}
	}
}
