package resolver_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/grpcactor/grpcactor/channel"
	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/resolver"
	"github.com/grpcactor/grpcactor/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/interop"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
)

// bound is how long a test waits for what must happen before it gives up;
// never a timed assertion.
const bound = 30 * time.Second

// startServer runs grpc-go's interop TestService on a free loopback port
// until the test ends (or stop is called).
func startServer(t *testing.T) (addr string, stop func()) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer()
	testgrpc.RegisterTestServiceServer(s, interop.NewTestServer())
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Serve(lis)
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			s.Stop()
			<-done
		})
	}
	t.Cleanup(stop)
	return lis.Addr().String(), stop
}

// deadAddr returns a loopback address nothing listens on.
func deadAddr(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	return addr
}

// call makes an EmptyCall and returns the server address it reached.
func call(ctx context.Context, ch *channel.Channel, opts ...channel.CallOption) (string, error) {
	empty := channel.UnaryUnary[*testgrpc.Empty, *testgrpc.Empty](ch, "/grpc.testing.TestService/EmptyCall")
	_, c, err := empty.WithCall(ctx, &testgrpc.Empty{}, opts...)
	if err != nil {
		return "", err
	}
	return c.Peer(), nil
}

func open(t *testing.T, target string, opts ...channel.Option) *channel.Channel {
	t.Helper()
	ch, err := channel.Insecure(target, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ch.Close() })
	return ch
}

// recorder is a slog handler that hands every record's message to the
// test, in order.
type recorder struct{ msgs chan string }

func newRecorder() *recorder { return &recorder{msgs: make(chan string, 100)} }

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	msg := rec.Level.String() + " " + rec.Message
	rec.Attrs(func(a slog.Attr) bool {
		if a.Key == "error" {
			msg += ": " + a.Value.String()
		}
		return true
	})
	select {
	case r.msgs <- msg:
	default:
	}
	return nil
}
func (r *recorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *recorder) WithGroup(string) slog.Handler      { return r }

// await waits for a record whose text starts with prefix, skipping others.
func (r *recorder) await(t *testing.T, prefix string) string {
	t.Helper()
	timeout := time.After(bound)
	for {
		select {
		case m := <-r.msgs:
			if strings.HasPrefix(m, prefix) {
				return m
			}
		case <-timeout:
			t.Fatalf("no log record %q", prefix)
		}
	}
}

