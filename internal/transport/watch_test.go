package transport

import (
	"context"
	"io"
	"sync/atomic"
	"testing"
	"time"

	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/protobuf/proto"

	"github.com/grpcactor/grpcactor/internal/wire"
)

// TestWatch: a stream whose call header has a Watch hook is told of its
// response headers, message and end, and keeps its blocking methods
// (RecvMsg waits for the message, not for the end of the stream).
func TestWatch(t *testing.T) {
	addr := startInterop(t)
	sys := quietSystem()
	ready := make(chan any, 4)
	c, err := Spawn(sys.Root, Config{Address: addr, OnEvent: func(ev any) { ready <- ev }})
	if err != nil {
		t.Fatal(err)
	}
	if ev := <-ready; ev.(*EventReady) == nil {
		t.Fatalf("event %T", ev)
	}
	hdrSeen, endSeen := make(chan struct{}), make(chan struct{})
	var sp atomic.Pointer[Stream]
	var hdrOnce, endOnce atomic.Bool
	hdr := &CallHdr{Method: "/grpc.testing.TestService/UnaryCall"}
	hdr.Watch = func() {
		s := sp.Load()
		if s == nil {
			return
		}
		if s.HeadersReceived() && hdrOnce.CompareAndSwap(false, true) {
			close(hdrSeen)
		}
		if _, ended := s.Status(); ended && endOnce.CompareAndSwap(false, true) {
			close(endSeen)
		}
	}
	s, err := c.NewStream(context.Background(), hdr)
	if err != nil {
		t.Fatal(err)
	}
	sp.Store(s)
	req, _ := proto.Marshal(&testgrpc.SimpleRequest{ResponseSize: 10})
	if err := s.Write(append(wire.AppendMsgHeader(nil, false, len(req)), req...), true); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RecvMsg(); err != nil {
		t.Fatalf("RecvMsg on a watched stream: %v", err)
	}
	if _, err := s.RecvMsg(); err != io.EOF {
		t.Fatalf("end: %v", err)
	}
	for what, ch := range map[string]chan struct{}{"headers": hdrSeen, "end": endSeen} {
		select {
		case <-ch:
		case <-time.After(20 * time.Second): // a failure bound only
			t.Fatalf("Watch was never told of the %s", what)
		}
	}
	c.Close("")
	<-c.Closed()
	<-c.readerDone
}
