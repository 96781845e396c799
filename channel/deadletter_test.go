package channel_test

import (
	"context"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/grpcactor/grpcactor/channel"
	"github.com/grpcactor/grpcactor/internal/actorsys"
	"github.com/grpcactor/grpcactor/system_test/peers"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
)

// deadLetters counts the dead letters of an actor system's event stream.
type deadLetters struct {
	mu    sync.Mutex
	n     int
	first []string
}

func watchDeadLetters(t *testing.T, sys *actor.ActorSystem) *deadLetters {
	d := &deadLetters{}
	sub := sys.EventStream.Subscribe(func(ev any) {
		if e, ok := ev.(*actor.DeadLetterEvent); ok {
			d.mu.Lock()
			d.n++
			if len(d.first) < 5 {
				d.first = append(d.first, fmt.Sprintf("%T to %v (from %v)", e.Message, e.PID, e.Sender))
			}
			d.mu.Unlock()
		}
	})
	t.Cleanup(func() { sys.EventStream.Unsubscribe(sub) })
	return d
}

func (d *deadLetters) check(t *testing.T, what string) {
	t.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.n > 0 {
		t.Fatalf("%s: %d dead letters; first: %q", what, d.n, d.first)
	}
}

// Close sends nothing to an actor that is already gone: over hundreds of
// open/call/close cycles in the user's actor system, its event stream sees
// no dead letter (issue 8: 32 *actor.Stop dead letters in 300 cycles,
// logged by protoactor as [DeadLetter]; 211 under -race).
func TestCloseSendsNoDeadLetters(t *testing.T) {
	addr := peers.StartGoInterop(t)
	dead := func() string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		return l.Addr().String()
	}()
	sys := actorsys.NewQuiet()
	// A subscriber actor that outlives the channels, then stops: its end
	// must not be reported to channel actors that are gone.
	subscriber := sys.Root.Spawn(actor.PropsFromFunc(func(actor.Context) {}))
	tests := []struct {
		name   string
		cycles int
		target string
		cycle  func(t *testing.T, ch *channel.Channel)
	}{
		{"open, call, close", 300, addr, func(t *testing.T, ch *channel.Channel) {
			empty := channel.UnaryUnary[*testgrpc.Empty, *testgrpc.Empty](ch, svc+"EmptyCall")
			if _, err := empty.Call(context.Background(), &testgrpc.Empty{}); err != nil {
				t.Fatal(err)
			}
		}},
		{"open, close", 100, addr, func(*testing.T, *channel.Channel) {}},
		{"open, connect, close", 100, "dns:///" + addr, func(t *testing.T, ch *channel.Channel) {
			ch.State(true)
		}},
		{"subscribed actor, call, close", 100, addr, func(t *testing.T, ch *channel.Channel) {
			ch.SubscribePID(subscriber, true)
			if _, err := channel.ReadyFuture(ch).Result(context.Background()); err != nil {
				t.Fatal(err)
			}
		}},
		{"call waiting for a server that is down, close", 100, dead, func(t *testing.T, ch *channel.Channel) {
			empty := channel.UnaryUnary[*testgrpc.Empty, *testgrpc.Empty](ch, svc+"EmptyCall")
			f := empty.Future(context.Background(), &testgrpc.Empty{}, channel.WaitForReady(true))
			ch.WaitForStateChange(context.Background(), channel.Connecting)
			go ch.Close()
			if _, err := f.Result(context.Background()); err == nil {
				t.Fatal("the call succeeded with the server down")
			}
		}},
	}
	d := watchDeadLetters(t, sys)
	for _, tt := range tests {
		for i := range tt.cycles {
			ch, err := channel.Insecure(tt.target, channel.WithActorSystem(sys),
				channel.WithConnectBackoff(time.Millisecond, time.Millisecond, time.Second))
			if err != nil {
				t.Fatal(err)
			}
			func() {
				defer ch.Close()
				tt.cycle(t, ch)
			}()
			if t.Failed() {
				t.Fatalf("%s: cycle %d failed", tt.name, i)
			}
		}
		d.check(t, fmt.Sprintf("%s, %d cycles", tt.name, tt.cycles))
	}
	sys.Root.StopFuture(subscriber).Wait()
	d.check(t, "the subscriber actor stopping after the channels closed")
}
