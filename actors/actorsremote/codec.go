package actorsremote

import (
	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// MethodOption configures a remote channel's method (Unary,
// ServerStream, ClientStream, BidiStream).
type MethodOption[Req, Resp any] interface {
	applyMethod(*codec[Req, Resp])
}

type methodOptionFunc[Req, Resp any] func(*codec[Req, Resp])

func (f methodOptionFunc[Req, Resp]) applyMethod(c *codec[Req, Resp]) { f(c) }

// WithCodec gives a remote method custom serializers, as channel.WithCodec
// gives a local one: the bytes travel to the gateway, whose channel sends
// them as they are. Without it, Req and Resp must be protobuf messages or
// []byte.
func WithCodec[Req, Resp any](serialize func(Req) ([]byte, error), deserialize func([]byte) (Resp, error)) MethodOption[Req, Resp] {
	return methodOptionFunc[Req, Resp](func(c *codec[Req, Resp]) {
		c.marshal, c.unmarshal, c.err = serialize, deserialize, nil
	})
}

// codec turns requests into bytes and bytes into responses; err, if set,
// fails every call (a type without a codec).
type codec[Req, Resp any] struct {
	marshal   func(Req) ([]byte, error)
	unmarshal func([]byte) (Resp, error)
	err       *status.Error
}

func newCodec[Req, Resp any](opts []MethodOption[Req, Resp]) codec[Req, Resp] {
	var c codec[Req, Resp]
	var zReq Req
	var zResp Resp
	switch any(zReq).(type) {
	case proto.Message:
		c.marshal = func(r Req) ([]byte, error) { return proto.Marshal(any(r).(proto.Message)) }
	case []byte:
		c.marshal = func(r Req) ([]byte, error) { return any(r).([]byte), nil }
	default:
		c.err = status.Errorf(codes.Internal, "serializing request: %T is not a protobuf message; give the method a codec with actorsremote.WithCodec", zReq)
	}
	switch m := any(zResp).(type) {
	case proto.Message:
		if typ := messageType(m); typ != nil {
			c.unmarshal = func(b []byte) (Resp, error) {
				msg := typ.New().Interface()
				err := proto.Unmarshal(b, msg)
				return msg.(Resp), err
			}
		} else if c.err == nil {
			c.err = status.Errorf(codes.Internal, "deserializing response: %T has no static message type; give the method a codec with actorsremote.WithCodec", zResp)
		}
	case []byte:
		c.unmarshal = func(b []byte) (Resp, error) { return any(b).(Resp), nil }
	default:
		if c.err == nil {
			c.err = status.Errorf(codes.Internal, "deserializing response: %T is not a protobuf message; give the method a codec with actorsremote.WithCodec", zResp)
		}
	}
	for _, o := range opts {
		if o != nil {
			o.applyMethod(&c)
		}
	}
	return c
}

// messageType is the message type of m's Go type, or nil if its zero
// value cannot tell it.
func messageType(m proto.Message) (typ protoreflect.MessageType) {
	defer func() {
		if recover() != nil {
			typ = nil
		}
	}()
	return m.ProtoReflect().Type()
}
