package actors_test

import (
	"encoding/binary"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/grpcactor/grpcactor/actors"
	"github.com/grpcactor/grpcactor/actors/actorspb"
	"github.com/grpcactor/grpcactor/channel"
	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/internal/actortest"
	"github.com/grpcactor/grpcactor/metadata"
	"github.com/grpcactor/grpcactor/status"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
)

type (
	outReq  = testgrpc.StreamingOutputCallRequest
	outResp = testgrpc.StreamingOutputCallResponse
)

// messageCounter counts the *actors.Message waiting in a mailbox.
type messageCounter = actortest.MessageCounter[*actors.Message[*outResp]]

// A server stream of 10,000 messages to an actor that grants 10 at a
// time and is slow: its mailbox never holds more than 10 messages, the
// server's sends block once the stream's window is full, and every
// message arrives in order.
func TestDemandBackPressures(t *testing.T) {
	srv, addr := startTestServer(t)
	// A fixed stream window, so that the bound below is exact: with BDP
	// estimation (the default) the window grows with what the link
	// carries, up to 16 MiB.
	const window = 1 << 20
	ch, err := channel.Insecure(addr, channel.WithInitialWindowSize(window))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ch.Close() })
	stream := actors.ServerStream[*outReq, *outResp](ch, streamingOutputCall)
	sys := quietSystem()
	var mw messageCounter
	var c collector
	ends := make(chan *actors.End, 1)
	next, granted := 0, 10
	var maxAhead int64
	pid := sys.Root.Spawn(actor.PropsFromFunc(func(ctx actor.Context) {
		switch m := ctx.Message().(type) {
		case *actor.Started:
			stream.Send(ctx, &outReq{Payload: &testgrpc.Payload{Body: []byte("bulk")}}, actors.Demand(10), channel.Timeout(5*time.Minute))
		case *actors.Message[*outResp]:
			if idx := int(binary.BigEndian.Uint32(m.Value.GetPayload().GetBody())); idx != next {
				c.Errorf("message %d arrived as number %d", idx, next)
			}
			next++
			if next > granted {
				c.Errorf("message %d delivered with a demand of %d", next, granted)
			}
			if ahead := srv.sent.Load() - int64(next); ahead > maxAhead {
				maxAhead = ahead
			}
			if next%10 == 0 {
				time.Sleep(20 * time.Microsecond) // a slow actor
				granted += 10
				m.Ref.Request(10)
			}
		case *actors.End:
			ends <- m
		}
	}, actor.WithMailbox(actor.Unbounded(&mw))))
	defer func() { _ = sys.Root.StopFuture(pid).Wait() }()
	end := <-ends
	c.Check(t)
	if end.Err != nil || next != bulkCount {
		t.Fatalf("stream ended with %v after %d messages, want OK after %d", end.Err, next, bulkCount)
	}
	// The counter includes the message being processed (protoactor
	// reports it received after Receive returns), in which the actor
	// grants the next 10.
	if n := mw.Max.Load() - 1; n > 10 {
		t.Errorf("up to %d messages waited in the mailbox, want at most the demand, 10", n)
	}
	// The server can be at most the stream's window ahead (256 messages
	// of 4 KiB), plus its own 64 KiB write quota, the messages granted and
	// its writer's buffer: 1 MiB more is ample.
	const bound = (window + 1<<20) / bulkSize
	t.Logf("the server was at most %d messages ahead of the actor", maxAhead)
	if maxAhead > bound {
		t.Errorf("the server got %d messages ahead of the actor, want at most %d (back-pressure)", maxAhead, bound)
	}
}

