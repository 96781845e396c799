package actorscluster_test

import (
	"strings"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/grpcactor/grpcactor/actors"
	"github.com/grpcactor/grpcactor/actors/actorscluster"
	"github.com/grpcactor/grpcactor/actors/actorsremote"
	"github.com/grpcactor/grpcactor/channel"
	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/system_test/peers"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
)

const (
	unaryCall           = "/grpc.testing.TestService/UnaryCall"
	streamingOutputCall = "/grpc.testing.TestService/StreamingOutputCall"
	heldCall            = "/held.Held/Call"
	// bound is how long a test waits for what must come before it fails:
	// a failure bound, not a timing assertion.
	bound = 2 * time.Minute
)

// grains is how many channel grains the members of tc hold, and the
// index of the last member holding one.
func grains(tc *testCluster) (n int32, holder int) {
	holder = -1
	for i, m := range tc.members {
		if m.dead.Load() {
			continue
		}
		if c := m.c.GetClusterKind(actorscluster.DefaultKind).Count(); c > 0 {
			n += c
			holder = i
		}
	}
	return n, holder
}

// handle returns a handle on target's grain from member m, closed at
// the test's end.
func handle(t *testing.T, m *member, target string) *actorsremote.Channel {
	t.Helper()
	ch := actorscluster.Channel(m.c, target)
	t.Cleanup(func() {
		if !m.dead.Load() {
			ch.Close()
		}
	})
	return ch
}

// spawn spawns on m an actor that runs start when it starts and sends
// every *actors.Reply and *actors.End of type T it receives to out.
func spawn[T any](t *testing.T, m *member, out chan<- T, start func(ctx actor.Context)) {
	t.Helper()
	pid := m.sys().Root.Spawn(actor.PropsFromFunc(func(ctx actor.Context) {
		switch msg := ctx.Message().(type) {
		case *actor.Started:
			start(ctx)
		case T:
			out <- msg
		}
	}))
	t.Cleanup(func() {
		if !m.dead.Load() {
			_ = m.sys().Root.StopFuture(pid).Wait()
		}
	})
}

func receive[T any](t *testing.T, out <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-out:
		return v
	case <-time.After(bound):
		t.Fatalf("no %s within %v", what, bound)
		panic("unreachable")
	}
}

// The channel grain of one target is reached from every member of a
// three-member cluster, by unary calls and a server stream with demand,
// and exists once in the cluster.
func TestGrainReachedFromEveryMember(t *testing.T) {
	tc := pool.shared
	addr := peers.StartGoInterop(t)
	replies := make(chan *actors.Reply[*testgrpc.SimpleResponse], 3)
	ends := make(chan *actors.End, 3)
	msgs := make(chan *actors.Message[*testgrpc.StreamingOutputCallResponse], 30)
	for _, m := range tc.members {
		ch := handle(t, m, addr)
		unary := actorsremote.Unary[*testgrpc.SimpleRequest, *testgrpc.SimpleResponse](ch, unaryCall)
		stream := actorsremote.ServerStream[*testgrpc.StreamingOutputCallRequest, *testgrpc.StreamingOutputCallResponse](ch, streamingOutputCall)
		spawn(t, m, replies, func(ctx actor.Context) {
			unary.Send(ctx, &testgrpc.SimpleRequest{ResponseSize: 5}, channel.Timeout(bound))
		})
		spawn(t, m, ends, func(ctx actor.Context) {})
		pid := m.sys().Root.Spawn(actor.PropsFromFunc(func(ctx actor.Context) {
			switch msg := ctx.Message().(type) {
			case *actor.Started:
				req := &testgrpc.StreamingOutputCallRequest{}
				for range 5 {
					req.ResponseParameters = append(req.ResponseParameters, &testgrpc.ResponseParameters{Size: 3})
				}
				stream.Send(ctx, req, actors.Demand(1), channel.Timeout(bound))
			case *actors.Message[*testgrpc.StreamingOutputCallResponse]:
				msgs <- msg
				msg.Ref.Request(1)
			case *actors.End:
				ends <- msg
			}
		}))
		t.Cleanup(func() { _ = m.sys().Root.StopFuture(pid).Wait() })
	}
	for range tc.members {
		r := receive(t, replies, "reply")
		if r.Err != nil || len(r.Value.GetPayload().GetBody()) != 5 {
			t.Errorf("unary call through the grain: %v, %d bytes; want OK, 5 bytes", r.Err, len(r.Value.GetPayload().GetBody()))
		}
	}
	for range tc.members {
		if e := receive(t, ends, "stream end"); e.Err != nil {
			t.Errorf("server stream through the grain ended %v, want OK", e.Err)
		}
	}
	if len(msgs) != 15 {
		t.Errorf("%d stream messages arrived, want 15 (5 on each of 3 members)", len(msgs))
	}
	if n, _ := grains(tc); n < 1 {
		t.Errorf("%d channel grains in the cluster, want at least this test's one", n)
	}
}

