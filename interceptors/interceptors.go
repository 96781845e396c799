// Package interceptors defines client interceptors: middleware that sees,
// changes or replaces every call made through a channel, after Python
// grpcio's client interceptor interfaces. channel.Intercept(ch, ics...)
// returns a channel whose calls go through them.
//
//	grpcio                                          grpcactor
//	UnaryUnaryClientInterceptor.intercept_unary_unary   interceptors.UnaryUnary.InterceptUnaryUnary
//	UnaryStreamClientInterceptor.intercept_unary_stream interceptors.UnaryStream.InterceptUnaryStream
//	StreamUnaryClientInterceptor.intercept_stream_unary interceptors.StreamUnary.InterceptStreamUnary
//	StreamStreamClientInterceptor.intercept_stream_stream interceptors.StreamStream.InterceptStreamStream
//	ClientCallDetails (method, timeout, metadata, credentials, wait_for_ready, compression)
//	                                                    interceptors.ClientCallDetails
//	continuation(details, request)                      next(ctx, details, req)
//
// An interceptor gets the call's context, its details, the request (a
// request iterator for client-streaming kinds) and the continuation next,
// which runs the rest of the chain and finally the RPC. It may change the
// details or the request before calling next, call next several times
// (retries) or not at all (a cache), wrap the response stream it returns,
// or return a response of its own. Requests and responses are the
// callable's own types, passed as any: an interceptor that returns a value
// of another type fails the call INTERNAL.
//
// One value may implement several of the interfaces; it is used for each
// kind of call it implements. The first interceptor given to
// channel.Intercept runs first (outermost). Interceptors run in the
// calling goroutine (a Future's own goroutine for Future), never inside an
// actor. An error an interceptor returns that is not a *status.Error, or a
// panic, ends the call INTERNAL with a message that says so.
package interceptors

import (
	"context"
	"iter"
	"time"

	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/compression"
	"github.com/grpcactor/grpcactor/credentials"
	"github.com/grpcactor/grpcactor/metadata"
)

// ClientCallDetails is what an interceptor may change about a call
// (grpcio's ClientCallDetails). Nil and zero fields mean "as the channel
// and its service config decide".
type ClientCallDetails struct {
	// Method is the full method name, "/package.Service/Method".
	Method string
	// Timeout, if set, bounds the call (the earlier of it and the
	// context's deadline wins; zero or negative expires at once).
	Timeout *time.Duration
	// Metadata is the call's custom metadata; the interceptor may change
	// it in place or replace it.
	Metadata metadata.MD
	// Credentials are the call's call credentials (channel.CallCredentials).
	Credentials credentials.CallCredentials
	// WaitForReady, if set, is the call's wait-for-ready choice.
	WaitForReady *bool
	// Compression, if set, compresses the call's requests
	// (compression.Identity for none).
	Compression compression.Compressor
}

// Call is a call in progress or finished, as an interceptor's continuation
// returns it: grpcio's Call. The accessors that need the end of the call
// wait for it.
type Call interface {
	// InitialMetadata waits for the response headers.
	InitialMetadata() metadata.MD
	// TrailingMetadata waits for the end of the call.
	TrailingMetadata() metadata.MD
	// Code waits for the end of the call and returns its status code.
	Code() codes.Code
	// Details waits for the end of the call and returns its message.
	Details() string
	// Cancel cancels the call; false if it had already ended.
	Cancel() bool
	// IsActive reports whether the call is still in progress.
	IsActive() bool
	// Done is closed when the call has ended.
	Done() <-chan struct{}
	// TimeRemaining returns the time left before the call's deadline,
	// and false if it has none.
	TimeRemaining() (time.Duration, bool)
}

// ClientStream is the response side of a server- or bidirectional-
// streaming call, as a continuation returns it.
type ClientStream interface {
	Call
	// Recv returns the next response; io.EOF at a clean end, the call's
	// *status.Error if it failed.
	Recv() (any, error)
}

// UnaryInvoker is the continuation of a one-request, one-response call: it
// runs the rest of the chain and the RPC and returns the response with the
// call (nil if some interceptor answered without an RPC).
type UnaryInvoker func(ctx context.Context, details *ClientCallDetails, req any) (resp any, call Call, err error)

