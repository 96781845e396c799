package transport

import (
	"context"
	"fmt"
	"testing"

	"github.com/grpcactor/grpcactor/codes"
	"golang.org/x/net/http2"
)

// oneResponse opens a OneResponse stream with its whole request
// (NewStreamWith), as a unary call does.
func (ct *connTest) oneResponse(req []byte) *Stream {
	ct.t.Helper()
	s, err := ct.conn.NewStreamWith(context.Background(), &CallHdr{Method: "/grpc.testing.TestService/UnaryCall", OneResponse: true}, grpcFrame(req), true)
	if err != nil {
		ct.t.Fatalf("NewStreamWith: %v", err)
	}
	return s
}

// A OneResponse stream opened with its request: the request goes out
// whole, RecvMsg hands over the response once the stream has ended, then
// the status.
func TestOneResponse(t *testing.T) {
	ct := startReady(t, Config{})
	p := ct.peer
	s := ct.oneResponse([]byte("req"))
	id, _ := p.wantHeaders()
	if msg, end := p.wantMsg(id); string(msg) != "req" || !end {
		t.Fatalf("request %q end %v, want \"req\" with END_STREAM", msg, end)
	}
	r := startRecv(s)
	p.writeResponseHeaders(id)
	p.writeMsg(id, []byte("resp"), false)
	p.writeTrailers(id, codes.OK, "")
	r.wait(t)
	if r.err != nil || len(r.msgs) != 1 || string(r.msgs[0]) != "resp" {
		t.Fatalf("msgs %q err %v, want \"resp\" and OK", r.msgs, r.err)
	}
	ct.callWorks("after a OneResponse call")
}

// A second response message ends a OneResponse stream INTERNAL with
// RST_STREAM(CANCEL) once it is whole, even one larger than the stream's window: the
// first, not yet taken, does not hold back the window (the call would
// otherwise wait for its deadline).
func TestOneResponseSecondMessage(t *testing.T) {
	for _, tc := range []struct {
		name   string
		second int
	}{
		{"small", 10},
		{"over the window", 100 << 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A 64 KiB stream window, which the second message overflows.
			ct := startReady(t, Config{InitialWindowSize: 65535})
			p := ct.peer
			s := ct.oneResponse([]byte("req"))
			id, _ := p.wantHeaders()
			p.wantMsg(id)
			r := startRecv(s)
			p.writeResponseHeaders(id)
			p.writeMsg(id, []byte("first"), false)
			p.writeMsg(id, pattern(tc.second), false)
			r.wait(t)
			wantCode(t, "call", r.err, codes.Internal, "more than one response")
			// Both are handed over first, as messages before any error
			// the server caused are (the call fails on the second).
			if len(r.msgs) != 2 || len(r.msgs[1]) != tc.second {
				t.Errorf("%d messages delivered, want both", len(r.msgs))
			}
			if c := p.wantRST(id); c != http2.ErrCodeCancel {
				t.Errorf("RST_STREAM %v, want CANCEL", c)
			}
			ct.callWorks("after a cardinality violation")
		})
	}
}

// A OneResponse RecvMsg waits on a pooled channel (waitEnd): whether the
// stream ends with its response or by its context, each RecvMsg returns
// its own stream's outcome and the channel goes back to the pool empty;
// Done, made only when asked for, is closed at the end.
func TestOneResponseWaitRecycled(t *testing.T) {
	ct := startReady(t, Config{})
	p := ct.peer
	for i := range 20 {
		ctx, cancel := context.WithCancel(context.Background())
		s, err := ct.conn.NewStreamWith(ctx, &CallHdr{Method: "/grpc.testing.TestService/UnaryCall", OneResponse: true}, grpcFrame([]byte("req")), true)
		if err != nil {
			t.Fatalf("NewStreamWith: %v", err)
		}
		id, _ := p.wantHeaders()
		p.wantMsg(id)
		done := s.Done()
		r := startRecv(s)
		want := fmt.Sprintf("resp %d", i)
		answered := i%2 == 0
		if answered {
			p.writeResponseHeaders(id)
			p.writeMsg(id, []byte(want), false)
			p.writeTrailers(id, codes.OK, "")
		} else {
			cancel()
		}
		r.wait(t)
		cancel()
		if answered {
			if r.err != nil || len(r.msgs) != 1 || string(r.msgs[0]) != want {
				t.Fatalf("call %d: msgs %q err %v, want %q and OK", i, r.msgs, r.err, want)
			}
		} else {
			wantCode(t, fmt.Sprintf("call %d", i), r.err, codes.Canceled)
			if c := p.wantRST(id); c != http2.ErrCodeCancel {
				t.Fatalf("call %d: RST_STREAM %v, want CANCEL", i, c)
			}
		}
		select {
		case <-done:
		default:
			t.Fatalf("call %d: the Done asked for before the end is not closed after it", i)
		}
		select {
		case <-s.Done():
		default:
			t.Fatalf("call %d: Done asked for after the end is not closed", i)
		}
		w := wakers.Get().(chan struct{})
		if len(w) != 0 {
			t.Fatalf("call %d: a wake-up channel went back to the pool with a wake-up in it", i)
		}
		wakers.Put(w)
	}
	ct.callWorks("after OneResponse calls answered and cancelled")
}
