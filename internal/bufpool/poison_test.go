//go:build grpcactor_poison

package bufpool

import "testing"

// TestPutPoisons: in a poisoning build, every buffer given back is
// overwritten, whether the pool keeps it (a class size) or drops it.
func TestPutPoisons(t *testing.T) {
	for _, n := range []int{16, 512, 700, 4096} {
		b := Get(n)
		for i := range b {
			b[i] = 1
		}
		full := b[:cap(b)]
		Put(b)
		for i, c := range full {
			if c != PoisonByte {
				t.Fatalf("Get(%d): byte %d is %#x after Put, want %#x", n, i, c, PoisonByte)
			}
		}
	}
}
