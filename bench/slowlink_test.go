package main

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestSlowLink checks the link emulator against an echo server: bytes
// arrive intact and in order, a half-close goes through, and nothing
// arrives sooner than the latency and the rate allow (lower bounds only:
// a loaded machine may make anything slower).
func TestSlowLink(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	defer lis.Close()
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				io.Copy(c, c)
				c.(*net.TCPConn).CloseWrite()
			}()
		}
	}()

	const delay, rate = 10 * time.Millisecond, 10e6
	link, err := newSlowLink(lis.Addr().String(), delay, rate)
	if err != nil {
		t.Fatal(err)
	}
	defer link.close()
	c, err := net.Dial("tcp", link.addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	// One byte there and back: at least two one-way delays.
	t0 := time.Now()
	if _, err := c.Write([]byte{7}); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 1)
	if _, err := io.ReadFull(c, b); err != nil || b[0] != 7 {
		t.Fatalf("echo of one byte: %v %v", b, err)
	}
	if rtt := time.Since(t0); rtt < 2*delay {
		t.Errorf("round trip %v, shorter than 2 × %v", rtt, delay)
	}

	// 1 MB there and back, then a half-close: at least n/rate + 2 delays.
	data := make([]byte, 1e6)
	for i := range data {
		data[i] = byte(rand.IntN(256))
	}
	t0 = time.Now()
	werr := make(chan error, 1)
	go func() {
		_, err := c.Write(data)
		if err == nil {
			err = c.(*net.TCPConn).CloseWrite()
		}
		werr <- err
	}()
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(t0)
	if err := <-werr; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("echoed %d bytes, not the %d sent", len(got), len(data))
	}
	if min := time.Duration(float64(len(data))/rate*float64(time.Second)) + 2*delay; elapsed < min {
		t.Errorf("1 MB echoed in %v, sooner than %v allows", elapsed, min)
	}
}

// TestSlowLinkSmoke runs the 4 MiB unary slow-link rows (BDP on and off)
// with -smoke: both clients complete them through the emulated link.
func TestSlowLinkSmoke(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out, progress bytes.Buffer
	rows := []string{"slowlink/unary/4MiB", "slowlink/unary/4MiB/fixed"} // the first selects both
	err := run(ctx, []string{"-smoke", "-rows", strings.Join(rows, ",")}, "go test ./bench", &out, &progress)
	t.Logf("stdout:\n%s\nstderr:\n%s", out.String(), progress.String())
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	for _, want := range append(rows, "grpcactor", "grpc-go") {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if strings.Contains(out.String(), "FAIL") {
		t.Errorf("a row failed")
	}
	assertServerGone(t)
}
