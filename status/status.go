// Package status holds the one error type every failed RPC returns: a gRPC
// status code, its details message and the call's initial and trailing
// metadata, as grpcio's RpcError gives them, with the google.rpc.Status a
// server sends in grpc-status-details-bin (Proto) and its typed details
// (ErrorDetails), as grpc-go's status package gives them.
//
// Use FromError, Convert or errors.As to get at the *Error behind any error
// the library returns, and Code for just its code. Every method of *Error
// accepts a nil receiver, which stands for OK.
package status

import (
	"context"
	"errors"
	"fmt"

	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/metadata"
	spb "google.golang.org/genproto/googleapis/rpc/status"
)

// Error is a gRPC status other than OK, with the metadata the server sent.
// It is immutable once returned.
type Error struct {
	code     codes.Code
	details  string
	initial  metadata.MD
	trailing metadata.MD
	cause    error
	proto    *spb.Status // from WithDetails or FromProto; else from trailing
}

// New returns an error with code c and details msg.
func New(c codes.Code, msg string) *Error { return &Error{code: c, details: msg} }

// Errorf returns an error with code c and details formatted as fmt.Sprintf
// does. A %w verb makes the wrapped error reachable with errors.Is and
// errors.As.
func Errorf(c codes.Code, format string, args ...any) *Error {
	e := fmt.Errorf(format, args...)
	st := &Error{code: c, details: e.Error()}
	if u := errors.Unwrap(e); u != nil {
		st.cause = u
	}
	return st
}

// WithMetadata returns a copy of e carrying the given initial and trailing
// metadata.
func (e *Error) WithMetadata(initial, trailing metadata.MD) *Error {
	if e == nil {
		return nil
	}
	c := *e
	c.initial, c.trailing = initial, trailing
	return &c
}

// WithCause returns a copy of e that unwraps to cause.
func (e *Error) WithCause(cause error) *Error {
	if e == nil {
		return nil
	}
	c := *e
	c.cause = cause
	return &c
}

// Code returns the status code; OK for a nil e.
func (e *Error) Code() codes.Code {
	if e == nil {
		return codes.OK
	}
	return e.code
}

// Details returns the status message (grpcio's details()); "" for a nil e.
func (e *Error) Details() string {
	if e == nil {
		return ""
	}
	return e.details
}

// Message is Details, under grpc-go's name.
func (e *Error) Message() string { return e.Details() }

// InitialMetadata returns the response headers the server sent before
// failing, or nil.
func (e *Error) InitialMetadata() metadata.MD {
	if e == nil {
		return nil
	}
	return e.initial
}

// TrailingMetadata returns the trailers the server sent with the status, or
// nil. A google.rpc.Status the server sent is there too, under
// grpc-status-details-bin (Proto decodes it).
func (e *Error) TrailingMetadata() metadata.MD {
	if e == nil {
		return nil
	}
	return e.trailing
}

// Error renders the status as "rpc error: code = UNAVAILABLE desc = ...";
// a nil e as "<nil>", as fmt prints other nil pointers.
func (e *Error) Error() string {
	if e == nil {
		return "<nil>"
	}
	return "rpc error: code = " + e.code.String() + " desc = " + e.details
}

// String is Error.
func (e *Error) String() string { return e.Error() }

// Err returns e as an error: nil for a nil e or code OK (so that a nil
// *Error never becomes a non-nil error interface).
func (e *Error) Err() error {
	if e.Code() == codes.OK {
		return nil
	}
	return e
}

// Unwrap returns the underlying cause, if one was recorded: a context
// error for CANCELLED and DEADLINE_EXCEEDED raised locally, a network
// error for a lost connection.
func (e *Error) Unwrap() error {
	if e == nil {
		return nil
	}
	return e.cause
}

// Is reports whether target is an *Error with the same code and details,
// so that errors.Is(err, status.New(codes.NotFound, "x")) works.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	if !ok {
		return false
	}
	return t.Code() == e.Code() && t.Details() == e.Details()
}

// FromError returns the *Error in err's chain, if there is one. A nil err
// gives (nil, true): the call succeeded. For a context error not wrapped in
// a status it returns the matching CANCELLED or DEADLINE_EXCEEDED status;
// for any other error an UNKNOWN status and false.
func FromError(err error) (*Error, bool) {
	if err == nil {
		return nil, true
	}
	var st *Error
	if errors.As(err, &st) {
		return st, true
	}
	if _, ok := contextCode(err); ok {
		return FromContextError(err), true
	}
	return New(codes.Unknown, err.Error()).WithCause(err), false
}

// Code returns the status code of err: OK for nil, the code of the *Error
// in its chain, CANCELLED or DEADLINE_EXCEEDED for context errors, UNKNOWN
// otherwise.
func Code(err error) codes.Code {
	if err == nil {
		return codes.OK
	}
	var st *Error
	if errors.As(err, &st) {
		return st.code
	}
	if c, ok := contextCode(err); ok {
		return c
	}
	return codes.Unknown
}

// FromContext returns the status a call ends with when ctx is done: the
// *Error ctx was cancelled with (context.WithCancelCause), if there is one,
// else [FromContextError] of ctx.Err(). It returns nil while ctx is not
// done. The runtime uses it wherever a call ends because its context did.
// An *Error in ctx.Err()'s chain counts as the cause: a context of the
// runtime's own (a call's) carries its cause there, as context.Cause
// reads no cause from a context it did not make.
func FromContext(ctx context.Context) *Error {
	err := ctx.Err()
	if err == nil {
		return nil
	}
	var st *Error
	if errors.As(err, &st) {
		return st
	}
	if cause := context.Cause(ctx); cause != nil && errors.As(cause, &st) {
		return st
	}
	return FromContextError(err)
}

// FromContextError maps a context's error to a status: DEADLINE_EXCEEDED
// for context.DeadlineExceeded, CANCELLED otherwise, with err's text as
// the message. It and the code mapping it uses are the one place the
// library turns context errors into statuses: [FromContext], [FromError],
// [Convert] and [Code] go through it, and so do the runtime's conversions
// of interceptor and credential errors.
func FromContextError(err error) *Error {
	c, ok := contextCode(err)
	if !ok {
		c = codes.Canceled
	}
	msg := "context canceled"
	if c == codes.DeadlineExceeded {
		msg = "context deadline exceeded"
	}
	if err != nil {
		msg = err.Error()
	}
	return New(c, msg).WithCause(err)
}

func contextCode(err error) (codes.Code, bool) {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return codes.DeadlineExceeded, true
	case errors.Is(err, context.Canceled):
		return codes.Canceled, true
	}
	return 0, false
}

// Convert returns the status of any error: the *Error in its chain, a
// context error's status, or UNKNOWN with the error's text. A nil err gives
// nil.
func Convert(err error) *Error {
	st, _ := FromError(err)
	return st
}
