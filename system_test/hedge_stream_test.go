package system_test

// Hedging (gRFC A6) of blocking client- and bidirectional-streaming calls:
// the requests sent so far go to every new attempt, each new request and
// the half-close to every attempt in flight, and the first attempt to
// answer is committed, the others cancelled on the wire. As in
// hedge_test.go the server acts on the attempt number, and the tests wait
// for the server's events, not for time.

import (
	"context"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/grpc"
	grpcmd "google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/grpcactor/grpcactor/channel"
	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/resolver"
)

// hsServer is a grpc-go server for streaming hedged calls. Each attempt
// reads its requests; a stalled one (stall) never answers and waits for
// its context. Otherwise /hedge.Test/Client answers once at the end of the
// requests with what it received, and /hedge.Test/Bidi echoes each request
// once it has received want of them (so the race is decided only after
// that many were sent).
type hsServer struct {
	*hgServer
	stall func(attempt int) bool
	want  int
}

func hsStart(t *testing.T, want int, stall func(int) bool) *hsServer {
	t.Helper()
	s := &hsServer{hgServer: &hgServer{cancelled: map[int]chan struct{}{}, arrived: make(chan int, 16)}, stall: stall, want: want}
	s.addr = serveUnknown(t, s.handle)
	return s
}

func (s *hsServer) handle(_ any, stream grpc.ServerStream) error {
	ctx := stream.Context()
	n := 1
	if md, ok := grpcmd.FromIncomingContext(ctx); ok {
		if v := md.Get("grpc-previous-rpc-attempts"); len(v) > 0 {
			p, _ := strconv.Atoi(v[0])
			n = p + 1
		}
	}
	s.mu.Lock()
	s.attempts = append(s.attempts, n)
	s.mu.Unlock()
	s.arrived <- n
	method, _ := grpc.MethodFromServerStream(stream)
	bidi := method == "/hedge.Test/Bidi"
	stall := s.stall(n)
	var got []string
	echoed := 0
	for {
		m := new(wrapperspb.StringValue)
		err := stream.RecvMsg(m)
		if err == io.EOF {
			break
		}
		if err != nil {
			if ctx.Err() != nil {
				s.markCancelled(n)
			}
			return err
		}
		got = append(got, m.GetValue())
		if bidi && !stall && len(got) >= s.want {
			for ; echoed < len(got); echoed++ {
				if err := stream.SendMsg(wrapperspb.String(fmt.Sprintf("%d:%s", n, got[echoed]))); err != nil {
					return err
				}
			}
		}
	}
	if stall {
		<-ctx.Done()
		s.markCancelled(n)
		return ctx.Err()
	}
	if bidi {
		return nil
	}
	size := 0
	for _, v := range got {
		size += len(v)
	}
	return stream.SendMsg(wrapperspb.String(fmt.Sprintf("attempt %d: %d messages, %d bytes", n, len(got), size)))
}

// hsAwait waits (bounded by the test's timeout) until attempt n reached
// the server.
func hsAwait(t *testing.T, s *hsServer, n int) {
	t.Helper()
	for {
		select {
		case got := <-s.arrived:
			if got == n {
				return
			}
		case <-tctx(t).Done():
			t.Fatalf("attempt %d never reached the server (saw %v)", n, s.seen())
		}
	}
}

