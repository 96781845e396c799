package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/grpcactor/grpcactor/actors"
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

// TestGeneratedActorStub runs every method of the generated
// GreeterActorStub from a protoactor actor against a grpc-go server: the
// replies, streamed messages, send credit and ends arrive in its mailbox.
func TestGeneratedActorStub(t *testing.T) {
	ch, err := channel.Insecure(startGreeter(t))
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(slog.DiscardHandler)
	}))
	stub := greeter.NewGreeterActorStub(ch)
	hello := func(name string) *greeter.HelloRequest { return &greeter.HelloRequest{Name: name} }

	// The actor reports each call's outcome as "Name: what it saw".
	events := make(chan string, 16)
	pid := sys.Root.Spawn(actor.PropsFromFunc(func() actor.ReceiveFunc {
		var sayHello, replies, greetings, bidi, goodbye, typ *actors.Ref
		var streamed []string
		var sent bool
		return func(ctx actor.Context) {
			switch m := ctx.Message().(type) {
			case *actor.Started:
				timeout := channel.Timeout(time.Minute)
				sayHello = stub.SayHello(ctx, hello("ann"), timeout)
				replies = stub.LotsOfReplies(ctx, &greeter.HelloRequest{Name: "di", Languages: 3}, actors.Demand(1), timeout)
				greetings = stub.LotsOfGreetings(ctx, timeout)
				bidi = stub.BidiHello(ctx, timeout)
				//lint:ignore SA1019 the generated deprecated method is tested on purpose
				goodbye = stub.SayGoodbye(ctx, hello("l"), timeout)
				typ = stub.Type(ctx, &emptypb.Empty{}, timeout)
			case *actors.Reply[*greeter.HelloReply]:
				name := map[*actors.Ref]string{sayHello: "SayHello", greetings: "LotsOfGreetings"}[m.Ref]
				events <- fmt.Sprintf("%s: %q %v %v", name, m.Value.GetMessage(), m.Code, m.Err)
			case *actors.Reply[*emptypb.Empty]:
				name := map[*actors.Ref]string{goodbye: "SayGoodbye", typ: "Type"}[m.Ref]
				events <- fmt.Sprintf("%s: %v %s", name, m.Code, m.Details)
			case *actors.SendCredit:
				switch {
				case m.Ref == greetings && !sent:
					sent = true
					for _, n := range []string{"a", "b"} {
						if err := m.Ref.Send(hello(n)); err != nil {
							events <- "LotsOfGreetings: Send: " + err.Error()
						}
					}
					m.Ref.CloseSend()
				case m.Ref == bidi && m.N > 0 && len(streamed) == 0:
					streamed = append(streamed, "sent")
					if err := m.Ref.Send(hello("k")); err != nil {
						events <- "BidiHello: Send: " + err.Error()
					}
				}
			case *actors.Message[*greeter.HelloReply]:
				switch m.Ref {
				case replies:
					events <- "LotsOfReplies message: " + m.Value.GetMessage()
					m.Ref.Request(1) // one handled, one more
				case bidi:
					events <- "BidiHello message: " + m.Value.GetMessage()
					m.Ref.CloseSend()
				}
			case *actors.End:
				name := map[*actors.Ref]string{replies: "LotsOfReplies", bidi: "BidiHello"}[m.Ref]
				events <- fmt.Sprintf("%s end: %v %v", name, m.Code, m.Err)
			}
		}
	}()))
	defer func() { _ = sys.Root.StopFuture(pid).Wait() }()

	want := []string{
		`SayHello: "hello ann" OK <nil>`,
		"LotsOfReplies message: !di",
		"LotsOfReplies message: !!di",
		"LotsOfReplies message: !!!di",
		"LotsOfReplies end: OK <nil>",
		`LotsOfGreetings: "hello a, b" OK <nil>`,
		"BidiHello message: hi k",
		"BidiHello end: OK <nil>",
		"SayGoodbye: OK ",
		"Type: UNIMPLEMENTED no method " + greeter.GreeterTypeMethod,
	}
	got := collect(t, events, len(want))
	// The calls run at once: compare each call's events in their order.
	for _, prefix := range []string{"SayHello", "LotsOfReplies", "LotsOfGreetings", "BidiHello", "SayGoodbye", "Type"} {
		pick := func(es []string) []string {
			var out []string
			for _, e := range es {
				if strings.HasPrefix(e, prefix+":") || strings.HasPrefix(e, prefix+" ") {
					out = append(out, e)
				}
			}
			return out
		}
		if g, w := pick(got), pick(want); !slices.Equal(g, w) {
			t.Errorf("%s: got %q, want %q", prefix, g, w)
		}
	}

	// The same stub generated into a package of its own, called from the
	// root context with ReplyTo.
	replies := make(chan *actors.Reply[*greeter.HelloReply], 1)
	to := sys.Root.Spawn(actor.PropsFromFunc(func(ctx actor.Context) {
		if r, ok := ctx.Message().(*actors.Reply[*greeter.HelloReply]); ok {
			replies <- r
		}
	}))
	defer func() { _ = sys.Root.StopFuture(to).Wait() }()
	greeteractor.NewGreeterActorStub(ch).SayHello(sys.Root, hello("m"), actors.ReplyTo(to))
	select {
	case r := <-replies:
		if r.Err != nil || r.Value.GetMessage() != "hello m" {
			t.Errorf("greeteractor SayHello: %q, %v", r.Value.GetMessage(), r.Err)
		}
	case <-time.After(time.Minute):
		t.Fatal("greeteractor SayHello: no reply within a minute")
	}
}

