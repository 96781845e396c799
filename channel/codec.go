package channel

import (
	"fmt"
	"slices"

	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/internal/bufpool"
	"github.com/grpcactor/grpcactor/internal/wire"
	"github.com/grpcactor/grpcactor/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// MethodOption configures a multi-callable.
type MethodOption[Req, Resp any] interface {
	applyMethod(*codec[Req, Resp])
}

type methodOptionFunc[Req, Resp any] func(*codec[Req, Resp])

func (f methodOptionFunc[Req, Resp]) applyMethod(c *codec[Req, Resp]) { f(c) }

// WithCodec gives a method custom serializers, as grpcio's
// request_serializer and response_deserializer: serialize turns a request
// into bytes, deserialize a response's bytes into a value. A serializer
// failure ends the call INTERNAL "serializing request: ...", a deserializer
// failure INTERNAL "deserializing response: ...", and so does a panic in
// either ("serializing request: serializer panicked: ..."). Without it, Req and Resp
// must be protobuf messages (or []byte, passed through unchanged).
func WithCodec[Req, Resp any](serialize func(Req) ([]byte, error), deserialize func([]byte) (Resp, error)) MethodOption[Req, Resp] {
	return methodOptionFunc[Req, Resp](func(c *codec[Req, Resp]) {
		c.marshal = func(dst []byte, r Req) ([]byte, error) {
			b, err := serialize(r)
			if err != nil {
				return nil, err
			}
			return append(dst, b...), nil
		}
		c.unmarshal = deserialize
		c.err = nil
		c.copies, c.pooledReq = false, false
	})
}

// mergeOpts decodes a response into the new message made for it.
var mergeOpts = proto.UnmarshalOptions{Merge: true}

// codec turns requests into bytes and bytes into responses. marshal
// appends to dst, which has the message prefix reserved.
type codec[Req, Resp any] struct {
	marshal   func(dst []byte, r Req) ([]byte, error)
	unmarshal func([]byte) (Resp, error)
	err       *status.Error
	// copies reports that unmarshal keeps no reference to its input
	// (protobuf copies bytes and strings), so the buffer can be recycled.
	copies bool
	// pooledReq: marshal takes its buffer from bufpool.
	pooledReq bool
}

func newCodec[Req, Resp any](opts []MethodOption[Req, Resp]) codec[Req, Resp] {
	var c codec[Req, Resp]
	var zReq Req
	var zResp Resp
	switch any(zReq).(type) {
	case proto.Message:
		c.marshal = func(dst []byte, r Req) ([]byte, error) {
			m := any(r).(proto.Message)
			n := proto.Size(m)
			if cap(dst) == 0 {
				// The caller will give the buffer back: take it from the pool.
				dst = bufpool.Get(wire.MsgHeaderLen + n)[:wire.MsgHeaderLen]
			} else {
				dst = slices.Grow(dst, n)
			}
			return proto.MarshalOptions{UseCachedSize: true}.MarshalAppend(dst, m)
		}
		c.pooledReq = true
	case []byte:
		c.marshal = func(dst []byte, r Req) ([]byte, error) { return append(dst, any(r).([]byte)...), nil }
	default:
		c.err = status.Errorf(codes.Internal, "serializing request: %T is not a protobuf message; give the method a codec with channel.WithCodec", zReq)
	}
	switch m := any(zResp).(type) {
	case proto.Message:
		if typ, ok := staticMessageType(m); ok {
			c.unmarshal = func(b []byte) (Resp, error) {
				// A new message is empty: merging into it is decoding, less
				// the Reset that proto.Unmarshal does first (about 50 of
				// 290 ns for an empty SimpleResponse).
				msg := typ.New().Interface()
				err := mergeOpts.Unmarshal(b, msg)
				return msg.(Resp), err
			}
			c.copies = true
		} else if c.err == nil {
			c.err = status.Errorf(codes.Internal, "deserializing response: %T has no static message type (a dynamic message); give the method a codec with channel.WithCodec", zResp)
		}
	case []byte:
		c.unmarshal = func(b []byte) (Resp, error) { return any(b).(Resp), nil }
	default:
		if c.err == nil {
			c.err = status.Errorf(codes.Internal, "deserializing response: %T is not a protobuf message; give the method a codec with channel.WithCodec", zResp)
		}
	}
	for _, o := range opts {
		if o != nil {
			o.applyMethod(&c)
		}
	}
	return c
}

// staticMessageType is the message type of m's Go type, taken from its zero
// value. A type whose zero value cannot tell it (a nil *dynamicpb.Message
// panics when asked) has none.
func staticMessageType(m proto.Message) (typ protoreflect.MessageType, ok bool) {
	defer func() {
		if recover() != nil {
			typ, ok = nil, false
		}
	}()
	typ = m.ProtoReflect().Type()
	return typ, typ != nil
}

// encode serializes r into a frame with the message prefix reserved.
// With recycled, a protobuf request's buffer comes from bufpool, for a
// caller that gives it back once nothing reads it any more: a unary call
// when it is over (recycle), a stream's send through the transport once
// written (Stream.WritePooled) when no retry buffer keeps it. Without,
// the buffer is the garbage collector's (a server-streaming call's one
// request, which the retry buffer keeps).
func (c *codec[Req, Resp]) encode(r Req, recycled bool) ([]byte, error) {
	if c.err != nil {
		return nil, c.err
	}
	var dst []byte
	if !recycled || !c.pooledReq {
		dst = make([]byte, wire.MsgHeaderLen, wire.MsgHeaderLen+8)
	}
	buf, err := c.marshalSafe(dst, r)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "serializing request: %v", err)
	}
	return buf, nil
}

// marshalSafe is marshal with a panic (in a user's serializer) turned into
// an error: it ends the call, not the program.
func (c *codec[Req, Resp]) marshalSafe(dst []byte, r Req) (buf []byte, err error) {
	defer func() {
		if p := recover(); p != nil {
			buf, err = nil, fmt.Errorf("serializer panicked: %v", p)
		}
	}()
	return c.marshal(dst, r)
}

// unmarshalSafe is unmarshal with a panic turned into an error.
func (c *codec[Req, Resp]) unmarshalSafe(b []byte) (r Resp, err error) {
	defer func() {
		if p := recover(); p != nil {
			var zero Resp
			r, err = zero, fmt.Errorf("deserializer panicked: %v", p)
		}
	}()
	return c.unmarshal(b)
}

func (c *codec[Req, Resp]) decode(b []byte) (Resp, error) {
	if c.err != nil {
		var z Resp
		return z, c.err
	}
	r, err := c.unmarshalSafe(b)
	if c.copies {
		bufpool.Put(b)
	}
	if err != nil {
		return r, status.Errorf(codes.Internal, "deserializing response: %v", err)
	}
	return r, nil
}
