// Package bufpool recycles large byte buffers (message bodies of 512 B and
// more) by power-of-two size class, so that big messages do not cost a
// fresh, zeroed allocation each.
package bufpool

import (
	"math/bits"
	"sync"
)

const (
	minClass = 9  // 512 B
	maxClass = 26 // 64 MiB
)

var pools [maxClass + 1]sync.Pool

// Get returns a buffer of length n. Its contents are undefined: the caller
// must overwrite all of it. Buffers below 512 B or above 64 MiB are plain
// allocations.
func Get(n int) []byte {
	c := class(n)
	if c < minClass || c > maxClass {
		return make([]byte, n)
	}
	if p, ok := pools[c].Get().(*[]byte); ok {
		return (*p)[:n]
	}
	return make([]byte, n, 1<<c)
}

// Put gives b back for reuse. The caller must hold the only reference to
// b's memory. Buffers whose capacity is not a pooled size class are
// dropped.
func Put(b []byte) {
	c := cap(b)
	if c < 1<<minClass || c > 1<<maxClass || c&(c-1) != 0 {
		return
	}
	b = b[:0]
	pools[bits.TrailingZeros(uint(c))].Put(&b)
}

// class returns the power of two that fits n bytes.
func class(n int) int {
	if n <= 1 {
		return 0
	}
	return bits.Len(uint(n - 1))
}
