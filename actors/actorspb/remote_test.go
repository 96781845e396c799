package actorspb_test

import (
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/remote"
	"github.com/grpcactor/grpcactor/actors/actorspb"
	"github.com/grpcactor/grpcactor/metadata"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
)

// Every message of the wire protocol goes through protoactor's remote
// serializer (the proto serializer, DefaultSerializerID) and comes back
// equal, "-bin" values byte for byte: importing the package registers
// them.
func TestRemoteSerializerCarriesEveryMessage(t *testing.T) {
	md := actorspb.FromMD(metadata.Pairs("x-token", "t", "trace-bin", "\x00\x01\xff"))
	msgs := []proto.Message{
		&actorspb.UnaryRequest{Method: "/p.S/M", Request: []byte{1, 2}, Timeout: durationpb.New(time.Second), Metadata: md, WaitForReady: true, Compression: "gzip", Id: 1},
		&actorspb.UnaryResponse{Response: []byte{3}, Code: 7, Details: "no", InitialMetadata: md, TrailingMetadata: md, Id: 1},
		&actorspb.StreamOpen{Id: 2, Method: "/p.S/M", Kind: actorspb.StreamKind_BIDI_STREAM, Request: []byte{4}, Timeout: durationpb.New(-time.Second), Metadata: md, WaitForReady: true, Compression: "identity", Demand: 10},
		&actorspb.StreamMessage{Id: 2, Message: []byte{0, 0, 5}},
		&actorspb.StreamDemand{Id: 2, N: 3},
		&actorspb.StreamCredit{Id: 2, N: 16},
		&actorspb.StreamHalfClose{Id: 2},
		&actorspb.CallCancel{Id: 2},
		&actorspb.StreamEnd{Id: 2, Code: 4, Details: "deadline", InitialMetadata: md, TrailingMetadata: md},
	}
	for _, m := range msgs {
		b, name, err := remote.Serialize(m, remote.DefaultSerializerID)
		if err != nil {
			t.Fatalf("Serialize(%T): %v", m, err)
		}
		got, err := remote.Deserialize(b, name, remote.DefaultSerializerID)
		if err != nil {
			t.Fatalf("Deserialize(%s): %v", name, err)
		}
		if !proto.Equal(got.(proto.Message), m) {
			t.Errorf("%s: got %v, want %v", name, got, m)
		}
	}
	if got := actorspb.ToMD(md).Get("trace-bin"); len(got) != 1 || got[0] != "\x00\x01\xff" {
		t.Errorf("trace-bin = %q", got)
	}
}