// UnaryStreamInvoker is the continuation of a server-streaming call.
type UnaryStreamInvoker func(ctx context.Context, details *ClientCallDetails, req any) (ClientStream, error)

// StreamUnaryInvoker is the continuation of a client-streaming call.
type StreamUnaryInvoker func(ctx context.Context, details *ClientCallDetails, reqs iter.Seq[any]) (resp any, call Call, err error)

// StreamStreamInvoker is the continuation of a bidirectional-streaming
// call.
type StreamStreamInvoker func(ctx context.Context, details *ClientCallDetails, reqs iter.Seq[any]) (ClientStream, error)

// UnaryUnary intercepts one-request, one-response calls (grpcio's
// UnaryUnaryClientInterceptor).
type UnaryUnary interface {
	InterceptUnaryUnary(ctx context.Context, details *ClientCallDetails, req any, next UnaryInvoker) (resp any, call Call, err error)
}

// UnaryStream intercepts server-streaming calls (grpcio's
// UnaryStreamClientInterceptor).
type UnaryStream interface {
	InterceptUnaryStream(ctx context.Context, details *ClientCallDetails, req any, next UnaryStreamInvoker) (ClientStream, error)
}

// StreamUnary intercepts client-streaming calls (grpcio's
// StreamUnaryClientInterceptor). reqs yields the caller's requests (those
// of Call's iterator, or of Send in the Open form); the interceptor may
// pass it on, wrap it or replace it.
type StreamUnary interface {
	InterceptStreamUnary(ctx context.Context, details *ClientCallDetails, reqs iter.Seq[any], next StreamUnaryInvoker) (resp any, call Call, err error)
}

// StreamStream intercepts bidirectional-streaming calls (grpcio's
// StreamStreamClientInterceptor).
type StreamStream interface {
	InterceptStreamStream(ctx context.Context, details *ClientCallDetails, reqs iter.Seq[any], next StreamStreamInvoker) (ClientStream, error)
}

// UnaryUnaryFunc makes a function a UnaryUnary interceptor.
type UnaryUnaryFunc func(ctx context.Context, details *ClientCallDetails, req any, next UnaryInvoker) (any, Call, error)

// InterceptUnaryUnary calls f.
func (f UnaryUnaryFunc) InterceptUnaryUnary(ctx context.Context, details *ClientCallDetails, req any, next UnaryInvoker) (any, Call, error) {
	return f(ctx, details, req, next)
}

// UnaryStreamFunc makes a function a UnaryStream interceptor.
type UnaryStreamFunc func(ctx context.Context, details *ClientCallDetails, req any, next UnaryStreamInvoker) (ClientStream, error)

// InterceptUnaryStream calls f.
func (f UnaryStreamFunc) InterceptUnaryStream(ctx context.Context, details *ClientCallDetails, req any, next UnaryStreamInvoker) (ClientStream, error) {
	return f(ctx, details, req, next)
}

// StreamUnaryFunc makes a function a StreamUnary interceptor.
type StreamUnaryFunc func(ctx context.Context, details *ClientCallDetails, reqs iter.Seq[any], next StreamUnaryInvoker) (any, Call, error)

// InterceptStreamUnary calls f.
func (f StreamUnaryFunc) InterceptStreamUnary(ctx context.Context, details *ClientCallDetails, reqs iter.Seq[any], next StreamUnaryInvoker) (any, Call, error) {
	return f(ctx, details, reqs, next)
}

// StreamStreamFunc makes a function a StreamStream interceptor.
type StreamStreamFunc func(ctx context.Context, details *ClientCallDetails, reqs iter.Seq[any], next StreamStreamInvoker) (ClientStream, error)

// InterceptStreamStream calls f.
func (f StreamStreamFunc) InterceptStreamStream(ctx context.Context, details *ClientCallDetails, reqs iter.Seq[any], next StreamStreamInvoker) (ClientStream, error) {
	return f(ctx, details, reqs, next)
}

// Implements reports whether ic implements at least one of the four
// interceptor interfaces.
func Implements(ic any) bool {
	switch ic.(type) {
	case UnaryUnary, UnaryStream, StreamUnary, StreamStream:
		return true
	}
	return false
}
