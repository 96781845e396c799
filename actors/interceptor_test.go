package actors_test

// Middleware actors (actors.Interceptor) against grpc-go's interop server:
// a token refresher, a rate limiter and an auditor on every kind of call,
// and the failures: reject, stopped, silent, panicking and confused actors.

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"

	"github.com/grpcactor/grpcactor/actors"
	"github.com/grpcactor/grpcactor/channel"
	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/interceptors"
	"github.com/grpcactor/grpcactor/metadata"
	"github.com/grpcactor/grpcactor/status"
)

// mwChannel opens a channel to addr in sys with ics attached.
func mwChannel(t *testing.T, sys *actor.ActorSystem, addr string, ics ...any) *channel.Channel {
	t.Helper()
	base, err := channel.Insecure(addr, channel.WithActorSystem(sys))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { base.Close() })
	ch, err := channel.Intercept(base, ics...)
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

// mwKinds makes one call of each kind on ch and returns each call's error,
// by kind name. Streams are read to their end.
func mwKinds(ctx context.Context, ch *channel.Channel, opts ...channel.CallOption) map[string]error {
	errs := map[string]error{}
	_, errs["UnaryUnary"] = channel.UnaryUnary[*testgrpc.SimpleRequest, *testgrpc.SimpleResponse](ch, mwSvc+"UnaryCall").
		Call(ctx, &testgrpc.SimpleRequest{ResponseSize: 3}, opts...)

	readAll := func(rs *channel.ResponseStream[*testgrpc.StreamingOutputCallResponse], err error) error {
		if err != nil {
			return err
		}
		for _, err := range rs.All() {
			if err != nil {
				return err
			}
		}
		return nil
	}
	errs["UnaryStream"] = readAll(channel.UnaryStream[*testgrpc.StreamingOutputCallRequest, *testgrpc.StreamingOutputCallResponse](ch, mwSvc+"StreamingOutputCall").
		Call(ctx, &testgrpc.StreamingOutputCallRequest{ResponseParameters: []*testgrpc.ResponseParameters{{Size: 1}, {Size: 2}}}, opts...))

	two := func(yield func(*testgrpc.StreamingInputCallRequest) bool) {
		_ = yield(&testgrpc.StreamingInputCallRequest{Payload: &testgrpc.Payload{Body: []byte("ab")}}) &&
			yield(&testgrpc.StreamingInputCallRequest{Payload: &testgrpc.Payload{Body: []byte("c")}})
	}
	_, errs["StreamUnary"] = channel.StreamUnary[*testgrpc.StreamingInputCallRequest, *testgrpc.StreamingInputCallResponse](ch, mwSvc+"StreamingInputCall").
		Call(ctx, two, opts...)

	var one iter.Seq[*testgrpc.StreamingOutputCallRequest] = func(yield func(*testgrpc.StreamingOutputCallRequest) bool) {
		yield(&testgrpc.StreamingOutputCallRequest{ResponseParameters: []*testgrpc.ResponseParameters{{Size: 1}}})
	}
	errs["StreamStream"] = readAll(channel.StreamStream[*testgrpc.StreamingOutputCallRequest, *testgrpc.StreamingOutputCallResponse](ch, mwSvc+"FullDuplexCall").
		Call(ctx, one, opts...))
	return errs
}

var mwMethods = map[string]string{
	"UnaryUnary":   "UnaryCall",
	"UnaryStream":  "StreamingOutputCall",
	"StreamUnary":  "StreamingInputCall",
	"StreamStream": "FullDuplexCall",
}

// mwRotate asks the token refresher for a new token.
type mwRotate struct{}

// mwTokenRefresher is a middleware actor that adds its current token to every
// call and makes a new one on mwRotate messages (its state lives in the actor).
func mwTokenRefresher() actor.ReceiveFunc {
	gen := 1
	return func(c actor.Context) {
		switch m := c.Message().(type) {
		case *actors.Intercept:
			d := m.Details
			if d.Metadata == nil {
				d.Metadata = metadata.MD{}
			}
			d.Metadata.Set("authorization", fmt.Sprintf("Bearer token-%d", gen))
			c.Respond(&actors.Proceed{Details: d})
		case mwRotate:
			gen++
			c.Respond(gen)
		}
	}
}

