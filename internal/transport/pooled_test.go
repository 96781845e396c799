package transport

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/internal/bufpool"
	"golang.org/x/net/http2"
)

// recycleLog replaces recycleSendBuf for a test: every buffer the
// transport gives back is poisoned at once (as the next user of a pooled
// buffer would overwrite it), so that one given back before its bytes
// were written reaches the server as poison, and is counted.
type recycleLog struct {
	mu  sync.Mutex
	got map[*byte]int
	sig chan struct{} // a buffer was given back
}

func logRecycled(t *testing.T) *recycleLog {
	l := &recycleLog{got: map[*byte]int{}, sig: make(chan struct{}, 1)}
	old := recycleSendBuf
	recycleSendBuf = func(b []byte) {
		b = b[:cap(b)]
		for i := range b {
			b[i] = 0xEE
		}
		l.mu.Lock()
		l.got[&b[0]]++
		l.mu.Unlock()
		select {
		case l.sig <- struct{}{}:
		default:
		}
	}
	// Registered before the connection's cleanup, so it runs after it.
	t.Cleanup(func() { recycleSendBuf = old })
	return l
}

func (l *recycleLog) count(b []byte) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.got[&b[:1][0]]
}

// pooledFrame returns a gRPC frame of an n-byte message filled with a
// pattern of seed, in a buffer from bufpool, and a copy of the message.
func pooledFrame(n int, seed byte) (frame, msg []byte) {
	frame = bufpool.Get(5 + n)
	frame[0], frame[1], frame[2], frame[3], frame[4] = 0, byte(n>>24), byte(n>>16), byte(n>>8), byte(n)
	for i := range n {
		frame[5+i] = byte(i*13) + seed
	}
	return frame, append([]byte(nil), frame[5:]...)
}

// waitRecycled waits, bounded, until each of bufs was given back once.
func waitRecycled(t *testing.T, l *recycleLog, bufs [][]byte) {
	t.Helper()
	deadline := time.After(testTimeout)
	for i, b := range bufs {
		for l.count(b) == 0 {
			select {
			case <-l.sig:
			case <-deadline:
				t.Fatalf("buffer %d (%d bytes) was never given back to the pool", i, len(b))
			}
		}
		if n := l.count(b); n != 1 {
			t.Fatalf("buffer %d given back %d times", i, n)
		}
	}
}

// TestPooledWriteRecycledAfterWrite: buffers given with WritePooled go
// back to the pool only once their bytes are on the wire, over TCP (where
// large payloads are written by reference, by the next flush) as over a
// pipe, whatever the mix of sizes: small ones copied, large ones by
// reference, a large one whose last frame is small (copied while its
// first waits for the flush), several frames of one message.
func TestPooledWriteRecycledAfterWrite(t *testing.T) {
	for _, tcp := range []bool{true, false} {
		name := "pipe"
		if tcp {
			name = "tcp"
		}
		t.Run(name, func(t *testing.T) {
			l := logRecycled(t)
			var ct *connTest
			if tcp {
				cli, srv := tcpPair(t)
				ct = startConnPair(t, Config{}, cli, srv, cli)
			} else {
				ct = startConn(t, Config{})
			}
			ct.peer.autoCredit = true
			ct.peer.handshake(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 8 << 20})
			waitEvent[*EventReady](t, ct.ev)
			ct.peer.writeWindowUpdate(0, 8<<20)
			sizes := []int{0, 100, refMin - 5, refMin, 2 * defaultMaxFrame, defaultMaxFrame + 100, 100<<10 + 7, refMin + 1, 1<<20 + 3, 300}
			s := ct.newStream(context.Background(), nil)
			var bufs, msgs [][]byte
			for i, n := range sizes {
				f, m := pooledFrame(n, byte(i))
				bufs, msgs = append(bufs, f), append(msgs, m)
				if err := s.WritePooled(f, i == len(sizes)-1); err != nil {
					t.Fatal(err)
				}
			}
			id, _ := ct.peer.wantHeaders()
			for i, want := range msgs {
				got, _ := ct.peer.wantMsg(id)
				if !bytes.Equal(got, want) {
					t.Fatalf("message %d (%d bytes): the server got other bytes (a buffer recycled before it was written?)", i, len(want))
				}
			}
			ct.peer.wantEnd(id)
			ct.peer.writeResponseHeaders(id)
			ct.peer.writeTrailers(id, codes.OK, "")
			waitRecycled(t, l, bufs)
			if !s.Drained() {
				t.Fatalf("%d bytes still queued", s.Queued())
			}
		})
	}
}

