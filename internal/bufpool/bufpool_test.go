package bufpool_test

import (
	"fmt"
	"testing"

	"github.com/grpcactor/grpcactor/internal/bufpool"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestGetPut(t *testing.T) {
	for _, n := range []int{0, 1, 100, 511, 512, 4095, 4096, 4097, 1 << 20, 3<<20 + 7, 64 << 20, 64<<20 + 1} {
		b := bufpool.Get(n)
		if len(b) != n {
			t.Fatalf("Get(%d) has length %d", n, len(b))
		}
		if n >= 512 && n <= 64<<20 && cap(b)&(cap(b)-1) != 0 {
			t.Fatalf("Get(%d) capacity %d is not a power of two", n, cap(b))
		}
		bufpool.Put(b)
	}
	bufpool.Put(make([]byte, 5000)) // not a size class: dropped, no panic
}

func BenchmarkGetPut1MiB(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		bufpool.Put(bufpool.Get(1 << 20))
	}
}

func Example() {
	b := bufpool.Get(10000)
	fmt.Println(len(b), cap(b))
	bufpool.Put(b)
	// Output: 10000 16384
}
