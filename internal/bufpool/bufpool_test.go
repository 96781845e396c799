package bufpool

import (
	"fmt"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestClasses(t *testing.T) {
	tests := []struct{ n, size int }{
		{512, 512}, {513, 640}, {640, 640}, {641, 768}, {1024, 1024}, {1025, 1280},
		{4096, 4096}, {1<<20 + 13, 1<<20 + 1<<18}, {3 << 20, 3 << 20}, {64 << 20, 64 << 20},
	}
	seen := map[int]int{}
	for _, tt := range tests {
		idx, size := class(tt.n)
		if size != tt.size {
			t.Errorf("class(%d) size %d, want %d", tt.n, size, tt.size)
		}
		if size < tt.n || size > tt.n+tt.n/4+1 {
			t.Errorf("class(%d) size %d wastes more than 25 %%", tt.n, size)
		}
		if idx < 0 || idx >= len(pools) {
			t.Fatalf("class(%d) index %d out of range", tt.n, idx)
		}
		if prev, ok := seen[idx]; ok && prev != size {
			t.Errorf("index %d used for sizes %d and %d", idx, prev, size)
		}
		seen[idx] = size
	}
	// Every size maps to a class whose own capacity maps back to it.
	for n := minSize; n <= 1<<20; n += 97 {
		idx, size := class(n)
		if idx2, size2 := class(size); idx2 != idx || size2 != size {
			t.Fatalf("class(%d) = %d,%d but class(%d) = %d,%d", n, idx, size, size, idx2, size2)
		}
	}
}

func TestGetPut(t *testing.T) {
	for _, n := range []int{0, 1, 100, 511, 512, 4095, 4096, 4097, 1 << 20, 3<<20 + 7, 64 << 20, 64<<20 + 1} {
		b := Get(n)
		if len(b) != n {
			t.Fatalf("Get(%d) has length %d", n, len(b))
		}
		Put(b)
	}
	Put(make([]byte, 5000)) // not a class size: dropped, no panic
}

// Put allocates nothing, whatever the buffer (a Put that boxed &b cost an
// allocation per call, small buffers included: two per unary call), and
// neither does a Get the pool can serve (AllocsPerRun averages: under
// -race sync.Pool drops a quarter of what it is given, well under one
// allocation per run).
func TestPutAllocatesNothing(t *testing.T) {
	small := make([]byte, 100)
	if n := testing.AllocsPerRun(100, func() { Put(small) }); n != 0 {
		t.Errorf("Put of a 100-byte buffer: %v allocations, want 0", n)
	}
	Put(Get(4096)) // one holder and one buffer in the pools
	if n := testing.AllocsPerRun(100, func() { Put(Get(4096)) }); n != 0 {
		t.Errorf("Put(Get(4096)): %v allocations, want 0", n)
	}
}

func BenchmarkGetPut1MiB(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		Put(Get(1 << 20))
	}
}

func Example() {
	b := Get(10000)
	fmt.Println(len(b), cap(b))
	Put(b)
	// Output: 10000 10240
}
