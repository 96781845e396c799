package transport

import (
	"bytes"
	"context"
	"net"
	"slices"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

// writeLog records each Write a bufWriter makes.
type writeLog struct{ writes [][]byte }

func (w *writeLog) Write(p []byte) (int, error) {
	w.writes = append(w.writes, bytes.Clone(p))
	return len(p), nil
}

func (w *writeLog) all() []byte { return bytes.Join(w.writes, nil) }

func filled(n int, b byte) []byte { return bytes.Repeat([]byte{b}, n) }

// TestBufWriterRefs: payloads queued by reference go out in order with the
// copied bytes around them, only on flush, and are left in place only when
// large and the socket has writev.
func TestBufWriterRefs(t *testing.T) {
	big1, big2 := filled(refMin, 'A'), filled(3*refMin, 'B')
	type op struct {
		ref bool // WriteRef, not Write
		p   []byte
	}
	tests := []struct {
		name     string
		writev   bool
		ops      []op
		wantRefs []bool // WriteRef's answers, in order
	}{
		{"refs between copies", true,
			[]op{{false, []byte("h1")}, {true, big1}, {false, []byte("h2")}, {true, big2}, {true, []byte("small")}},
			[]bool{true, true, false}},
		{"no writev: copied", false,
			[]op{{false, []byte("h1")}, {true, big1}},
			[]bool{false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := &writeLog{}
			b := newBufWriter(w, defaultBufferSize)
			b.writev = tt.writev
			var refs []bool
			var want []byte
			for i, o := range tt.ops {
				var err error
				if o.ref {
					var ref bool
					ref, err = b.WriteRef(o.p)
					refs = append(refs, ref)
				} else {
					_, err = b.Write(o.p)
				}
				if err != nil {
					t.Fatalf("op %d: %v", i, err)
				}
				want = append(want, o.p...)
			}
			if len(w.writes) != 0 {
				t.Fatalf("%d writes before Flush", len(w.writes))
			}
			if b.Buffered() != len(want) {
				t.Errorf("Buffered() = %d, want %d", b.Buffered(), len(want))
			}
			if !slices.Equal(refs, tt.wantRefs) {
				t.Errorf("WriteRef answered %v, want %v", refs, tt.wantRefs)
			}
			if err := b.Flush(); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(w.all(), want) {
				t.Errorf("flushed %d bytes, not the %d bytes queued, in order", len(w.all()), len(want))
			}
			if b.Buffered() != 0 {
				t.Errorf("Buffered() = %d after Flush", b.Buffered())
			}
		})
	}
}

// TestBufWriterRefLimits: past maxRefBytes by reference, or a copy that
// fills the buffer, everything queued is written first, in order.
func TestBufWriterRefLimits(t *testing.T) {
	w := &writeLog{}
	b := newBufWriter(w, defaultBufferSize)
	b.writev = true
	var want []byte
	for i := range maxRefBytes/(64<<10) + 1 {
		p := filled(64<<10, byte('a'+i%26))
		hdr := []byte{byte(i)}
		b.Write(hdr)
		if ref, err := b.WriteRef(p); err != nil || !ref {
			t.Fatalf("WriteRef %d = %v, %v", i, ref, err)
		}
		want = append(append(want, hdr...), p...)
	}
	if len(w.writes) == 0 {
		t.Fatalf("no write after %d bytes by reference", maxRefBytes+64<<10)
	}
	if b.refBytes > maxRefBytes {
		t.Errorf("%d bytes held by reference, limit %d", b.refBytes, maxRefBytes)
	}
	fill := filled(defaultBufferSize-8, 'z') // overflows what is buffered
	b.Write(fill)
	want = append(want, fill...)
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(w.all(), want) {
		t.Errorf("wrote %d bytes, want the %d queued, in order", len(w.all()), len(want))
	}
}

// tcpPair returns the two ends of a loopback TCP connection.
func tcpPair(t *testing.T) (cli, srv net.Conn) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Skipf("no loopback TCP: %v", err)
	}
	defer lis.Close()
	acc := make(chan net.Conn, 1)
	go func() {
		c, _ := lis.Accept()
		acc <- c
	}()
	cli, err = net.Dial("tcp", lis.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	srv = <-acc
	if srv == nil {
		t.Fatal("accept failed")
	}
	return cli, srv
}

// TestLargeMessageByReference: over TCP (writev), large messages leave
// straight from the stream's buffer; the server gets every byte in order,
// and the transport lets go of the buffers once written.
func TestLargeMessageByReference(t *testing.T) {
	cli, srv := tcpPair(t)
	ct := startConnPair(t, Config{}, cli, srv, cli)
	ct.peer.autoCredit = true
	ct.peer.handshake(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 8 << 20})
	waitEvent[*EventReady](t, ct.ev)
	ct.peer.writeWindowUpdate(0, 8<<20)
	deadline := time.After(testTimeout)
	for i, size := range []int{refMin - 1, refMin, 100 << 10, 1<<20 + 3} {
		msg := make([]byte, size)
		for j := range msg {
			msg[j] = byte(j*7 + i)
		}
		s := ct.newStream(context.Background(), nil)
		if err := s.Write(grpcFrame(msg), true); err != nil {
			t.Fatal(err)
		}
		id, _ := ct.peer.wantHeaders()
		got, _ := ct.peer.wantMsg(id)
		if !bytes.Equal(got, msg) {
			t.Fatalf("message %d (%d bytes): the server got %d bytes, not the ones written", i, size, len(got))
		}
		ct.peer.wantEnd(id)
		ct.peer.writeResponseHeaders(id)
		ct.peer.writeTrailers(id, 0, "")
		if _, err := s.RecvMsg(); err == nil {
			t.Fatalf("message %d: got a response message", i)
		}
		for !s.Drained() {
			select {
			case <-time.After(time.Millisecond):
			case <-deadline:
				t.Fatalf("message %d: the transport still holds %d bytes of the request after the call ended", i, s.Queued())
			}
		}
	}
}
