package status_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/grpcactor/grpcactor/channel"
	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/metadata"
	"github.com/grpcactor/grpcactor/status"
	"github.com/grpcactor/grpcactor/system_test/peers"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	grpcmd "google.golang.org/grpc/metadata"
	grpcstatus "google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/emptypb"
)

func TestNilErrorIsOK(t *testing.T) {
	var e *status.Error
	if e.Code() != codes.OK || e.Details() != "" || e.Message() != "" {
		t.Errorf("nil: %v %q %q", e.Code(), e.Details(), e.Message())
	}
	if e.InitialMetadata() != nil || e.TrailingMetadata() != nil || e.Unwrap() != nil || e.Err() != nil {
		t.Error("nil: metadata, cause or Err not nil")
	}
	if e.Proto() != nil || e.ErrorDetails() != nil {
		t.Error("nil: Proto or ErrorDetails not nil")
	}
	if e.WithMetadata(nil, nil) != nil || e.WithCause(errors.New("x")) != nil {
		t.Error("nil: With* not nil")
	}
	if got := e.Error(); got != "<nil>" || e.String() != got || fmt.Sprint(e) != got {
		t.Errorf("nil Error() = %q", got)
	}
	if _, err := e.WithDetails(&errdetails.RetryInfo{}); err == nil {
		t.Error("nil WithDetails: no error")
	}
	if !e.Is((*status.Error)(nil)) || e.Is(status.New(codes.Internal, "")) {
		t.Error("nil Is")
	}
	st, ok := status.FromError(nil)
	if st != nil || !ok || st.Code() != codes.OK {
		t.Errorf("FromError(nil) = %v, %v", st, ok)
	}
	if status.Convert(nil).Code() != codes.OK {
		t.Error("Convert(nil).Code()")
	}
	if status.New(codes.OK, "").Err() != nil || status.New(codes.Internal, "x").Err() == nil {
		t.Error("Err by code")
	}
}

func TestWithDetailsRoundTrip(t *testing.T) {
	br := &errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: "name", Description: "empty"}}}
	ri := &errdetails.RetryInfo{RetryDelay: durationpb.New(3 * time.Second)}
	st, err := status.New(codes.InvalidArgument, "bad name").WithDetails(br, ri)
	if err != nil {
		t.Fatal(err)
	}
	p := st.Proto()
	if p.GetCode() != int32(codes.InvalidArgument) || p.GetMessage() != "bad name" || len(p.GetDetails()) != 2 {
		t.Fatalf("Proto() = %v", p)
	}
	p.Details = nil // a copy: st keeps its details
	ds := st.ErrorDetails()
	if len(ds) != 2 || !proto.Equal(ds[0].(proto.Message), br) || !proto.Equal(ds[1].(proto.Message), ri) {
		t.Fatalf("ErrorDetails() = %v", ds)
	}
	if _, err := status.New(codes.OK, "").WithDetails(br); err == nil {
		t.Error("WithDetails on OK: no error")
	}
	back := status.FromProto(st.Proto())
	if back.Code() != codes.InvalidArgument || back.Details() != "bad name" || len(back.ErrorDetails()) != 2 {
		t.Errorf("FromProto = %v %v", back, back.ErrorDetails())
	}
	// Details survive WithMetadata and WithCause.
	if len(st.WithMetadata(nil, nil).WithCause(errors.New("x")).ErrorDetails()) != 2 {
		t.Error("details lost by WithMetadata")
	}
	// A detail whose type is not linked in is an error in its place.
	unknown := &spb.Status{Code: 3, Details: []*anypb.Any{{TypeUrl: "type.googleapis.com/no.such.Type", Value: []byte{1}}}}
	ds = status.FromProto(unknown).ErrorDetails()
	if len(ds) != 1 {
		t.Fatalf("unknown detail: %v", ds)
	}
	if e, ok := ds[0].(error); !ok || !strings.Contains(e.Error(), "no.such.Type") {
		t.Errorf("unknown detail: %v", ds[0])
	}
}

