package actorsremote_test

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/grpcactor/grpcactor/actors"
	"github.com/grpcactor/grpcactor/actors/actorspb"
	"github.com/grpcactor/grpcactor/actors/actorsremote"
	"github.com/grpcactor/grpcactor/channel"
	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/metadata"
	"google.golang.org/grpc"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	gmetadata "google.golang.org/grpc/metadata"
)

// The per-call message size limits and content subtype travel to the
// gateway, whose channel applies them: a response over the call's
// receive limit and a request over its send limit end RESOURCE_EXHAUSTED
// (unary and server-streaming), and the content subtype reaches the
// server in the content-type.
func TestCallWireOptionsTravel(t *testing.T) {
	s := newSetup(t)
	unary := actorsremote.Unary[*simpleReq, *simpleResp](s.remoteCh, unaryCall)
	stream := actorsremote.ServerStream[*outReq, *outResp](s.remoteCh, streamingOutputCall)
	big := &simpleReq{Payload: &testgrpc.Payload{Body: make([]byte, 100)}}
	for _, c := range []struct {
		name string
		send func(ctx actor.Context)
		want codes.Code
		with string
	}{
		{"response over MaxReceiveMessageSize", func(ctx actor.Context) {
			unary.Send(ctx, &simpleReq{ResponseSize: 100}, channel.MaxReceiveMessageSize(50))
		}, codes.ResourceExhausted, "larger than max"},
		{"request over MaxSendMessageSize", func(ctx actor.Context) {
			unary.Send(ctx, big, channel.MaxSendMessageSize(50))
		}, codes.ResourceExhausted, "larger than max"},
		{"both limits lifted", func(ctx actor.Context) {
			unary.Send(ctx, big, channel.MaxSendMessageSize(-1), channel.MaxReceiveMessageSize(-1))
		}, codes.OK, ""},
		{"stream message over MaxReceiveMessageSize", func(ctx actor.Context) {
			stream.Send(ctx, bulk(3, 100), channel.MaxReceiveMessageSize(50))
		}, codes.ResourceExhausted, "larger than max"},
		{"content subtype", func(ctx actor.Context) {
			unary.Send(ctx, &simpleReq{}, channel.ContentSubtype("proto"), channel.Metadata(metadata.Pairs("x-echo-content-type", "1")))
		}, codes.OK, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, out := replyCatcher(t, s.cl, c.send)
			var code codes.Code
			var details string
			var header metadata.MD
			switch m := (<-out).(type) {
			case *actors.Reply[*simpleResp]:
				code, details, header = m.Code, m.Details, m.Header
			case *actors.End:
				code, details = m.Code, m.Details
			}
			wantCode(t, c.name, code, c.want, details, c.with)
			if c.name == "content subtype" {
				if got := header.Get("x-content-type"); len(got) != 1 || got[0] != "application/grpc+proto" {
					t.Errorf("the server saw content-type %q, want application/grpc+proto", got)
				}
			}
		})
	}
}

// A gateway refuses malformed per-call limits and subtypes
// INVALID_ARGUMENT naming them.
func TestGatewayRefusesBadWireOptions(t *testing.T) {
	s := newSetup(t)
	req := mustMarshal(&simpleReq{})
	tooSmall, tooBig := int64(-2), int64(1)<<40
	for _, c := range []struct {
		msg  *actorspb.UnaryRequest
		with string
	}{
		{&actorspb.UnaryRequest{Id: 1, Method: unaryCall, Request: req, MaxSendMessageSize: &tooSmall}, "max_send_message_size -2"},
		{&actorspb.UnaryRequest{Id: 2, Method: unaryCall, Request: req, MaxReceiveMessageSize: &tooBig}, "max_receive_message_size 1099511627776"},
		{&actorspb.UnaryRequest{Id: 3, Method: unaryCall, Request: req, ContentSubtype: "a b"}, `content subtype "a b"`},
	} {
		_, out := replyCatcher(t, s.cl, func(ctx actor.Context) { ctx.Request(s.gateway, c.msg) })
		m := (<-out).(*actorspb.UnaryResponse)
		wantCode(t, c.with, codes.Code(m.GetCode()), codes.InvalidArgument, m.GetDetails(), c.with)
	}
}

