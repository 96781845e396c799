package system_test

// Connectivity of one channel to one grpc-go server: the state machine as
// subscribers see it, reconnection with backoff, fail-fast and
// wait-for-ready calls across a server's absence, readiness futures,
// WaitForStateChange, idleness, ResetConnectBackoff, Close and CloseGrace.

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"go.uber.org/goleak"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"

	"github.com/grpcactor/grpcactor/channel"
	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/futures"
	"github.com/grpcactor/grpcactor/internal/actorsys"
	"github.com/grpcactor/grpcactor/internal/leakcheck"
)

// A channel to a port where nothing listens goes IDLE → CONNECTING →
// TRANSIENT_FAILURE and keeps dialling with growing delays; a readiness
// future and a wait-for-ready call made meanwhile complete once a server
// starts on the port; when the server stops, the channel leaves READY,
// fail-fast calls fail UNAVAILABLE with the connection error while
// wait-for-ready calls wait, and both the channel and the waiting call
// recover when the server is back. Every state a subscriber saw, SHUTDOWN
// last, follows gRPC's connectivity semantics. Both with a static address
// list ("ipv4:") and with the default DNS scheme ("127.0.0.1:<port>"),
// which re-resolves after each failed pass over the addresses.
func TestConnectivityReconnectLifecycle(t *testing.T) {
	for _, scheme := range []string{"ipv4:", ""} {
		name := scheme
		if name == "" {
			name = "dns(default)"
		}
		t.Run(name, func(t *testing.T) { testReconnectLifecycle(t, scheme) })
	}
}

func testReconnectLifecycle(t *testing.T, scheme string) {
	addr := deadPort(t)
	dials := newDialRecorder()
	ch := dial(t, scheme+addr,
		channel.WithConnectBackoff(50*time.Millisecond, 400*time.Millisecond, time.Second),
		channel.WithDialer(dials.Dial))
	empty := newStubs(ch).empty
	rec := subscribeStates(ch, false)
	rec.WaitFor(t, channel.Idle, testTimeout)
	if dials.Count() != 0 {
		t.Fatalf("a new channel dialled %d times before anything asked it to connect", dials.Count())
	}

	// State(true) starts connecting; nothing listens, so the channel fails.
	if s := ch.State(true); s != channel.Idle {
		t.Fatalf("State(true) of a new channel = %v, want IDLE", s)
	}
	rec.WaitFor(t, channel.TransientFailure, testTimeout)
	if got := rec.States(); len(got) < 3 || got[0] != channel.Idle || got[1] != channel.Connecting || got[2] != channel.TransientFailure {
		t.Fatalf("subscriber saw %v, want IDLE, CONNECTING, TRANSIENT_FAILURE first", got)
	}

	// It keeps retrying, with growing delays (50 ms × 1.6ⁿ ± 20 %, capped
	// at 400 ms): compare the gaps loosely.
	dials.WaitCount(t, 8, 5*time.Second)
	times := dials.Times()
	var gaps []time.Duration
	for i := 1; i < len(times); i++ {
		gaps = append(gaps, times[i].Sub(times[i-1]))
	}
	t.Logf("gaps between dials: %v", gaps)
	if gaps[3] <= gaps[0] {
		t.Errorf("4th gap between dials (%v) is not larger than the 1st (%v): the backoff does not grow (gaps %v)", gaps[3], gaps[0], gaps)
	}
	for i, g := range gaps[:7] {
		if g > 2*time.Second {
			t.Errorf("gap %d between dials is %v, far above the 400 ms cap (gaps %v)", i+1, g, gaps)
		}
	}

	// A readiness future and a wait-for-ready call made while failing
	// complete when a server starts on the port.
	ready := channel.ReadyFuture(ch)
	wfr := empty.Future(tctx(t), &testgrpc.Empty{}, channel.WaitForReady(true))
	if _, err := ready.Result(ctxWithin(t, 100*time.Millisecond)); !errors.Is(err, futures.ErrTimeout) {
		t.Fatalf("ReadyFuture with no server: Result = %v, want futures.ErrTimeout", err)
	}
	srv := startServer(t, serverConfig{Addr: addr})
	if _, err := ready.Result(tctx(t)); err != nil {
		t.Fatalf("ReadyFuture after the server started: %v", err)
	}
	if _, err := wfr.Result(tctx(t)); err != nil {
		t.Fatalf("wait-for-ready call made before the server started: %v", err)
	}
	if s := ch.State(false); s != channel.Ready {
		t.Fatalf("State after ReadyFuture completed: %v, want READY", s)
	}

	// The server stops: the channel leaves READY.
	mark := rec.Len()
	srv.Stop()
	ctx := tctx(t)
	if s, err := ch.WaitForStateChange(ctx, channel.Ready); err != nil {
		t.Fatalf("WaitForStateChange(READY) after the server stopped: %v (state %v)", err, s)
	}
	// A fail-fast call fails UNAVAILABLE with the connection error.
	_, err := empty.Call(tctx(t), &testgrpc.Empty{})
	st := wantStatus(t, "fail-fast call with the server stopped", err, codes.Unavailable, "")
	if !strings.Contains(strings.ToLower(st.Details()), "refused") {
		t.Errorf("UNAVAILABLE message %q does not carry the connection error (connection refused)", st.Details())
	}
	rec.WaitAfter(t, mark, channel.TransientFailure, testTimeout)
	// A wait-for-ready call waits through further failed attempts.
	wfr = empty.Future(tctx(t), &testgrpc.Empty{}, channel.WaitForReady(true))
	dials.WaitCount(t, dials.Count()+2, 5*time.Second)
	select {
	case <-wfr.Done():
		_, err := wfr.Result(context.Background())
		t.Fatalf("wait-for-ready call ended (%v) while the server was down", err)
	default:
	}
	// The server is back: the waiting call succeeds, the channel is READY.
	srv.Start()
	if _, err := wfr.Result(tctx(t)); err != nil {
		t.Fatalf("wait-for-ready call after the server restarted: %v", err)
	}
	waitState(t, ch, channel.Ready, testTimeout)
	if _, err := empty.Call(tctx(t), &testgrpc.Empty{}); err != nil {
		t.Fatalf("call after recovery: %v", err)
	}

	// Close: SHUTDOWN last, readiness futures fail.
	ch.Close()
	rec.WaitFor(t, channel.Shutdown, testTimeout)
	if _, err := channel.ReadyFuture(ch).Result(tctx(t)); err == nil {
		t.Errorf("ReadyFuture of a closed channel succeeded")
	}
	checkSequence(t, "subscriber", rec.States(), channel.Idle, true)
	t.Logf("subscriber saw %v", rec.States())
}