// A client-streaming call: the first attempt stalls; the hedge, opened
// after one request was sent, gets that one by replay and the others as
// they are sent, answers with all of them and wins; the stalled attempt is
// cancelled on the wire.
func TestHedgeClientStreamStalledFirst(t *testing.T) {
	s := hsStart(t, 0, func(n int) bool { return n == 1 })
	ch := dial(t, s.addr, channel.WithServiceConfig(hgConfig(`{"maxAttempts":2,"hedgingDelay":"0.02s"}`)))
	st, err := channel.StreamUnary[*wrapperspb.StringValue, *wrapperspb.StringValue](ch, "/hedge.Test/Client").Open(tctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Send(wrapperspb.String("a")); err != nil {
		t.Fatal(err)
	}
	hsAwait(t, s, 2) // the hedge is on the wire: what follows is sent during the race
	for _, v := range []string{"bb", "ccc"} {
		if err := st.Send(wrapperspb.String(v)); err != nil {
			t.Fatal(err)
		}
	}
	r, err := st.CloseAndRecv()
	if want := "attempt 2: 3 messages, 6 bytes"; err != nil || r.GetValue() != want {
		t.Fatalf("CloseAndRecv = %q, %v; want %q", r.GetValue(), err, want)
	}
	hgWaitCancelled(t, s.hgServer, 1)
	hgWantAttempts(t, s.hgServer, 1, 2)
}

// A bidirectional-streaming call: the hedge answers once it has two
// requests, the first replayed and the second sent during the race; a
// request sent after the commit goes to the winner alone; the stalled
// first attempt is cancelled on the wire.
func TestHedgeBidiStalledFirst(t *testing.T) {
	s := hsStart(t, 2, func(n int) bool { return n == 1 })
	ch := dial(t, s.addr, channel.WithServiceConfig(hgConfig(`{"maxAttempts":2,"hedgingDelay":"0.02s"}`)))
	st, err := channel.StreamStream[*wrapperspb.StringValue, *wrapperspb.StringValue](ch, "/hedge.Test/Bidi").Open(tctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Send(wrapperspb.String("a")); err != nil {
		t.Fatal(err)
	}
	hsAwait(t, s, 2)
	if err := st.Send(wrapperspb.String("b")); err != nil {
		t.Fatal(err)
	}
	var got []string
	for len(got) < 2 {
		r, err := st.Recv()
		if err != nil {
			t.Fatalf("Recv = %v after %v", err, got)
		}
		got = append(got, r.GetValue())
	}
	hgWaitCancelled(t, s.hgServer, 1) // committed: the loser is cancelled
	if err := st.Send(wrapperspb.String("c")); err != nil {
		t.Fatal(err)
	}
	if err := st.CloseSend(); err != nil {
		t.Fatal(err)
	}
	for {
		r, err := st.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("Recv = %v after %v", err, got)
		}
		got = append(got, r.GetValue())
	}
	if want := "2:a 2:b 2:c"; strings.Join(got, " ") != want {
		t.Fatalf("responses %v; want %s", got, want)
	}
	hgWantAttempts(t, s.hgServer, 1, 2)
}

// Requests past the 256 KiB retry buffer commit the call to an attempt on
// the wire (gRFC A6: the one on which the most was sent); the other is
// cancelled, no hedge follows, and the winner gets every request, those
// after the commit too.
func TestHedgeStreamBufferLimitCommits(t *testing.T) {
	t.Run("Open", func(t *testing.T) {
		hsBufferLimit(t, func(ch *channel.Channel) (func(string) error, func() (string, error)) {
			st, err := channel.StreamUnary[*wrapperspb.StringValue, *wrapperspb.StringValue](ch, "/hedge.Test/Client").Open(tctx(t))
			if err != nil {
				t.Fatal(err)
			}
			return func(v string) error { return st.Send(wrapperspb.String(v)) }, func() (string, error) {
				r, err := st.CloseAndRecv()
				return r.GetValue(), err
			}
		})
	})
	t.Run("Start", func(t *testing.T) {
		hsBufferLimit(t, func(ch *channel.Channel) (func(string) error, func() (string, error)) {
			ev := newHSStarted()
			call := channel.StreamUnary[*wrapperspb.StringValue, *wrapperspb.StringValue](ch, "/hedge.Test/Client").Start(tctx(t), ev.handler())
			ev.awaitCredit(t)
			return func(v string) error { return call.Send(wrapperspb.String(v)) }, func() (string, error) {
				if err := call.CloseSend(); err != nil {
					return "", err
				}
				if err := <-ev.end; err != nil {
					return "", err
				}
				return <-ev.msgs, nil
			}
		})
	})
}

// hsBufferLimit is TestHedgeStreamBufferLimitCommits with a call that
// open makes: its send and its half-close that returns the response.
func hsBufferLimit(t *testing.T, open func(*channel.Channel) (func(string) error, func() (string, error))) {
	s := hsStart(t, 0, func(int) bool { return false })
	ch := dial(t, s.addr, channel.WithServiceConfig(hgConfig(`{"maxAttempts":3,"hedgingDelay":"0s"}`)))
	send, finish := open(ch)
	big := strings.Repeat("x", 100<<10)
	arrived := map[int]bool{}
	for len(arrived) < 3 { // every attempt on the wire
		select {
		case n := <-s.arrived:
			arrived[n] = true
		case <-tctx(t).Done():
			t.Fatalf("server saw attempts %v; want 3", s.seen())
		}
	}
	for range 3 { // the third passes the limit
		if err := send(big); err != nil {
			t.Fatal(err)
		}
	}
	// Committed before the half-close: two attempts are cancelled.
	cancelled := map[int]bool{}
	for len(cancelled) < 2 {
		cases := []reflect.SelectCase{{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(tctx(t).Done())}}
		var ns []int
		for n := 1; n <= 3; n++ {
			if !cancelled[n] {
				cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(s.cancelCh(n))})
				ns = append(ns, n)
			}
		}
		i, _, _ := reflect.Select(cases)
		if i == 0 {
			t.Fatalf("attempts cancelled: %v; want two of 3", cancelled)
		}
		cancelled[ns[i-1]] = true
	}
	if err := send(big); err != nil { // after the commit
		t.Fatal(err)
	}
	r, err := finish()
	if err != nil {
		t.Fatal(err)
	}
	w := 0
	for n := 1; n <= 3; n++ {
		if !cancelled[n] {
			w = n
		}
	}
	if want := fmt.Sprintf("attempt %d: 4 messages, %d bytes", w, 4*len(big)); r != want {
		t.Fatalf("response %q; want %q (attempts cancelled: %v)", r, want, cancelled)
	}
	hgWantAttempts(t, s.hgServer, 1, 2, 3)
}