// namedServer is a TestService whose EmptyCall answers with its name in
// header x-server.
type namedServer struct {
	testgrpc.UnimplementedTestServiceServer
	name string
}

func (s *namedServer) EmptyCall(ctx context.Context, _ *testgrpc.Empty) (*testgrpc.Empty, error) {
	_ = grpc.SetHeader(ctx, gmetadata.Pairs("x-server", s.name))
	return &testgrpc.Empty{}, nil
}

// A call's HashKey travels to the gateway, whose ring_hash channel sends
// the calls of one key to one server: each of 20 keys, called twice,
// reaches the same server both times (a key lost on the way would hash
// at random: a 1 in 2^20 chance of passing).
func TestHashKeyTravels(t *testing.T) {
	target := "ipv4:"
	for i := range 2 {
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv := grpc.NewServer()
		testgrpc.RegisterTestServiceServer(srv, &namedServer{name: fmt.Sprint("server-", i)})
		go srv.Serve(lis)
		t.Cleanup(srv.Stop)
		if i > 0 {
			target += ","
		}
		target += lis.Addr().String()
	}
	ch, err := channel.Insecure(target, channel.WithServiceConfig(`{"loadBalancingConfig": [{"ring_hash": {}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ch.Close() })
	name := fmt.Sprintf("grpc-%d", gateways.Add(1))
	gw, err := actorsremote.Serve(pool.shared[0].sys, ch, name, actorsremote.Allow("/grpc.testing.TestService/EmptyCall"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pool.shared[0].sys.Root.StopFuture(gw).Wait() })
	remoteCh := actorsremote.Remote(pool.shared[1].sys, pool.shared[0].address(), name)
	t.Cleanup(remoteCh.Close)
	empty := actorsremote.Unary[*testgrpc.Empty, *testgrpc.Empty](remoteCh, "/grpc.testing.TestService/EmptyCall")
	const keys = 20
	servers := func() []string {
		type answer struct {
			key    int
			server string
			err    error
		}
		out := make(chan answer, keys)
		refs := map[*actors.Ref]int{}
		pid := pool.shared[1].sys.Root.Spawn(actor.PropsFromFunc(func(ctx actor.Context) {
			switch m := ctx.Message().(type) {
			case *actor.Started:
				for k := range keys {
					refs[empty.Send(ctx, &testgrpc.Empty{}, channel.HashKey(fmt.Appendf(nil, "key-%d", k)), channel.WaitForReady(true), channel.Timeout(time.Minute))] = k
				}
			case *actors.Reply[*testgrpc.Empty]:
				out <- answer{refs[m.Ref], strings.Join(m.Header.Get("x-server"), ","), m.Err}
			}
		}))
		defer func() { _ = pool.shared[1].sys.Root.StopFuture(pid).Wait() }()
		got := make([]string, keys)
		for range keys {
			a := <-out
			if a.err != nil {
				t.Fatalf("call: %v", a.err)
			}
			got[a.key] = a.server
		}
		return got
	}
	// Wait until both servers are READY: ring_hash gives a key whose
	// server is not READY (yet) to the next READY one along the ring, so
	// until then a key may move. With 20 keys on a ring of two, both
	// servers answer once both are READY (all on one: odds 2^-19).
	for try := 0; ; try++ {
		seen := map[string]bool{}
		for _, s := range servers() {
			seen[s] = true
		}
		if len(seen) == 2 {
			break
		}
		if try == 200 {
			t.Fatalf("after %d rounds of %d keys only %v answered", try+1, keys, seen)
		}
	}
	first, second := servers(), servers()
	for k := range keys {
		if first[k] != second[k] {
			t.Errorf("key %d went to %s, then to %s", k, first[k], second[k])
		}
	}
	t.Logf("servers by key: %v", first)
}
