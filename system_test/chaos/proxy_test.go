package chaos_test

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/grpcactor/grpcactor/system_test/chaos"
)

// bound is the failure limit of every wait for something that must happen.
const bound = 10 * time.Second

// quiet is how long a test watches for bytes that must not arrive. It can
// only make such a test pass wrongly, never fail wrongly.
const quiet = 100 * time.Millisecond

// echoServer echoes every connection until the test ends; it counts the
// connections that ended.
type echoServer struct {
	lis   net.Listener
	wg    sync.WaitGroup
	ended chan error // how each connection's copy ended
}

func startEcho(t *testing.T) *echoServer {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := &echoServer{lis: lis, ended: make(chan error, 100)}
	var mu sync.Mutex
	var conns []net.Conn
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			e.wg.Add(1)
			go func() {
				defer e.wg.Done()
				_, err := io.Copy(c, c)
				c.Close()
				e.ended <- err
			}()
		}
	}()
	t.Cleanup(func() {
		lis.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		e.wg.Wait()
	})
	return e
}

func dialProxy(t *testing.T, p *chaos.Proxy) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatalf("dial %s: %v", p.Addr(), err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// roundTrip writes b and reads len(b) bytes back, failing after bound.
func roundTrip(t *testing.T, c net.Conn, b []byte) []byte {
	t.Helper()
	c.SetDeadline(time.Now().Add(bound))
	defer c.SetDeadline(time.Time{})
	errc := make(chan error, 1)
	go func() {
		_, err := c.Write(b)
		errc <- err
	}()
	got := make([]byte, len(b))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("reading the echo of %d bytes: %v", len(b), err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("writing %d bytes: %v", len(b), err)
	}
	return got
}

// wantSilence checks that nothing can be read from c for a while.
func wantSilence(t *testing.T, c net.Conn, what string) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(quiet))
	defer c.SetReadDeadline(time.Time{})
	var buf [1]byte
	n, err := c.Read(buf[:])
	if n > 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("%s: read %d bytes, %v; want nothing (a read timeout)", what, n, err)
	}
}

// readErr reads from c until an error and returns it, failing after bound.
func readErr(t *testing.T, c net.Conn) error {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(bound))
	_, err := io.Copy(io.Discard, c)
	if err == nil {
		err = io.EOF
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("connection still open after %v", bound)
	}
	return err
}

func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i * 7)
	}
	return b
}

func TestProxyForwardsBytesIntact(t *testing.T) {
	e := startEcho(t)
	p := chaos.NewProxy(t, e.lis.Addr().String())
	c := dialProxy(t, p)
	want := pattern(1 << 20)
	if got := roundTrip(t, c, want); !bytes.Equal(got, want) {
		t.Fatal("1 MiB came back altered")
	}
	if p.Accepted() != 1 || p.Open() != 1 {
		t.Errorf("Accepted %d, Open %d; want 1, 1", p.Accepted(), p.Open())
	}
}

func TestProxyLatency(t *testing.T) {
	e := startEcho(t)
	p := chaos.NewProxy(t, e.lis.Addr().String())
	p.SetLatency(100 * time.Millisecond)
	c := dialProxy(t, p)
	start := time.Now()
	roundTrip(t, c, []byte("x"))
	el := time.Since(start)
	t.Logf("round trip with 100 ms each way: %v", el)
	if el < 200*time.Millisecond {
		t.Fatalf("round trip took %v, less than twice the 100 ms latency", el)
	}
	p.SetLatency(0)
	roundTrip(t, c, []byte("y"))
}

func TestProxyBandwidth(t *testing.T) {
	e := startEcho(t)
	p := chaos.NewProxy(t, e.lis.Addr().String())
	p.SetBandwidth(1 << 20) // 1 MiB/s each way
	c := dialProxy(t, p)
	want := pattern(256 << 10)
	start := time.Now()
	if got := roundTrip(t, c, want); !bytes.Equal(got, want) {
		t.Fatal("256 KiB came back altered")
	}
	el := time.Since(start)
	t.Logf("256 KiB echoed at 1 MiB/s each way: %v", el)
	if el < 200*time.Millisecond {
		t.Fatalf("256 KiB crossed a 1 MiB/s link in %v, faster than 250 ms", el)
	}
}

func TestProxyStallResume(t *testing.T) {
	e := startEcho(t)
	p := chaos.NewProxy(t, e.lis.Addr().String())
	c := dialProxy(t, p)
	roundTrip(t, c, []byte("before"))
	p.Stall()
	if _, err := c.Write([]byte("held")); err != nil {
		t.Fatal(err)
	}
	wantSilence(t, c, "stalled")
	p.Resume()
	got := make([]byte, 4)
	c.SetReadDeadline(time.Now().Add(bound))
	if _, err := io.ReadFull(c, got); err != nil || string(got) != "held" {
		t.Fatalf("after Resume: %q, %v; want the held bytes", got, err)
	}
}

