// Command helloworld is the tour of grpcactor's client API: it starts
// grpc-go's interop TestService server in process on a free loopback port,
// opens a channel to it and makes one call of each kind — unary, unary as a
// future, server streaming, client streaming, bidirectional streaming, and
// a call that fails with a status, and calls made by message from a
// protoactor actor — printing what came back.
//
// The calls go through the typed stubs that protoc-gen-go-grpcactor
// generated from the TestService's .proto (package grpc_testingactor,
// beside this file): grpctesting.NewTestServiceStub(ch).UnaryCall(ctx, req)
// and so on, and for the actor grpctesting.NewTestServiceActorStub(ch),
// whose UnaryCall(actorCtx, req) returns at once and delivers the reply to
// the actor's mailbox.
//
// Run it from the module root:
//
//	go run ./examples/helloworld
//
// The server (google.golang.org/grpc) is only the peer the example talks
// to; the client side is grpcactor alone. The output is deterministic: no
// addresses, ports or timings are printed.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"slices"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/grpcactor/grpcactor/actors"
	"github.com/grpcactor/grpcactor/channel"
	grpctesting "github.com/grpcactor/grpcactor/examples/helloworld/grpc_testingactor"
	"github.com/grpcactor/grpcactor/futures"
	"github.com/grpcactor/grpcactor/metadata"
	"github.com/grpcactor/grpcactor/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/interop"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
)

// echoInitialKey is the request metadata key the interop server sends back
// as response headers.
const echoInitialKey = "x-grpc-test-echo-initial"

func main() {
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "helloworld:", err)
		os.Exit(1)
	}
}

// startServer runs grpc-go's interop TestService on 127.0.0.1 with a port
// chosen by the kernel. stop stops it and waits for Serve to return.
func startServer() (addr string, stop func(), err error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	s := grpc.NewServer()
	testgrpc.RegisterTestServiceServer(s, interop.NewTestServer())
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = s.Serve(lis)
	}()
	return lis.Addr().String(), func() { s.Stop(); <-served }, nil
}

// run is the whole example; main prints to stdout, the test to a buffer.
func run(w io.Writer) (err error) {
	addr, stopServer, err := startServer()
	if err != nil {
		return fmt.Errorf("starting the server: %w", err)
	}
	defer stopServer()

	// Insecure performs no I/O: the channel connects on its first call.
	ch, err := channel.Insecure(addr)
	if err != nil {
		return err
	}
	// Deferred after stopServer, so it runs first: the channel closes
	// before the server stops.
	defer ch.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	steps := []struct {
		title string
		fn    func(context.Context, io.Writer, *grpctesting.TestServiceStub) error
	}{
		{"unary", unary},
		{"unary as a future", unaryFuture},
		{"server streaming", serverStreaming},
		{"client streaming", clientStreaming},
		{"bidirectional streaming", bidiStreaming},
		{"an error status", errorStatus},
		{"by message, from an actor", func(ctx context.Context, w io.Writer, _ *grpctesting.TestServiceStub) error {
			return byMessage(ctx, w, ch)
		}},
	}
	// The generated stub: one Go method per RPC and call form.
	stub := grpctesting.NewTestServiceStub(ch)
	for i, s := range steps {
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "%d. %s\n", i+1, s.title)
		if err := s.fn(ctx, w, stub); err != nil {
			return fmt.Errorf("%s: %w", s.title, err)
		}
	}
	return nil
}

// helloRequest asks for a 13-byte response and carries a small payload.
func helloRequest() *testgrpc.SimpleRequest {
	return &testgrpc.SimpleRequest{
		ResponseSize: 13,
		Payload:      &testgrpc.Payload{Body: []byte("hello, world")},
	}
}

// unary makes a plain unary call. WithCall also returns the finished
// *channel.Call, which holds the response headers.
func unary(ctx context.Context, w io.Writer, stub *grpctesting.TestServiceStub) error {
	md := metadata.Pairs(echoInitialKey, "hello from grpcactor")
	resp, call, err := stub.UnaryCallWithCall(ctx, helloRequest(), channel.Metadata(md))
	if err != nil {
		return err
	}
	req := helloRequest()
	fmt.Fprintf(w, "   sent payload %q, asked for %d bytes back\n", req.GetPayload().GetBody(), req.GetResponseSize())
	fmt.Fprintf(w, "   response payload: %d bytes\n", len(resp.GetPayload().GetBody()))
	fmt.Fprintf(w, "   initial metadata echoed back: %s = %q\n", echoInitialKey, call.InitialMetadata().Get(echoInitialKey))
	fmt.Fprintf(w, "   status: %v\n", call.Code())
	return nil
}

// unaryFuture starts the same call as a future: Future returns at once; a
// done callback and Result both see the response.
func unaryFuture(ctx context.Context, w io.Writer, stub *grpctesting.TestServiceStub) error {
	f := stub.UnaryCallFuture(ctx, helloRequest())

	// The callback runs on a goroutine of the future's own (or at once, if
	// the call has already finished), so the example waits for it before
	// printing anything else, to keep the output in order.
	callbackDone := make(chan struct{})
	f.AddDoneCallback(func(done futures.Future[*testgrpc.SimpleResponse]) {
		defer close(callbackDone)
		resp, err := done.Result(ctx) // done already: does not wait
		if err != nil {
			fmt.Fprintf(w, "   done callback: failed: %v\n", err)
			return
		}
		fmt.Fprintf(w, "   done callback: response payload %d bytes\n", len(resp.GetPayload().GetBody()))
	})

	resp, err := f.Result(ctx)
	<-callbackDone
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "   Result: response payload %d bytes, status %v\n", len(resp.GetPayload().GetBody()), f.Code())
	return nil
}