// A grain of a target that the kind does not allow refuses every call
// PERMISSION_DENIED naming the target; an allowed target refuses a
// method the kind does not allow PERMISSION_DENIED naming the method; a
// target the Opener cannot open, INVALID_ARGUMENT with its error.
func TestGrainAllowLists(t *testing.T) {
	tc := pool.shared
	addr := peers.StartGoInterop(t)
	for _, c := range []struct {
		target, method, want string
		code                 codes.Code
	}{
		{"dns:///orders.example:443", unaryCall, `target "dns:///orders.example:443" is not allowed`, codes.PermissionDenied},
		{addr, "/grpc.testing.ReconnectService/Start", "/grpc.testing.ReconnectService/Start is not allowed", codes.PermissionDenied},
		{"127.0.0.1:%zz", unaryCall, "opening the channel", codes.InvalidArgument},
	} {
		m := tc.members[1]
		unary := actorsremote.Unary[[]byte, []byte](handle(t, m, c.target), c.method)
		replies := make(chan *actors.Reply[[]byte], 1)
		spawn(t, m, replies, func(ctx actor.Context) {
			unary.Send(ctx, nil, channel.Timeout(bound))
		})
		r := receive(t, replies, "reply")
		if r.Code != c.code || !strings.Contains(r.Details, c.want) {
			t.Errorf("call of %s on %s ended %v %q, want %v with %q", c.method, c.target, r.Code, r.Details, c.code, c.want)
		}
	}
}

// When the member holding a grain dies, the calls in flight on it from
// the other members end UNAVAILABLE (not at their deadline: it is far
// off), and the next call activates the grain on a member still there
// and succeeds.
func TestMemberLost(t *testing.T) {
	tc := takeCluster(t)
	held := peers.StartHeld(t)
	target := held.Addr()
	type reply struct {
		member int
		r      *actors.Reply[[]byte]
	}
	replies := make(chan reply, 3)
	var unary [3]*actorsremote.UnaryMethod[[]byte, []byte]
	for i, m := range tc.members {
		unary[i] = actorsremote.Unary[[]byte, []byte](handle(t, m, target), heldCall)
		pid := m.sys().Root.Spawn(actor.PropsFromFunc(func(ctx actor.Context) {
			switch msg := ctx.Message().(type) {
			case *actor.Started:
				unary[i].Send(ctx, nil, channel.Timeout(time.Hour))
			case *actors.Reply[[]byte]:
				replies <- reply{i, msg}
			}
		}))
		t.Cleanup(func() {
			if !m.dead.Load() {
				_ = m.sys().Root.StopFuture(pid).Wait()
			}
		})
	}
	held.WaitCalls(3)
	n, h := grains(tc)
	if n != 1 {
		t.Fatalf("%d channel grains in the cluster, want 1", n)
	}
	start := time.Now()
	tc.members[h].kill()
	for range 2 {
		r := receive(t, replies, "reply after the member's loss")
		if r.member == h {
			t.Errorf("member %d, killed, answered its call: %v", h, r.r.Err)
			continue
		}
		if r.r.Code != codes.Unavailable || !strings.Contains(r.r.Details, "lost") {
			t.Errorf("member %d's call in flight on the lost member ended %v %q, want UNAVAILABLE, the grain lost", r.member, r.r.Code, r.r.Details)
		}
	}
	t.Logf("calls in flight ended %v after the kill", time.Since(start))
	held.Release()
	for i, m := range tc.members {
		if i == h {
			continue
		}
		out := make(chan *actors.Reply[[]byte], 1)
		spawn(t, m, out, func(ctx actor.Context) {
			unary[i].Send(ctx, nil, channel.Timeout(bound))
		})
		if r := receive(t, out, "reply from the new activation"); r.Err != nil {
			t.Errorf("member %d's call after the loss: %v, want OK", i, r.Err)
		}
	}
	if n, h2 := grains(tc); n != 1 || h2 == h {
		t.Errorf("after the loss: %d grains, on member %d; want 1, on another member than %d", n, h2, h)
	}
}