// A tap sees each direction's bytes in order, also while the connection
// is stalled; connections accepted before SetTap are not tapped.
func TestProxyTap(t *testing.T) {
	e := startEcho(t)
	p := chaos.NewProxy(t, e.lis.Addr().String())
	untapped := dialProxy(t, p)
	roundTrip(t, untapped, []byte("before the tap"))

	var mu sync.Mutex
	var up, down bytes.Buffer
	got := make(chan struct{}, 1)
	p.SetTap(func() (fromClient, fromServer func([]byte)) {
		tap := func(buf *bytes.Buffer) func([]byte) {
			return func(b []byte) {
				mu.Lock()
				buf.Write(b)
				mu.Unlock()
				select {
				case got <- struct{}{}:
				default: // a wake-up is already pending
				}
			}
		}
		return tap(&up), tap(&down)
	})
	c := dialProxy(t, p)
	roundTrip(t, c, []byte("one"))
	p.Stall()
	if _, err := c.Write([]byte("two")); err != nil {
		t.Fatal(err)
	}
	timer := time.NewTimer(bound)
	defer timer.Stop()
	for {
		mu.Lock()
		u := up.String()
		mu.Unlock()
		if u == "onetwo" {
			break
		}
		select {
		case <-got:
		case <-timer.C:
			t.Fatalf("the tap saw %q from the client, want %q", u, "onetwo")
		}
	}
	p.Resume()
	echo := make([]byte, 3)
	c.SetReadDeadline(time.Now().Add(bound))
	if _, err := io.ReadFull(c, echo); err != nil || string(echo) != "two" {
		t.Fatalf("after Resume: %q, %v; want the echo of the held bytes", echo, err)
	}
	if got := roundTrip(t, c, []byte("three")); string(got) != "three" {
		t.Fatalf("echo %q, want %q", got, "three")
	}
	roundTrip(t, untapped, []byte("still untapped"))
	mu.Lock()
	defer mu.Unlock()
	// Every byte the client read came through the tap first.
	if u, d := up.String(), down.String(); u != "onetwothree" || d != "onetwothree" {
		t.Errorf("tapped %q from the client and %q from the server, want %q both", u, d, "onetwothree")
	}
}

func TestProxyBlackhole(t *testing.T) {
	e := startEcho(t)
	p := chaos.NewProxy(t, e.lis.Addr().String())
	old := dialProxy(t, p)
	roundTrip(t, old, []byte("before"))
	p.Blackhole()
	old.Write([]byte("lost"))
	wantSilence(t, old, "blackholed connection")
	during := dialProxy(t, p) // accepted, then silent
	during.Write([]byte("lost too"))
	wantSilence(t, during, "connection made during the blackhole")
	p.Heal()
	old.Write([]byte("still lost"))
	wantSilence(t, old, "blackholed connection after Heal")
	fresh := dialProxy(t, p)
	roundTrip(t, fresh, []byte("after"))
}

func TestProxyCut(t *testing.T) {
	e := startEcho(t)
	p := chaos.NewProxy(t, e.lis.Addr().String())
	c := dialProxy(t, p)
	roundTrip(t, c, []byte("x"))
	if n := p.Cut(); n != 1 {
		t.Errorf("Cut closed %d connections, want 1", n)
	}
	if err := readErr(t, c); err != io.EOF {
		t.Errorf("client read after Cut: %v, want EOF", err)
	}
	select {
	case err := <-e.ended:
		if err != nil {
			t.Errorf("backend's connection ended with %v, want EOF", err)
		}
	case <-time.After(bound):
		t.Fatal("backend's connection still open after Cut")
	}
	if p.Open() != 0 {
		t.Errorf("Open = %d after Cut, want 0", p.Open())
	}
}

func TestProxyReset(t *testing.T) {
	e := startEcho(t)
	p := chaos.NewProxy(t, e.lis.Addr().String())
	c := dialProxy(t, p)
	roundTrip(t, c, []byte("x"))
	p.Reset()
	if err := readErr(t, c); !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("client read after Reset: %v, want ECONNRESET", err)
	}
	select {
	case err := <-e.ended:
		if !errors.Is(err, syscall.ECONNRESET) {
			t.Errorf("backend's connection ended with %v, want ECONNRESET", err)
		}
	case <-time.After(bound):
		t.Fatal("backend's connection still open after Reset")
	}
}

func TestProxyRefuseAccept(t *testing.T) {
	e := startEcho(t)
	p := chaos.NewProxy(t, e.lis.Addr().String())
	open := dialProxy(t, p)
	// A round trip first: the proxy has then accepted open. Before that,
	// open may still wait in the listen backlog, and closing the listener
	// resets it (CI saw "connection reset by peer" once).
	roundTrip(t, open, []byte("accepted before Refuse"))
	p.Refuse()
	if c, err := net.Dial("tcp", p.Addr()); !errors.Is(err, syscall.ECONNREFUSED) {
		if c != nil {
			c.Close()
		}
		t.Fatalf("dial while refusing: %v, want ECONNREFUSED", err)
	}
	roundTrip(t, open, []byte("open connections are left alone"))
	if err := p.Accept(); err != nil {
		t.Fatal(err)
	}
	roundTrip(t, dialProxy(t, p), []byte("accepting again on the same port"))
}

func TestProxyBackendDown(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := lis.Addr().String()
	lis.Close()
	p := chaos.NewProxy(t, dead)
	c, err := net.Dial("tcp", p.Addr())
	if err == nil {
		defer c.Close()
		err = readErr(t, c)
	}
	// The reset may come before or after the client's connect returns.
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("read through a proxy whose backend refuses: %v, want ECONNRESET", err)
	}
}

func TestProxyCloseEndsEverything(t *testing.T) {
	e := startEcho(t)
	p := chaos.NewProxy(t, e.lis.Addr().String())
	c := dialProxy(t, p)
	p.Stall() // a pump waiting on a stall must end too
	c.Write([]byte("held"))
	p.Close()
	p.Close() // idempotent
	// EOF, or a reset if the held bytes were still unread in the proxy's
	// socket when it closed.
	if err := readErr(t, c); err != io.EOF && !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("read after Close: %v, want EOF or ECONNRESET", err)
	}
	if c, err := net.Dial("tcp", p.Addr()); err == nil {
		c.Close()
		t.Error("dial after Close succeeded")
	}
}
