package actorsremote_test

import (
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/grpcactor/grpcactor/actors"
	"github.com/grpcactor/grpcactor/actors/actorsremote"
	"github.com/grpcactor/grpcactor/channel"
	"github.com/grpcactor/grpcactor/metadata"
)

// unaryCaller is an actor that makes n unary calls by message when it
// starts and checks their Replies.
type unaryCaller struct {
	unary actors.Sender[*simpleReq]
	n     int
	c     *collector
	done  chan<- int
	want  map[*actors.Ref]int
	got   int
}

func (a *unaryCaller) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		a.want = map[*actors.Ref]int{}
		for i := range a.n {
			md := metadata.Pairs("x-echo-bin", string([]byte{0, byte(i), 0xff}))
			a.want[a.unary.Send(ctx, &simpleReq{ResponseSize: int32(i + 1)}, channel.Metadata(md), channel.Timeout(time.Minute))] = i
		}
	case *actors.Reply[*simpleResp]:
		i, ok := a.want[m.Ref]
		if !ok {
			a.c.Errorf("a Reply for a call this actor did not make, or a second one: %v", m.Ref)
			return
		}
		delete(a.want, m.Ref)
		a.got++
		if m.Err != nil {
			a.c.Errorf("call %d: %v", i, m.Err)
		} else if n := len(m.Value.GetPayload().GetBody()); n != i+1 {
			a.c.Errorf("call %d: a response of %d bytes, want %d", i, n, i+1)
		} else if h := m.Header.Get("x-echo-bin"); len(h) != 1 || h[0] != string([]byte{0, byte(i), 0xff}) {
			a.c.Errorf("call %d: header x-echo-bin %q", i, h)
		}
		if a.got == a.n {
			a.done <- a.got
		}
	}
}

// 10 actors on the caller node make 100 unary calls each by message
// through the gateway node: each of the 1,000 Replies arrives once, at
// the actor that made the call, with its own response and the server's
// headers ("-bin" values intact).
func TestThousandUnaryCallsAcrossNodes(t *testing.T) {
	s := newSetup(t)
	unary := actorsremote.Unary[*simpleReq, *simpleResp](s.remoteCh, unaryCall)
	const actorsN, perActor = 10, 100
	var c collector
	done := make(chan int, actorsN)
	pids := make([]*actor.PID, actorsN)
	for i := range pids {
		pids[i] = s.cl.sys.Root.Spawn(actor.PropsFromProducer(func() actor.Actor {
			return &unaryCaller{unary: unary, n: perActor, c: &c, done: done}
		}))
	}
	total := 0
	for range actorsN {
		total += <-done
	}
	for _, p := range pids {
		_ = s.cl.sys.Root.StopFuture(p).Wait()
	}
	c.Check(t)
	if total != actorsN*perActor {
		t.Errorf("%d replies, want %d", total, actorsN*perActor)
	}
}
