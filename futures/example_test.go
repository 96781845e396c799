package futures_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/grpcactor/grpcactor/futures"
)

func Example() {
	// The producer keeps the promise; consumers see a Future.
	p := futures.New[string](nil)
	shout := futures.Then(p, func(s string) (string, error) {
		return strings.ToUpper(s) + "!", nil
	})

	go p.Complete("hello", nil)

	v, err := shout.Result(context.Background())
	fmt.Println(v, err)

	// A future that is cancelled reports ErrCancelled.
	q := futures.New[int](nil)
	q.OnCancel(func() { fmt.Println("cancel hook: reset the stream") })
	fmt.Println("cancelled:", q.Cancel())
	_, err = q.Result(context.Background())
	fmt.Println(errors.Is(err, futures.ErrCancelled))

	// Waiting past the context's end reports ErrTimeout.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = futures.New[int](nil).Result(ctx)
	fmt.Println(errors.Is(err, futures.ErrTimeout), errors.Is(err, context.Canceled))
	// Output:
	// HELLO! <nil>
	// cancel hook: reset the stream
	// cancelled: true
	// true
	// true true
}

func ExampleFuture_PipeTo() {
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(slog.DiscardHandler)
	}))
	received := make(chan string)
	pid := sys.Root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
		switch msg := c.Message().(type) {
		case *futures.Outcome[int]:
			received <- fmt.Sprintf("value=%d err=%v", msg.Value, msg.Err)
		}
	}))

	p := futures.New[int](sys)
	p.PipeTo(pid)
	p.Complete(42, nil)
	fmt.Println(<-received)

	_ = sys.Root.StopFuture(pid).Wait()
	// Output:
	// value=42 err=<nil>
}

func ExamplePromise_CancelIf() {
	// A producer whose work may already be over refuses to be cancelled
	// then, and its result still arrives.
	p := futures.New[string](nil)
	finished := true // say the work ended just before the cancel
	p.CancelIf(func() bool { return !finished })
	fmt.Println("cancelled:", p.Cancel())
	p.Complete("result", nil)
	v, err := p.Result(context.Background())
	fmt.Println(v, err)
	// Output:
	// cancelled: false
	// result <nil>
}
