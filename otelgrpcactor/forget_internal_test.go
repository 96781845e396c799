package otelgrpcactor

import (
	"testing"
	"time"

	"github.com/grpcactor/grpcactor/channel"
)

// A closed channel is forgotten even when no metric reader ever collects
// the connectivity gauge (the default no-op provider never does), so an
// instrumented channel is not kept alive after Close.
func TestClosedChannelForgotten(t *testing.T) {
	h, err := New()
	if err != nil {
		t.Fatal(err)
	}
	ch, err := channel.Insecure("127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Instrument(ch); err != nil {
		t.Fatal(err)
	}
	ch.Close()
	// The subscription's callback runs on its own executor: poll, with a
	// failure bound only.
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(time.Millisecond) {
		h.mu.Lock()
		n := len(h.channels)
		h.mu.Unlock()
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d channels still held 20 s after Close", n)
		}
	}
}
