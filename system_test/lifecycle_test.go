package system_test

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/grpcactor/grpcactor/channel"
	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/status"
	"github.com/grpcactor/grpcactor/system_test/peers"
)

// Deadlines, cancellation, Close, wait-for-ready and unix sockets.

func TestDeadlines(t *testing.T) {
	ps := startProbeServer(t)
	s := dialStubs(t, ps.Addr())
	// short is ample for a first call that connects on a loaded machine,
	// and far from long.
	const short, long = 30 * time.Second, time.Hour

	// The deadline the server sees (from grpc-timeout) is the earlier of
	// the context's and channel.Timeout's.
	cases := []struct {
		name        string
		ctxTimeout  time.Duration
		callTimeout time.Duration // 0: no channel.Timeout
	}{
		{"ContextOnly", short, 0},
		{"TimeoutOnly", 0, short},
		{"TimeoutEarlier", long, short},
		{"ContextEarlier", short, long},
	}
	for _, c := range cases {
		t.Run("ServerSees/"+c.name, func(t *testing.T) {
			ctx := context.Background()
			if c.ctxTimeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, c.ctxTimeout)
				defer cancel()
			}
			opts := []channel.CallOption{probed(c.name)}
			if c.callTimeout > 0 {
				opts = append(opts, channel.Timeout(c.callTimeout))
			}
			start := time.Now()
			_, call, err := s.unary.WithCall(ctx, &simpleReq{ResponseSize: 1}, opts...)
			if err != nil {
				t.Fatal(err)
			}
			got := recvWithin(t, "probe", ps.probes)
			if !got.hasDeadline {
				t.Fatal("the server saw no deadline")
			}
			// The server's deadline is its receipt time plus grpc-timeout
			// (rounded up), so a little after start+short; a minute of
			// slack still tells the short deadline from the hour-long one.
			if limit := start.Add(short + time.Minute); got.deadline.After(limit) {
				t.Fatalf("the server's deadline is %v after the call started, want about %v (the earlier deadline)", got.deadline.Sub(start), short)
			}
			if _, ok := call.TimeRemaining(); !ok {
				t.Fatal("Call.TimeRemaining: no deadline")
			}
		})
	}

	t.Run("ServerSees/None", func(t *testing.T) {
		if _, err := s.unary.Call(context.Background(), &simpleReq{ResponseSize: 1}, probed("none")); err != nil {
			t.Fatal(err)
		}
		if got := recvWithin(t, "probe", ps.probes); got.hasDeadline {
			t.Fatalf("the server saw a deadline %v for a call without one", time.Until(got.deadline))
		}
	})

	// A call the server holds ends DEADLINE_EXCEEDED by whichever
	// deadline is earlier; the other one has not passed yet.
	t.Run("Expires/TimeoutEarlier", func(t *testing.T) {
		ctx := tctx(t)
		_, err := s.unary.Call(ctx, &simpleReq{}, held(), channel.Timeout(100*time.Millisecond))
		wantStatus(t, "held unary with Timeout(100ms)", err, codes.DeadlineExceeded, "")
		if ctx.Err() != nil {
			t.Fatalf("the context ended (%v): the channel.Timeout did not win", ctx.Err())
		}
	})
	t.Run("Expires/ContextEarlier", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		_, err := s.unary.Call(ctx, &simpleReq{}, held(), channel.Timeout(testTimeout))
		wantStatus(t, "held unary with a 100ms context", err, codes.DeadlineExceeded, "")
	})
	t.Run("Expires/Streaming", func(t *testing.T) {
		ctx := tctx(t)
		bs, err := s.duplex.Open(ctx, channel.Timeout(100*time.Millisecond))
		if err != nil {
			wantStatus(t, "Open", err, codes.DeadlineExceeded, "")
			return
		}
		// The server waits for a request that never comes.
		_, err = bs.Recv()
		wantStatus(t, "Recv", err, codes.DeadlineExceeded, "")
		if ctx.Err() != nil {
			t.Fatal("the context ended: the channel.Timeout did not win")
		}
	})
	t.Run("AlreadyExpired", func(t *testing.T) {
		ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
		defer cancel()
		_, err := s.unary.Call(ctx, &simpleReq{ResponseSize: 1})
		wantStatus(t, "unary with a past deadline", err, codes.DeadlineExceeded, "")
	})
}

