package resolver_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/grpcactor/grpcactor/channel"
	"github.com/grpcactor/grpcactor/resolver"
	"google.golang.org/grpc"
	"google.golang.org/grpc/interop"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
)

// fileResolver resolves "file:///path/to/list" targets: the file holds
// one address per line, "host:port" or "host:port weight=N". It is a push
// resolver (the Props form): its actor reads the file when the channel
// starts it and reads it again whenever the channel asks (a connection was
// lost or failed), sending an update only when the list changed. A
// production one would also read it on a change notification (inotify):
// such a watcher would send the actor a message, and the actor would do
// what it does on ResolveNow.
type fileResolver struct{}

func (fileResolver) Build(t resolver.Target) (resolver.Resolver, error) {
	if t.Endpoint == "" {
		return resolver.Resolver{}, fmt.Errorf("file resolver: no path in %q", t.Raw)
	}
	path := "/" + t.Endpoint
	return resolver.Resolver{Props: actor.PropsFromProducer(func() actor.Actor {
		return &fileActor{path: path}
	})}, nil
}

type fileActor struct {
	path    string
	channel *actor.PID
	last    string // the file's contents last sent
}

func (a *fileActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *resolver.Start:
		a.channel = m.Channel
		a.read(ctx, true)
	case *resolver.ResolveNow:
		a.read(ctx, false)
	}
}

// read reads the file (it is small and local: reading it in Receive is
// fine) and sends the channel what changed.
func (a *fileActor) read(ctx actor.Context, always bool) {
	data, err := os.ReadFile(a.path)
	if err != nil {
		ctx.Send(a.channel, &resolver.Update{Err: err})
		return
	}
	if string(data) == a.last && !always {
		return
	}
	a.last = string(data)
	var u resolver.Update
	for _, line := range strings.Split(a.last, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		addr := resolver.Address{Addr: f[0]}
		if len(f) > 1 {
			fmt.Sscanf(f[1], "weight=%d", &addr.Weight)
		}
		u.Addresses = append(u.Addresses, addr)
	}
	ctx.Send(a.channel, &u)
}

// exampleServer runs grpc-go's interop TestService on a free port.
func exampleServer() (addr string, stop func()) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	s := grpc.NewServer()
	testgrpc.RegisterTestServiceServer(s, interop.NewTestServer())
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Serve(lis)
	}()
	return lis.Addr().String(), func() { s.Stop(); <-done }
}

// A resolver that reads a file of addresses: the channel follows the file
// when its server goes away.
func Example_fileResolver() {
	a, stopA := exampleServer()
	b, stopB := exampleServer()
	defer stopB()
	names := map[string]string{a: "server A", b: "server B"}

	dir, err := os.MkdirTemp("", "resolver")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	list := filepath.Join(dir, "backends.txt")
	if err := os.WriteFile(list, []byte(a+" weight=2\n"), 0o600); err != nil {
		panic(err)
	}

	ch, err := channel.Insecure("file://"+list, channel.WithResolver(fileResolver{}),
		channel.WithDNSMinResolutionInterval(0)) // re-read the file on every request
	if err != nil {
		panic(err)
	}
	defer ch.Close()
	empty := channel.UnaryUnary[*testgrpc.Empty, *testgrpc.Empty](ch, "/grpc.testing.TestService/EmptyCall")
	ctx := context.Background()
	_, call, err := empty.WithCall(ctx, &testgrpc.Empty{})
	if err != nil {
		panic(err)
	}
	fmt.Println("reached", names[call.Peer()])

	// The list moves to server B and server A goes away: the channel
	// loses its connection, asks the resolver again, and the next call
	// (waiting for a connection) reaches B.
	if err := os.WriteFile(list, []byte(b+"\n"), 0o600); err != nil {
		panic(err)
	}
	stopA()
	if _, err := ch.WaitForStateChange(ctx, channel.Ready); err != nil {
		panic(err)
	}
	_, call, err = empty.WithCall(ctx, &testgrpc.Empty{}, channel.WaitForReady(true))
	if err != nil {
		panic(err)
	}
	fmt.Println("reached", names[call.Peer()])
	// Output:
	// reached server A
	// reached server B
}

// Manual pushes addresses from the program (or a test) itself.
func ExampleManual() {
	addr, stop := exampleServer()
	defer stop()

	m := resolver.NewManual()
	m.Update(resolver.Update{Addresses: []resolver.Address{{Addr: addr}}})
	ch, err := channel.Insecure("manual:///my-service", channel.WithResolver(m))
	if err != nil {
		panic(err)
	}
	defer ch.Close()
	empty := channel.UnaryUnary[*testgrpc.Empty, *testgrpc.Empty](ch, "/grpc.testing.TestService/EmptyCall")
	if _, err := empty.Call(context.Background(), &testgrpc.Empty{}); err != nil {
		panic(err)
	}
	target, _ := m.WaitStarted(context.Background())
	fmt.Println("call OK; resolver started for", target.Endpoint, "with authority", ch.Authority())
	// Output:
	// call OK; resolver started for my-service with authority my-service
}

// Every has a plain function polled periodically, not only when the
// channel asks: here the backend is a variable the program changes, and
// the channel follows it while its connection is still good. (A real
// interval is seconds or minutes; this one keeps the example short.)
func ExampleEvery() {
	a, stopA := exampleServer()
	defer stopA()
	b, stopB := exampleServer()
	defer stopB()
	names := map[string]string{a: "server A", b: "server B"}

	var backend atomic.Value
	backend.Store(a)
	poll := func(context.Context, resolver.Target) resolver.Update {
		return resolver.Update{Addresses: []resolver.Address{{Addr: backend.Load().(string)}}}
	}
	ch, err := channel.Insecure("backends:///my-service",
		channel.WithResolver(resolver.PollFunc(poll, resolver.Every(10*time.Millisecond))))
	if err != nil {
		panic(err)
	}
	defer ch.Close()
	empty := channel.UnaryUnary[*testgrpc.Empty, *testgrpc.Empty](ch, "/grpc.testing.TestService/EmptyCall")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, call, err := empty.WithCall(ctx, &testgrpc.Empty{})
	if err != nil {
		panic(err)
	}
	fmt.Println("reached", names[call.Peer()])

	// The backend moves to server B; A stays up. A later poll tells the
	// channel, which moves its calls to B.
	backend.Store(b)
	for call.Peer() != b {
		if _, call, err = empty.WithCall(ctx, &testgrpc.Empty{}, channel.WaitForReady(true)); err != nil {
			panic(err)
		}
	}
	fmt.Println("reached", names[call.Peer()])
	// Output:
	// reached server A
	// reached server B
}