// The same state changes reach a callback subscriber and an actor
// subscribed with SubscribePID (as *channel.ConnectivityChanged, Previous
// chained), both in an allowed order ending with SHUTDOWN; a subscriber
// actor that stops is dropped (no message to it afterwards, no panic);
// Unsubscribe of unknown or removed subscriptions does nothing, and no
// callback starts after Unsubscribe returns.
func TestConnectivitySubscribers(t *testing.T) {
	srv := startServer(t, serverConfig{})
	sys := actorsys.NewQuiet()
	// A static target: TestConnectivityReconnectLifecycle covers DNS ones.
	ch := dial(t, "ipv4:"+srv.Addr(), channel.WithActorSystem(sys),
		channel.WithConnectBackoff(20*time.Millisecond, 100*time.Millisecond, time.Second))
	empty := newStubs(ch).empty

	// An actor subscriber.
	msgs := make(chan *channel.ConnectivityChanged, 64)
	pid := sys.Root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
		if m, ok := c.Message().(*channel.ConnectivityChanged); ok {
			msgs <- m
		}
	}))
	// An actor that will stop, and dead letters addressed to it.
	quitter := sys.Root.Spawn(actor.PropsFromFunc(func(actor.Context) {}))
	dead := make(chan any, 64)
	es := sys.EventStream.Subscribe(func(ev any) {
		if d, ok := ev.(*actor.DeadLetterEvent); ok && d.PID.Equal(quitter) {
			if _, ok := d.Message.(*channel.ConnectivityChanged); ok {
				dead <- d.Message
			}
		}
	})
	defer sys.EventStream.Unsubscribe(es)

	rec := subscribeStates(ch, false)
	ch.SubscribePID(pid, false)
	ch.SubscribePID(quitter, false)
	// A subscriber whose callback blocks delays neither the channel nor
	// the other subscribers, and still gets every state, in order.
	slowGate := make(chan struct{})
	var releaseOnce sync.Once
	release := func() { releaseOnce.Do(func() { close(slowGate) }) }
	t.Cleanup(release)
	slowRec := newStateRecorder()
	ch.Subscribe(func(s channel.Connectivity) { slowRec.Add(s); <-slowGate }, false)
	unsubRec := newStateRecorder()
	unsub := ch.Subscribe(unsubRec.Add, false)
	unsubRec.WaitFor(t, channel.Idle, testTimeout)

	// Unsubscribe of what is not (or no longer) a subscription is a no-op.
	other := dial(t, srv.Addr())
	otherSub := other.Subscribe(func(channel.Connectivity) {}, false)
	ch.Unsubscribe(nil)
	ch.Unsubscribe(&channel.Subscription{})
	ch.Unsubscribe(otherSub)
	ch.Unsubscribe(unsub)
	ch.Unsubscribe(unsub)
	unsubCount := unsubRec.Len()

	// The quitting actor stops; the channel drops it.
	if err := sys.Root.StopFuture(quitter).Wait(); err != nil {
		t.Fatalf("stopping the subscriber actor: %v", err)
	}

	// READY.
	if _, err := empty.Call(tctx(t), &testgrpc.Empty{}); err != nil {
		t.Fatal(err)
	}
	rec.WaitFor(t, channel.Ready, testTimeout)
	// Loss: READY → IDLE.
	mark := rec.Len()
	srv.Stop()
	rec.WaitAfter(t, mark, channel.Idle, testTimeout)
	// A call on the IDLE channel: CONNECTING → TRANSIENT_FAILURE.
	_, err := empty.Call(tctx(t), &testgrpc.Empty{})
	wantStatus(t, "call with the server stopped", err, codes.Unavailable, "")
	rec.WaitAfter(t, mark, channel.TransientFailure, testTimeout)
	// Back: READY.
	srv.Start()
	mark = rec.Len()
	if _, err := empty.Call(tctx(t), &testgrpc.Empty{}, channel.WaitForReady(true)); err != nil {
		t.Fatalf("wait-for-ready call after restart: %v", err)
	}
	rec.WaitAfter(t, mark, channel.Ready, testTimeout)
	// Unsubscribe of unknown subscriptions again, after all this.
	ch.Unsubscribe(&channel.Subscription{})
	ch.Close()
	ch.Unsubscribe(unsub) // after Close: still a no-op
	rec.WaitFor(t, channel.Shutdown, testTimeout)

	states := rec.States()
	checkSequence(t, "callback subscriber", states, channel.Idle, true)
	t.Logf("callback subscriber saw %v", states)

	// The actor received the same sequence, Previous chained.
	var got []channel.Connectivity
	timer := time.NewTimer(testTimeout)
	defer timer.Stop()
	for len(got) == 0 || got[len(got)-1] != channel.Shutdown {
		select {
		case m := <-msgs:
			if m.Channel != ch {
				t.Errorf("ConnectivityChanged.Channel = %p, want %p", m.Channel, ch)
			}
			want := m.State
			if len(got) > 0 {
				want = got[len(got)-1]
			}
			if m.Previous != want {
				t.Errorf("ConnectivityChanged{%v, Previous %v}: want Previous %v", m.State, m.Previous, want)
			}
			got = append(got, m.State)
		case <-timer.C:
			t.Fatalf("actor subscriber: no SHUTDOWN within %v; got %v", testTimeout, got)
		}
	}
	if !equalStates(got, states) {
		t.Errorf("actor subscriber saw %v, callback subscriber %v", got, states)
	}

	if n := slowRec.Len(); n != 1 {
		t.Errorf("blocked callback subscriber: %d states delivered while its first callback was blocked, want 1", n)
	}
	release()
	slowRec.WaitFor(t, channel.Shutdown, testTimeout)
	if got := slowRec.States(); !equalStates(got, states) {
		t.Errorf("slow subscriber saw %v, the others %v", got, states)
	}

	if n := unsubRec.Len(); n != unsubCount {
		t.Errorf("unsubscribed callback got %d states after Unsubscribe returned (all: %v)", n-unsubCount, unsubRec.States())
	}
	select {
	case m := <-dead:
		t.Errorf("a stopped subscriber actor was still sent %+v", m)
	default:
	}
	other.Close()
}

