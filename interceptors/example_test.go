package interceptors_test

import (
	"context"
	"fmt"
	"sync"

	"github.com/grpcactor/grpcactor/channel"
	"github.com/grpcactor/grpcactor/interceptors"
	"github.com/grpcactor/grpcactor/metadata"
)

// A caching interceptor answers repeated requests itself, and a second one
// adds metadata to every call that does go out. Nothing here reaches a
// server: the cache answers every call.
func Example() {
	ch, err := channel.Insecure("localhost:1")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ch.Close()

	var mu sync.Mutex
	cache := map[string][]byte{"ping": []byte("pong (cached)")}
	cached := interceptors.UnaryUnaryFunc(func(ctx context.Context, d *interceptors.ClientCallDetails, req any, next interceptors.UnaryInvoker) (any, interceptors.Call, error) {
		mu.Lock()
		resp, ok := cache[string(req.([]byte))]
		mu.Unlock()
		if ok {
			return resp, nil, nil // no RPC
		}
		return next(ctx, d, req)
	})
	tagged := interceptors.UnaryUnaryFunc(func(ctx context.Context, d *interceptors.ClientCallDetails, req any, next interceptors.UnaryInvoker) (any, interceptors.Call, error) {
		d.Metadata = metadata.Join(d.Metadata, metadata.Pairs("x-client", "example"))
		return next(ctx, d, req)
	})

	ich, err := channel.Intercept(ch, cached, tagged) // cached runs first
	if err != nil {
		fmt.Println(err)
		return
	}
	echo := channel.UnaryUnary[[]byte, []byte](ich, "/example.Echo/Echo")
	resp, call, err := echo.WithCall(context.Background(), []byte("ping"))
	fmt.Printf("%s, code %v, err %v, connectivity %v\n", resp, call.Code(), err, ich.State(false))

	_, err = channel.Intercept(ch, "not an interceptor")
	fmt.Println(err)
	// Output:
	// pong (cached), code OK, err <nil>, connectivity IDLE
	// channel.Intercept: interceptor 0 (string) implements none of interceptors.UnaryUnary, UnaryStream, StreamUnary, StreamStream
}