func TestMiddlewareTokenRefresher(t *testing.T) {
	sys := quietSystem()
	srv := startMWServer(t, nil)
	pid := mwSpawn(t, sys, mwTokenRefresher())
	ch := mwChannel(t, sys, srv.addr, actors.Interceptor(pid))
	ctx := mwCtx(t)

	for round := 1; round <= 2; round++ {
		for kind, err := range mwKinds(ctx, ch, channel.Metadata(metadata.Pairs("x-user", "u"))) {
			if err != nil {
				t.Errorf("round %d, %s: %v", round, kind, err)
			}
		}
		for kind, method := range mwMethods {
			seen := srv.seen(method)
			if len(seen) != round || seen[round-1] != fmt.Sprintf("Bearer token-%d", round) {
				t.Errorf("round %d, %s: server saw authorization %q, want token-%d last", round, kind, seen, round)
			}
		}
		if _, err := sys.Root.RequestFuture(pid, mwRotate{}, mwBound).Result(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestMiddlewareRateLimiter: a middleware actor that lets at most two calls
// run at once holds the others (keeping their senders) and lets the next
// one go when a call's CallDone arrives.
func TestMiddlewareRateLimiter(t *testing.T) {
	const limit, calls = 2, 6
	sys := quietSystem()
	gate := make(chan struct{})
	srv := startMWServer(t, gate)
	held := make(chan int, calls) // how many the limiter holds, after each change
	pid := mwSpawn(t, sys, func() actor.ReceiveFunc {
		running := 0
		var queue []*actor.PID
		return func(c actor.Context) {
			switch m := c.Message().(type) {
			case *actors.Intercept:
				if running < limit {
					running++
					c.Respond(&actors.Proceed{NotifyDone: true})
					return
				}
				queue = append(queue, c.Sender())
				held <- len(queue)
			case *actors.CallDone:
				running--
				if len(queue) > 0 {
					next := queue[0]
					queue = queue[1:]
					running++
					c.Send(next, &actors.Proceed{NotifyDone: true})
				}
				_ = m
			}
		}
	}())
	ch := mwChannel(t, sys, srv.addr, actors.Interceptor(pid))
	unary := channel.UnaryUnary[*testgrpc.SimpleRequest, *testgrpc.SimpleResponse](ch, mwSvc+"UnaryCall")
	ctx := mwCtx(t)

	var wg sync.WaitGroup
	errs := make(chan error, calls)
	for range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := unary.Call(ctx, &testgrpc.SimpleRequest{ResponseSize: 1})
			errs <- err
		}()
	}
	// Two calls reach the server and wait there; the limiter holds four.
	for n := 0; n < calls-limit; {
		select {
		case n = <-held:
		case <-ctx.Done():
			t.Fatalf("the limiter holds %d calls, want %d", n, calls-limit)
		}
	}
	for range limit {
		<-srv.arrived
	}
	close(gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if n, most := srv.counts(); n != calls || most > limit {
		t.Errorf("server saw %d calls, at most %d at once; want %d, at most %d", n, most, calls, limit)
	}
}

// TestMiddlewareHeldCallEnds: a call that ends while the middleware actor
// holds it is reported to the actor (CallDone with Unanswered), so that a
// limiter frees its place: after it, the next call proceeds at once.
func TestMiddlewareHeldCallEnds(t *testing.T) {
	sys := quietSystem()
	gate := make(chan struct{})
	srv := startMWServer(t, gate)
	type heldCall struct {
		id     uint64
		sender *actor.PID
	}
	dropped := make(chan uint64, 1)
	pid := mwSpawn(t, sys, func() actor.ReceiveFunc {
		running := map[uint64]bool{}
		var queue []heldCall
		return func(c actor.Context) {
			switch m := c.Message().(type) {
			case *actors.Intercept:
				if len(running) < 1 {
					running[m.ID] = true
					c.Respond(&actors.Proceed{NotifyDone: true})
					return
				}
				queue = append(queue, heldCall{m.ID, c.Sender()})
			case *actors.CallDone:
				for i, h := range queue {
					if h.id == m.ID {
						queue = append(queue[:i], queue[i+1:]...)
						dropped <- m.ID
						return
					}
				}
				delete(running, m.ID)
				if len(queue) > 0 {
					next := queue[0]
					queue = queue[1:]
					running[next.id] = true
					c.Send(next.sender, &actors.Proceed{NotifyDone: true})
				}
			}
		}
	}())
	ch := mwChannel(t, sys, srv.addr, actors.Interceptor(pid))
	unary := channel.UnaryUnary[*testgrpc.SimpleRequest, *testgrpc.SimpleResponse](ch, mwSvc+"UnaryCall")
	ctx := mwCtx(t)

	first := make(chan error, 1)
	go func() {
		_, err := unary.Call(ctx, &testgrpc.SimpleRequest{})
		first <- err
	}()
	<-srv.arrived // the first call holds the only place, at the server
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	_, err := unary.Call(short, &testgrpc.SimpleRequest{})
	wantMW(t, "held call", err, codes.DeadlineExceeded, pid, "")
	<-dropped // the limiter let go of it
	close(gate)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	// The place is free again.
	if _, err := unary.Call(ctx, &testgrpc.SimpleRequest{}); err != nil {
		t.Errorf("call after a held call ended: %v", err)
	}
}

// TestMiddlewareAuditor: the auditor asks for CallDone on every call and
// receives, for each kind, the call's code, details and duration.
func TestMiddlewareAuditor(t *testing.T) {
	sys := quietSystem()
	srv := startMWServer(t, nil)
	done := make(chan *actors.CallDone, 16)
	intercepts := map[uint64]actors.Kind{}
	var mu sync.Mutex
	pid := mwSpawn(t, sys, func(c actor.Context) {
		switch m := c.Message().(type) {
		case *actors.Intercept:
			mu.Lock()
			intercepts[m.ID] = m.Kind
			mu.Unlock()
			c.Respond(&actors.Proceed{NotifyDone: true})
		case *actors.CallDone:
			done <- m
		}
	})
	ch := mwChannel(t, sys, srv.addr, actors.Interceptor(pid))
	ctx := mwCtx(t)

	for kind, err := range mwKinds(ctx, ch) {
		if err != nil {
			t.Errorf("%s: %v", kind, err)
		}
	}
	got := map[string]*actors.CallDone{}
	for range 4 {
		d := <-done
		got[d.Kind.String()] = d
	}
	for kind, method := range mwMethods {
		d := got[kind]
		mu.Lock()
		k, ok := intercepts[d.ID]
		mu.Unlock()
		if d == nil || d.Code != codes.OK || d.Method != mwSvc+method || d.Duration <= 0 || !ok || k.String() != kind {
			t.Errorf("%s: CallDone %+v, want OK for %s with a duration and the ID of its Intercept", kind, d, method)
		}
	}

	// A failing call reports its status.
	_, err := channel.UnaryUnary[*testgrpc.SimpleRequest, *testgrpc.SimpleResponse](ch, mwSvc+"UnaryCall").
		Call(ctx, &testgrpc.SimpleRequest{ResponseStatus: &testgrpc.EchoStatus{Code: int32(codes.NotFound), Message: "no such thing"}})
	if status.Code(err) != codes.NotFound {
		t.Fatalf("call: %v, want NOT_FOUND", err)
	}
	if d := <-done; d.Code != codes.NotFound || d.Details != "no such thing" {
		t.Errorf("CallDone %+v, want NOT_FOUND \"no such thing\"", d)
	}

	// A cancelled stream reports CANCELLED.
	bidi, err := channel.StreamStream[*testgrpc.StreamingOutputCallRequest, *testgrpc.StreamingOutputCallResponse](ch, mwSvc+"FullDuplexCall").Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	bidi.Cancel()
	if d := <-done; d.Code != codes.Canceled || d.Kind != actors.KindStreamStream {
		t.Errorf("CallDone %+v, want CANCELLED for the bidi stream", d)
	}
}

// wantMW checks that err has code c and a message naming pid and want.
func wantMW(t *testing.T, what string, err error, c codes.Code, pid *actor.PID, want string) {
	t.Helper()
	st, _ := status.FromError(err)
	if st == nil || st.Code() != c || !strings.Contains(st.Details(), pid.String()) || !strings.Contains(st.Details(), want) {
		t.Errorf("%s: %v, want %v naming %s and saying %q", what, err, c, pid, want)
	}
}

func TestMiddlewareReject(t *testing.T) {
	sys := quietSystem()
	srv := startMWServer(t, nil)
	pid := mwSpawn(t, sys, func(c actor.Context) {
		if m, ok := c.Message().(*actors.Intercept); ok {
			if m.Details.Metadata.Get("x-user") == nil {
				c.Respond(&actors.Reject{Status: status.New(codes.PermissionDenied, "no user")})
				return
			}
			c.Respond(&actors.Proceed{})
		}
	})
	ch := mwChannel(t, sys, srv.addr, actors.Interceptor(pid))
	ctx := mwCtx(t)
	for kind, err := range mwKinds(ctx, ch) {
		if st, _ := status.FromError(err); st.Code() != codes.PermissionDenied || st.Details() != "no user" {
			t.Errorf("%s: %v, want PERMISSION_DENIED \"no user\"", kind, err)
		}
	}
	if n, _ := srv.counts(); n != 0 {
		t.Errorf("server saw %d calls, want none", n)
	}
	for kind, err := range mwKinds(ctx, ch, channel.Metadata(metadata.Pairs("x-user", "u"))) {
		if err != nil {
			t.Errorf("%s with a user: %v", kind, err)
		}
	}
}

// TestMiddlewareStopped: an actor that has stopped, or that stops holding a
// call, ends the call UNAVAILABLE with its PID in the message; the call to
// a later actor at a new PID works.
func TestMiddlewareStopped(t *testing.T) {
	sys := quietSystem()
	srv := startMWServer(t, nil)
	ctx := mwCtx(t)

	t.Run("before the call", func(t *testing.T) {
		pid := sys.Root.Spawn(actor.PropsFromFunc(mwTokenRefresher()))
		if err := sys.Root.StopFuture(pid).Wait(); err != nil {
			t.Fatal(err)
		}
		ch := mwChannel(t, sys, srv.addr, actors.Interceptor(pid))
		for kind, err := range mwKinds(ctx, ch) {
			wantMW(t, kind, err, codes.Unavailable, pid, "")
		}
	})
	t.Run("holding the call", func(t *testing.T) {
		pid := sys.Root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
			if _, ok := c.Message().(*actors.Intercept); ok {
				c.Stop(c.Self()) // and never answer
			}
		}))
		ch := mwChannel(t, sys, srv.addr, actors.Interceptor(pid))
		_, err := channel.UnaryUnary[*testgrpc.SimpleRequest, *testgrpc.SimpleResponse](ch, mwSvc+"UnaryCall").Call(ctx, &testgrpc.SimpleRequest{})
		wantMW(t, "unary", err, codes.Unavailable, pid, "stopped")
		// The next one finds it gone.
		_, err = channel.UnaryUnary[*testgrpc.SimpleRequest, *testgrpc.SimpleResponse](ch, mwSvc+"UnaryCall").Call(ctx, &testgrpc.SimpleRequest{})
		wantMW(t, "unary after", err, codes.Unavailable, pid, "")
	})
	if n, _ := srv.counts(); n != 0 {
		t.Errorf("server saw %d calls, want none", n)
	}
}

