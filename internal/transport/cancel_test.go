package transport

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/status"
	"golang.org/x/net/http2"
)

// TestCancel: Stream.Cancel sends RST_STREAM(CANCEL) and RecvMsg returns
// CANCELLED; messages already received are dropped; later writes fail.
func TestCancel(t *testing.T) {
	ct := startReady(t, Config{})
	p := ct.peer
	s := ct.newStream(context.Background(), nil)
	if err := s.Write(grpcFrame([]byte("first")), false); err != nil {
		t.Fatal(err)
	}
	id, _ := p.wantHeaders()
	p.wantMsg(id)
	p.writeResponseHeaders(id)
	p.writeMsg(id, []byte("unread"), false)
	p.ping([8]byte{1}) // the message has reached the stream
	s.Cancel(nil)
	if c := p.wantRST(id); c != http2.ErrCodeCancel {
		t.Errorf("RST_STREAM %v, want CANCEL", c)
	}
	m, err := s.RecvMsg()
	wantCode(t, "RecvMsg", err, codes.Canceled)
	if m.Data != nil {
		t.Errorf("RecvMsg returned a message after Cancel: %q", m.Data)
	}
	if err := s.Write(grpcFrame([]byte("late")), true); code(err) != codes.Canceled {
		t.Errorf("Write after Cancel: %v, want CANCELLED", err)
	}
	// What the server still sends on the stream is ignored.
	p.writeMsg(id, []byte("ignored"), false)
	p.writeTrailers(id, codes.OK, "")
	if st, done := s.Status(); !done || st.Code() != codes.Canceled {
		t.Errorf("Status() = %v, %v", st, done)
	}
	s2 := ct.unary([]byte("next"))
	id2, _ := p.wantHeaders()
	p.serveUnary(id2, []byte("ok"))
	if r := startRecv(s2).wait(t); r.err != nil {
		t.Fatalf("next call: %v", r.err)
	}
}

// TestNoDataAfterCancel: a Write that raced with Cancel (it found the stream
// open, Cancel ended it before the actor saw the data) must not put DATA on
// the wire after the RST_STREAM.
func TestNoDataAfterCancel(t *testing.T) {
	ct := startReady(t, Config{})
	p := ct.peer
	s := ct.newStream(context.Background(), nil)
	if err := s.Write(grpcFrame([]byte("first")), false); err != nil {
		t.Fatal(err)
	}
	id, _ := p.wantHeaders()
	p.wantMsg(id)
	s.Cancel(nil)
	p.wantRST(id)
	// The interleaving cannot be forced through Write, so do what Write
	// does once it has found the stream open.
	buf := grpcFrame([]byte("late"))
	s.queued.Add(int64(len(buf)))
	ct.conn.send(&dataReq{s: s, buf: buf, end: true})
	p.ping([8]byte{2}) // the actor handled the data before this PING
	if fs := p.stashed(isType(http2.FrameData, id)); len(fs) != 0 {
		t.Errorf("DATA after RST_STREAM: %v", summarize(fs))
	}
	if q := s.queued.Load(); q != 0 {
		t.Errorf("%d bytes of write quota not given back", q)
	}
}

// TestContextDeadline: a stream whose context expires ends
// DEADLINE_EXCEEDED and is reset with CANCEL.
func TestContextDeadline(t *testing.T) {
	ct := startReady(t, Config{})
	p := ct.peer
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	s := ct.newStream(ctx, nil)
	if err := s.Write(grpcFrame([]byte("slow")), true); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Write: %v", err)
	}
	// The HEADERS are out before anyone looks at the context (CallHdr has no
	// Deadline), so the outcome does not depend on timing.
	id, _ := p.wantHeaders()
	_, err := s.RecvMsg()
	wantCode(t, "RecvMsg", err, codes.DeadlineExceeded)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error does not wrap context.DeadlineExceeded: %v", err)
	}
	if c := p.wantRST(id); c != http2.ErrCodeCancel {
		t.Errorf("RST_STREAM %v, want CANCEL", c)
	}
}

// TestContextCancelHeader: Header returns when the context is cancelled.
func TestContextCancelHeader(t *testing.T) {
	ct := startReady(t, Config{})
	p := ct.peer
	ctx, cancel := context.WithCancel(context.Background())
	s := ct.newStream(ctx, nil)
	id, _ := p.wantHeaders()
	done := make(chan error, 1)
	go func() {
		_, err := s.Header()
		done <- err
	}()
	cancel()
	select {
	case err := <-done:
		wantCode(t, "Header", err, codes.Canceled)
	case <-time.After(testTimeout):
		t.Fatalf("Header did not return after the context was cancelled")
	}
	if c := p.wantRST(id); c != http2.ErrCodeCancel {
		t.Errorf("RST_STREAM %v, want CANCEL", c)
	}
}

// TestServerRSTCancelAfterDeadline: an RST_STREAM(CANCEL) from the server
// once the call's deadline has passed means DEADLINE_EXCEEDED.
func TestServerRSTCancelAfterDeadline(t *testing.T) {
	ct := startReady(t, Config{})
	p := ct.peer
	deadline := time.Now().Add(time.Hour)
	s := ct.newStream(context.Background(), &CallHdr{Method: "/a.B/C", Deadline: deadline})
	id, _ := p.wantHeaders()
	// Pretend the hour has passed.
	old := timeNow
	timeNow = func() time.Time { return deadline.Add(time.Second) }
	defer func() { timeNow = old }()
	p.writeRST(id, http2.ErrCodeCancel)
	waitDone(t, s)
	_, err := s.RecvMsg()
	wantCode(t, "RecvMsg", err, codes.DeadlineExceeded)
}

// TestEarlyServerClosure: trailers arriving before the client half-closed
// make the client reset the stream with NO_ERROR, as PROTOCOL-HTTP2's
// "early server closure" asks, and later writes return the status.
func TestEarlyServerClosure(t *testing.T) {
	ct := startReady(t, Config{})
	p := ct.peer
	s := ct.newStream(context.Background(), nil)
	if err := s.Write(grpcFrame([]byte("one of many")), false); err != nil {
		t.Fatal(err)
	}
	id, _ := p.wantHeaders()
	p.wantMsg(id)
	p.writeHeaders(id, hdrs(":status", "200", "content-type", "application/grpc", "grpc-status", "9", "grpc-message", "stop"), true)
	if c := p.wantRST(id); c != http2.ErrCodeNo {
		t.Errorf("RST_STREAM %v, want NO_ERROR", c)
	}
	_, err := s.RecvMsg()
	wantCode(t, "RecvMsg", err, codes.FailedPrecondition, "stop")
	if err := s.Write(grpcFrame([]byte("more")), false); code(err) != codes.FailedPrecondition {
		t.Errorf("Write after the server closed: %v", err)
	}
	var st *status.Error
	if !errors.As(err, &st) {
		t.Errorf("error is not a *status.Error: %T", err)
	}
}