// A bidirectional stream to a server that stops reading: the actor gets
// no credit beyond the stream's window and the write quota, and a Send
// without credit is refused, not buffered.
func TestSendCreditStopsWhenServerStopsReading(t *testing.T) {
	srv, addr := startTestServer(t)
	ch := newChannel(t, addr)
	bidi := actors.BidiStream[*outReq, *outResp](ch, fullDuplexCall)
	sys := quietSystem()
	const msgSize = 8 << 10
	var sent, credit atomic.Int64
	var lastRefused atomic.Bool
	// cancelled is set before the test cancels the stream: a SendCredit
	// still on its way to the mailbox then meets Sends that fail.
	var cancelled atomic.Bool
	var c collector
	ends := make(chan *actors.End, 1)
	refs := make(chan *actors.Ref, 1)
	have := 0 // credit announced and not used (the actor's)
	pid := sys.Root.Spawn(actor.PropsFromFunc(func(ctx actor.Context) {
		switch m := ctx.Message().(type) {
		case *actor.Started:
			refs <- bidi.Open(ctx, channel.Metadata(metadata.Pairs("x-stop-reading", "1")), channel.Timeout(time.Minute))
		case *actors.SendCredit:
			credit.Add(int64(m.N))
			have += m.N
			for ; have > 0; have-- {
				if err := m.Ref.Send(&outReq{Payload: &testgrpc.Payload{Body: make([]byte, msgSize)}}); err != nil && !cancelled.Load() {
					c.Errorf("Send with credit: %v", err)
				}
				sent.Add(1)
			}
			// Credit is granted as the stream's bytes are written, before
			// its SendCredit reaches the mailbox: a Send beyond the credit
			// announced so far may use a top-up on its way (the next
			// SendCredit then announces one credit already used). Once no
			// top-up is coming, it is refused.
			err := m.Ref.Send(&outReq{Payload: &testgrpc.Payload{Body: make([]byte, msgSize)}})
			switch {
			case err == nil:
				have--
				sent.Add(1)
				lastRefused.Store(false)
			case status.Code(err) == codes.ResourceExhausted, cancelled.Load():
				lastRefused.Store(true)
			default:
				c.Errorf("Send without credit: %v, want RESOURCE_EXHAUSTED or a top-up", err)
			}
		case *actors.End:
			ends <- m
		}
	}))
	defer func() { _ = sys.Root.StopFuture(pid).Wait() }()
	ref := <-refs
	<-srv.held
	// The server's stream window (64 KiB) fills...
	deadline := time.Now().Add(20 * time.Second)
	for sent.Load()*msgSize < 65535 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // ...and credit would go on here if it were not bounded
	// Window, write quota, and one top-up of credit beyond the quota.
	const bound = (65535+64<<10)/msgSize + channel.DefaultSendCredit + 1
	n := sent.Load()
	t.Logf("%d requests of %d bytes sent (credit %d) to a server that reads nothing", n, msgSize, credit.Load())
	if n*msgSize < 65535 {
		t.Errorf("only %d requests sent: the stream's window was never filled", n)
	}
	if n > bound {
		t.Errorf("%d requests sent to a server that reads nothing, want at most %d", n, bound)
	}
	cancelled.Store(true)
	ref.Cancel()
	if end := <-ends; status.Code(end.Err) != codes.Canceled {
		t.Errorf("End %v, want CANCELLED", end.Err)
	}
	// Every SendCredit came before the End: the last one's extra Send
	// found no top-up coming.
	if !lastRefused.Load() {
		t.Errorf("a Send beyond the last credit was not refused")
	}
	c.Check(t)
}

// Client- and bidirectional-streaming calls by message.
func TestClientAndBidiStreams(t *testing.T) {
	_, addr := startTestServer(t)
	ch := newChannel(t, addr)
	cs := actors.ClientStream[*testgrpc.StreamingInputCallRequest, *testgrpc.StreamingInputCallResponse](ch, streamingInputCall)
	bidi := actors.BidiStream[*outReq, *outResp](ch, fullDuplexCall)
	sys := quietSystem()
	replies := make(chan *actors.Reply[*testgrpc.StreamingInputCallResponse], 1)
	ends := make(chan *actors.End, 1)
	var sizes []int
	var c collector
	pid := sys.Root.Spawn(actor.PropsFromFunc(func(ctx actor.Context) {
		switch m := ctx.Message().(type) {
		case *actor.Started:
			cs.Open(ctx, channel.Timeout(time.Minute))
			bidi.Open(ctx, channel.Timeout(time.Minute), actors.Demand(1))
		case *actors.SendCredit:
			if m.Ref.Method() == streamingInputCall {
				if m.N < 3 {
					c.Errorf("client stream: first credit %d", m.N)
				}
				for _, n := range []int{10, 20, 30} {
					if err := m.Ref.Send(&testgrpc.StreamingInputCallRequest{Payload: &testgrpc.Payload{Body: make([]byte, n)}}); err != nil {
						c.Errorf("client stream Send: %v", err)
					}
				}
				if err := m.Ref.Send(&outReq{}); status.Code(err) != codes.InvalidArgument {
					c.Errorf("Send of the wrong type: %v, want INVALID_ARGUMENT", err)
				}
				_ = m.Ref.CloseSend()
				_ = m.Ref.CloseSend() // twice is fine
				return
			}
			for _, n := range []int32{1, 2, 3} {
				if err := m.Ref.Send(&outReq{ResponseParameters: []*testgrpc.ResponseParameters{{Size: n}}}); err != nil {
					c.Errorf("bidi Send: %v", err)
				}
			}
			_ = m.Ref.CloseSend()
		case *actors.Message[*outResp]:
			sizes = append(sizes, len(m.Value.GetPayload().GetBody()))
			m.Ref.Request(1)
		case *actors.Reply[*testgrpc.StreamingInputCallResponse]:
			replies <- m
		case *actors.End:
			ends <- m
		}
	}))
	defer func() { _ = sys.Root.StopFuture(pid).Wait() }()
	r := <-replies
	if r.Err != nil || r.Value.GetAggregatedPayloadSize() != 60 {
		t.Errorf("client stream: %v, aggregated %d, want 60", r.Err, r.Value.GetAggregatedPayloadSize())
	}
	end := <-ends
	if end.Err != nil || len(sizes) != 3 || sizes[0] != 1 || sizes[2] != 3 {
		t.Errorf("bidi: %v after %v, want OK after [1 2 3]", end.Err, sizes)
	}
	c.Check(t)
}

