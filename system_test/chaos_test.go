package system_test

// The chaos suite: grpc-go interop servers in child processes killed with
// SIGKILL and started again, and connections delayed, throttled, stalled,
// blackholed, cut, reset and refused by the fault proxy of package chaos.
//
// Each case asserts outcomes and order (which code every call ends with,
// which connectivity transitions a subscriber sees, that memory and
// goroutines come back), never how fast something happened: the times the
// issue names (calls end within 100 ms of a kill, ...) are measured and
// logged with t.Logf, and only generous bounds (seconds) fail a test, so
// that a loaded 2-core CI machine does not make them flake.

import (
	"context"
	"fmt"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"

	"github.com/grpcactor/grpcactor/channel"
	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/internal/actorsys"
	"github.com/grpcactor/grpcactor/internal/leakcheck"
	"github.com/grpcactor/grpcactor/status"
	"github.com/grpcactor/grpcactor/system_test/chaos"
)

// chaosBound is the failure limit of the chaos tests' waits for something
// that must happen; what they measure is logged.
const chaosBound = 20 * time.Second

// chaosBackoff makes channels reconnect quickly: 100 ms first delay, 1 s cap.
func chaosBackoff() channel.Option {
	return channel.WithConnectBackoff(100*time.Millisecond, time.Second, 5*time.Second)
}

// chaosHold is the call option that makes the child server hold a call.
func chaosHold() channel.CallOption {
	return channel.Metadata(map[string][]string{chaos.HoldKey: {"1"}})
}

// chaosEnd is how one call ended and when.
type chaosEnd struct {
	kind string
	err  error
	at   time.Time
}

// chaosHeldCalls starts unary, server-streaming and bidi calls that the
// child server holds, and returns where each reports its end. A streaming
// call ends when Recv fails or the stream ends.
func chaosHeldCalls(ctx context.Context, s *stubs, unary, serverStreams, bidi int, opts ...channel.CallOption) <-chan chaosEnd {
	ends := make(chan chaosEnd, unary+serverStreams+bidi)
	opts = append([]channel.CallOption{chaosHold()}, opts...)
	report := func(kind string, err error) { ends <- chaosEnd{kind, err, time.Now()} }
	for range unary {
		go func() {
			_, err := s.empty.Call(ctx, &empty{}, opts...)
			report("unary", err)
		}()
	}
	for range serverStreams {
		go func() {
			st, err := s.streamOut.Call(ctx, &outReq{ResponseParameters: []*rp{{Size: 1}}}, opts...)
			if err == nil {
				_, err = drainStream(st)
			}
			report("server-streaming", err)
		}()
	}
	for range bidi {
		go func() {
			bs, err := s.duplex.Open(ctx, opts...)
			if err == nil {
				_ = bs.Send(&outReq{ResponseParameters: []*rp{{Size: 1}}})
				_, err = drainStream(bs)
			}
			report("bidi", err)
		}()
	}
	return ends
}

// chaosCollect receives n ends, failing the test after d, and checks that
// every one is a *status.Error with code. It returns when the last one
// ended and the distinct messages (each prefixed with the first call kind
// that ended with it).
func chaosCollect(t *testing.T, what string, ends <-chan chaosEnd, n int, code codes.Code, d time.Duration) (last time.Time, details []string) {
	t.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	seen := map[string]bool{}
	for i := range n {
		select {
		case e := <-ends:
			if e.at.After(last) {
				last = e.at
			}
			st, ok := status.FromError(e.err)
			if e.err == nil || !ok || st == nil || st.Code() != code {
				t.Errorf("%s: a %s call ended with %v, want %v", what, e.kind, e.err, code)
				continue
			}
			if !seen[st.Details()] {
				seen[st.Details()] = true
				details = append(details, e.kind+": "+st.Details())
			}
		case <-timer.C:
			t.Fatalf("%s: %d of %d calls still running after %v", what, n-i, n, d)
		}
	}
	sort.Strings(details)
	return last, details
}

// rp is the interop ResponseParameters message.
type rp = testgrpc.ResponseParameters