// A subscription with tryToConnect starts connecting an IDLE channel, as
// State(true) does; without it, nothing connects.
func TestConnectivitySubscribeTryToConnect(t *testing.T) {
	srv := startServer(t, serverConfig{})
	sys := actorsys.NewQuiet()

	dials := newDialRecorder()
	passive := dial(t, srv.Addr(), channel.WithDialer(dials.Dial))
	prec := subscribeStates(passive, false)
	prec.WaitFor(t, channel.Idle, testTimeout)

	ch := dial(t, srv.Addr(), channel.WithActorSystem(sys))
	rec := subscribeStates(ch, true)
	rec.WaitFor(t, channel.Ready, testTimeout)
	checkSequence(t, "Subscribe(cb, true)", rec.States(), channel.Idle, false)

	ch2 := dial(t, srv.Addr(), channel.WithActorSystem(sys))
	ready := make(chan struct{})
	pid := sys.Root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
		if m, ok := c.Message().(*channel.ConnectivityChanged); ok && m.State == channel.Ready {
			close(ready)
		}
	}))
	defer sys.Root.Stop(pid)
	ch2.SubscribePID(pid, true)
	waitFor(t, "READY after SubscribePID(pid, true)", ready, testTimeout)

	if n := dials.Count(); n != 0 || passive.State(false) != channel.Idle {
		t.Errorf("a channel subscribed without tryToConnect dialled %d times (state %v)", n, passive.State(false))
	}
}

