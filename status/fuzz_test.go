package status_test

import (
	"testing"

	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/metadata"
	"github.com/grpcactor/grpcactor/status"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// FuzzDetails feeds arbitrary grpc-status-details-bin bytes, as a server
// may send them, to Proto and ErrorDetails: they never panic, and Proto
// always has the call's code.
func FuzzDetails(f *testing.F) {
	ri, _ := anypb.New(&errdetails.RetryInfo{})
	good, _ := proto.Marshal(&spb.Status{Code: int32(codes.Unavailable), Message: "m", Details: []*anypb.Any{ri}})
	f.Add(good, uint32(codes.Unavailable))
	f.Add([]byte{0xff}, uint32(codes.Internal))
	f.Add([]byte{}, uint32(codes.Unknown))
	f.Fuzz(func(t *testing.T, b []byte, code uint32) {
		st := status.New(codes.Code(code), "grpc-message").WithMetadata(nil, metadata.MD{status.DetailsKey: {string(b)}})
		p := st.Proto()
		if codes.Code(p.GetCode()) != st.Code() {
			t.Fatalf("Proto().Code = %d, call's code %v", p.GetCode(), st.Code())
		}
		for _, d := range st.ErrorDetails() {
			switch d.(type) {
			case proto.Message, error:
			default:
				t.Fatalf("ErrorDetails element %T", d)
			}
		}
	})
}