// A server killed with SIGKILL while 150 calls of every kind are in flight
// on it: every call ends UNAVAILABLE, promptly; the channel leaves READY,
// retries with its backoff while the server is down, and is READY again
// soon after the server is back. The subscriber sees only allowed
// transitions.
func TestChaosServerKilledDuringCalls(t *testing.T) {
	t.Parallel()
	srv := chaos.StartServer(t)
	ch := dial(t, srv.Addr(), chaosBackoff())
	rec := subscribeStates(ch, false)
	s := newStubs(ch)
	ctx := ctxWithin(t, 2*chaosBound)
	if _, err := s.empty.Call(ctx, &empty{}); err != nil {
		t.Fatalf("first call: %v", err)
	}

	const unary, serverStreams, bidi = 100, 25, 25
	ends := chaosHeldCalls(ctx, s, unary, serverStreams, bidi)
	srv.WaitHeld(t, unary+serverStreams+bidi, chaosBound)
	mark := rec.Len()
	killed := time.Now()
	srv.Kill()
	last, details := chaosCollect(t, "calls in flight on the killed server", ends, unary+serverStreams+bidi, codes.Unavailable, chaosBound)
	t.Logf("all %d calls ended UNAVAILABLE %v after the kill began; messages: %q", unary+serverStreams+bidi, last.Sub(killed), details)
	rec.WaitAfter(t, mark, channel.Idle, chaosBound)

	// While the server is down the channel tries, fails and backs off.
	mark = rec.Len()
	ch.State(true)
	rec.WaitAfter(t, mark, channel.TransientFailure, chaosBound)
	_, err := s.empty.Call(ctx, &empty{})
	wantStatus(t, "fail-fast call while the server is down", err, codes.Unavailable, "")

	mark = rec.Len()
	srv.Start()
	restarted := time.Now()
	rec.WaitAfter(t, mark, channel.Ready, chaosBound)
	t.Logf("READY %v after the server was started again (backoff 100 ms, ×1.6, cap 1 s)", time.Since(restarted))
	if _, err := s.empty.Call(ctx, &empty{}); err != nil {
		t.Fatalf("call after the restart: %v", err)
	}
	rec.closeAndCheck(t, ch, chaosBound)
}

// A server that goes silent behind a blackhole (sockets open, nothing
// delivered) is found out by keepalive: every call in flight ends
// UNAVAILABLE saying keepalive, within keepalive time + timeout (11 s) and
// some slack (the keepalive time runs from the last frame read, which may
// be before the blackhole began, so there is no lower bound to check);
// once the network heals a new call succeeds.
func TestChaosKeepaliveBlackhole(t *testing.T) {
	if testing.Short() {
		t.Skip("waits out a 10 s keepalive time")
	}
	t.Parallel()
	srv := chaos.StartServer(t)
	proxy := chaos.NewProxy(t, srv.Addr())
	const kaTime, kaTimeout = 10 * time.Second, time.Second
	ch := dial(t, proxy.Addr(), chaosBackoff(), channel.WithKeepalive(channel.Keepalive{Time: kaTime, Timeout: kaTimeout}))
	s := newStubs(ch)
	ctx := ctxWithin(t, 3*chaosBound)
	if _, err := s.empty.Call(ctx, &empty{}); err != nil {
		t.Fatalf("first call: %v", err)
	}
	const unary, serverStreams, bidi = 10, 5, 5
	ends := chaosHeldCalls(ctx, s, unary, serverStreams, bidi)
	srv.WaitHeld(t, unary+serverStreams+bidi, chaosBound)
	proxy.Blackhole()
	start := time.Now()
	limit := kaTime + kaTimeout + chaosBound // the issue asks for +1 s; a loaded CI machine gets more
	last, details := chaosCollect(t, "calls behind a blackhole", ends, unary+serverStreams+bidi, codes.Unavailable, limit)
	el := last.Sub(start)
	t.Logf("all %d calls ended UNAVAILABLE %v after the blackhole began (keepalive %v + %v); messages: %q", unary+serverStreams+bidi, el, kaTime, kaTimeout, details)
	for _, d := range details {
		if !strings.Contains(strings.ToLower(d), "keepalive") {
			t.Errorf("UNAVAILABLE message %q does not say keepalive", d)
		}
	}
	proxy.Heal()
	if _, err := s.empty.Call(ctx, &empty{}, channel.WaitForReady(true)); err != nil {
		t.Fatalf("call after the network healed: %v", err)
	}
}