func TestContextCancelledMidCall(t *testing.T) {
	ps := startProbeServer(t)
	s := dialStubs(t, ps.Addr())

	t.Run("Unary", func(t *testing.T) {
		ctx, cancel := context.WithCancel(tctx(t))
		defer cancel()
		errc := make(chan error, 1)
		go func() {
			_, err := s.unary.Call(ctx, &simpleReq{ResponseSize: 1}, held())
			errc <- err
		}()
		recvWithin(t, "held call at the server", ps.arrived)
		cancel()
		wantStatus(t, "unary cancelled mid-call", recvWithin(t, "call result", errc), codes.Canceled, "")
	})

	t.Run("Future", func(t *testing.T) {
		ctx, cancel := context.WithCancel(tctx(t))
		defer cancel()
		f := s.unary.Future(ctx, &simpleReq{ResponseSize: 1}, held())
		recvWithin(t, "held call at the server", ps.arrived)
		cancel()
		_, err := f.Result(tctx(t))
		wantStatus(t, "future cancelled mid-call", err, codes.Canceled, "")
		if f.Code() != codes.Canceled {
			t.Fatalf("Code %v", f.Code())
		}
	})

	t.Run("ClientStreamingIterator", func(t *testing.T) {
		ctx, cancel := context.WithCancel(tctx(t))
		defer cancel()
		sent := make(chan struct{})
		release := make(chan struct{})
		defer close(release)
		reqs := func(yield func(*inReq) bool) {
			if !yield(&inReq{Payload: zeros(10)}) {
				return
			}
			close(sent)
			<-release // an iterator that blocks: the call must not wait for it
		}
		errc := make(chan error, 1)
		go func() {
			_, err := s.streamIn.Call(ctx, reqs)
			errc <- err
		}()
		wait(t, "first request sent", sent)
		cancel()
		wantStatus(t, "client streaming cancelled mid-call", recvWithin(t, "call result", errc), codes.Canceled, "")
	})

	t.Run("Bidi", func(t *testing.T) {
		ctx, cancel := context.WithCancel(tctx(t))
		defer cancel()
		bs := openLive(t, ctx, s.duplex, pingReq(10, 10))
		errc := make(chan error, 1)
		go func() {
			_, err := bs.Recv() // blocks: the server waits for a request
			errc <- err
		}()
		cancel()
		wantStatus(t, "Recv cancelled mid-call", recvWithin(t, "Recv result", errc), codes.Canceled, "")
		if err := bs.Send(pingReq(1, 1)); err == nil {
			t.Fatal("Send after the call was cancelled succeeded")
		}
	})

	// After the call has ended, the channel still works.
	if _, err := s.unary.Call(tctx(t), &simpleReq{ResponseSize: 1}); err != nil {
		t.Fatalf("unary after the cancellations: %v", err)
	}
}

// A cancelled call ends by itself: Done closes, IsActive turns false and
// Code answers CANCELLED without anyone calling Recv.
func TestCancelEndsCall(t *testing.T) {
	t.Parallel()
	s := dialStubs(t, startServer(t, serverConfig{}).Addr())

	t.Run("CallCancel", func(t *testing.T) {
		t.Parallel()
		bs, err := s.duplex.Open(tctx(t))
		if err != nil {
			t.Fatal(err)
		}
		if !bs.Cancel() {
			t.Fatal("Cancel returned false for a call in progress")
		}
		waitFor(t, "bidi call end after Call.Cancel, with no Recv", bs.Done(), localBound)
		if bs.IsActive() || bs.Code() != codes.Canceled {
			t.Fatalf("after Cancel: IsActive %v, Code %v; want false, CANCELLED", bs.IsActive(), bs.Code())
		}
	})

	t.Run("ContextCancel", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(tctx(t))
		bs, err := s.duplex.Open(ctx)
		if err != nil {
			t.Fatal(err)
		}
		cancel()
		waitFor(t, "bidi call end after its context was cancelled, with no Recv", bs.Done(), localBound)
		if bs.Code() != codes.Canceled {
			t.Fatalf("Code %v, want CANCELLED", bs.Code())
		}
	})

	t.Run("ClientStreamCancel", func(t *testing.T) {
		t.Parallel()
		cs, err := s.streamIn.Open(tctx(t))
		if err != nil {
			t.Fatal(err)
		}
		cs.Cancel()
		waitFor(t, "client-streaming call end after Call.Cancel, with no CloseAndRecv", cs.Done(), localBound)
		if cs.Code() != codes.Canceled {
			t.Fatalf("Code %v, want CANCELLED", cs.Code())
		}
	})
}

