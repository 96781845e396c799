package channel_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/grpcactor/grpcactor/channel"
	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/status"
	"github.com/grpcactor/grpcactor/system_test/peers"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
)

// The codec of these tests: a request is the size of the response payload
// wanted (one response per size for the streaming methods), a response the
// length of the payload that came back, so a round trip checks both
// directions. The serializer refuses a negative size and the deserializer a
// payload of refusedLen bytes.
const refusedLen = 13

func marshalSize(n int) ([]byte, error) {
	if n < 0 {
		return nil, fmt.Errorf("negative response size %d", n)
	}
	return proto.Marshal(&testgrpc.SimpleRequest{ResponseSize: int32(n)})
}

func marshalSizes(sizes []int) ([]byte, error) {
	req := &testgrpc.StreamingOutputCallRequest{}
	for _, n := range sizes {
		if n < 0 {
			return nil, fmt.Errorf("negative response size %d", n)
		}
		req.ResponseParameters = append(req.ResponseParameters, &testgrpc.ResponseParameters{Size: int32(n)})
	}
	return proto.Marshal(req)
}

func marshalOneSize(n int) ([]byte, error) { return marshalSizes([]int{n}) }

// payloadLen decodes a response message of type T and returns the length
// of its payload.
func payloadLen[T any, M interface {
	*T
	proto.Message
	GetPayload() *testgrpc.Payload
}](b []byte) (int, error) {
	m := M(new(T))
	if err := proto.Unmarshal(b, m); err != nil {
		return 0, err
	}
	n := len(m.GetPayload().GetBody())
	if n == refusedLen {
		return 0, fmt.Errorf("refusing a %d-byte payload", n)
	}
	return n, nil
}

// codecStubs are the interop service's methods with the test codec.
type codecStubs struct {
	unary  *channel.UnaryUnaryCallable[int, int]
	stream *channel.UnaryStreamCallable[[]int, int]
	duplex *channel.StreamStreamCallable[int, int]
}

func dialCodecStubs(t *testing.T) codecStubs {
	t.Helper()
	ch, err := channel.Insecure(peers.StartGoInterop(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ch.Close() })
	return codecStubs{
		unary: channel.UnaryUnary(ch, svc+"UnaryCall",
			channel.WithCodec(marshalSize, payloadLen[testgrpc.SimpleResponse])),
		stream: channel.UnaryStream(ch, svc+"StreamingOutputCall",
			channel.WithCodec(marshalSizes, payloadLen[testgrpc.StreamingOutputCallResponse])),
		duplex: channel.StreamStream(ch, svc+"FullDuplexCall",
			channel.WithCodec(marshalOneSize, payloadLen[testgrpc.StreamingOutputCallResponse])),
	}
}

func codecCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// wantStatusPrefix fails t unless err is a *status.Error with code and a
// message that starts with prefix, and returns it.
func wantStatusPrefix(t *testing.T, what string, err error, code codes.Code, prefix string) *status.Error {
	t.Helper()
	var st *status.Error
	if !errors.As(err, &st) {
		t.Fatalf("%s: err = %v (%T), want a *status.Error %v %q...", what, err, err, code, prefix)
	}
	if st.Code() != code || !strings.HasPrefix(st.Details(), prefix) {
		t.Fatalf("%s: status %v %q, want %v %q...", what, st.Code(), st.Details(), code, prefix)
	}
	return st
}

// collect reads rs to its end and returns the responses and the last error.
func collect(rs *channel.ResponseStream[int]) ([]int, error) {
	var got []int
	for n, err := range rs.All() {
		if err != nil {
			return got, err
		}
		got = append(got, n)
	}
	return got, nil
}