// Connections reset every 300 ms while 8 workers make wait-for-ready calls
// with a 2 s deadline: every call ends OK, UNAVAILABLE (it was on the reset
// connection) or DEADLINE_EXCEEDED, and none takes meaningfully longer than
// its deadline.
func TestChaosResetsUnderLoad(t *testing.T) {
	t.Parallel()
	srv := chaos.StartServer(t)
	proxy := chaos.NewProxy(t, srv.Addr())
	ch := dial(t, proxy.Addr(), chaosBackoff())
	s := newStubs(ch)
	ctx := ctxWithin(t, chaosBound)
	if _, err := s.empty.Call(ctx, &empty{}); err != nil {
		t.Fatalf("first call: %v", err)
	}

	const workers, deadline, resets = 8, 2 * time.Second, 15
	stop := make(chan struct{})
	var (
		mu         sync.Mutex
		byCode     = map[codes.Code]int{}
		maxOverrun time.Duration
		worst      time.Duration
	)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				start := time.Now()
				var err error
				if (w+i)%4 == 3 {
					var st *channel.ResponseStream[*outResp]
					st, err = s.streamOut.Call(context.Background(), &outReq{ResponseParameters: []*rp{{Size: 10}, {Size: 10}}}, channel.WaitForReady(true), channel.Timeout(deadline))
					if err == nil {
						_, err = drainStream(st)
					}
				} else {
					_, err = s.unary.Call(context.Background(), &simpleReq{ResponseSize: 100, Payload: zeros(100)}, channel.WaitForReady(true), channel.Timeout(deadline))
				}
				took := time.Since(start)
				code := codes.OK
				if err != nil {
					st, ok := status.FromError(err)
					if !ok || st == nil {
						t.Errorf("call error %v (%T) is not a *status.Error", err, err)
						return
					}
					code = st.Code()
				}
				mu.Lock()
				byCode[code]++
				maxOverrun = max(maxOverrun, took-deadline)
				worst = max(worst, took)
				mu.Unlock()
			}
		})
	}
	ticker := time.NewTicker(300 * time.Millisecond)
	resetConns := 0
	for range resets {
		<-ticker.C
		resetConns += proxy.Reset()
	}
	ticker.Stop()
	close(stop)
	wg.Wait()
	t.Logf("%d resets (%d connections) under %d workers: calls by code %v; slowest call %v (deadline %v, worst overrun %v)", resets, resetConns, workers, byCode, worst, deadline, maxOverrun)
	for code := range byCode {
		if code != codes.OK && code != codes.Unavailable && code != codes.DeadlineExceeded {
			t.Errorf("%d calls ended %v; want only OK, UNAVAILABLE or DEADLINE_EXCEEDED", byCode[code], code)
		}
	}
	if byCode[codes.OK] == 0 {
		t.Error("no call succeeded")
	}
	if maxOverrun > 3*time.Second {
		t.Errorf("a call took %v with a %v deadline", worst, deadline)
	}
	if resetConns < resets/3 {
		t.Errorf("only %d connections were reset in %d resets: the channel did not reconnect between them", resetConns, resets)
	}
	if _, err := s.empty.Call(ctxWithin(t, chaosBound), &empty{}, channel.WaitForReady(true)); err != nil {
		t.Fatalf("call after the resets: %v", err)
	}
}

// 20 restarts of the server under a subscriber: each time the channel
// leaves READY and comes back (half of the times through TRANSIENT_FAILURE
// and backoff, the server being down while it tries); the subscriber sees
// only allowed transitions and the channel ends READY.
func TestChaosRestartsWithSubscriber(t *testing.T) {
	t.Parallel()
	srv := chaos.StartServer(t)
	ch := dial(t, srv.Addr(), chaosBackoff())
	rec := subscribeStates(ch, false)
	s := newStubs(ch)
	const restarts = 20
	start := time.Now()
	for i := range restarts {
		if _, err := s.empty.Call(ctxWithin(t, chaosBound), &empty{}, channel.WaitForReady(true)); err != nil {
			t.Fatalf("restart %d: call: %v", i, err)
		}
		mark := rec.Len()
		srv.Kill()
		rec.WaitAfter(t, mark, channel.Idle, chaosBound)
		if i%2 == 1 {
			mark = rec.Len()
			ch.State(true)
			rec.WaitAfter(t, mark, channel.TransientFailure, chaosBound)
		}
		srv.Start()
	}
	if _, err := s.empty.Call(ctxWithin(t, chaosBound), &empty{}, channel.WaitForReady(true)); err != nil {
		t.Fatalf("call after %d restarts: %v", restarts, err)
	}
	waitState(t, ch, channel.Ready, chaosBound)
	states := rec.States()
	t.Logf("%d restarts in %v; %d states delivered", restarts, time.Since(start), len(states))
	if last := states[len(states)-1]; last != channel.Ready {
		t.Errorf("last state %v, want READY", last)
	}
	if n := strings.Count(fmt.Sprint(states), "READY"); n < restarts+1 {
		t.Errorf("READY delivered %d times, want %d (once per server incarnation)", n, restarts+1)
	}
	rec.closeAndCheck(t, ch, chaosBound)
}