func TestClose(t *testing.T) {
	t.Run("CallsInProgressEndCancelled", func(t *testing.T) {
		ps := startProbeServer(t)
		ch := dial(t, ps.Addr())
		s := newStubs(ch)
		unaryErr := make(chan error, 1)
		go func() {
			_, err := s.unary.Call(tctx(t), &simpleReq{}, held())
			unaryErr <- err
		}()
		recvWithin(t, "held unary at the server", ps.arrived)
		fut := s.unary.Future(tctx(t), &simpleReq{}, held())
		recvWithin(t, "held future at the server", ps.arrived)
		bs := openLive(t, tctx(t), s.duplex, pingReq(1, 1))
		bidiErr := make(chan error, 1)
		go func() {
			_, err := bs.Recv()
			bidiErr <- err
		}()
		rs, err := s.streamOut.Call(tctx(t), serverStreamReq([]int{1}), held())
		if err != nil {
			t.Fatal(err)
		}
		recvWithin(t, "held server-streaming call at the server", ps.arrived)

		closed := make(chan struct{})
		go func() { ch.Close(); close(closed) }()
		wait(t, "Close", closed)

		wantStatus(t, "unary in progress at Close", recvWithin(t, "unary result", unaryErr), codes.Canceled, "")
		_, err = fut.Result(tctx(t))
		wantStatus(t, "future in progress at Close", err, codes.Canceled, "")
		wantStatus(t, "bidi Recv in progress at Close", recvWithin(t, "bidi result", bidiErr), codes.Canceled, "")
		_, err = rs.Recv()
		wantStatus(t, "server-streaming call in progress at Close", err, codes.Canceled, "")
	})

	t.Run("CallsAfterCloseFailAtOnce", func(t *testing.T) {
		ch := dial(t, startServer(t, serverConfig{}).Addr())
		s := newStubs(ch)
		if _, err := s.empty.Call(tctx(t), &empty{}); err != nil {
			t.Fatal(err)
		}
		if err := ch.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		// No deadline: a call that waited instead of failing would hang
		// the test (and the bounded context of each form catches that).
		ctx := tctx(t)
		_, err := s.unary.Call(ctx, &simpleReq{})
		wantStatus(t, "UnaryUnary.Call after Close", err, codes.Canceled, "")
		_, call, err := s.unary.WithCall(ctx, &simpleReq{})
		wantStatus(t, "UnaryUnary.WithCall after Close", err, codes.Canceled, "")
		if call != nil && call.Code() != codes.Canceled {
			t.Fatalf("WithCall's Call code %v", call.Code())
		}
		f := s.unary.Future(ctx, &simpleReq{})
		_, err = f.Result(ctx)
		wantStatus(t, "UnaryUnary.Future after Close", err, codes.Canceled, "")
		if f.Code() != codes.Canceled {
			t.Fatalf("Future.Code %v", f.Code())
		}
		_, err = s.streamOut.Call(ctx, serverStreamReq([]int{1}))
		wantStatus(t, "UnaryStream.Call after Close", err, codes.Canceled, "")
		_, err = s.streamIn.Call(ctx, clientStreamReqs([]int{1}))
		wantStatus(t, "StreamUnary.Call after Close", err, codes.Canceled, "")
		_, err = s.streamIn.Open(ctx)
		wantStatus(t, "StreamUnary.Open after Close", err, codes.Canceled, "")
		_, err = s.streamIn.Future(ctx, clientStreamReqs([]int{1})).Result(ctx)
		wantStatus(t, "StreamUnary.Future after Close", err, codes.Canceled, "")
		_, err = s.duplex.Open(ctx)
		wantStatus(t, "StreamStream.Open after Close", err, codes.Canceled, "")
		_, err = s.duplex.Call(ctx, func(func(*outReq) bool) {})
		wantStatus(t, "StreamStream.Call after Close", err, codes.Canceled, "")
		if st := ch.State(true); st != channel.Shutdown {
			t.Fatalf("State after Close: %v, want SHUTDOWN", st)
		}
	})

	t.Run("Twice", func(t *testing.T) {
		ch, err := channel.Insecure(startServer(t, serverConfig{}).Addr())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := channel.UnaryUnary[*empty, *empty](ch, mEmptyCall).Call(tctx(t), &empty{}); err != nil {
			t.Fatal(err)
		}
		if err := ch.Close(); err != nil {
			t.Fatalf("first Close: %v", err)
		}
		if err := ch.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
	})

	t.Run("Concurrent", func(t *testing.T) {
		ch, err := channel.Insecure(startServer(t, serverConfig{}).Addr())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := channel.UnaryUnary[*empty, *empty](ch, mEmptyCall).Call(tctx(t), &empty{}); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				if err := ch.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
		}
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		wait(t, "concurrent Close calls", done)
	})

	t.Run("NeverUsed", func(t *testing.T) {
		ch, err := channel.Insecure(deadPort(t))
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { ch.Close(); close(done) }()
		wait(t, "Close of an unused channel", done)
	})
}