func equalStates(a, b []channel.Connectivity) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// WaitForStateChange returns at once when the state already differs (even
// with an ended context), and the context's error with the current state
// when the context ends first.
func TestConnectivityWaitForStateChange(t *testing.T) {
	ch := dial(t, deadPort(t))
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	s, err := ch.WaitForStateChange(cancelled, channel.Ready)
	if err != nil || s != channel.Idle {
		t.Fatalf("WaitForStateChange(cancelled ctx, READY) on an IDLE channel = %v, %v; want IDLE, nil", s, err)
	}
	s, err = ch.WaitForStateChange(cancelled, channel.Idle)
	if !errors.Is(err, context.Canceled) || s != channel.Idle {
		t.Fatalf("WaitForStateChange(cancelled ctx, IDLE) = %v, %v; want IDLE, context.Canceled", s, err)
	}
	ctx, cancel2 := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel2()
	start := time.Now()
	s, err = ch.WaitForStateChange(ctx, channel.Idle)
	if !errors.Is(err, context.DeadlineExceeded) || s != channel.Idle {
		t.Fatalf("WaitForStateChange(50ms ctx, IDLE) = %v, %v; want IDLE, context.DeadlineExceeded", s, err)
	}
	if el := time.Since(start); el < 40*time.Millisecond {
		t.Fatalf("WaitForStateChange returned after %v, before its context ended", el)
	}
	// A waiter is woken by a change.
	got := make(chan channel.Connectivity, 1)
	go func() {
		s, _ := ch.WaitForStateChange(tctx(t), channel.Idle)
		got <- s
	}()
	ch.State(true)
	select {
	case s := <-got:
		if s == channel.Idle {
			t.Fatalf("woken with IDLE")
		}
	case <-time.After(testTimeout):
		t.Fatal("WaitForStateChange not woken by State(true)")
	}
}