// A bidirectional stream through the grain from every member: send
// credit and responses cross the members, in order.
func TestBidiThroughGrain(t *testing.T) {
	tc := pool.shared
	addr := peers.StartGoInterop(t)
	type outcome struct {
		end *actors.End
		got int
		bad int // responses of the wrong size
	}
	results := make(chan outcome, len(tc.members))
	const n = 20
	for _, m := range tc.members {
		bidi := actorsremote.BidiStream[*testgrpc.StreamingOutputCallRequest, *testgrpc.StreamingOutputCallResponse](handle(t, m, addr), "/grpc.testing.TestService/FullDuplexCall")
		sent, got, bad := 0, 0, 0
		pid := m.sys().Root.Spawn(actor.PropsFromFunc(func(ctx actor.Context) {
			switch msg := ctx.Message().(type) {
			case *actor.Started:
				bidi.Open(ctx, channel.Timeout(bound))
			case *actors.SendCredit:
				for credit := msg.N; credit > 0 && sent < n; credit-- {
					sent++
					if err := msg.Ref.Send(&testgrpc.StreamingOutputCallRequest{ResponseParameters: []*testgrpc.ResponseParameters{{Size: int32(sent)}}}); err != nil {
						bad++
					}
				}
				if sent == n {
					_ = msg.Ref.CloseSend()
					sent++
				}
			case *actors.Message[*testgrpc.StreamingOutputCallResponse]:
				got++
				if len(msg.Value.GetPayload().GetBody()) != got {
					bad++
				}
			case *actors.End:
				results <- outcome{msg, got, bad}
			}
		}))
		t.Cleanup(func() { _ = m.sys().Root.StopFuture(pid).Wait() })
	}
	for range tc.members {
		r := receive(t, results, "bidi end")
		if r.end.Err != nil || r.got != n || r.bad != 0 {
			t.Errorf("bidi through the grain ended %v after %d responses (%d wrong), want OK after %d", r.end.Err, r.got, r.bad, n)
		}
	}
}

// A grain that stops (as when the cluster moves it, or its member leaves
// gracefully) ends its calls in progress UNAVAILABLE and closes its
// channel; a later call activates the grain again.
func TestGrainStopped(t *testing.T) {
	tc := pool.shared
	held := peers.StartHeld(t)
	m := tc.members[0]
	unary := actorsremote.Unary[[]byte, []byte](handle(t, m, held.Addr()), heldCall)
	out := make(chan *actors.Reply[[]byte], 1)
	spawn(t, m, out, func(ctx actor.Context) {
		unary.Send(ctx, nil, channel.Timeout(time.Hour))
	})
	held.WaitCalls(1)
	grain := m.c.Get(held.Addr(), actorscluster.DefaultKind)
	if grain == nil {
		t.Fatal("cluster.Get found no grain for the target")
	}
	if err := m.sys().Root.PoisonFuture(grain).Wait(); err != nil {
		t.Fatalf("stopping the grain: %v", err)
	}
	r := receive(t, out, "reply after the grain stopped")
	if r.Code != codes.Unavailable {
		t.Errorf("call in progress on a stopped grain ended %v %q, want UNAVAILABLE", r.Code, r.Details)
	}
	held.Release()
	// A call made before the handle learns of the stop (protoactor's
	// Terminated) ends UNAVAILABLE too; the tries are bounded.
	for try := 1; ; try++ {
		out := make(chan *actors.Reply[[]byte], 1)
		spawn(t, m, out, func(ctx actor.Context) {
			unary.Send(ctx, nil, channel.Timeout(bound))
		})
		r := receive(t, out, "reply from the new activation")
		if r.Err == nil {
			break
		}
		if r.Code != codes.Unavailable || try == 5 {
			t.Fatalf("call %d after the grain stopped: %v, want OK", try, r.Err)
		}
	}
}
