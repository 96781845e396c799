package channel

import (
	"testing"
	"unsafe"
)

// A call's state is part of every call's heap (issue 10 bounds a unary
// call at 1 KiB): it stays within the 384-byte size class. What few calls
// need goes in callExtras, not in callState.
func TestCallStateSize(t *testing.T) {
	if n := unsafe.Sizeof(callState{}); n > 384 {
		t.Errorf("callState is %d bytes, want at most 384 (its heap size class): put what few calls need in callExtras", n)
	}
}