// TestMiddlewareSilent: an actor that never answers ends the call
// DEADLINE_EXCEEDED at the call's deadline (from the context or from
// channel.Timeout), or, for a call without one, at the answer timeout.
func TestMiddlewareSilent(t *testing.T) {
	sys := quietSystem()
	srv := startMWServer(t, nil)
	got := make(chan *actors.Intercept, 16)
	pid := mwSpawn(t, sys, func(c actor.Context) {
		if m, ok := c.Message().(*actors.Intercept); ok {
			got <- m
		}
	})
	ch := mwChannel(t, sys, srv.addr, actors.Interceptor(pid, actors.AnswerTimeout(20*time.Millisecond)))
	unary := channel.UnaryUnary[*testgrpc.SimpleRequest, *testgrpc.SimpleResponse](ch, mwSvc+"UnaryCall")

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	_, err := unary.Call(ctx, &testgrpc.SimpleRequest{})
	wantMW(t, "context deadline", err, codes.DeadlineExceeded, pid, "")
	if m := <-got; m.Deadline.IsZero() {
		t.Error("Intercept.Deadline is zero for a call with a deadline")
	}

	for kind, err := range mwKinds(context.Background(), ch, channel.Timeout(30*time.Millisecond)) {
		wantMW(t, kind+" with channel.Timeout", err, codes.DeadlineExceeded, pid, "the call's deadline")
		<-got
	}
	_, err = unary.Call(context.Background(), &testgrpc.SimpleRequest{})
	wantMW(t, "no deadline", err, codes.DeadlineExceeded, pid, "answer timeout")
	<-got

	// A cancelled context ends the wait CANCELLED.
	cctx, ccancel := context.WithCancel(context.Background())
	go func() { <-got; ccancel() }()
	_, err = channel.UnaryUnary[*testgrpc.SimpleRequest, *testgrpc.SimpleResponse](mwChannel(t, sys, srv.addr, actors.Interceptor(pid, actors.AnswerTimeout(0))), mwSvc+"UnaryCall").
		Call(cctx, &testgrpc.SimpleRequest{})
	wantMW(t, "cancelled", err, codes.Canceled, pid, "")
	if n, _ := srv.counts(); n != 0 {
		t.Errorf("server saw %d calls, want none", n)
	}
}