func TestManualPushesAddresses(t *testing.T) {
	a, _ := startServer(t)
	b, _ := startServer(t)
	m := resolver.NewManual()
	m.Update(resolver.Update{Addresses: []resolver.Address{{Addr: a}}})
	ch := open(t, "manual:///my-service", channel.WithResolver(m))
	if got := ch.Authority(); got != "my-service" {
		t.Errorf("Authority() = %q, want my-service (the endpoint)", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	if peer, err := call(ctx, ch); err != nil || peer != a {
		t.Fatalf("first call: peer %q, %v; want %s", peer, err, a)
	}
	target, err := m.WaitStarted(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := (resolver.Target{Scheme: "manual", Endpoint: "my-service", Raw: "manual:///my-service"}); target != want {
		t.Errorf("the resolver was started for %+v, want %+v", target, want)
	}
	// A new list without a: the channel moves to b (calls made before the
	// channel has read the update may still reach a).
	m.Update(resolver.Update{Addresses: []resolver.Address{{Addr: b}}})
	for {
		peer, err := call(ctx, ch, channel.WaitForReady(true))
		if err != nil {
			t.Fatalf("call after the update: %v", err)
		}
		if peer == b {
			break
		}
	}
}

func TestManualServiceConfig(t *testing.T) {
	a, _ := startServer(t)
	rec := newRecorder()
	m := resolver.NewManual()
	m.Update(resolver.Update{Addresses: []resolver.Address{{Addr: a}}})
	ch := open(t, "manual:///svc", channel.WithResolver(m), channel.WithLogger(slog.New(rec)))
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	if _, err := channel.ReadyFuture(ch).Result(ctx); err != nil {
		t.Fatal(err)
	}
	// A config whose timeout ends every call at once: calls then fail
	// DEADLINE_EXCEEDED, which shows it is in force.
	const tiny = `{"methodConfig":[{"name":[{"service":"grpc.testing.TestService"}],"timeout":"0.000000001s"}]}`
	m.Update(resolver.Update{Addresses: []resolver.Address{{Addr: a}}, ServiceConfig: tiny})
	rec.await(t, "INFO resolver's service config in force")
	if _, err := call(ctx, ch); status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("call under the resolver's config: %v, want DEADLINE_EXCEEDED", err)
	}
	// An invalid one is reported, and the last good one stays.
	m.Update(resolver.Update{Addresses: []resolver.Address{{Addr: a}}, ServiceConfig: `{"methodConfig":[{"timeout":"forever"}]}`})
	got := rec.await(t, "WARN resolver's service config is invalid")
	if !strings.Contains(got, "forever") {
		t.Errorf("the warning %q does not name the bad value", got)
	}
	if _, err := call(ctx, ch); status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("call after an invalid config: %v, want DEADLINE_EXCEEDED (the last good config)", err)
	}
	// A service config alone (no address list) keeps the addresses.
	m.Update(resolver.Update{ServiceConfig: `{}`})
	rec.await(t, "INFO resolver's service config in force")
	if peer, err := call(ctx, ch); err != nil || peer != a {
		t.Fatalf("call under an empty config: peer %q, %v; want %s", peer, err, a)
	}
}

func TestManualError(t *testing.T) {
	m := resolver.NewManual()
	m.ReportError(errors.New("registry unreachable"))
	ch := open(t, "manual:///svc", channel.WithResolver(m))
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	_, err := call(ctx, ch)
	st, _ := status.FromError(err)
	if st.Code() != codes.Unavailable || !strings.Contains(st.Details(), "registry unreachable") || !strings.Contains(st.Details(), `"manual:///svc"`) {
		t.Fatalf("call: %v; want UNAVAILABLE naming the target and the resolver's error", err)
	}
	// Addresses after the error: the channel recovers.
	a, _ := startServer(t)
	m.Update(resolver.Update{Addresses: []resolver.Address{{Addr: a}}})
	if peer, err := call(ctx, ch, channel.WaitForReady(true)); err != nil || peer != a {
		t.Fatalf("call after addresses came: peer %q, %v", peer, err)
	}
}

func TestReResolutionRequestsCounted(t *testing.T) {
	m := resolver.NewManual()
	m.Update(resolver.Update{Addresses: []resolver.Address{{Addr: deadAddr(t)}}})
	ch := open(t, "manual:///svc", channel.WithResolver(m), channel.WithLBPolicy("round_robin"),
		channel.WithDNSMinResolutionInterval(0), channel.WithConnectBackoff(time.Millisecond, time.Millisecond, time.Second))
	ch.State(true)
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	// Each failed connection asks for a re-resolution; the channel does
	// not wait for an answer to ask again.
	if err := m.WaitResolveNow(ctx, 3); err != nil {
		t.Fatalf("re-resolution requests: %d, want 3 or more: %v", m.ResolveNowCount(), err)
	}
	// The rate limit holds the requests back: the resolver's start counts
	// as a resolution, so with one an hour none follows within this test.
	m2 := resolver.NewManual()
	m2.Update(resolver.Update{Addresses: []resolver.Address{{Addr: deadAddr(t)}}})
	rec := newRecorder()
	ch2 := open(t, "manual:///svc", channel.WithResolver(m2), channel.WithLBPolicy("round_robin"), channel.WithLogger(slog.New(rec)),
		channel.WithDNSMinResolutionInterval(time.Hour), channel.WithConnectBackoff(time.Millisecond, time.Millisecond, time.Second))
	ch2.State(true)
	// Six failed connections: the channel has seen at least five (a
	// subchannel connects again only once the channel has its report).
	for range 6 {
		rec.await(t, "WARN connection failed")
	}
	if n := m2.ResolveNowCount(); n != 0 {
		t.Errorf("rate-limited re-resolution requests: %d, want 0", n)
	}
}

func TestResolverActorStops(t *testing.T) {
	a, _ := startServer(t)
	m := resolver.NewManual()
	m.Update(resolver.Update{Addresses: []resolver.Address{{Addr: a}}})
	ch := open(t, "manual:///svc", channel.WithResolver(m))
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	if _, err := call(ctx, ch); err != nil {
		t.Fatal(err)
	}
	m.Stop()
	for s := channel.Ready; s != channel.TransientFailure; {
		var err error
		if s, err = ch.WaitForStateChange(ctx, s); err != nil {
			t.Fatalf("the channel stayed %v after its resolver stopped", s)
		}
	}
	// Waiting calls fail too: nothing will ever come.
	_, err := call(ctx, ch, channel.WaitForReady(true))
	st, _ := status.FromError(err)
	if st.Code() != codes.Unavailable || !strings.Contains(st.Details(), "resolver") || !strings.Contains(st.Details(), "stopped") {
		t.Fatalf("call after the resolver stopped: %v; want UNAVAILABLE saying the resolver stopped", err)
	}
}

// pidResolver is a resolver actor of the user's own system, shared by
// channels: it answers Start with fixed addresses and reports the rest.
type pidResolver struct {
	addr     string
	starts   chan *actor.PID
	resolves chan struct{}
	stops    chan *actor.PID
}

func (r *pidResolver) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *resolver.Start:
		ctx.Send(m.Channel, &resolver.Update{Addresses: []resolver.Address{{Addr: r.addr}}})
		r.starts <- m.Channel
	case *resolver.ResolveNow:
		r.resolves <- struct{}{}
	case *resolver.Stop:
		r.stops <- m.Channel
	}
}

