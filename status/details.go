package status

import (
	"errors"
	"fmt"

	"github.com/grpcactor/grpcactor/codes"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// DetailsKey is the trailer that carries a google.rpc.Status with the
// error's details, serialized (gRPC's richer error model).
const DetailsKey = "grpc-status-details-bin"

// FromProto returns the status s describes: its code, its message as the
// details, and its details messages (Proto returns a copy of s).
func FromProto(s *spb.Status) *Error {
	if s == nil {
		return New(codes.OK, "")
	}
	p := proto.Clone(s).(*spb.Status)
	return &Error{code: codes.Code(p.GetCode()), details: p.GetMessage(), proto: p}
}

// WithDetails returns a copy of e with the given messages (errdetails'
// BadRequest, RetryInfo, ... or any other protobuf message) added to its
// details, as a server sends them; for tests and for interceptors that
// make up errors. It fails for a nil e or code OK, which carry no details,
// and for a message that cannot be serialized.
func (e *Error) WithDetails(details ...proto.Message) (*Error, error) {
	if e.Code() == codes.OK {
		return nil, errors.New("status: no error details for a status with code OK")
	}
	p := e.Proto()
	for _, d := range details {
		a, err := anypb.New(d)
		if err != nil {
			return nil, fmt.Errorf("status: detail %T: %w", d, err)
		}
		p.Details = append(p.Details, a)
	}
	c := *e
	c.proto = p
	return &c, nil
}

// Proto returns the error as a google.rpc.Status: the one the server sent
// in grpc-status-details-bin, details included, when it is well-formed
// and has the call's code (its message may differ from Details); else the
// code and Details alone. It returns a fresh copy each time, and nil for
// a nil e.
func (e *Error) Proto() *spb.Status {
	if e == nil {
		return nil
	}
	if e.proto != nil {
		return proto.Clone(e.proto).(*spb.Status)
	}
	if p, err := e.serverProto(); p != nil && err == nil {
		return p
	}
	return &spb.Status{Code: int32(e.code), Message: e.details}
}

// ErrorDetails returns the typed details messages of Proto (such as
// *errdetails.BadRequest or *errdetails.RetryInfo of
// google.golang.org/genproto/googleapis/rpc/errdetails), as grpc-go's
// Status.Details does: each element is a proto.Message, or an error where
// a detail's type is not linked into the program or its bytes do not
// decode. If the server's grpc-status-details-bin could not be used (not a
// google.rpc.Status, or another code than grpc-status), the only element
// is an error saying so. Nil for a nil e or no details.
func (e *Error) ErrorDetails() []any {
	if e == nil {
		return nil
	}
	p := e.proto
	if p == nil {
		var err error
		if p, err = e.serverProto(); err != nil {
			return []any{err}
		}
	}
	if p == nil || len(p.Details) == 0 {
		return nil
	}
	out := make([]any, 0, len(p.Details))
	for _, a := range p.Details {
		m, err := a.UnmarshalNew()
		if err != nil {
			out = append(out, fmt.Errorf("status: detail of type %q: %w", a.GetTypeUrl(), err))
			continue
		}
		out = append(out, m)
	}
	return out
}

// serverProto decodes the google.rpc.Status of the trailers: nil, nil when
// there is none.
func (e *Error) serverProto() (*spb.Status, error) {
	vs := e.trailing[DetailsKey]
	switch len(vs) {
	case 0:
		return nil, nil
	case 1:
	default:
		return nil, fmt.Errorf("status: server sent %d %s values, want one", len(vs), DetailsKey)
	}
	p := new(spb.Status)
	if err := proto.Unmarshal([]byte(vs[0]), p); err != nil {
		return nil, fmt.Errorf("status: server sent a malformed %s (%d bytes): %w", DetailsKey, len(vs[0]), err)
	}
	if codes.Code(p.GetCode()) != e.code {
		return nil, fmt.Errorf("status: server sent %s with code %v for grpc-status %v", DetailsKey, codes.Code(p.GetCode()), e.code)
	}
	return p, nil
}
