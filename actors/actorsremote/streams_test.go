package actorsremote_test

import (
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/grpcactor/grpcactor/actors"
	"github.com/grpcactor/grpcactor/actors/actorsremote"
	"github.com/grpcactor/grpcactor/channel"
	"github.com/grpcactor/grpcactor/internal/actortest"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
)

// messageCounter counts the *actors.Message waiting in a mailbox.
type messageCounter = actortest.MessageCounter[*actors.Message[*outResp]]

// A server stream of 600 messages of 16 KiB (9.4 MiB, twice the
// stream's 4 MiB window) to an actor on the caller node that grants 10 at
// a time: never more than 10 messages wait in its mailbox, the server is
// never more than the window ahead of the actor (demand holds it back
// across both nodes), and every message arrives in order.
func TestServerStreamDemandAcrossNodes(t *testing.T) {
	s := newSetup(t)
	stream := actorsremote.ServerStream[*outReq, *outResp](s.remoteCh, streamingOutputCall)
	const count, size = 600, 16 << 10
	var mw messageCounter
	var c collector
	ends := make(chan *actors.End, 1)
	next, granted := 0, 10
	var maxAhead int64
	pid := s.cl.sys.Root.Spawn(actor.PropsFromFunc(func(ctx actor.Context) {
		switch m := ctx.Message().(type) {
		case *actor.Started:
			stream.Send(ctx, bulk(count, size), actors.Demand(10), channel.Timeout(5*time.Minute))
		case *actors.Message[*outResp]:
			if idx := indexOf(m.Value.GetPayload().GetBody()); idx != next {
				c.Errorf("message %d arrived as number %d", idx, next)
			}
			next++
			if next > granted {
				c.Errorf("message %d delivered with a demand of %d", next, granted)
			}
			if ahead := s.srv.sent.Load() - int64(next); ahead > maxAhead {
				maxAhead = ahead
			}
			if next%10 == 0 {
				granted += 10
				m.Ref.Request(10)
			}
		case *actors.End:
			ends <- m
		}
	}, actor.WithMailbox(actor.Unbounded(&mw))))
	defer func() { _ = s.cl.sys.Root.StopFuture(pid).Wait() }()
	end := <-ends
	c.Check(t)
	if end.Err != nil || next != count {
		t.Fatalf("stream ended with %v after %d messages, want OK after %d", end.Err, next, count)
	}
	if n := mw.Max.Load() - 1; n > 10 {
		t.Errorf("up to %d messages waited in the mailbox, want at most the demand, 10", n)
	}
	const bound = (4<<20 + 1<<20) / size
	t.Logf("the server was at most %d messages ahead of the actor", maxAhead)
	if maxAhead > bound {
		t.Errorf("the server got %d messages ahead of the actor, want at most %d (back-pressure)", maxAhead, bound)
	}
}

// A bidirectional stream across nodes: the actor sends 100 requests as
// the gateway's send credit allows (none before the first credit), the
// server echoes each, and the stream ends OK after CloseSend with the
// 100 responses in order.
func TestBidiAcrossNodes(t *testing.T) {
	s := newSetup(t)
	bidi := actorsremote.BidiStream[*outReq, *outResp](s.remoteCh, fullDuplexCall)
	const n = 100
	var c collector
	ends := make(chan *actors.End, 1)
	sent, got, credit := 0, 0, 0
	pid := s.cl.sys.Root.Spawn(actor.PropsFromFunc(func(ctx actor.Context) {
		switch m := ctx.Message().(type) {
		case *actor.Started:
			ref := bidi.Open(ctx, channel.Timeout(time.Minute))
			if err := ref.Send(&outReq{}); err == nil {
				c.Errorf("Send before any credit succeeded")
			}
		case *actors.SendCredit:
			credit += m.N
			for ; credit > 0 && sent < n; credit-- {
				req := &outReq{ResponseParameters: []*testgrpc.ResponseParameters{{Size: int32(sent + 1)}}}
				if err := m.Ref.Send(req); err != nil {
					c.Errorf("Send %d with credit: %v", sent, err)
				}
				sent++
			}
			if sent == n {
				if err := m.Ref.CloseSend(); err != nil {
					c.Errorf("CloseSend: %v", err)
				}
				sent++ // closed
			}
		case *actors.Message[*outResp]:
			got++
			if l := len(m.Value.GetPayload().GetBody()); l != got {
				c.Errorf("response %d has %d bytes", got, l)
			}
		case *actors.End:
			ends <- m
		}
	}))
	defer func() { _ = s.cl.sys.Root.StopFuture(pid).Wait() }()
	end := <-ends
	c.Check(t)
	if end.Err != nil || got != n {
		t.Fatalf("stream ended with %v after %d responses, want OK after %d", end.Err, got, n)
	}
}

// A client-streaming call across nodes: 50 requests, one Reply with the
// server's aggregate.
func TestClientStreamAcrossNodes(t *testing.T) {
	s := newSetup(t)
	cs := actorsremote.ClientStream[*inReq, *inResp](s.remoteCh, streamingInputCall)
	const n = 50
	var c collector
	replies := make(chan *actors.Reply[*inResp], 1)
	sent := 0
	pid := s.cl.sys.Root.Spawn(actor.PropsFromFunc(func(ctx actor.Context) {
		switch m := ctx.Message().(type) {
		case *actor.Started:
			cs.Open(ctx, channel.Timeout(time.Minute))
		case *actors.SendCredit:
			for i := 0; i < m.N && sent < n; i++ {
				if err := m.Ref.Send(&inReq{Payload: &testgrpc.Payload{Body: make([]byte, 10)}}); err != nil {
					c.Errorf("Send: %v", err)
				}
				sent++
			}
			if sent == n {
				_ = m.Ref.CloseSend()
				sent++
			}
		case *actors.Reply[*inResp]:
			replies <- m
		}
	}))
	defer func() { _ = s.cl.sys.Root.StopFuture(pid).Wait() }()
	r := <-replies
	c.Check(t)
	if r.Err != nil || r.Value.GetAggregatedPayloadSize() != 10*n {
		t.Fatalf("Reply %v, aggregate %d; want OK, %d", r.Err, r.Value.GetAggregatedPayloadSize(), 10*n)
	}
}