func TestWaitForReady(t *testing.T) {
	t.Parallel()
	addr := deadPort(t)

	t.Run("FailFast", func(t *testing.T) {
		t.Parallel()
		s := dialStubs(t, addr)
		_, err := s.empty.Call(ctxWithin(t, connectBound), &empty{})
		st := wantStatus(t, "call to a port where nothing listens", err, codes.Unavailable, "")
		if d := strings.ToLower(st.Details()); !strings.Contains(d, "refused") {
			t.Fatalf("UNAVAILABLE message %q does not mention the connection error (connection refused)", st.Details())
		}
		// A streaming call fails the same way.
		bs, err := s.duplex.Open(ctxWithin(t, connectBound))
		if err == nil {
			_, err = bs.Recv()
		}
		wantStatus(t, "streaming call to a port where nothing listens", err, codes.Unavailable, "")
	})

	t.Run("WaitForReady", func(t *testing.T) {
		t.Parallel()
		s := dialStubs(t, addr)
		ctx := ctxWithin(t, connectBound)
		_, err := s.empty.Call(ctx, &empty{}, channel.WaitForReady(true), channel.Timeout(200*time.Millisecond))
		wantStatus(t, "wait-for-ready call to a port where nothing listens", err, codes.DeadlineExceeded, "")
		if ctx.Err() != nil {
			t.Fatal("the test's context ended first")
		}
	})

	t.Run("WaitForReadyCancelled", func(t *testing.T) {
		t.Parallel()
		s := dialStubs(t, addr)
		ctx, cancel := context.WithCancel(ctxWithin(t, connectBound))
		f := s.empty.Future(ctx, &empty{}, channel.WaitForReady(true))
		cancel()
		_, err := f.Result(ctxWithin(t, connectBound))
		wantStatus(t, "cancelled wait-for-ready call", err, codes.Canceled, "")
	})

	t.Run("WaitForReadyThenServerAppears", func(t *testing.T) {
		t.Parallel()
		// A wait-for-ready call through TRANSIENT_FAILURE succeeds once a
		// server listens at the address.
		addr := deadPort(t)
		s := dialStubs(t, addr, channel.WithConnectBackoff(20*time.Millisecond, 100*time.Millisecond, time.Second))
		_, err := s.empty.Call(ctxWithin(t, connectBound), &empty{})
		wantStatus(t, "fail-fast call before the server starts", err, codes.Unavailable, "")
		f := s.empty.Future(ctxWithin(t, connectBound), &empty{}, channel.WaitForReady(true))
		startServer(t, serverConfig{Addr: addr})
		if _, err := f.Result(ctxWithin(t, connectBound)); err != nil {
			t.Fatalf("wait-for-ready call after the server started: %v", err)
		}
	})
}

// connectBound bounds calls to a local address where nothing listens, or
// will listen soon: a refused connection is reported at once, and the
// tests' reconnect backoff is short.
const connectBound = 5 * time.Second

func TestUnixSocket(t *testing.T) {
	path := peers.StartGoInteropUnix(t)
	if !filepath.IsAbs(path) {
		t.Fatalf("socket path %q is not absolute", path)
	}
	for _, target := range []string{"unix:" + path, "unix://" + path} {
		t.Run(target, func(t *testing.T) {
			s := dialStubs(t, target)
			doLargeUnary(t, s)
			doEmptyUnary(t, s)
			doPingPong(t, s)
		})
	}
}