func TestPIDResolver(t *testing.T) {
	a, _ := startServer(t)
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(slog.DiscardHandler)
	}))
	r := &pidResolver{addr: a, starts: make(chan *actor.PID, 4), resolves: make(chan struct{}, 100), stops: make(chan *actor.PID, 4)}
	pid := sys.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return r }))
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()

	ch, err := channel.Insecure("shared:///svc", channel.WithActorSystem(sys), channel.WithResolver(resolver.ActorPID(pid)))
	if err != nil {
		t.Fatal(err)
	}
	if peer, err := call(ctx, ch); err != nil || peer != a {
		t.Fatalf("call: peer %q, %v", peer, err)
	}
	started := <-r.starts
	ch.Close()
	select {
	case stopped := <-r.stops:
		if !stopped.Equal(started) {
			t.Errorf("Stop named %v, Start %v", stopped, started)
		}
	case <-ctx.Done():
		t.Fatal("the resolver was not told the channel closed")
	}

	// The user's actor stops: the channel watching it fails its calls.
	ch2 := open(t, "shared:///svc", channel.WithActorSystem(sys), channel.WithResolver(resolver.ActorPID(pid)))
	if _, err := call(ctx, ch2); err != nil {
		t.Fatal(err)
	}
	if err := sys.Root.StopFuture(pid).Wait(); err != nil {
		t.Fatal(err)
	}
	for s := channel.Ready; s != channel.TransientFailure; {
		if s, err = ch2.WaitForStateChange(ctx, s); err != nil {
			t.Fatalf("the channel stayed %v after its resolver stopped", s)
		}
	}
	if _, err := call(ctx, ch2, channel.WaitForReady(true)); status.Code(err) != codes.Unavailable {
		t.Fatalf("call after the resolver stopped: %v, want UNAVAILABLE", err)
	}
}

func TestRegisterPollFunc(t *testing.T) {
	a, _ := startServer(t)
	var mu sync.Mutex
	var targets []resolver.Target
	resolver.Register("polltest", resolver.PollFunc(func(_ context.Context, t resolver.Target) resolver.Update {
		mu.Lock()
		defer mu.Unlock()
		targets = append(targets, t)
		return resolver.Update{Addresses: []resolver.Address{{Addr: a}}}
	}))
	ch := open(t, "polltest://zone-a/backend")
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	if peer, err := call(ctx, ch); err != nil || peer != a {
		t.Fatalf("call: peer %q, %v", peer, err)
	}
	mu.Lock()
	defer mu.Unlock()
	want := resolver.Target{Scheme: "polltest", Authority: "zone-a", Endpoint: "backend", Raw: "polltest://zone-a/backend"}
	if len(targets) != 1 || targets[0] != want {
		t.Errorf("polled with %+v, want once with %+v", targets, want)
	}
}

