package actors_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/asynkron/protoactor-go/actor"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"

	"github.com/grpcactor/grpcactor/actors"
	"github.com/grpcactor/grpcactor/channel"
	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/credentials"
	"github.com/grpcactor/grpcactor/status"
)

// mwSpawnChannel asks a parent actor to spawn a channel; the answer is the
// channel or the error.
type mwSpawnChannel struct {
	target string
	opts   []channel.Option
}

type mwSpawned struct {
	ch  *channel.Channel
	err error
}

// mwParentActor spawns channels as its children and forwards the
// connectivity changes it receives to states.
func mwParentActor(states chan<- channel.Connectivity) actor.ReceiveFunc {
	return func(c actor.Context) {
		switch m := c.Message().(type) {
		case mwSpawnChannel:
			ch, err := actors.Spawn(c, m.target, m.opts...)
			c.Respond(mwSpawned{ch, err})
		case *channel.ConnectivityChanged:
			states <- m.State
		}
	}
}

func mwSpawnIn(t *testing.T, sys *actor.ActorSystem, parent *actor.PID, target string, opts ...channel.Option) (*channel.Channel, error) {
	t.Helper()
	v, err := sys.Root.RequestFuture(parent, mwSpawnChannel{target, opts}, mwBound).Result()
	if err != nil {
		t.Fatal(err)
	}
	s := v.(mwSpawned)
	if s.ch != nil {
		t.Cleanup(func() { s.ch.Close() })
	}
	return s.ch, s.err
}