// TestMiddlewareTimeoutLeft: a call's own timeout counts from its start:
// what the hand-off took comes off it.
func TestMiddlewareTimeoutLeft(t *testing.T) {
	sys := quietSystem()
	srv := startMWServer(t, nil)
	pid := mwSpawn(t, sys, func(c actor.Context) {
		if _, ok := c.Message().(*actors.Intercept); ok {
			c.Respond(&actors.Proceed{})
		}
	})
	var left time.Duration
	probe := interceptors.UnaryUnaryFunc(func(ctx context.Context, d *interceptors.ClientCallDetails, req any, next interceptors.UnaryInvoker) (any, interceptors.Call, error) {
		left = *d.Timeout
		return next(ctx, d, req)
	})
	ch := mwChannel(t, sys, srv.addr, actors.Interceptor(pid), probe)
	const timeout = time.Hour
	if _, err := channel.UnaryUnary[*testgrpc.SimpleRequest, *testgrpc.SimpleResponse](ch, mwSvc+"UnaryCall").
		Call(context.Background(), &testgrpc.SimpleRequest{}, channel.Timeout(timeout)); err != nil {
		t.Fatal(err)
	}
	if left <= 0 || left >= timeout {
		t.Errorf("timeout after the hand-off %v, want less than %v", left, timeout)
	}
}