// serverStreaming asks for three responses of different sizes and ranges
// over them.
func serverStreaming(ctx context.Context, w io.Writer, stub *grpctesting.TestServiceStub) error {
	req := &testgrpc.StreamingOutputCallRequest{ResponseParameters: []*testgrpc.ResponseParameters{
		{Size: 1}, {Size: 2}, {Size: 3},
	}}
	stream, err := stub.StreamingOutputCall(ctx, req)
	if err != nil {
		return err
	}
	n := 0
	for resp, err := range stream.All() {
		if err != nil {
			return err
		}
		n++
		fmt.Fprintf(w, "   response %d: payload %d bytes\n", n, len(resp.GetPayload().GetBody()))
	}
	fmt.Fprintf(w, "   end of stream after %d responses, status %v\n", n, stream.Code())
	return nil
}

// clientStreaming sends payloads of 3, 5 and 8 bytes from an iter.Seq; the
// server answers once with their total size.
func clientStreaming(ctx context.Context, w io.Writer, stub *grpctesting.TestServiceStub) error {
	words := []string{"hey", "hello", "hi there"}
	var reqs []*testgrpc.StreamingInputCallRequest
	for _, s := range words {
		reqs = append(reqs, &testgrpc.StreamingInputCallRequest{Payload: &testgrpc.Payload{Body: []byte(s)}})
	}
	// Any iter.Seq will do; the call reads it on a goroutine of its own.
	resp, err := stub.StreamingInputCall(ctx, slices.Values(reqs))
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "   sent %d requests: %q\n", len(words), words)
	fmt.Fprintf(w, "   aggregated_payload_size: %d\n", resp.GetAggregatedPayloadSize())
	return nil
}

// bidiStreaming plays ping-pong: each request asks for one response, which
// is read before the next request goes out.
func bidiStreaming(ctx context.Context, w io.Writer, stub *grpctesting.TestServiceStub) error {
	stream, err := stub.FullDuplexCallOpen(ctx)
	if err != nil {
		return err
	}
	for _, size := range []int32{4, 8, 15} {
		ping := &testgrpc.StreamingOutputCallRequest{ResponseParameters: []*testgrpc.ResponseParameters{{Size: size}}}
		if err := stream.Send(ping); err != nil {
			// io.EOF: the call has ended; Recv gives its status.
			if errors.Is(err, io.EOF) {
				_, err = stream.Recv()
			}
			return err
		}
		pong, err := stream.Recv()
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "   ping asking for %d bytes -> pong with %d bytes\n", size, len(pong.GetPayload().GetBody()))
	}
	if err := stream.CloseSend(); err != nil {
		return err
	}
	if _, err := stream.Recv(); err != io.EOF {
		return fmt.Errorf("after CloseSend: want io.EOF, got %v", err)
	}
	fmt.Fprintf(w, "   closed the send side; the server ended the call with status %v\n", stream.Code())
	return nil
}

// errorStatus asks the server to fail the call with NOT_FOUND. Every failed
// RPC returns a *status.Error; status.Convert gets at it as in grpc-go.
func errorStatus(ctx context.Context, w io.Writer, stub *grpctesting.TestServiceStub) error {
	req := &testgrpc.SimpleRequest{ResponseStatus: &testgrpc.EchoStatus{Code: 5, Message: "no such greeting"}}
	_, err := stub.UnaryCall(ctx, req)
	if err == nil {
		return errors.New("the call succeeded; want NOT_FOUND")
	}
	st := status.Convert(err)
	fmt.Fprintf(w, "   code: %v\n", st.Code())
	fmt.Fprintf(w, "   message: %q\n", st.Message())
	fmt.Fprintf(w, "   details: %d (the server attached no google.rpc.Status details)\n", len(st.ErrorDetails()))
	fmt.Fprintf(w, "   err: %v\n", err)
	return nil
}

// byMessage makes calls the actor way, through the generated actor stub:
// an actor sends a unary call, and when its reply arrives starts a
// server-streaming call with a demand of one message, granting one more as
// it handles each; the replies, messages and the end arrive in its
// mailbox. No goroutine waits for either call.
func byMessage(ctx context.Context, w io.Writer, ch *channel.Channel) error {
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(slog.DiscardHandler) // protoactor's own logs off
	}))
	stub := grpctesting.NewTestServiceActorStub(ch)
	timeout := channel.Timeout(10 * time.Second)
	done := make(chan error, 1)
	pid := sys.Root.Spawn(actor.PropsFromFunc(func(actx actor.Context) {
		switch m := actx.Message().(type) {
		case *actor.Started:
			stub.UnaryCall(actx, helloRequest(), timeout)
		case *actors.Reply[*testgrpc.SimpleResponse]:
			if m.Err != nil {
				done <- m.Err
				return
			}
			fmt.Fprintf(w, "   reply: response payload %d bytes, status %v\n", len(m.Value.GetPayload().GetBody()), m.Code)
			req := &testgrpc.StreamingOutputCallRequest{ResponseParameters: []*testgrpc.ResponseParameters{
				{Size: 1}, {Size: 2}, {Size: 3},
			}}
			stub.StreamingOutputCall(actx, req, actors.Demand(1), timeout)
		case *actors.Message[*testgrpc.StreamingOutputCallResponse]:
			fmt.Fprintf(w, "   message: payload %d bytes\n", len(m.Value.GetPayload().GetBody()))
			m.Ref.Request(1) // handled one: one more
		case *actors.End:
			if m.Err == nil {
				fmt.Fprintf(w, "   end of stream, status %v\n", m.Code)
			}
			done <- m.Err
		}
	}))
	defer func() { _ = sys.Root.StopFuture(pid).Wait() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}
