package main

import (
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/grpcactor/grpcactor/channel"
	"github.com/grpcactor/grpcactor/cmd/protoc-gen-go-grpcactor/internal/testpb/greeter"
	"github.com/grpcactor/grpcactor/cmd/protoc-gen-go-grpcactor/internal/testpb/greeter/greeteractor"
	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/status"
	"github.com/grpcactor/grpcactor/system_test/peers"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	grpcstatus "google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
)

// startGreeter serves the Greeter of testdata/greeter.proto with grpc-go,
// answering every RPC by hand (there are no grpc-go stubs for it).
func startGreeter(t *testing.T) string {
	return peers.StartGoInteropOpts(t, grpc.UnknownServiceHandler(func(_ any, stream grpc.ServerStream) error {
		method, _ := grpc.MethodFromServerStream(stream)
		recv := func() (*greeter.HelloRequest, error) {
			req := new(greeter.HelloRequest)
			return req, stream.RecvMsg(req)
		}
		switch method {
		case greeter.GreeterSayHelloMethod:
			req, err := recv()
			if err != nil {
				return err
			}
			return stream.SendMsg(&greeter.HelloReply{Message: "hello " + req.GetName()})
		case greeter.GreeterLotsOfRepliesMethod:
			req, err := recv()
			if err != nil {
				return err
			}
			for i := range req.GetLanguages() {
				if err := stream.SendMsg(&greeter.HelloReply{Message: strings.Repeat("!", int(i+1)) + req.GetName()}); err != nil {
					return err
				}
			}
			return nil
		case greeter.GreeterLotsOfGreetingsMethod:
			var names []string
			for {
				req, err := recv()
				if err == io.EOF {
					return stream.SendMsg(&greeter.HelloReply{Message: "hello " + strings.Join(names, ", ")})
				}
				if err != nil {
					return err
				}
				names = append(names, req.GetName())
			}
		case greeter.GreeterBidiHelloMethod:
			for {
				req, err := recv()
				if err == io.EOF {
					return nil
				}
				if err != nil {
					return err
				}
				if err := stream.SendMsg(&greeter.HelloReply{Message: "hi " + req.GetName()}); err != nil {
					return err
				}
			}
		case greeter.GreeterSayGoodbyeMethod:
			if _, err := recv(); err != nil {
				return err
			}
			return stream.SendMsg(&emptypb.Empty{})
		}
		return grpcstatus.Errorf(grpccodes.Unimplemented, "no method %s", method)
	}))
}

// TestGeneratedStub runs every form the plugin generated for
// testdata/greeter.proto against a grpc-go server.
func TestGeneratedStub(t *testing.T) {
	ch, err := channel.Insecure(startGreeter(t))
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	stub := greeter.NewGreeterStub(ch)
	hello := func(name string) *greeter.HelloRequest { return &greeter.HelloRequest{Name: name} }
	names := func(ns ...string) []*greeter.HelloRequest {
		var reqs []*greeter.HelloRequest
		for _, n := range ns {
			reqs = append(reqs, hello(n))
		}
		return reqs
	}
	check := func(form string, got *greeter.HelloReply, err error, want string) {
		t.Helper()
		if err != nil || got.GetMessage() != want {
			t.Errorf("%s = %q, %v; want %q", form, got.GetMessage(), err, want)
		}
	}

	r, err := stub.SayHello(ctx, hello("ann"))
	check("SayHello", r, err, "hello ann")
	r, call, err := stub.SayHelloWithCall(ctx, hello("bob"))
	check("SayHelloWithCall", r, err, "hello bob")
	if call.Code() != codes.OK || call.Method() != greeter.GreeterSayHelloMethod {
		t.Errorf("SayHelloWithCall: call %v %s", call.Code(), call.Method())
	}
	r, err = stub.SayHelloFuture(ctx, hello("cy")).Result(ctx)
	check("SayHelloFuture", r, err, "hello cy")

	rs, err := stub.LotsOfReplies(ctx, &greeter.HelloRequest{Name: "di", Languages: 3})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for r, err := range rs.All() {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, r.GetMessage())
	}
	if strings.Join(got, " ") != "!di !!di !!!di" {
		t.Errorf("LotsOfReplies = %q", got)
	}

	r, err = stub.LotsOfGreetings(ctx, slices.Values(names("a", "b")))
	check("LotsOfGreetings", r, err, "hello a, b")
	r, call, err = stub.LotsOfGreetingsWithCall(ctx, slices.Values(names("c")))
	check("LotsOfGreetingsWithCall", r, err, "hello c")
	if call.Code() != codes.OK {
		t.Errorf("LotsOfGreetingsWithCall: %v", call.Code())
	}
	r, err = stub.LotsOfGreetingsFuture(ctx, slices.Values(names("d", "e", "f"))).Result(ctx)
	check("LotsOfGreetingsFuture", r, err, "hello d, e, f")
	cs, err := stub.LotsOfGreetingsOpen(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, req := range names("g", "h") {
		if err := cs.Send(req); err != nil {
			t.Fatal(err)
		}
	}
	r, err = cs.CloseAndRecv()
	check("LotsOfGreetingsOpen", r, err, "hello g, h")

	rs, err = stub.BidiHello(ctx, slices.Values(names("i", "j")))
	if err != nil {
		t.Fatal(err)
	}
	got = nil
	for r, err := range rs.All() {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, r.GetMessage())
	}
	if strings.Join(got, ",") != "hi i,hi j" {
		t.Errorf("BidiHello = %q", got)
	}
	bs, err := stub.BidiHelloOpen(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := bs.Send(hello("k")); err != nil {
		t.Fatal(err)
	}
	r, err = bs.Recv()
	check("BidiHelloOpen", r, err, "hi k")
	bs.CloseSend()
	if _, err := bs.Recv(); err != io.EOF {
		t.Errorf("BidiHelloOpen after CloseSend: %v", err)
	}

	//lint:ignore SA1019 the generated deprecated method is tested on purpose
	if _, err := stub.SayGoodbye(ctx, hello("l")); err != nil {
		t.Errorf("SayGoodbye: %v", err)
	}
	_, err = stub.Type(ctx, &emptypb.Empty{})
	if st := status.Convert(err); st.Code() != codes.Unimplemented || st.Message() != "no method "+greeter.GreeterTypeMethod {
		t.Errorf("Type: %v", err)
	}

	// The same stub generated into a package of its own.
	r, err = greeteractor.NewGreeterStub(ch).SayHello(ctx, hello("m"))
	check("greeteractor SayHello", r, err, "hello m")

	// A closed channel: the stub's calls fail with the channel's status.
	ch.Close()
	if _, err := stub.SayHello(ctx, hello("n")); !errors.As(err, new(*status.Error)) {
		t.Errorf("SayHello on a closed channel: %v", err)
	}
}