// With an idle timeout, a channel with no calls goes IDLE, but not while a
// call is active; the next call reconnects.
func TestConnectivityIdleTimeout(t *testing.T) {
	srv := startServer(t, serverConfig{})
	const idleTimeout = 200 * time.Millisecond
	ch := dial(t, srv.Addr(), channel.WithIdleTimeout(idleTimeout))
	empty := newStubs(ch).empty
	rec := subscribeStates(ch, false)

	// An active stream keeps the channel out of IDLE for well over the
	// timeout.
	bs, err := newStubs(ch).duplex.Open(tctx(t))
	if err != nil {
		t.Fatal(err)
	}
	waitState(t, ch, channel.Ready, testTimeout)
	ctx, cancel := context.WithTimeout(context.Background(), 700*time.Millisecond)
	s, err := ch.WaitForStateChange(ctx, channel.Ready)
	cancel()
	if err == nil {
		t.Fatalf("channel went %v while a stream was open", s)
	}
	if err := bs.CloseSend(); err != nil {
		t.Fatal(err)
	}
	if _, err := drainStream[*testgrpc.StreamingOutputCallResponse](bs); err != nil {
		t.Fatal(err)
	}

	// No calls: IDLE.
	if s, err := ch.WaitForStateChange(ctxWithin(t, 5*time.Second), channel.Ready); err != nil || s != channel.Idle {
		t.Fatalf("after the idle timeout with no calls: state %v (%v), want IDLE", s, err)
	}
	// The next call reconnects. The channel is READY after it, unless the
	// machine stalled for the whole idle timeout since the call ended (so
	// IDLE is accepted only once that long has passed since it started).
	started := time.Now()
	if _, err := empty.Call(tctx(t), &testgrpc.Empty{}); err != nil {
		t.Fatalf("call on the idled channel: %v", err)
	}
	if s := ch.State(false); s != channel.Ready && (s != channel.Idle || time.Since(started) < idleTimeout) {
		t.Fatalf("State after the call = %v, want READY", s)
	}
	if n := srv.calls.Load(); n != 2 {
		t.Errorf("server saw %d calls, want 2", n)
	}
	// And it idles again.
	if s, err := ch.WaitForStateChange(ctxWithin(t, 5*time.Second), channel.Ready); err != nil || s != channel.Idle {
		t.Fatalf("second idle: state %v (%v), want IDLE", s, err)
	}
	rec.closeAndCheck(t, ch, testTimeout)
	t.Logf("subscriber saw %v", rec.States())
}

// With a 30 s backoff (set by grpcio's option keys), ResetConnectBackoff
// makes the channel connect at once to a server that started meanwhile;
// until then the channel stays in TRANSIENT_FAILURE.
func TestConnectivityResetConnectBackoff(t *testing.T) {
	for _, scheme := range []string{"ipv4:", ""} {
		name := scheme
		if name == "" {
			name = "dns(default)"
		}
		t.Run(name, func(t *testing.T) { testResetConnectBackoff(t, scheme) })
	}
}

func testResetConnectBackoff(t *testing.T, scheme string) {
	addr := deadPort(t)
	dials := newDialRecorder()
	ch := dial(t, scheme+addr,
		channel.WithOption("grpc.initial_reconnect_backoff_ms", 30000),
		channel.WithOption("grpc.max_reconnect_backoff_ms", 60000),
		channel.WithOption("grpc.min_reconnect_backoff_ms", 1000),
		channel.WithDialer(dials.Dial))
	ch.State(true)
	waitState(t, ch, channel.TransientFailure, testTimeout)
	startServer(t, serverConfig{Addr: addr})
	// The backoff holds: no new attempt for a while.
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	s, err := ch.WaitForStateChange(ctx, channel.TransientFailure)
	cancel()
	if err == nil {
		t.Fatalf("channel left TRANSIENT_FAILURE (to %v) within 300 ms of a 30 s backoff", s)
	}
	if n := dials.Count(); n != 1 {
		t.Fatalf("%d dials during a 30 s backoff, want 1", n)
	}
	start := time.Now()
	ch.ResetConnectBackoff()
	waitState(t, ch, channel.Ready, 5*time.Second)
	t.Logf("READY %v after ResetConnectBackoff", time.Since(start))
	if _, err := newStubs(ch).empty.Call(tctx(t), &testgrpc.Empty{}); err != nil {
		t.Fatal(err)
	}
}