// TestMiddlewarePanics: a middleware actor that panics on a call ends that
// call INTERNAL with a message naming it, its panic and what its supervisor
// did; nothing is restarted behind the caller's back without that message.
func TestMiddlewarePanics(t *testing.T) {
	sys := quietSystem()
	srv := startMWServer(t, nil)
	ctx := mwCtx(t)
	panicky := func(c actor.Context) {
		if m, ok := c.Message().(*actors.Intercept); ok {
			if m.Details.Metadata.Get("x-boom") != nil {
				panic("boom")
			}
			c.Respond(&actors.Proceed{})
		}
	}
	boom := channel.Metadata(metadata.Pairs("x-boom", "1"))

	t.Run("restarted", func(t *testing.T) {
		pid := mwSpawn(t, sys, panicky) // protoactor's default: restart
		ch := mwChannel(t, sys, srv.addr, actors.Interceptor(pid))
		for kind, err := range mwKinds(ctx, ch, boom) {
			wantMW(t, kind, err, codes.Internal, pid, "panicked (boom) and its supervisor chose Restart")
		}
		for kind, err := range mwKinds(ctx, ch) {
			if err != nil {
				t.Errorf("%s after the restart: %v", kind, err)
			}
		}
	})
	t.Run("stopped", func(t *testing.T) {
		stop := actor.NewOneForOneStrategy(0, 0, func(any) actor.Directive { return actor.StopDirective })
		parent := mwSpawn(t, sys, func(c actor.Context) {
			if _, ok := c.Message().(string); ok {
				c.Respond(c.Spawn(actor.PropsFromFunc(panicky)))
			}
		}, actor.WithSupervisor(stop))
		v, err := sys.Root.RequestFuture(parent, "spawn", mwBound).Result()
		if err != nil {
			t.Fatal(err)
		}
		child := v.(*actor.PID)
		ch := mwChannel(t, sys, srv.addr, actors.Interceptor(child))
		_, err = channel.UnaryUnary[*testgrpc.SimpleRequest, *testgrpc.SimpleResponse](ch, mwSvc+"UnaryCall").Call(ctx, &testgrpc.SimpleRequest{}, boom)
		st, _ := status.FromError(err)
		if st.Code() != codes.Internal && st.Code() != codes.Unavailable || !strings.Contains(st.Details(), child.String()) {
			t.Errorf("call: %v, want INTERNAL (panicked) or UNAVAILABLE (stopped) naming %s", err, child)
		}
		_, err = channel.UnaryUnary[*testgrpc.SimpleRequest, *testgrpc.SimpleResponse](ch, mwSvc+"UnaryCall").Call(ctx, &testgrpc.SimpleRequest{})
		wantMW(t, "after", err, codes.Unavailable, child, "")
	})
}

