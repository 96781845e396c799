package transport

import "testing"

// The flow-control types alone, as tables: each row is a sequence of
// operations and what each returns.

func TestInFlow(t *testing.T) {
	type op struct {
		receive int64 // > 0: receive this many bytes
		consume int64 // > 0: consume this many; -1: consume all
		ok      bool  // receive's result
		credit  int64 // consume's result
	}
	tests := []struct {
		name   string
		window int64
		ops    []op
	}{
		{"credit waits for a quarter", 100, []op{
			{receive: 10, ok: true}, {consume: 10, credit: 0},
			{receive: 14, ok: true}, {consume: 14, credit: 0},
			{receive: 1, ok: true}, {consume: 1, credit: 25},
		}},
		{"received but not consumed is not credited", 100, []op{
			{receive: 60, ok: true}, {consume: 20, credit: 0},
			{consume: 5, credit: 25}, {consume: -1, credit: 35},
		}},
		{"the window is the bound", 100, []op{
			{receive: 100, ok: true}, {receive: 1, ok: false},
		}},
		{"credit reopens the window", 100, []op{
			{receive: 100, ok: true}, {consume: -1, credit: 100},
			{receive: 100, ok: true},
		}},
		{"consume all with nothing received", 100, []op{
			{consume: -1, credit: 0},
		}},
		{"a zero window never credits zero", 0, []op{
			{consume: -1, credit: 0},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newInFlow(tt.window)
			for i, o := range tt.ops {
				switch {
				case o.receive > 0:
					if got := f.receive(o.receive); got != o.ok {
						t.Fatalf("op %d: receive(%d) = %v, want %v (received %d)", i, o.receive, got, o.ok, f.received)
					}
				case o.consume != 0:
					var got int64
					if o.consume < 0 {
						got = f.consumeAll()
					} else {
						got = f.consume(o.consume)
					}
					if got != o.credit {
						t.Fatalf("op %d: consume(%d) = %d, want %d", i, o.consume, got, o.credit)
					}
				}
			}
		})
	}
}

func TestOutFlow(t *testing.T) {
	type op struct {
		add, take int64
		ok        bool  // add's result
		avail     int64 // available() after the op
	}
	tests := []struct {
		name string
		init int64
		ops  []op
	}{
		{"take and grant", 100, []op{
			{take: 60, avail: 40}, {add: 10, ok: true, avail: 50}, {take: 50, avail: 0},
		}},
		{"a negative SETTINGS delta leaves a debt", 100, []op{
			{take: 80, avail: 20}, {add: -50, ok: true, avail: 0}, {add: 40, ok: true, avail: 10},
		}},
		{"growing past 2^31-1 is an error", 65535, []op{
			{add: maxWindow - 65535, ok: true, avail: maxWindow}, {add: 1, ok: false, avail: maxWindow + 1},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newOutFlow(tt.init)
			for i, o := range tt.ops {
				if o.take > 0 {
					f.take(o.take)
				} else if got := f.add(o.add); got != o.ok {
					t.Fatalf("op %d: add(%d) = %v, want %v", i, o.add, got, o.ok)
				}
				if got := f.available(); got != o.avail {
					t.Fatalf("op %d: available() = %d, want %d", i, got, o.avail)
				}
			}
		})
	}
}