func TestBuildErrors(t *testing.T) {
	for _, tt := range []struct {
		name string
		b    resolver.Builder
		want string
	}{
		{"Build fails", resolver.BuilderFunc(func(resolver.Target) (resolver.Resolver, error) {
			return resolver.Resolver{}, errors.New("no such cluster")
		}), "no such cluster"},
		{"no form", resolver.BuilderFunc(func(resolver.Target) (resolver.Resolver, error) {
			return resolver.Resolver{}, nil
		}), "none of Poll, Props and PID"},
		{"nil PID", resolver.ActorPID(nil), "nil PID"},
	} {
		_, err := channel.Insecure("x:///y", channel.WithResolver(tt.b))
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), `"x:///y"`) {
			t.Errorf("%s: %v, want an error naming the target and %q", tt.name, err, tt.want)
		}
	}
	if _, err := channel.Insecure("unregistered:///y"); err == nil || !strings.Contains(err.Error(), "unknown scheme") {
		t.Errorf("unregistered scheme: %v, want unknown scheme", err)
	}
}

func TestRegisterRefusesBadSchemes(t *testing.T) {
	for _, s := range []string{"", "1abc", "a b", "a/b"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Register(%q) did not panic", s)
				}
			}()
			resolver.Register(s, resolver.NewManual())
		}()
	}
	resolver.Register("Mixed-Case+x.y", resolver.NewManual())
	if resolver.Get("mixed-case+X.Y") == nil {
		t.Error("Get is not case-insensitive")
	}
}

// A resolver actor that panics is stopped (the channel supervises its
// child that way) and counts as stopped: calls fail, none hangs.
func TestResolverActorPanics(t *testing.T) {
	b := resolver.BuilderFunc(func(resolver.Target) (resolver.Resolver, error) {
		return resolver.Resolver{Props: actor.PropsFromFunc(func(ctx actor.Context) {
			if _, ok := ctx.Message().(*resolver.Start); ok {
				panic("resolver bug")
			}
		})}, nil
	})
	ch := open(t, "buggy:///svc", channel.WithResolver(b))
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	_, err := call(ctx, ch, channel.WaitForReady(true))
	st, _ := status.FromError(err)
	if st.Code() != codes.Unavailable || !strings.Contains(st.Details(), `resolver of target "buggy:///svc" stopped`) {
		t.Fatalf("call: %v; want UNAVAILABLE saying the resolver stopped", err)
	}
	if s := ch.State(false); s != channel.TransientFailure {
		t.Errorf("state %v, want TRANSIENT_FAILURE", s)
	}
}

// Opening, using and closing channels with a Manual resolver sends
// nothing to an actor that is gone: the resolver child is stopped before
// the channel, and its updates stop with it.
func TestCloseSendsNoDeadLetters(t *testing.T) {
	a, _ := startServer(t)
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(slog.DiscardHandler)
	}))
	var mu sync.Mutex
	var dead []string
	sub := sys.EventStream.Subscribe(func(ev any) {
		if e, ok := ev.(*actor.DeadLetterEvent); ok {
			mu.Lock()
			dead = append(dead, fmt.Sprintf("%T to %v", e.Message, e.PID))
			mu.Unlock()
		}
	})
	defer sys.EventStream.Unsubscribe(sub)
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	for i := range 50 {
		m := resolver.NewManual()
		m.Update(resolver.Update{Addresses: []resolver.Address{{Addr: a}}})
		ch, err := channel.Insecure("manual:///svc", channel.WithActorSystem(sys), channel.WithResolver(m))
		if err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			if _, err := call(ctx, ch); err != nil {
				t.Fatal(err)
			}
		} else {
			ch.State(true) // close while the resolver starts
		}
		ch.Close()
		m.Update(resolver.Update{Addresses: []resolver.Address{{Addr: a}}}) // after Close: kept, sent nowhere
	}
	mu.Lock()
	defer mu.Unlock()
	if len(dead) > 0 {
		t.Fatalf("%d dead letters; first: %q", len(dead), dead[:min(len(dead), 5)])
	}
}