// TestPooledWriteRecycledWhenDropped: pooled buffers that are never (or
// only partly) written go back to the pool when the stream drops them,
// and one written on an ended stream at once.
func TestPooledWriteRecycledWhenDropped(t *testing.T) {
	cli, srv := tcpPair(t)
	l := logRecycled(t)
	ct := startConnPair(t, Config{}, cli, srv, cli)
	// A stream window of 10000 bytes: the first message leaves in part,
	// by reference; the rest waits for a WINDOW_UPDATE that never comes.
	ct.peer.handshake(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 10000})
	waitEvent[*EventReady](t, ct.ev)
	s := ct.newStream(context.Background(), nil)
	var bufs [][]byte
	for i, n := range []int{30000, 200, 8000} {
		f, _ := pooledFrame(n, byte(i))
		bufs = append(bufs, f)
		if err := s.EnqueuePooled(f, false); err != nil {
			t.Fatal(err)
		}
	}
	id, _ := ct.peer.wantHeaders()
	f := ct.peer.want("DATA", isType(http2.FrameData, id))
	if len(f.Data) != 10000 || f.Data[5] != 0 || f.Data[6] != 13 {
		t.Fatalf("first DATA frame: %d bytes, not the 10000 the window allows of the first message", len(f.Data))
	}
	s.Cancel(nil)
	ct.peer.wantRST(id)
	waitRecycled(t, l, bufs)

	late, _ := pooledFrame(600, 9)
	if err := s.WritePooled(late, false); err == nil {
		t.Fatal("WritePooled on a cancelled stream succeeded")
	}
	if l.count(late) != 1 {
		t.Fatal("a pooled buffer refused by an ended stream was not given back")
	}
}

// TestPooledWriteRecycledWhenWaitingStreamRefused: a stream waiting for a
// slot (SETTINGS_MAX_CONCURRENT_STREAMS reached) that GOAWAY refuses
// gives back the pooled buffers queued on it and ends Drained, its Notify
// hook told of the release; a Write blocked on its write quota returns.
func TestPooledWriteRecycledWhenWaitingStreamRefused(t *testing.T) {
	l := logRecycled(t)
	ct := startReady(t, Config{WriteQuota: 1000}, http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: 1})
	ct.newStream(context.Background(), nil)
	ct.peer.wantHeaders()
	notified := make(chan struct{}, 1)
	w := ct.newStream(context.Background(), &CallHdr{Method: "/svc/Waiting", Notify: func() {
		select {
		case notified <- struct{}{}:
		default:
		}
	}})
	var bufs [][]byte
	for i, n := range []int{300, 900} {
		f, _ := pooledFrame(n, byte(i))
		bufs = append(bufs, f)
		if err := w.EnqueuePooled(f, false); err != nil {
			t.Fatal(err)
		}
	}
	wrote := make(chan error, 1)
	go func() { wrote <- w.Write(grpcFrame(make([]byte, 2000)), true) }() // over the quota: waits
	ct.peer.writeGoAway(1, http2.ErrCodeNo, "max age")
	waitDone(t, w)
	if !w.NeverSent() {
		t.Errorf("the waiting stream was sent")
	}
	select {
	case err := <-wrote:
		if code(err) != codes.Unavailable {
			t.Errorf("blocked Write: %v, want UNAVAILABLE", err)
		}
	case <-time.After(testTimeout):
		t.Fatal("a Write blocked on the refused stream's quota never returned")
	}
	waitRecycled(t, l, bufs)
	deadline := time.After(testTimeout)
	for !w.Drained() {
		select {
		case <-notified:
		case <-deadline:
			t.Fatalf("the refused stream still holds %d queued bytes", w.Queued())
		}
	}
}