// collect reads n events, failing the test if they do not come within a
// minute (a bound for a broken run, not a timing assertion).
func collect(t *testing.T, events <-chan string, n int) []string {
	t.Helper()
	var got []string
	deadline := time.After(time.Minute)
	for len(got) < n {
		select {
		case e := <-events:
			got = append(got, e)
		case <-deadline:
			t.Fatalf("%d events of %d within a minute: %q", len(got), n, got)
		}
	}
	return got
}

// TestGeneratedStartForms runs the callback (Start) forms the plugin
// generated against a grpc-go server.
func TestGeneratedStartForms(t *testing.T) {
	ch, err := channel.Insecure(startGreeter(t))
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	stub := greeter.NewGreeterStub(ch)
	hello := func(name string) *greeter.HelloRequest { return &greeter.HelloRequest{Name: name} }
	wait := func(what string, c <-chan string) string {
		t.Helper()
		select {
		case s := <-c:
			return s
		case <-ctx.Done():
			t.Fatalf("%s: nothing within a minute", what)
			return ""
		}
	}

	// Unary: done runs once.
	out := make(chan string, 1)
	stub.SayHelloStart(ctx, hello("ann"), func(resp *greeter.HelloReply, call *channel.Call, err error) {
		out <- fmt.Sprintf("%q %v %v", resp.GetMessage(), call.Code(), err)
	})
	if got := wait("SayHelloStart", out); got != `"hello ann" OK <nil>` {
		t.Errorf("SayHelloStart: %s", got)
	}

	// Server streaming: the messages, then the end, to the handler (its
	// callbacks run one at a time).
	var msgs []string
	stub.LotsOfRepliesStart(ctx, &greeter.HelloRequest{Name: "di", Languages: 2}, channel.StreamHandler[*greeter.HelloReply]{
		OnMessage: func(r *greeter.HelloReply) { msgs = append(msgs, r.GetMessage()) },
		OnEnd:     func(_ *channel.Call, err error) { out <- fmt.Sprintf("%q %v", msgs, err) },
	})
	if got := wait("LotsOfRepliesStart", out); got != `["!di" "!!di"] <nil>` {
		t.Errorf("LotsOfRepliesStart: %s", got)
	}

	// Client streaming: send after the first credit, then CloseSend.
	// credits makes an OnSendCredit that signals each call's credit on a
	// channel of its own.
	credits := func() (chan struct{}, func(int)) {
		c := make(chan struct{}, 1)
		return c, func(int) {
			select {
			case c <- struct{}{}:
			default:
			}
		}
	}
	credit, onCredit := credits()
	var reply string
	cs := stub.LotsOfGreetingsStart(ctx, channel.StreamHandler[*greeter.HelloReply]{
		OnSendCredit: onCredit,
		OnMessage:    func(r *greeter.HelloReply) { reply = r.GetMessage() },
		OnEnd:        func(_ *channel.Call, err error) { out <- fmt.Sprintf("%q %v", reply, err) },
	})
	select {
	case <-credit:
	case <-ctx.Done():
		t.Fatal("LotsOfGreetingsStart: no send credit within a minute")
	}
	for _, n := range []string{"a", "b"} {
		if err := cs.Send(hello(n)); err != nil {
			t.Fatalf("LotsOfGreetingsStart Send: %v", err)
		}
	}
	cs.CloseSend()
	if got := wait("LotsOfGreetingsStart", out); got != `"hello a, b" <nil>` {
		t.Errorf("LotsOfGreetingsStart: %s", got)
	}

	// Bidirectional: one request, its answer, then CloseSend and the end.
	answers := make(chan string, 1)
	credit, onCredit = credits()
	bs := stub.BidiHelloStart(ctx, channel.StreamHandler[*greeter.HelloReply]{
		OnSendCredit: onCredit,
		OnMessage:    func(r *greeter.HelloReply) { answers <- r.GetMessage() },
		OnEnd:        func(_ *channel.Call, err error) { out <- fmt.Sprint(err) },
	})
	select {
	case <-credit:
	case <-ctx.Done():
		t.Fatal("BidiHelloStart: no send credit within a minute")
	}
	if err := bs.Send(hello("k")); err != nil {
		t.Fatalf("BidiHelloStart Send: %v", err)
	}
	if got := wait("BidiHelloStart answer", answers); got != "hi k" {
		t.Errorf("BidiHelloStart answer %q", got)
	}
	bs.CloseSend()
	if got := wait("BidiHelloStart end", out); got != "<nil>" {
		t.Errorf("BidiHelloStart end: %s", got)
	}
}
