package channel_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/grpcactor/grpcactor/channel"
	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/interceptors"
	"github.com/grpcactor/grpcactor/status"
	"github.com/grpcactor/grpcactor/system_test/peers"
	"google.golang.org/grpc"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	grpcmd "google.golang.org/grpc/metadata"
)

// TestPerCallWireOptions checks MaxReceiveMessageSize, MaxSendMessageSize
// and ContentSubtype on a plain channel and past an interceptor chain.
func TestPerCallWireOptions(t *testing.T) {
	var mu sync.Mutex
	var contentType string
	addr := peers.StartGoInteropOpts(t, grpc.UnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		md, _ := grpcmd.FromIncomingContext(ctx)
		mu.Lock()
		contentType = md.Get("content-type")[0]
		mu.Unlock()
		return h(ctx, req)
	}))
	plain, err := channel.Insecure(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	passOn := interceptors.UnaryUnaryFunc(func(ctx context.Context, d *interceptors.ClientCallDetails, req any, next interceptors.UnaryInvoker) (any, interceptors.Call, error) {
		return next(ctx, d, req)
	})
	intercepted, err := channel.Intercept(plain, passOn)
	if err != nil {
		t.Fatal(err)
	}
	for _, ch := range []*channel.Channel{plain, intercepted} {
		unary := channel.UnaryUnary[*testgrpc.SimpleRequest, *testgrpc.SimpleResponse](ch, svc+"UnaryCall")
		call := func(req *testgrpc.SimpleRequest, opts ...channel.CallOption) codes.Code {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			_, err := unary.Call(ctx, req, opts...)
			return status.Code(err)
		}
		big := &testgrpc.SimpleRequest{ResponseSize: 5 << 20}
		small := &testgrpc.SimpleRequest{ResponseSize: 100, Payload: &testgrpc.Payload{Body: make([]byte, 100)}}
		tests := []struct {
			name string
			req  *testgrpc.SimpleRequest
			opts []channel.CallOption
			want codes.Code
		}{
			{"over the channel's 4 MiB", big, nil, codes.ResourceExhausted},
			{"raised for the call", big, []channel.CallOption{channel.MaxReceiveMessageSize(6 << 20)}, codes.OK},
			{"unlimited for the call", big, []channel.CallOption{channel.MaxReceiveMessageSize(-1)}, codes.OK},
			{"lowered for the call", small, []channel.CallOption{channel.MaxReceiveMessageSize(50)}, codes.ResourceExhausted},
			{"send limit", small, []channel.CallOption{channel.MaxSendMessageSize(50)}, codes.ResourceExhausted},
			{"send limit met", small, []channel.CallOption{channel.MaxSendMessageSize(200)}, codes.OK},
		}
		for _, tt := range tests {
			if got := call(tt.req, tt.opts...); got != tt.want {
				t.Errorf("intercepted=%v %s: %v, want %v", ch != plain, tt.name, got, tt.want)
			}
		}
		for _, sub := range []string{"", "PROTO"} {
			var opts []channel.CallOption
			if sub != "" {
				opts = append(opts, channel.ContentSubtype(sub))
			}
			if got := call(&testgrpc.SimpleRequest{}, opts...); got != codes.OK {
				t.Fatalf("subtype %q: %v", sub, got)
			}
			want := "application/grpc"
			if sub != "" {
				want += "+proto"
			}
			mu.Lock()
			if contentType != want {
				t.Errorf("intercepted=%v: subtype %q sent content-type %q, want %q", ch != plain, sub, contentType, want)
			}
			mu.Unlock()
		}
	}
}
