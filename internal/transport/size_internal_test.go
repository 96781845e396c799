package transport

import (
	"testing"
	"unsafe"
)

// A stream is part of every call's heap (issue 10 bounds a unary call at
// 1 KiB): it stays within the 352-byte size class.
func TestStreamSize(t *testing.T) {
	if n := unsafe.Sizeof(Stream{}); n > 352 {
		t.Errorf("Stream is %d bytes, want at most 352 (its heap size class): keep its small fields together, and what few streams need behind a pointer", n)
	}
}