// The untyped protocol: a UnaryRequest sent with ctx.Request to the
// channel's PID is answered with a UnaryResponse; metadata (binary values
// included) goes both ways; an unknown message gets an error reply that
// names its type.
func TestChannelPIDProtocol(t *testing.T) {
	_, addr := startTestServer(t)
	sys := quietSystem()
	ch, err := channel.Insecure(addr, channel.WithActorSystem(sys))
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	req, _ := proto.Marshal(&simpleReq{ResponseSize: 7})
	md := metadata.Pairs("x-grpc-test-echo-initial", "hello", "x-grpc-test-echo-trailing-bin", "\x00\xff\x01")
	got := make(chan *actorspb.UnaryResponse, 3)
	pid := sys.Root.Spawn(actor.PropsFromFunc(func(ctx actor.Context) {
		switch m := ctx.Message().(type) {
		case *actor.Started:
			ctx.Request(ch.PID(), &actorspb.UnaryRequest{Method: unaryCall, Request: req, Timeout: durationpb.New(time.Minute), Metadata: actorspb.FromMD(md), Id: 42})
		case *actorspb.UnaryResponse:
			got <- m
			if m.GetId() == 42 {
				ctx.Request(ch.PID(), &actorspb.UnaryRequest{Method: "/grpc.testing.TestService/Nope", Id: 43})
			}
			if m.GetId() == 43 {
				ctx.Request(ch.PID(), "what is this?")
			}
		}
	}))
	defer func() { _ = sys.Root.StopFuture(pid).Wait() }()

	r := <-got
	var resp simpleResp
	if r.GetCode() != 0 || proto.Unmarshal(r.GetResponse(), &resp) != nil || len(resp.GetPayload().GetBody()) != 7 {
		t.Fatalf("UnaryResponse code %d %q, response %v, want OK with 7 bytes", r.GetCode(), r.GetDetails(), &resp)
	}
	if v := actorspb.ToMD(r.GetInitialMetadata()).Get("x-grpc-test-echo-initial"); len(v) != 1 || v[0] != "hello" {
		t.Errorf("initial metadata %v", r.GetInitialMetadata())
	}
	if v := actorspb.ToMD(r.GetTrailingMetadata()).Get("x-grpc-test-echo-trailing-bin"); len(v) != 1 || v[0] != "\x00\xff\x01" {
		t.Errorf("trailing metadata %v, want the binary value intact", r.GetTrailingMetadata())
	}
	r = <-got
	if codes.Code(r.GetCode()) != codes.Unimplemented || r.GetId() != 43 {
		t.Errorf("unknown method: code %d %q id %d, want UNIMPLEMENTED for 43", r.GetCode(), r.GetDetails(), r.GetId())
	}
	r = <-got
	if codes.Code(r.GetCode()) != codes.Unimplemented || !strings.Contains(r.GetDetails(), "string") {
		t.Errorf("unknown message: code %d %q, want UNIMPLEMENTED naming string", r.GetCode(), r.GetDetails())
	}
}