// hsStarted is a started streaming call's events, on buffered channels
// (the callbacks must not block).
type hsStarted struct {
	credit chan int
	msgs   chan string
	end    chan error
}

func newHSStarted() *hsStarted {
	return &hsStarted{credit: make(chan int, 64), msgs: make(chan string, 64), end: make(chan error, 1)}
}

func (h *hsStarted) handler() channel.StreamHandler[*wrapperspb.StringValue] {
	return channel.StreamHandler[*wrapperspb.StringValue]{
		OnSendCredit: func(n int) { h.credit <- n },
		OnMessage:    func(r *wrapperspb.StringValue) { h.msgs <- r.GetValue() },
		OnEnd:        func(_ *channel.Call, err error) { h.end <- err },
	}
}

// awaitCredit waits for the first send credit (bounded by the test's
// timeout); the tests send fewer requests than DefaultSendCredit.
func (h *hsStarted) awaitCredit(t *testing.T) {
	t.Helper()
	select {
	case <-h.credit:
	case <-tctx(t).Done():
		t.Fatal("no send credit")
	}
}

// The started forms (Start, with send credit) of the two tests above.
func TestHedgeStartedStreams(t *testing.T) {
	t.Run("ClientStream", func(t *testing.T) {
		s := hsStart(t, 0, func(n int) bool { return n == 1 })
		ch := dial(t, s.addr, channel.WithServiceConfig(hgConfig(`{"maxAttempts":2,"hedgingDelay":"0.02s"}`)))
		ev := newHSStarted()
		call := channel.StreamUnary[*wrapperspb.StringValue, *wrapperspb.StringValue](ch, "/hedge.Test/Client").Start(tctx(t), ev.handler())
		ev.awaitCredit(t)
		if err := call.Send(wrapperspb.String("a")); err != nil {
			t.Fatal(err)
		}
		hsAwait(t, s, 2)
		for _, v := range []string{"bb", "ccc"} {
			if err := call.Send(wrapperspb.String(v)); err != nil {
				t.Fatal(err)
			}
		}
		if err := call.CloseSend(); err != nil {
			t.Fatal(err)
		}
		if err := <-ev.end; err != nil {
			t.Fatal(err)
		}
		if got, want := <-ev.msgs, "attempt 2: 3 messages, 6 bytes"; got != want {
			t.Fatalf("response %q; want %q", got, want)
		}
		hgWaitCancelled(t, s.hgServer, 1)
		hgWantAttempts(t, s.hgServer, 1, 2)
	})
	t.Run("Bidi", func(t *testing.T) {
		s := hsStart(t, 2, func(n int) bool { return n == 1 })
		ch := dial(t, s.addr, channel.WithServiceConfig(hgConfig(`{"maxAttempts":2,"hedgingDelay":"0.02s"}`)))
		ev := newHSStarted()
		call := channel.StreamStream[*wrapperspb.StringValue, *wrapperspb.StringValue](ch, "/hedge.Test/Bidi").Start(tctx(t), ev.handler())
		ev.awaitCredit(t)
		if err := call.Send(wrapperspb.String("a")); err != nil {
			t.Fatal(err)
		}
		hsAwait(t, s, 2)
		if err := call.Send(wrapperspb.String("b")); err != nil {
			t.Fatal(err)
		}
		var got []string
		for len(got) < 2 {
			select {
			case m := <-ev.msgs:
				got = append(got, m)
			case err := <-ev.end:
				t.Fatalf("call ended %v after %v", err, got)
			}
		}
		hgWaitCancelled(t, s.hgServer, 1)
		if err := call.Send(wrapperspb.String("c")); err != nil {
			t.Fatal(err)
		}
		if err := call.CloseSend(); err != nil {
			t.Fatal(err)
		}
		if err := <-ev.end; err != nil {
			t.Fatal(err)
		}
		close(ev.msgs)
		for m := range ev.msgs {
			got = append(got, m)
		}
		if want := "2:a 2:b 2:c"; strings.Join(got, " ") != want {
			t.Fatalf("responses %v; want %s", got, want)
		}
		hgWantAttempts(t, s.hgServer, 1, 2)
	})
}

