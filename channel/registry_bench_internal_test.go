package channel

import (
	"sync/atomic"
	"testing"
)

// BenchmarkCallRegistry is a call's entry in and exit from its channel's
// registry (addCall, removeCall), by many goroutines at once (64 at -cpu
// 2, as the unary/0B/c64 bench row), with 64 more calls in flight.
func BenchmarkCallRegistry(b *testing.B) {
	ch, err := Insecure("127.0.0.1:1")
	if err != nil {
		b.Fatal(err)
	}
	defer ch.Close()
	var inFlight [64]*callState
	for i := range inFlight {
		inFlight[i] = &callState{}
		if !ch.addCall(inFlight[i]) {
			b.Fatal("refused")
		}
	}
	var refused atomic.Bool
	b.ReportAllocs()
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var calls [4]*callState
		for i := range calls {
			calls[i] = &callState{}
		}
		i := 0
		for pb.Next() {
			c := calls[i&3]
			i++
			if !ch.addCall(c) {
				refused.Store(true)
				return
			}
			ch.removeCall(c)
		}
	})
	b.StopTimer()
	for _, c := range inFlight {
		ch.removeCall(c)
	}
	if refused.Load() {
		b.Fatal("a call was refused")
	}
}