// CloseGrace lets a call in progress finish, fails new calls CANCELLED at
// once; with an ended context it cancels what is in progress.
func TestConnectivityCloseGrace(t *testing.T) {
	srv := startServer(t, serverConfig{})

	t.Run("CallFinishes", func(t *testing.T) {
		ch := dial(t, srv.Addr())
		empty := newStubs(ch).empty
		req := &testgrpc.StreamingOutputCallRequest{}
		for range 4 {
			req.ResponseParameters = append(req.ResponseParameters, &testgrpc.ResponseParameters{Size: 10, IntervalUs: 100_000})
		}
		rs, err := newStubs(ch).streamOut.Call(tctx(t), req)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := rs.Recv(); err != nil {
			t.Fatalf("first response: %v", err)
		}
		graceDone := make(chan error, 1)
		go func() { graceDone <- ch.CloseGrace(tctx(t)) }()
		// A new call during the grace period fails CANCELLED (calls that
		// started before CloseGrace did may still succeed).
		var newErr error
		for i := 0; ; i++ {
			_, newErr = empty.Call(tctx(t), &testgrpc.Empty{})
			if newErr != nil || i == 1000 {
				break
			}
		}
		wantStatus(t, "new call during CloseGrace", newErr, codes.Canceled, "")
		select {
		case err := <-graceDone:
			t.Fatalf("CloseGrace returned (%v) while a call was in progress", err)
		default:
		}
		n, err := drainStream[*testgrpc.StreamingOutputCallResponse](rs)
		if err != nil || n != 3 {
			t.Fatalf("the call in progress during CloseGrace: %d more responses, %v; want 3, OK", n, err)
		}
		select {
		case err := <-graceDone:
			if err != nil {
				t.Fatalf("CloseGrace = %v, want nil", err)
			}
		case <-time.After(testTimeout):
			t.Fatal("CloseGrace did not return after the last call ended")
		}
		if s := ch.State(false); s != channel.Shutdown {
			t.Fatalf("State after CloseGrace = %v, want SHUTDOWN", s)
		}
	})

	t.Run("ExpiredContext", func(t *testing.T) {
		ch := dial(t, srv.Addr())
		bs := openLive(t, tctx(t), newStubs(ch).duplex, &testgrpc.StreamingOutputCallRequest{ResponseParameters: []*testgrpc.ResponseParameters{{Size: 1}}})
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := ch.CloseGrace(ctx); !errors.Is(err, context.Canceled) {
			t.Errorf("CloseGrace(cancelled ctx) with a call in progress = %v, want context.Canceled", err)
		}
		_, err := bs.Recv()
		wantStatus(t, "call in progress after CloseGrace with an ended context", err, codes.Canceled, "")
		if s := ch.State(false); s != channel.Shutdown {
			t.Fatalf("State after CloseGrace = %v, want SHUTDOWN", s)
		}
	})
}

// Close of channels in every state — READY with a subscriber, a readiness
// future and an open stream; failing with a wait-for-ready call pending;
// never used — ends every call and future and leaves no goroutine behind.
func TestConnectivityCloseLeavesNoGoroutine(t *testing.T) {
	before := goleak.IgnoreCurrent()
	srv := startServer(t, serverConfig{})

	ready, err := channel.Insecure(srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	rec := subscribeStates(ready, true)
	if _, err := channel.ReadyFuture(ready).Result(tctx(t)); err != nil {
		t.Fatal(err)
	}
	bs, err := newStubs(ready).duplex.Open(tctx(t))
	if err != nil {
		t.Fatal(err)
	}

	failing, err := channel.Insecure("ipv4:"+deadPort(t), channel.WithConnectBackoff(20*time.Millisecond, 50*time.Millisecond, time.Second))
	if err != nil {
		t.Fatal(err)
	}
	failing.State(true)
	waitState(t, failing, channel.TransientFailure, testTimeout)
	pending := newStubs(failing).empty.Future(context.Background(), &testgrpc.Empty{}, channel.WaitForReady(true))
	readyF := channel.ReadyFuture(failing)

	unused, err := channel.Insecure(srv.Addr())
	if err != nil {
		t.Fatal(err)
	}

	for _, ch := range []*channel.Channel{ready, failing, unused} {
		done := make(chan struct{})
		go func() { ch.Close(); close(done) }()
		waitFor(t, "Close of "+ch.Target(), done, 5*time.Second)
	}
	_, err = bs.Recv()
	wantStatus(t, "stream open at Close", err, codes.Canceled, "")
	_, err = pending.Result(ctxWithin(t, 5*time.Second))
	wantStatus(t, "wait-for-ready call pending at Close", err, codes.Canceled, "")
	if _, err := readyF.Result(ctxWithin(t, 5*time.Second)); err == nil || errors.Is(err, futures.ErrTimeout) {
		t.Errorf("ReadyFuture pending at Close: %v, want a failure", err)
	}
	rec.WaitFor(t, channel.Shutdown, testTimeout)

	srv.Stop()
	leakcheck.VerifyNone(t, before)
}