// TestSpawnStopsWithParent: a channel spawned by an actor is its child:
// when the parent stops, the channel's calls end CANCELLED, the channel
// goes to SHUTDOWN, and the parent received its connectivity until then.
func TestSpawnStopsWithParent(t *testing.T) {
	sys := quietSystem()
	srv := startMWServer(t, nil)
	states := make(chan channel.Connectivity, 16)
	parent := sys.Root.Spawn(actor.PropsFromFunc(mwParentActor(states)))
	ch, err := mwSpawnIn(t, sys, parent, srv.addr, actors.WatchConnectivity())
	if err != nil {
		t.Fatal(err)
	}
	if ch.ActorSystem() != sys {
		t.Error("the channel does not run in its parent's actor system")
	}
	ctx := mwCtx(t)
	if _, err := channel.UnaryUnary[*testgrpc.SimpleRequest, *testgrpc.SimpleResponse](ch, mwSvc+"UnaryCall").Call(ctx, &testgrpc.SimpleRequest{}); err != nil {
		t.Fatal(err)
	}
	bidi, err := channel.StreamStream[*testgrpc.StreamingOutputCallRequest, *testgrpc.StreamingOutputCallResponse](ch, mwSvc+"FullDuplexCall").Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := bidi.Send(&testgrpc.StreamingOutputCallRequest{ResponseParameters: []*testgrpc.ResponseParameters{{Size: 1}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := bidi.Recv(); err != nil {
		t.Fatal(err)
	}

	if err := sys.Root.StopFuture(parent).Wait(); err != nil {
		t.Fatal(err)
	}
	_, err = bidi.Recv()
	if st, _ := status.FromError(err); st.Code() != codes.Canceled || !strings.Contains(st.Details(), "stopped") {
		t.Errorf("open stream after the parent stopped: %v, want CANCELLED saying the actor stopped", err)
	}
	ch.Close() // waits for the rest of the shutdown
	if s := ch.State(false); s != channel.Shutdown {
		t.Errorf("state after the parent stopped: %v, want SHUTDOWN", s)
	}
	if _, err := channel.UnaryUnary[*testgrpc.SimpleRequest, *testgrpc.SimpleResponse](ch, mwSvc+"UnaryCall").Call(ctx, &testgrpc.SimpleRequest{}); status.Code(err) != codes.Canceled {
		t.Errorf("call after the parent stopped: %v, want CANCELLED", err)
	}

	// The parent saw IDLE first and READY on the way.
	close(states)
	var seen []channel.Connectivity
	for s := range states {
		seen = append(seen, s)
	}
	ready := false
	for _, s := range seen {
		ready = ready || s == channel.Ready
	}
	if len(seen) == 0 || seen[0] != channel.Idle || !ready {
		t.Errorf("parent saw %v, want IDLE first and READY later", seen)
	}
}

// TestSpawnClosedByItself: Close on a spawned channel stops only the
// channel; the parent goes on.
func TestSpawnClosedByItself(t *testing.T) {
	sys := quietSystem()
	srv := startMWServer(t, nil)
	states := make(chan channel.Connectivity, 16)
	parent := mwSpawn(t, sys, mwParentActor(states))
	ch, err := mwSpawnIn(t, sys, parent, srv.addr)
	if err != nil {
		t.Fatal(err)
	}
	ch.Close()
	ch2, err := mwSpawnIn(t, sys, parent, srv.addr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := channel.UnaryUnary[*testgrpc.SimpleRequest, *testgrpc.SimpleResponse](ch2, mwSvc+"UnaryCall").Call(mwCtx(t), &testgrpc.SimpleRequest{}); err != nil {
		t.Errorf("call on a second channel of the same parent: %v", err)
	}
	select {
	case s := <-states:
		t.Errorf("parent received %v without WatchConnectivity", s)
	default:
	}
}

// TestSpawnSecure: the secure form, with local credentials over loopback
// TCP, makes calls as the parent's child.
func TestSpawnSecure(t *testing.T) {
	sys := quietSystem()
	srv := startMWServer(t, nil)
	type result struct {
		ch  *channel.Channel
		err error
	}
	parent := mwSpawn(t, sys, func(c actor.Context) {
		if _, ok := c.Message().(string); ok {
			ch, err := actors.SpawnSecure(c, srv.addr, credentials.Local(credentials.LocalTCP))
			c.Respond(result{ch, err})
		}
	})
	v, err := sys.Root.RequestFuture(parent, "go", mwBound).Result()
	if err != nil {
		t.Fatal(err)
	}
	r := v.(result)
	if r.err != nil {
		t.Fatal(r.err)
	}
	defer r.ch.Close()
	if _, err := channel.UnaryUnary[*testgrpc.SimpleRequest, *testgrpc.SimpleResponse](r.ch, mwSvc+"UnaryCall").Call(mwCtx(t), &testgrpc.SimpleRequest{}); err != nil {
		t.Errorf("call on a secure spawned channel: %v", err)
	}
}

func TestSpawnErrors(t *testing.T) {
	sys := quietSystem()
	parent := mwSpawn(t, sys, func(c actor.Context) {
		if _, ok := c.Message().(string); ok {
			_, err := actors.SpawnSecure(c, "localhost:1", credentials.Insecure())
			c.Respond(err)
		}
	})
	v, err := sys.Root.RequestFuture(parent, "go", mwBound).Result()
	if err != nil {
		t.Fatal(err)
	}
	if err, _ := v.(error); !errors.Is(err, channel.ErrInsecureCredentials) {
		t.Errorf("SpawnSecure with insecure credentials: %v, want ErrInsecureCredentials", v)
	}
	other := quietSystem()
	parent2 := mwSpawn(t, sys, func(c actor.Context) {
		if _, ok := c.Message().(string); ok {
			_, err := actors.Spawn(c, "localhost:1", channel.WithActorSystem(other))
			c.Respond(err)
		}
	})
	if v, err := sys.Root.RequestFuture(parent2, "go", mwBound).Result(); err != nil {
		t.Fatal(err)
	} else if err, _ := v.(error); err == nil || !strings.Contains(err.Error(), "WithActorSystem") {
		t.Errorf("Spawn with another actor system: %v, want an error naming WithActorSystem", v)
	}
	var nilMW *actors.Middleware
	if _, err := channel.Intercept(mwInsecure(t, "localhost:1"), nilMW); err == nil {
		t.Error("Intercept with a nil *actors.Middleware: no error")
	}
	if _, err := actors.Spawn(nil, "localhost:1"); err == nil {
		t.Error("Spawn with a nil context: no error")
	}
	if _, err := channel.Insecure("localhost:1", actors.WatchConnectivity()); err == nil || !strings.Contains(err.Error(), "WithParent") {
		t.Errorf("WatchConnectivity without a parent: %v, want an error naming WithParent", err)
	}
}

func mwInsecure(t *testing.T, target string) *channel.Channel {
	t.Helper()
	ch, err := channel.Insecure(target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ch.Close() })
	return ch
}