// chaosSettle waits until the number of goroutines is at most want,
// failing the test after chaosBound, and returns it.
func chaosSettle(t *testing.T, what string, want int) int {
	t.Helper()
	n := leakcheck.SettledGoroutines(want, chaosBound)
	if n > want {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		t.Fatalf("%s: %d goroutines after %v, want at most %d (the baseline); goroutines:\n%s", what, n, chaosBound, want, buf)
	}
	return n
}

// chaosHeap returns the live heap after garbage collection.
func chaosHeap() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// chaosWarmRegistry fills sys's process registry the way a long-running
// process has: protoactor-go keeps its PIDs in 1,024 × 32 Go maps that
// never shrink, each of which allocates its first bucket (about 300 bytes)
// the first time a PID lands in it, so a young actor system's heap grows
// by up to ~9 MiB over its first few hundred thousand actors and then stays
// flat. Adding and removing 60,000 ids touches five in six of those maps;
// the few thousand PIDs of 500 channels then touch a few hundred more
// (about 0.2 MiB), well inside the test's 2 MiB.
func chaosWarmRegistry(sys *actor.ActorSystem) {
	var proc chaosNoProcess
	ids := make([]*actor.PID, 0, 1000)
	for i := 0; i < 60_000; i += cap(ids) {
		for j := range cap(ids) {
			pid, _ := sys.ProcessRegistry.Add(proc, "chaos-warm-"+strconv.Itoa(i+j))
			ids = append(ids, pid)
		}
		for _, pid := range ids {
			sys.ProcessRegistry.Remove(pid)
		}
		ids = ids[:0]
	}
}

// chaosNoProcess is a registry entry that is never sent anything.
type chaosNoProcess struct{}

func (chaosNoProcess) SendUserMessage(*actor.PID, interface{})   {}
func (chaosNoProcess) SendSystemMessage(*actor.PID, interface{}) {}
func (chaosNoProcess) Stop(*actor.PID)                           {}