// Cancelling a blocking bidi call during the race cancels every attempt
// on the wire, and Recv ends CANCELLED.
func TestHedgeStreamCancelled(t *testing.T) {
	s := hsStart(t, 1, func(int) bool { return true })
	ch := dial(t, s.addr, channel.WithServiceConfig(hgConfig(`{"maxAttempts":2,"hedgingDelay":"0s"}`)))
	ctx, cancel := context.WithCancel(tctx(t))
	defer cancel()
	st, err := channel.StreamStream[*wrapperspb.StringValue, *wrapperspb.StringValue](ch, "/hedge.Test/Bidi").Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Send(wrapperspb.String("a")); err != nil {
		t.Fatal(err)
	}
	for range 2 { // both attempts on the wire, in either order
		select {
		case <-s.arrived:
		case <-tctx(t).Done():
			t.Fatalf("server saw attempts %v; want 2", s.seen())
		}
	}
	cancel()
	_, err = st.Recv()
	hgWantCode(t, err, codes.Canceled)
	hgWaitCancelled(t, s.hgServer, 1)
	hgWaitCancelled(t, s.hgServer, 2)
}

// Requests past the buffer's limit before any attempt is on the wire (a
// wait-for-ready call with no address yet): the request that passed it is
// kept, the next Send waits; the first attempt to open is committed with
// the whole buffer, and every request reaches it.
func TestHedgeStreamBufferLimitBeforeWire(t *testing.T) {
	s := hsStart(t, 0, func(int) bool { return false })
	r := resolver.NewManual()
	ch := dial(t, "manual:///hedge", channel.WithResolver(r),
		channel.WithServiceConfig(hgConfig(`{"maxAttempts":2,"hedgingDelay":"0s"}`)))
	st, err := channel.StreamUnary[*wrapperspb.StringValue, *wrapperspb.StringValue](ch, "/hedge.Test/Client").Open(tctx(t), channel.WaitForReady(true))
	if err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("x", 100<<10)
	for range 3 { // the third passes the limit: kept, as nothing is on the wire
		if err := st.Send(wrapperspb.String(big)); err != nil {
			t.Fatal(err)
		}
	}
	sent := make(chan error, 1)
	go func() { sent <- st.Send(wrapperspb.String(big)) }() // waits for the commit
	r.Update(resolver.Update{Addresses: []resolver.Address{{Addr: s.addr}}})
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	resp, err := st.CloseAndRecv()
	if err != nil {
		t.Fatal(err)
	}
	var w int
	if _, err := fmt.Sscanf(resp.GetValue(), "attempt %d:", &w); err != nil {
		t.Fatalf("response %q", resp.GetValue())
	}
	if want := fmt.Sprintf("attempt %d: 4 messages, %d bytes", w, 4*len(big)); resp.GetValue() != want {
		t.Fatalf("response %q; want %q", resp.GetValue(), want)
	}
}
