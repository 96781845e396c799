package interceptors_test

import (
	"context"
	"iter"
	"testing"

	"github.com/grpcactor/grpcactor/interceptors"
	"github.com/grpcactor/grpcactor/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.VerifyTestMain(m) }

type both struct{}

func (both) InterceptUnaryUnary(ctx context.Context, d *interceptors.ClientCallDetails, req any, next interceptors.UnaryInvoker) (any, interceptors.Call, error) {
	return next(ctx, d, req)
}

func (both) InterceptStreamStream(ctx context.Context, d *interceptors.ClientCallDetails, reqs iter.Seq[any], next interceptors.StreamStreamInvoker) (interceptors.ClientStream, error) {
	return next(ctx, d, reqs)
}

func TestImplements(t *testing.T) {
	for _, tc := range []struct {
		v    any
		want bool
	}{
		{both{}, true},
		{interceptors.UnaryUnaryFunc(nil), true},
		{interceptors.UnaryStreamFunc(nil), true},
		{interceptors.StreamUnaryFunc(nil), true},
		{interceptors.StreamStreamFunc(nil), true},
		{func() {}, false},
		{"x", false},
		{nil, false},
	} {
		if got := interceptors.Implements(tc.v); got != tc.want {
			t.Errorf("Implements(%T) = %v, want %v", tc.v, got, tc.want)
		}
	}
}

// The Func adapters call the function with what they are given.
func TestFuncAdapters(t *testing.T) {
	var got string
	uu := interceptors.UnaryUnaryFunc(func(ctx context.Context, d *interceptors.ClientCallDetails, req any, next interceptors.UnaryInvoker) (any, interceptors.Call, error) {
		got = d.Method
		return next(ctx, d, req)
	})
	resp, _, err := uu.InterceptUnaryUnary(context.Background(), &interceptors.ClientCallDetails{Method: "/s.S/M"}, 1,
		func(_ context.Context, _ *interceptors.ClientCallDetails, req any) (any, interceptors.Call, error) {
			return req.(int) + 1, nil, nil
		})
	if got != "/s.S/M" || resp != 2 || err != nil {
		t.Errorf("UnaryUnaryFunc: method %q, resp %v, err %v", got, resp, err)
	}
}
