package status_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/internal/leakcheck"
	"github.com/grpcactor/grpcactor/metadata"
	"github.com/grpcactor/grpcactor/status"
)

func TestMain(m *testing.M) { leakcheck.VerifyTestMain(m) }

func TestFromErrorAndCode(t *testing.T) {
	st := status.New(codes.NotFound, "no such thing").WithMetadata(metadata.Pairs("a", "1"), metadata.Pairs("b", "2"))
	wrapped := fmt.Errorf("outer: %w", st)
	tests := []struct {
		name    string
		err     error
		code    codes.Code
		ok      bool
		details string
	}{
		{"nil", nil, codes.OK, true, ""},
		{"status", st, codes.NotFound, true, "no such thing"},
		{"wrapped", wrapped, codes.NotFound, true, "no such thing"},
		{"canceled", context.Canceled, codes.Canceled, true, "context canceled"},
		{"deadline", fmt.Errorf("x: %w", context.DeadlineExceeded), codes.DeadlineExceeded, true, "x: context deadline exceeded"},
		{"other", io.EOF, codes.Unknown, false, "EOF"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := status.Code(tt.err); got != tt.code {
				t.Errorf("Code = %v, want %v", got, tt.code)
			}
			s, ok := status.FromError(tt.err)
			if ok != tt.ok {
				t.Errorf("ok = %v", ok)
			}
			if tt.err == nil {
				if s != nil {
					t.Errorf("FromError(nil) = %v", s)
				}
				return
			}
			if s.Code() != tt.code || s.Details() != tt.details {
				t.Errorf("FromError = %v %q", s.Code(), s.Details())
			}
		})
	}
	if st.InitialMetadata().Get("a")[0] != "1" || st.TrailingMetadata().Get("b")[0] != "2" {
		t.Error("metadata lost")
	}
	if st.Error() != "rpc error: code = NOT_FOUND desc = no such thing" {
		t.Errorf("Error() = %q", st.Error())
	}
}

func TestErrorfWrapsAndIs(t *testing.T) {
	err := status.Errorf(codes.Unavailable, "dial: %w", io.ErrUnexpectedEOF)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Error("cause not reachable")
	}
	if !errors.Is(err, status.New(codes.Unavailable, "dial: unexpected EOF")) {
		t.Error("Is by code and details failed")
	}
	if errors.Is(err, status.New(codes.Internal, "dial: unexpected EOF")) {
		t.Error("Is matched another code")
	}
	d := status.FromContextError(context.DeadlineExceeded)
	if d.Code() != codes.DeadlineExceeded || !errors.Is(d, context.DeadlineExceeded) {
		t.Errorf("FromContextError = %v", d)
	}
	if c := status.FromContextError(context.Canceled); c.Code() != codes.Canceled {
		t.Errorf("FromContextError(Canceled) = %v", c)
	}
}

func ExampleFromError() {
	var err error = status.New(codes.Unavailable, "connection refused")
	if st, ok := status.FromError(err); ok {
		fmt.Println(st.Code(), st.Details())
	}
	// Output: UNAVAILABLE connection refused
}

func TestFromContext(t *testing.T) {
	live, stop := context.WithCancel(context.Background())
	defer stop()
	if st := status.FromContext(live); st != nil {
		t.Fatalf("FromContext of a live context = %v, want nil", st)
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel2 := context.WithDeadline(context.Background(), time.Unix(1, 0))
	defer cancel2()
	withCause, cancel3 := context.WithCancelCause(context.Background())
	cause := status.New(codes.Unavailable, "connection lost")
	cancel3(cause)
	otherCause, cancel4 := context.WithCancelCause(context.Background())
	cancel4(io.EOF)
	for _, tt := range []struct {
		name string
		ctx  context.Context
		want string
	}{
		{"cancelled", cancelled, "rpc error: code = CANCELLED desc = context canceled"},
		{"expired", expired, "rpc error: code = DEADLINE_EXCEEDED desc = context deadline exceeded"},
		{"status cause", withCause, "rpc error: code = UNAVAILABLE desc = connection lost"},
		{"other cause", otherCause, "rpc error: code = CANCELLED desc = context canceled"},
	} {
		st := status.FromContext(tt.ctx)
		if st.Error() != tt.want {
			t.Errorf("%s: FromContext = %q, want %q", tt.name, st.Error(), tt.want)
		}
		if tt.name == "status cause" && st != cause {
			t.Errorf("%s: FromContext did not return the cause itself", tt.name)
		}
		if tt.name != "status cause" && !errors.Is(st, tt.ctx.Err()) {
			t.Errorf("%s: FromContext does not wrap ctx.Err()", tt.name)
		}
	}
}

// FromError and FromContextError agree on context errors.
func TestFromErrorContext(t *testing.T) {
	for _, err := range []error{context.Canceled, context.DeadlineExceeded, fmt.Errorf("waiting: %w", context.DeadlineExceeded)} {
		a, ok := status.FromError(err)
		b := status.FromContextError(err)
		if !ok || a.Code() != b.Code() || a.Details() != b.Details() || !errors.Is(a, err) {
			t.Errorf("FromError(%v) = %v, %v; FromContextError = %v", err, a, ok, b)
		}
	}
}
