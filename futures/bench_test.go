package futures_test

import (
	"context"
	"testing"

	"github.com/grpcactor/grpcactor/futures"
)

// BenchmarkPromiseCompleteResult measures the hot path of a call's future:
// New, Complete, then Result with a context, no callbacks.
func BenchmarkPromiseCompleteResult(b *testing.B) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		p := futures.New[int](nil)
		p.Complete(i, nil)
		if v, err := p.Result(ctx); v != i || err != nil {
			b.Fatalf("Result() = (%v, %v)", v, err)
		}
	}
}

// BenchmarkPromiseWaitingResult measures a Result that waits while another
// goroutine completes the promise, as a caller waits for a reader.
func BenchmarkPromiseWaitingResult(b *testing.B) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	promises := make(chan *futures.Promise[int], 1)
	go func() {
		for p := range promises {
			p.Complete(1, nil)
		}
	}()
	defer close(promises)
	b.ReportAllocs()
	for b.Loop() {
		p := futures.New[int](nil)
		done := p.Done() // make Result take the waiting path
		promises <- p
		<-done
		if _, err := p.Result(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPromiseCompleteCallback measures completion with one done
// callback, which starts the callback goroutine.
func BenchmarkPromiseCompleteCallback(b *testing.B) {
	b.ReportAllocs()
	ran := make(chan struct{}, 1)
	cb := func(futures.Future[int]) { ran <- struct{}{} }
	for b.Loop() {
		p := futures.New[int](nil)
		p.AddDoneCallback(cb)
		p.Complete(1, nil)
		<-ran
	}
}