// 500 channels opened, used and closed, 25 at a time: goroutines come back
// to the baseline and the live heap stays within 2 MiB of it. The channels
// run in an actor system of the test's own whose process registry is warmed
// first (chaosWarmRegistry): the registry's one-time growth is
// protoactor-go's, bounded, and not what this test looks for. Not
// parallel: it counts the process's goroutines.
func TestChaosOpenClose500Channels(t *testing.T) {
	srv := chaos.StartServer(t)
	sys := actorsys.NewQuiet()
	start := time.Now()
	chaosWarmRegistry(sys)
	t.Logf("registry warmed in %v", time.Since(start))
	ctx := ctxWithin(t, 5*chaosBound)
	cycle := func(i int) error {
		ch, err := channel.Insecure(srv.Addr(), channel.WithActorSystem(sys))
		if err != nil {
			return err
		}
		defer ch.Close()
		_, err = newStubs(ch).empty.Call(ctx, &empty{})
		if err != nil {
			return fmt.Errorf("channel %d: %w", i, err)
		}
		return nil
	}
	run := func(n, batch int) {
		for i := 0; i < n; i += batch {
			var wg sync.WaitGroup
			errs := make(chan error, batch)
			for j := range batch {
				wg.Go(func() {
					if err := cycle(i + j); err != nil {
						errs <- err
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
		}
	}
	run(50, 25) // warm-up: pools, grpc-go's codecs
	goroutines0 := chaosSettle(t, "after the warm-up", runtime.NumGoroutine())
	heap0 := chaosHeap()
	start = time.Now()
	run(500, 25)
	took := time.Since(start)
	goroutines1 := chaosSettle(t, "after 500 channels", goroutines0)
	heap1 := chaosHeap()
	t.Logf("500 channels opened, called and closed in %v; goroutines %d → %d; live heap %d → %d bytes (%+d)", took, goroutines0, goroutines1, heap0, heap1, int64(heap1)-int64(heap0))
	if heap1 > heap0+2<<20 {
		t.Errorf("live heap grew by %d bytes over 500 channels, want at most 2 MiB", heap1-heap0)
	}
}

// 10,000 fail-fast calls while the server is down all end UNAVAILABLE, and
// leave no goroutine and no memory behind. Not parallel: it counts the
// process's goroutines.
func TestChaosFailFastServerDown(t *testing.T) {
	srv := chaos.StartServer(t)
	ch := dial(t, srv.Addr(), chaosBackoff())
	s := newStubs(ch)
	if _, err := s.empty.Call(ctxWithin(t, chaosBound), &empty{}); err != nil {
		t.Fatalf("first call: %v", err)
	}
	srv.Kill()
	waitState(t, ch, channel.Idle, chaosBound)
	ch.State(true)
	waitState(t, ch, channel.TransientFailure, chaosBound)

	const calls, workers = 10000, 8
	fire := func(n int) map[codes.Code]int {
		var mu sync.Mutex
		byCode := map[codes.Code]int{}
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for i := w; i < n; i += workers {
					var err error
					switch i % 3 {
					case 0, 1:
						_, err = s.empty.Call(context.Background(), &empty{}, channel.Timeout(chaosBound))
					case 2:
						_, err = s.empty.Future(context.Background(), &empty{}, channel.Timeout(chaosBound)).Result(context.Background())
					}
					code := codes.OK
					if st, ok := status.FromError(err); err != nil && ok && st != nil {
						code = st.Code()
					} else if err != nil {
						code = codes.Unknown
					}
					mu.Lock()
					byCode[code]++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		return byCode
	}
	fire(200) // warm-up
	goroutines0 := chaosSettle(t, "after the warm-up", runtime.NumGoroutine())
	heap0 := chaosHeap()
	start := time.Now()
	byCode := fire(calls)
	took := time.Since(start)
	goroutines1 := chaosSettle(t, "after 10,000 fail-fast calls", goroutines0)
	heap1 := chaosHeap()
	t.Logf("%d fail-fast calls with the server down in %v (%v each): %v; goroutines %d → %d; live heap %d → %d bytes (%+d)",
		calls, took, took/calls, byCode, goroutines0, goroutines1, heap0, heap1, int64(heap1)-int64(heap0))
	if byCode[codes.Unavailable] != calls {
		t.Errorf("calls by code %v, want all %d UNAVAILABLE", byCode, calls)
	}
	if heap1 > heap0+2<<20 {
		t.Errorf("live heap grew by %d bytes over %d failed calls, want at most 2 MiB", heap1-heap0, calls)
	}
	srv.Start()
	if _, err := s.empty.Call(ctxWithin(t, chaosBound), &empty{}, channel.WaitForReady(true)); err != nil {
		t.Fatalf("call after the server came back: %v", err)
	}
}

// Large messages cross a slow, high-latency link whole: 4 MiB each way
// through 20 ms latency and 2 MB/s.
func TestChaosSlowLink(t *testing.T) {
	t.Parallel()
	srv := chaos.StartServer(t)
	proxy := chaos.NewProxy(t, srv.Addr())
	proxy.SetLatency(20 * time.Millisecond)
	proxy.SetBandwidth(2_000_000)
	ch := dial(t, proxy.Addr(), chaosBackoff(), channel.WithMaxReceiveMessageSize(8<<20))
	s := newStubs(ch)
	const size = 4 << 20
	start := time.Now()
	resp, err := s.unary.Call(ctxWithin(t, 3*chaosBound), &simpleReq{ResponseSize: size, Payload: zeros(size)})
	if err != nil {
		t.Fatalf("4 MiB each way over a 2 MB/s link: %v", err)
	}
	checkPayload(t, "4 MiB response", resp.GetPayload(), size)
	t.Logf("4 MiB each way over 2 MB/s with 20 ms latency: %v (%s)", time.Since(start), proxy)
}

// A stalled network (sockets open, nothing delivered) ends calls at their
// deadline with DEADLINE_EXCEEDED and leaves the connection usable once it
// flows again; a refused port makes fail-fast calls fail UNAVAILABLE and
// the channel READY again once it accepts.
func TestChaosStallCutAndRefuse(t *testing.T) {
	t.Parallel()
	srv := chaos.StartServer(t)
	proxy := chaos.NewProxy(t, srv.Addr())
	ch := dial(t, proxy.Addr(), chaosBackoff())
	s := newStubs(ch)
	ctx := ctxWithin(t, 2*chaosBound)
	if _, err := s.empty.Call(ctx, &empty{}); err != nil {
		t.Fatalf("first call: %v", err)
	}

	proxy.Stall()
	_, err := s.empty.Call(ctx, &empty{}, channel.Timeout(300*time.Millisecond))
	wantStatus(t, "call through a stalled network", err, codes.DeadlineExceeded, "")
	proxy.Resume()
	if _, err := s.empty.Call(ctx, &empty{}); err != nil {
		t.Fatalf("call after the network resumed: %v", err)
	}
	if n := proxy.Accepted(); n != 1 {
		t.Errorf("proxy accepted %d connections, want 1: the stall should not cost the connection", n)
	}

	ends := chaosHeldCalls(ctx, s, 5, 2, 2)
	srv.WaitHeld(t, 9, chaosBound)
	proxy.Refuse()
	proxy.Cut()
	_, details := chaosCollect(t, "calls on a cut connection", ends, 9, codes.Unavailable, chaosBound)
	t.Logf("calls on a cut connection: %q", details)
	waitState(t, ch, channel.Idle, chaosBound)
	ch.State(true)
	waitState(t, ch, channel.TransientFailure, chaosBound)
	_, err = s.empty.Call(ctx, &empty{})
	st := wantStatus(t, "fail-fast call while the port refuses", err, codes.Unavailable, "")
	if !strings.Contains(st.Details(), "refused") {
		t.Errorf("UNAVAILABLE message %q does not say the connection was refused", st.Details())
	}
	if err := proxy.Accept(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.empty.Call(ctx, &empty{}, channel.WaitForReady(true)); err != nil {
		t.Fatalf("call once the port accepts again: %v", err)
	}
	if got := ch.State(false); got != channel.Ready {
		t.Errorf("State = %v after a successful call, want READY", got)
	}
}

// A server killed under 8 workers making wait-for-ready calls: only a call
// that was on the wire when the server died may fail, so each worker fails
// at most once per kill (its next call waits for the restarted server). A
// call that was never sent must not fail on the dead connection the picker
// may still hold for a moment: it waits for the next connection (issue 8;
// before the fix it spent its unsent retries on that connection in
// microseconds and failed UNAVAILABLE, 2 runs in 3 without -race).
func TestChaosKillFailsOnlyCallsInFlight(t *testing.T) {
	t.Parallel()
	srv := chaos.StartServer(t)
	ch := dial(t, srv.Addr(), chaosBackoff())
	s := newStubs(ch)
	if _, err := s.empty.Call(ctxWithin(t, chaosBound), &empty{}); err != nil {
		t.Fatalf("first call: %v", err)
	}
	const workers, kills = 8, 5
	stop := make(chan struct{})
	var mu sync.Mutex
	var calls, failed int
	var messages []string
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				_, err := s.unary.Call(context.Background(), &simpleReq{ResponseSize: 10}, channel.WaitForReady(true), channel.Timeout(chaosBound))
				mu.Lock()
				calls++
				if err != nil {
					failed++
					if len(messages) < 20 {
						messages = append(messages, err.Error())
					}
				}
				mu.Unlock()
			}
		})
	}
	for range kills {
		mu.Lock()
		before := calls
		mu.Unlock()
		// Let the workers make some calls on the new connection first.
		for deadline := time.Now().Add(chaosBound); ; time.Sleep(10 * time.Millisecond) {
			mu.Lock()
			n := calls
			mu.Unlock()
			if n >= before+100 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("fewer than 100 calls in %v", chaosBound)
			}
		}
		srv.Restart()
	}
	close(stop)
	wg.Wait()
	t.Logf("%d calls, %d failed over %d kills: %q", calls, failed, kills, messages)
	if failed > workers*kills {
		t.Errorf("%d calls failed over %d kills with %d workers: more than one per worker per kill, so calls that were never sent failed", failed, kills, workers)
	}
}
