// Package bufpool recycles message buffers (bodies of 512 B and more) by
// size class, so that big messages do not cost a fresh, zeroed allocation
// each. Classes are a quarter of a power of two apart, so a buffer wastes
// at most 25 % of its size (a 1 MiB message plus its prefix takes a
// 1.25 MiB buffer, not 2 MiB).
package bufpool

import (
	"math/bits"
	"sync"
)

const (
	minSize = 512
	maxSize = 64 << 20
	minExp  = 8  // classes start above 2^8 = 256 B
	maxExp  = 25 // and end at 2^26 = 64 MiB
)

var pools [(maxExp - minExp + 1) * 4]sync.Pool

// holders recycles the *[]byte boxes the class pools hold buffers in, so
// that neither Get nor Put allocates one (a Put that took &b would move
// its argument to the heap on every call, small buffers included).
var holders sync.Pool

// Get returns a buffer of length n. Its contents are undefined: the caller
// must overwrite all of it. Buffers below 512 B or above 64 MiB are plain
// allocations.
func Get(n int) []byte {
	if n < minSize || n > maxSize {
		return make([]byte, n)
	}
	idx, size := class(n)
	if p, ok := pools[idx].Get().(*[]byte); ok {
		b := (*p)[:n]
		*p = nil
		holders.Put(p)
		return b
	}
	return make([]byte, n, size)
}

// Put gives b back for reuse. The caller must hold the only reference to
// b's memory. Buffers whose capacity is not exactly a class size are
// dropped.
func Put(b []byte) {
	if Poisoned {
		Poison(b)
	}
	c := cap(b)
	if c < minSize || c > maxSize {
		return
	}
	idx, size := class(c)
	if size != c {
		return
	}
	p, _ := holders.Get().(*[]byte)
	if p == nil {
		p = new([]byte)
	}
	*p = b[:0]
	pools[idx].Put(p)
}

// PoisonByte is what Poison fills a buffer with: 0xA5, which as the first
// byte of a gRPC message is an invalid compressed flag.
const PoisonByte = 0xA5

// Poison overwrites all of b's capacity with PoisonByte (see Poisoned).
func Poison(b []byte) {
	b = b[:cap(b)]
	for i := range b {
		b[i] = PoisonByte
	}
}

// class returns the index and size of the smallest class that holds n
// bytes (minSize <= n <= maxSize).
func class(n int) (idx, size int) {
	e := bits.Len(uint(n-1)) - 1 // 2^e < n <= 2^(e+1)
	base := 1 << e
	step := base >> 2
	k := (n - base + step - 1) / step // 1..4
	return (e-minExp)*4 + k - 1, base + k*step
}
