package actorspb_test

import (
	"fmt"
	"time"

	"github.com/grpcactor/grpcactor/actors/actorspb"
	"github.com/grpcactor/grpcactor/metadata"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
)

func Example() {
	req := &actorspb.UnaryRequest{
		Method:   "/grpc.testing.TestService/UnaryCall",
		Request:  []byte{0x10, 0x04}, // a serialized SimpleRequest
		Timeout:  durationpb.New(2 * time.Second),
		Metadata: actorspb.FromMD(metadata.Pairs("x-token", "t", "trace-bin", "\x00\x01")),
		Id:       7,
	}
	b, _ := proto.Marshal(req) // what protoactor's remote layer would carry
	var got actorspb.UnaryRequest
	_ = proto.Unmarshal(b, &got)
	md := actorspb.ToMD(got.GetMetadata())
	fmt.Println(got.GetMethod(), got.GetTimeout().AsDuration(), got.GetId())
	fmt.Printf("%q %q\n", md.Get("x-token"), md.Get("trace-bin"))
	// Output:
	// /grpc.testing.TestService/UnaryCall 2s 7
	// ["t"] ["\x00\x01"]
}
