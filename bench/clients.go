package main

import (
	"context"
	"runtime/debug"
	"strings"

	"github.com/grpcactor/grpcactor/channel"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
)

const testService = "/grpc.testing.TestService/"

// client is one channel (ours) or ClientConn (grpc-go) to the server, with
// the three call kinds the workloads use. Both implementations are used as a
// user would: defaults everywhere, plaintext.
type client interface {
	unary(ctx context.Context, req *testgrpc.SimpleRequest) (*testgrpc.SimpleResponse, error)
	openBidi(ctx context.Context) (bidiStream, error)
	serverStream(ctx context.Context, req *testgrpc.StreamingOutputCallRequest) (recvStream, error)
	close() error
}

type bidiStream interface {
	Send(*testgrpc.StreamingOutputCallRequest) error
	Recv() (*testgrpc.StreamingOutputCallResponse, error)
	CloseSend() error
}

type recvStream interface {
	Recv() (*testgrpc.StreamingOutputCallResponse, error)
}

// impl is a client library under test.
type impl struct {
	name string
	dial func(addr string) (client, error)
	// unaryOpen, if set, opens the unary rows' sessions (dial is then
	// not used by them).
	unaryOpen func(ctx context.Context, addr string, size int) (*session, error)
	// supports, if set, tells the rows this client runs (a peer's).
	supports func(w workload) bool
	desc     string // a peer's, for the report's legend
}

var (
	ours   = impl{name: "grpcactor", dial: dialOurs}
	theirs = impl{name: "grpc-go", dial: dialGRPCGo}
	// The peers (-peers): measured in the same rounds, on the rows they
	// support.
	connectGo = impl{name: "connect-go", dial: dialConnect,
		supports: func(w workload) bool { return !strings.HasPrefix(w.key, "unary-msg/") },
		desc:     "connect-go " + connectVersion() + " (gRPC protocol over net/http's HTTP/2, h2c)"}
	limit = impl{name: "limit", unaryOpen: openLimit,
		supports: func(w workload) bool { return strings.HasPrefix(w.key, "unary/") && w.respBytes <= limitMaxSize },
		desc:     "a floor, not a client: one connection, x/net/http2 Framer, HEADERS and request encoded once, one reader goroutine, writes combined, no protobuf decode (unary rows up to " + sizeName(limitMaxSize) + ")"}
	allPeers = []impl{connectGo, limit}
)

func peerByName(name string) (impl, bool) {
	for _, p := range allPeers {
		if p.name == name {
			return p, true
		}
	}
	return impl{}, false
}

func peerNames() string {
	var n []string
	for _, p := range allPeers {
		n = append(n, p.name)
	}
	return strings.Join(n, ", ")
}

func peerLegend(peers []impl) string {
	var n []string
	for _, p := range peers {
		n = append(n, p.name+": "+p.desc)
	}
	return strings.Join(n, "; ")
}

func connectVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "connectrpc.com/connect" {
				return d.Version
			}
		}
	}
	return ""
}

// --- this project's client ---

type oursClient struct {
	ch     *channel.Channel
	unaryC *channel.UnaryUnaryCallable[*testgrpc.SimpleRequest, *testgrpc.SimpleResponse]
	bidiC  *channel.StreamStreamCallable[*testgrpc.StreamingOutputCallRequest, *testgrpc.StreamingOutputCallResponse]
	ssC    *channel.UnaryStreamCallable[*testgrpc.StreamingOutputCallRequest, *testgrpc.StreamingOutputCallResponse]
}

func dialOurs(addr string) (client, error) {
	ch, err := channel.Insecure(addr)
	if err != nil {
		return nil, err
	}
	return &oursClient{
		ch:     ch,
		unaryC: channel.UnaryUnary[*testgrpc.SimpleRequest, *testgrpc.SimpleResponse](ch, testService+"UnaryCall"),
		bidiC:  channel.StreamStream[*testgrpc.StreamingOutputCallRequest, *testgrpc.StreamingOutputCallResponse](ch, testService+"FullDuplexCall"),
		ssC:    channel.UnaryStream[*testgrpc.StreamingOutputCallRequest, *testgrpc.StreamingOutputCallResponse](ch, testService+"StreamingOutputCall"),
	}, nil
}

func (c *oursClient) unary(ctx context.Context, req *testgrpc.SimpleRequest) (*testgrpc.SimpleResponse, error) {
	return c.unaryC.Call(ctx, req)
}

func (c *oursClient) openBidi(ctx context.Context) (bidiStream, error) {
	s, err := c.bidiC.Open(ctx)
	if err != nil {
		return nil, err
	}
	return s, nil
}

func (c *oursClient) serverStream(ctx context.Context, req *testgrpc.StreamingOutputCallRequest) (recvStream, error) {
	s, err := c.ssC.Call(ctx, req)
	if err != nil {
		return nil, err
	}
	return s, nil
}

func (c *oursClient) close() error { return c.ch.Close() }

// --- grpc-go's client ---

type goClient struct {
	cc *grpc.ClientConn
	tc testgrpc.TestServiceClient
}

func dialGRPCGo(addr string) (client, error) {
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, err
	}
	return &goClient{cc: cc, tc: testgrpc.NewTestServiceClient(cc)}, nil
}

func (c *goClient) unary(ctx context.Context, req *testgrpc.SimpleRequest) (*testgrpc.SimpleResponse, error) {
	return c.tc.UnaryCall(ctx, req)
}

func (c *goClient) openBidi(ctx context.Context) (bidiStream, error) {
	return c.tc.FullDuplexCall(ctx)
}

func (c *goClient) serverStream(ctx context.Context, req *testgrpc.StreamingOutputCallRequest) (recvStream, error) {
	return c.tc.StreamingOutputCall(ctx, req)
}

func (c *goClient) close() error { return c.cc.Close() }