// TestMiddlewareBadAnswer: an answer other than Proceed or Reject, and a
// Reject without a status, end the call with a message that says so.
func TestMiddlewareBadAnswer(t *testing.T) {
	sys := quietSystem()
	srv := startMWServer(t, nil)
	ctx := mwCtx(t)
	pid := mwSpawn(t, sys, func(c actor.Context) {
		if m, ok := c.Message().(*actors.Intercept); ok {
			if m.Details.Metadata.Get("x-empty") != nil {
				c.Respond(&actors.Reject{})
				return
			}
			c.Respond("yes")
		}
	})
	ch := mwChannel(t, sys, srv.addr, actors.Interceptor(pid))
	unary := channel.UnaryUnary[*testgrpc.SimpleRequest, *testgrpc.SimpleResponse](ch, mwSvc+"UnaryCall")
	_, err := unary.Call(ctx, &testgrpc.SimpleRequest{})
	wantMW(t, "string answer", err, codes.Internal, pid, "with string, want *actors.Proceed or *actors.Reject")
	_, err = unary.Call(ctx, &testgrpc.SimpleRequest{}, channel.Metadata(metadata.Pairs("x-empty", "1")))
	wantMW(t, "empty reject", err, codes.Unknown, pid, "without a status")
}

// TestMiddlewareManyCalls: concurrent calls each get their own answer (the
// actor answers them in reverse order of arrival, in batches).
func TestMiddlewareManyCalls(t *testing.T) {
	const n = 64
	sys := quietSystem()
	srv := startMWServer(t, nil)
	pid := mwSpawn(t, sys, func() actor.ReceiveFunc {
		var held []*actor.PID
		var ids []string
		return func(c actor.Context) {
			if m, ok := c.Message().(*actors.Intercept); ok {
				held = append(held, c.Sender())
				ids = append(ids, m.Details.Metadata.Get("x-id")[0])
				if len(held) == 4 {
					for i := len(held) - 1; i >= 0; i-- {
						// The server echoes this header: the caller checks
						// that its own id came back.
						d := &interceptors.ClientCallDetails{Method: mwSvc + "UnaryCall", Metadata: metadata.Pairs("x-grpc-test-echo-initial", ids[i])}
						c.Send(held[i], &actors.Proceed{Details: d})
					}
					held, ids = nil, nil
				}
			}
		}
	}())
	ch := mwChannel(t, sys, srv.addr, actors.Interceptor(pid))
	unary := channel.UnaryUnary[*testgrpc.SimpleRequest, *testgrpc.SimpleResponse](ch, mwSvc+"UnaryCall")
	ctx := mwCtx(t)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprint(i)
			_, c, err := unary.WithCall(ctx, &testgrpc.SimpleRequest{}, channel.Metadata(metadata.Pairs("x-id", id)))
			if err != nil {
				t.Error(err)
				return
			}
			if got := c.InitialMetadata().Get("x-grpc-test-echo-initial"); len(got) != 1 || got[0] != id {
				t.Errorf("call %s went on with the details of call %v", id, got)
			}
		}()
	}
	wg.Wait()
}