// channel.Timeout(d) "ends the call DEADLINE_EXCEEDED after d": with d <= 0
// the deadline has already passed, as with context.WithTimeout(ctx, 0) and
// grpcio's timeout=0.
func TestTimeoutNonPositive(t *testing.T) {
	t.Parallel()
	ps := startProbeServer(t)
	s := dialStubs(t, ps.Addr())
	doEmptyUnary(t, s)
	for _, d := range []time.Duration{0, -time.Second} {
		t.Run(d.String(), func(t *testing.T) {
			t.Parallel()
			// The test's own bound is a cancellation, not a deadline, so
			// that no deadline but channel.Timeout's can end the call
			// DEADLINE_EXCEEDED (the server holds it until cancelled).
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			timer := time.AfterFunc(localBound, cancel)
			defer timer.Stop()
			_, err := s.unary.Call(ctx, &simpleReq{}, held(), channel.Timeout(d))
			if ctx.Err() != nil {
				t.Fatalf("channel.Timeout(%v) set no deadline: the call ran until the test cancelled it after %v (%v)", d, localBound, err)
			}
			wantStatus(t, "held call with Timeout("+d.String()+")", err, codes.DeadlineExceeded, "")
		})
	}
}

// Close while many calls are in flight: every call ends, OK or CANCELLED.
func TestCloseDuringConcurrentCalls(t *testing.T) {
	ch := dial(t, startServer(t, serverConfig{}).Addr())
	s := newStubs(ch)
	doEmptyUnary(t, s)
	const workers = 200
	var wg sync.WaitGroup
	started := make(chan struct{}, workers)
	codesSeen := make(chan codes.Code, workers)
	ctx := tctx(t)
	for i := range workers {
		wg.Go(func() {
			started <- struct{}{}
			for {
				var err error
				switch i % 3 {
				case 0:
					_, err = s.unary.Call(ctx, &simpleReq{ResponseSize: 100, Payload: zeros(100)})
				case 1:
					var rs *channel.ResponseStream[*outResp]
					rs, err = s.streamOut.Call(ctx, serverStreamReq([]int{10, 10}))
					if err == nil {
						for _, e := range rs.All() {
							err = e
						}
					}
				case 2:
					_, err = s.streamIn.Call(ctx, clientStreamReqs([]int{10, 10}))
				}
				if err != nil {
					codesSeen <- status.Code(err)
					return
				}
			}
		})
	}
	for range workers {
		recvWithin(t, "worker start", started)
	}
	ch.Close()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	wait(t, "every call after Close", done)
	close(codesSeen)
	counts := map[codes.Code]int{}
	for c := range codesSeen {
		counts[c]++
	}
	for c, n := range counts {
		if c != codes.Canceled {
			t.Errorf("%d calls in flight at Close ended %v, want CANCELLED (all: %v)", n, c, counts)
		}
	}
}

// After the server goes away and comes back on the same address, the
// channel reconnects: calls fail UNAVAILABLE meanwhile, then succeed.
func TestReconnectAfterServerRestart(t *testing.T) {
	srv := startServer(t, serverConfig{})
	s := dialStubs(t, srv.Addr(), channel.WithConnectBackoff(20*time.Millisecond, 100*time.Millisecond, time.Second))
	doLargeUnary(t, s)
	if st := s.ch.State(false); st != channel.Ready {
		t.Fatalf("State after a call: %v, want READY", st)
	}

	// A stream open when the server stops ends UNAVAILABLE.
	bs := openLive(t, tctx(t), s.duplex, pingReq(1, 1))
	srv.Stop()
	_, err := bs.Recv()
	wantStatus(t, "stream when the server stopped", err, codes.Unavailable, "")

	srv.Start() // on the same address
	// Wait-for-ready calls ride out the reconnection.
	resp, err := largeUnary(tctx(t), s, channel.WaitForReady(true))
	if err != nil {
		t.Fatalf("call after the server came back: %v", err)
	}
	checkPayload(t, "after restart", resp.GetPayload(), largeRespSize)
	doPingPong(t, s)
}
