package balancer

import (
	"math/bits"
)

// xxh64 is XXH64 with seed 0, the hash gRFC A42 names for ring_hash (the
// ring's points and the request hash), written here from the algorithm's
// description; its test checks it against known digests.
func xxh64(s string) uint64 {
	const (
		p1 uint64 = 11400714785074694791
		p2 uint64 = 14029467366897019727
		p3 uint64 = 1609587929392839161
		p4 uint64 = 9650029242287828579
		p5 uint64 = 2870177450012600261
	)
	round := func(acc, in uint64) uint64 {
		acc += in * p2
		return bits.RotateLeft64(acc, 31) * p1
	}
	merge := func(acc, v uint64) uint64 {
		acc ^= round(0, v)
		return acc*p1 + p4
	}
	u64 := func(s string) uint64 {
		return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
			uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
	}
	u32 := func(s string) uint64 {
		return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24
	}
	n := len(s)
	var h uint64
	if n >= 32 {
		v1, v2, v3, v4 := p1, p2, uint64(0), uint64(0)
		v1 += p2 // wraps, as the algorithm means
		v4 -= p1
		for len(s) >= 32 {
			v1 = round(v1, u64(s[0:8]))
			v2 = round(v2, u64(s[8:16]))
			v3 = round(v3, u64(s[16:24]))
			v4 = round(v4, u64(s[24:32]))
			s = s[32:]
		}
		h = bits.RotateLeft64(v1, 1) + bits.RotateLeft64(v2, 7) + bits.RotateLeft64(v3, 12) + bits.RotateLeft64(v4, 18)
		h = merge(h, v1)
		h = merge(h, v2)
		h = merge(h, v3)
		h = merge(h, v4)
	} else {
		h = p5
	}
	h += uint64(n)
	for len(s) >= 8 {
		h ^= round(0, u64(s[:8]))
		h = bits.RotateLeft64(h, 27)*p1 + p4
		s = s[8:]
	}
	if len(s) >= 4 {
		h ^= u32(s[:4]) * p1
		h = bits.RotateLeft64(h, 23)*p2 + p3
		s = s[4:]
	}
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i]) * p5
		h = bits.RotateLeft64(h, 11) * p1
	}
	h ^= h >> 33
	h *= p2
	h ^= h >> 29
	h *= p3
	h ^= h >> 32
	return h
}