func TestWithCodecRoundTrip(t *testing.T) {
	s := dialCodecStubs(t)

	t.Run("UnaryUnary", func(t *testing.T) {
		n, err := s.unary.Call(codecCtx(t), 314)
		if err != nil || n != 314 {
			t.Fatalf("Call(314) = %d, %v; want 314, nil", n, err)
		}
	})

	t.Run("UnaryStream", func(t *testing.T) {
		sizes := []int{5, 0, 2653, 31415}
		rs, err := s.stream.Call(codecCtx(t), sizes)
		if err != nil {
			t.Fatal(err)
		}
		got, err := collect(rs)
		if err != nil || !slices.Equal(got, sizes) || rs.Code() != codes.OK {
			t.Fatalf("got %v, %v (code %v); want %v, OK", got, err, rs.Code(), sizes)
		}
	})

	t.Run("StreamStream", func(t *testing.T) {
		sizes := []int{7, 58979, 1}
		rs, err := s.duplex.Call(codecCtx(t), slices.Values(sizes))
		if err != nil {
			t.Fatal(err)
		}
		got, err := collect(rs)
		if err != nil || !slices.Equal(got, sizes) || rs.Code() != codes.OK {
			t.Fatalf("got %v, %v (code %v); want %v, OK", got, err, rs.Code(), sizes)
		}
	})
}

func TestWithCodecFailures(t *testing.T) {
	s := dialCodecStubs(t)
	const serErr = "serializing request: negative response size -1"
	const deserErr = "deserializing response: refusing a 13-byte payload"

	t.Run("UnaryUnarySerializer", func(t *testing.T) {
		_, call, err := s.unary.WithCall(codecCtx(t), -1)
		wantStatusPrefix(t, "Call(-1)", err, codes.Internal, serErr)
		if call == nil || call.Code() != codes.Internal || call.IsActive() {
			t.Fatalf("WithCall returned Call %v, want one ended INTERNAL", call)
		}
	})

	t.Run("UnaryUnaryDeserializer", func(t *testing.T) {
		_, call, err := s.unary.WithCall(codecCtx(t), refusedLen)
		wantStatusPrefix(t, "Call(13)", err, codes.Internal, deserErr)
		if call == nil || call.Code() != codes.Internal || call.IsActive() {
			t.Fatalf("WithCall returned Call %v, want one ended INTERNAL", call)
		}
	})

	t.Run("UnaryStreamSerializer", func(t *testing.T) {
		_, err := s.stream.Call(codecCtx(t), []int{5, -1})
		wantStatusPrefix(t, "Call([5 -1])", err, codes.Internal, serErr)
	})

	t.Run("UnaryStreamDeserializer", func(t *testing.T) {
		rs, err := s.stream.Call(codecCtx(t), []int{5, refusedLen, 7})
		if err != nil {
			t.Fatal(err)
		}
		got, err := collect(rs)
		if !slices.Equal(got, []int{5}) {
			t.Fatalf("responses before the failure %v, want [5]", got)
		}
		wantStatusPrefix(t, "the second response", err, codes.Internal, deserErr)
		if rs.Code() != codes.Internal || rs.IsActive() {
			t.Fatalf("the call is %v (active %v), want ended INTERNAL", rs.Code(), rs.IsActive())
		}
	})

	t.Run("StreamStreamSendSerializer", func(t *testing.T) {
		bs, err := s.duplex.Open(codecCtx(t))
		if err != nil {
			t.Fatal(err)
		}
		if err := bs.Send(5); err != nil {
			t.Fatal(err)
		}
		if n, err := bs.Recv(); err != nil || n != 5 {
			t.Fatalf("Recv = %d, %v; want 5", n, err)
		}
		wantStatusPrefix(t, "Send(-1)", bs.Send(-1), codes.Internal, serErr)
		_, err = bs.Recv()
		wantStatusPrefix(t, "Recv after the failed Send", err, codes.Internal, serErr)
	})

	t.Run("StreamStreamCallSerializer", func(t *testing.T) {
		rs, err := s.duplex.Call(codecCtx(t), slices.Values([]int{5, -1, 7}))
		if err != nil {
			t.Fatal(err)
		}
		got, err := collect(rs)
		// The response to 5 may or may not arrive before the failure.
		if len(got) > 1 || (len(got) == 1 && got[0] != 5) {
			t.Fatalf("responses before the failure %v, want [] or [5]", got)
		}
		wantStatusPrefix(t, "the call", err, codes.Internal, serErr)
	})

	t.Run("StreamStreamDeserializer", func(t *testing.T) {
		bs, err := s.duplex.Open(codecCtx(t))
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range []int{5, refusedLen} {
			if err := bs.Send(n); err != nil {
				t.Fatal(err)
			}
		}
		if n, err := bs.Recv(); err != nil || n != 5 {
			t.Fatalf("Recv = %d, %v; want 5", n, err)
		}
		_, err = bs.Recv()
		wantStatusPrefix(t, "the second response", err, codes.Internal, deserErr)
		if err := bs.Send(7); err != io.EOF {
			t.Fatalf("Send after the call ended: %v, want io.EOF", err)
		}
		if bs.Code() != codes.Internal {
			t.Fatalf("the call is %v, want INTERNAL", bs.Code())
		}
	})
}