// TestMiddlewareUnbound: the interceptor's methods called directly (not
// through channel.Intercept) use the default actor system.
func TestMiddlewareUnbound(t *testing.T) {
	m := actors.Interceptor(actor.NewPID("nonhost", "nobody-here"))
	_, _, err := m.InterceptUnaryUnary(mwCtx(t), &interceptors.ClientCallDetails{Method: "/x/Y"}, nil,
		func(context.Context, *interceptors.ClientCallDetails, any) (any, interceptors.Call, error) {
			return nil, nil, errors.New("must not be called")
		})
	if status.Code(err) != codes.Unavailable {
		t.Errorf("call through an unbound interceptor to no actor: %v, want UNAVAILABLE", err)
	}
}

// TestMiddlewareRecover: with actors.Recover, a panic on an Intercept ends
// that call INTERNAL and the actor keeps its state (it counts calls).
func TestMiddlewareRecover(t *testing.T) {
	sys := quietSystem()
	srv := startMWServer(t, nil)
	ctx := mwCtx(t)
	pid := mwSpawn(t, sys, func() actor.ReceiveFunc {
		n := 0
		return func(c actor.Context) {
			if m, ok := c.Message().(*actors.Intercept); ok {
				n++
				if m.Details.Metadata.Get("x-boom") != nil {
					panic("boom")
				}
				m.Details.Metadata.Set("authorization", fmt.Sprint("call-", n))
				c.Respond(&actors.Proceed{Details: m.Details})
			}
		}
	}(), actor.WithReceiverMiddleware(actors.Recover))
	ch := mwChannel(t, sys, srv.addr, actors.Interceptor(pid))
	unary := channel.UnaryUnary[*testgrpc.SimpleRequest, *testgrpc.SimpleResponse](ch, mwSvc+"UnaryCall")
	md := func(kv ...string) channel.CallOption { return channel.Metadata(metadata.Pairs(kv...)) }
	if _, err := unary.Call(ctx, &testgrpc.SimpleRequest{}, md("x-a", "1")); err != nil {
		t.Fatal(err)
	}
	_, err := unary.Call(ctx, &testgrpc.SimpleRequest{}, md("x-boom", "1"))
	wantMW(t, "panicking call", err, codes.Internal, pid, "panicked handling the UnaryUnary call to "+mwSvc+"UnaryCall: boom")
	if _, err := unary.Call(ctx, &testgrpc.SimpleRequest{}, md("x-a", "1")); err != nil {
		t.Fatal(err)
	}
	if seen := srv.seen("UnaryCall"); len(seen) != 2 || seen[1] != "call-3" {
		t.Errorf("server saw %q, want call-1 and call-3 (the actor kept its count)", seen)
	}
}

// TestMiddlewareStoppedHoldingMany: an actor that stops while it holds many
// calls ends every one of them UNAVAILABLE.
func TestMiddlewareStoppedHoldingMany(t *testing.T) {
	const n = 32
	sys := quietSystem()
	srv := startMWServer(t, nil)
	held := make(chan struct{}, n)
	pid := sys.Root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
		if _, ok := c.Message().(*actors.Intercept); ok {
			held <- struct{}{} // and never answer
		}
	}))
	ch := mwChannel(t, sys, srv.addr, actors.Interceptor(pid))
	unary := channel.UnaryUnary[*testgrpc.SimpleRequest, *testgrpc.SimpleResponse](ch, mwSvc+"UnaryCall")
	ctx := mwCtx(t)
	errs := make(chan error, n)
	for range n {
		go func() {
			_, err := unary.Call(ctx, &testgrpc.SimpleRequest{})
			errs <- err
		}()
	}
	for range n {
		<-held
	}
	if err := sys.Root.StopFuture(pid).Wait(); err != nil {
		t.Fatal(err)
	}
	for range n {
		wantMW(t, "held call", <-errs, codes.Unavailable, pid, "stopped")
	}
}
