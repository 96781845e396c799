package codes_test

import (
	"fmt"
	"testing"

	"github.com/grpcactor/grpcactor/codes"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestStringAndParse(t *testing.T) {
	tests := []struct {
		c    codes.Code
		name string
	}{
		{codes.OK, "OK"}, {codes.Canceled, "CANCELLED"}, {codes.Unknown, "UNKNOWN"},
		{codes.InvalidArgument, "INVALID_ARGUMENT"}, {codes.DeadlineExceeded, "DEADLINE_EXCEEDED"},
		{codes.NotFound, "NOT_FOUND"}, {codes.AlreadyExists, "ALREADY_EXISTS"},
		{codes.PermissionDenied, "PERMISSION_DENIED"}, {codes.ResourceExhausted, "RESOURCE_EXHAUSTED"},
		{codes.FailedPrecondition, "FAILED_PRECONDITION"}, {codes.Aborted, "ABORTED"},
		{codes.OutOfRange, "OUT_OF_RANGE"}, {codes.Unimplemented, "UNIMPLEMENTED"},
		{codes.Internal, "INTERNAL"}, {codes.Unavailable, "UNAVAILABLE"},
		{codes.DataLoss, "DATA_LOSS"}, {codes.Unauthenticated, "UNAUTHENTICATED"},
	}
	for i, tt := range tests {
		if uint32(tt.c) != uint32(i) {
			t.Errorf("%s = %d, want %d", tt.name, tt.c, i)
		}
		if got := tt.c.String(); got != tt.name {
			t.Errorf("Code(%d).String() = %q, want %q", tt.c, got, tt.name)
		}
		if got, ok := codes.Parse(tt.name); !ok || got != tt.c {
			t.Errorf("Parse(%q) = %v, %v", tt.name, got, ok)
		}
		if !tt.c.Valid() {
			t.Errorf("%v not valid", tt.c)
		}
	}
	if got := codes.Code(17).String(); got != "CODE(17)" {
		t.Errorf("Code(17).String() = %q", got)
	}
	if codes.Code(17).Valid() {
		t.Error("Code(17) valid")
	}
	if _, ok := codes.Parse("Unavailable"); ok {
		t.Error("Parse accepted a non-canonical name")
	}
}

func ExampleCode_String() {
	fmt.Println(codes.Unavailable, codes.Canceled)
	// Output: UNAVAILABLE CANCELLED
}