// TestDetailsFromTrailers covers the google.rpc.Status as the transport
// leaves it: serialized in the trailing metadata.
func TestDetailsFromTrailers(t *testing.T) {
	good, _ := proto.Marshal(&spb.Status{Code: int32(codes.NotFound), Message: "proto says", Details: []*anypb.Any{mustAny(t, &errdetails.ResourceInfo{ResourceName: "x"})}})
	other, _ := proto.Marshal(&spb.Status{Code: int32(codes.Internal)})
	tests := []struct {
		name      string
		values    []string
		wantProto string // Proto().Message
		wantErr   string // the only ErrorDetails element, an error with this text
		wantN     int
	}{
		{"none", nil, "grpc says", "", 0},
		{"good", []string{string(good)}, "proto says", "", 1},
		{"malformed", []string{"\xff\xff"}, "grpc says", "malformed grpc-status-details-bin (2 bytes)", 1},
		{"mismatch", []string{string(other)}, "grpc says", "with code INTERNAL for grpc-status NOT_FOUND", 1},
		{"two", []string{string(good), string(good)}, "grpc says", "2 grpc-status-details-bin values", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			md := metadata.MD{}
			if tt.values != nil {
				md[status.DetailsKey] = tt.values
			}
			st := status.New(codes.NotFound, "grpc says").WithMetadata(nil, md)
			if p := st.Proto(); p.GetMessage() != tt.wantProto || codes.Code(p.GetCode()) != codes.NotFound {
				t.Errorf("Proto() = %v", p)
			}
			ds := st.ErrorDetails()
			if len(ds) != tt.wantN {
				t.Fatalf("ErrorDetails() = %v", ds)
			}
			if tt.wantErr != "" {
				if e, ok := ds[0].(error); !ok || !strings.Contains(e.Error(), tt.wantErr) {
					t.Errorf("ErrorDetails()[0] = %v, want error with %q", ds[0], tt.wantErr)
				}
			}
		})
	}
}

func mustAny(t *testing.T, m proto.Message) *anypb.Any {
	t.Helper()
	a, err := anypb.New(m)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestDetailsFromGoServer checks that details a grpc-go server attaches
// with status.WithDetails reach the *status.Error, in a trailers-only
// response and after response headers.
func TestDetailsFromGoServer(t *testing.T) {
	gst, err := grpcstatus.New(grpccodes.InvalidArgument, "name is empty").WithDetails(
		&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: "name", Description: "must not be empty"}}},
		&errdetails.RetryInfo{RetryDelay: durationpb.New(2 * time.Second)},
	)
	if err != nil {
		t.Fatal(err)
	}
	addr := peers.StartGoInteropOpts(t, grpc.UnknownServiceHandler(func(_ any, stream grpc.ServerStream) error {
		method, _ := grpc.MethodFromServerStream(stream)
		if strings.HasSuffix(method, "/AfterHeaders") {
			if err := stream.SendHeader(grpcmd.Pairs("h", "1")); err != nil {
				return err
			}
		}
		return gst.Err()
	}))
	ch, err := channel.Insecure(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	for _, m := range []string{"TrailersOnly", "AfterHeaders"} {
		t.Run(m, func(t *testing.T) {
			call := channel.UnaryUnary[*emptypb.Empty, *emptypb.Empty](ch, "/details.Test/"+m)
			_, err := call.Call(context.Background(), &emptypb.Empty{}, channel.Timeout(30*time.Second))
			st := status.Convert(err)
			if st.Code() != codes.InvalidArgument || st.Message() != "name is empty" {
				t.Fatalf("err = %v", err)
			}
			if !proto.Equal(st.Proto(), gst.Proto()) {
				t.Errorf("Proto() = %v, want %v", st.Proto(), gst.Proto())
			}
			var got []string
			for _, d := range st.ErrorDetails() {
				switch d := d.(type) {
				case *errdetails.BadRequest:
					got = append(got, "BadRequest "+d.GetFieldViolations()[0].GetField())
				case *errdetails.RetryInfo:
					got = append(got, "RetryInfo "+d.GetRetryDelay().AsDuration().String())
				default:
					got = append(got, fmt.Sprintf("%T", d))
				}
			}
			if strings.Join(got, ", ") != "BadRequest name, RetryInfo 2s" {
				t.Errorf("ErrorDetails() = %v", got)
			}
		})
	}
}

func ExampleError_WithDetails() {
	st, _ := status.New(codes.Unavailable, "overloaded").WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(5 * time.Second)})
	var err error = st

	s := status.Convert(err)
	fmt.Println(s.Code(), s.Message())
	for _, d := range s.ErrorDetails() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			fmt.Println("retry in", ri.GetRetryDelay().AsDuration())
		}
	}
	// Output:
	// UNAVAILABLE overloaded
	// retry in 5s
}