// A request iterator that panics ends a bidirectional call UNKNOWN, with a
// message that says so and gives the panic's value.
func TestStreamStreamIteratorPanics(t *testing.T) {
	s := dialCodecStubs(t)
	rs, err := s.duplex.Call(codecCtx(t), func(yield func(int) bool) {
		if yield(5) {
			panic("boom")
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := collect(rs)
	if len(got) > 1 || (len(got) == 1 && got[0] != 5) {
		t.Fatalf("responses before the failure %v, want [] or [5]", got)
	}
	wantStatusPrefix(t, "the call", err, codes.Unknown, "request iterator panicked: boom")
	if rs.Code() != codes.Unknown || rs.Details() != "request iterator panicked: boom" {
		t.Fatalf("the call says %v %q, want UNKNOWN %q", rs.Code(), rs.Details(), "request iterator panicked: boom")
	}
}

// Dynamic messages (dynamicpb) have no message type in their zero value:
// with a codec they work as any other type, without one every call fails
// INTERNAL saying why, and building the callable never panics.
func TestDynamicMessages(t *testing.T) {
	ch, err := channel.Insecure(peers.StartGoInterop(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ch.Close() })
	respDesc := (&testgrpc.SimpleResponse{}).ProtoReflect().Descriptor()
	req := dynamicpb.NewMessage((&testgrpc.SimpleRequest{}).ProtoReflect().Descriptor())
	req.Set(req.Descriptor().Fields().ByName("response_size"), protoreflect.ValueOfInt32(21))

	t.Run("WithCodec", func(t *testing.T) {
		unary := channel.UnaryUnary(ch, svc+"UnaryCall", channel.WithCodec(
			func(m *dynamicpb.Message) ([]byte, error) { return proto.Marshal(m) },
			func(b []byte) (*dynamicpb.Message, error) {
				m := dynamicpb.NewMessage(respDesc)
				return m, proto.Unmarshal(b, m)
			}))
		resp, err := unary.Call(codecCtx(t), req)
		if err != nil {
			t.Fatal(err)
		}
		payload := resp.Get(respDesc.Fields().ByName("payload")).Message()
		if n := len(payload.Get(payload.Descriptor().Fields().ByName("body")).Bytes()); n != 21 {
			t.Fatalf("payload of %d bytes, want 21", n)
		}
	})

	t.Run("WithoutCodec", func(t *testing.T) {
		unary := channel.UnaryUnary[*dynamicpb.Message, *dynamicpb.Message](ch, svc+"UnaryCall")
		_, err := unary.Call(codecCtx(t), req)
		wantStatusPrefix(t, "Call", err, codes.Internal, "deserializing response: *dynamicpb.Message has no static message type")
	})
}
