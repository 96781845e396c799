package credentials

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/metadata"
	"github.com/grpcactor/grpcactor/status"
)

// RequestInfo tells call credentials which call they are asked for
// (grpcio's AuthMetadataContext).
type RequestInfo struct {
	// ServiceURL is "https://" + the channel's authority + "/" + the
	// service, e.g. "https://example.com:443/helloworld.Greeter".
	ServiceURL string
	// MethodName is the method's name within its service, e.g. "SayHello".
	MethodName string
}

// NewRequestInfo returns the RequestInfo of a call of fullMethod
// ("/package.Service/Method") on a channel whose :authority is authority.
func NewRequestInfo(authority, fullMethod string) RequestInfo {
	svc, name := strings.TrimPrefix(fullMethod, "/"), ""
	if i := strings.LastIndexByte(svc, '/'); i >= 0 {
		svc, name = svc[:i], svc[i+1:]
	}
	return RequestInfo{ServiceURL: "https://" + authority + "/" + svc, MethodName: name}
}

// CallCredentials add metadata to calls (grpcio's CallCredentials).
// GetRequestMetadata is called once per call, in the calling goroutine
// (or the goroutine of a Future), before the call's first request goes
// out; ctx carries the call's deadline and cancellation. It may block,
// but never inside an actor. Implementations must be safe for concurrent
// use.
type CallCredentials interface {
	GetRequestMetadata(ctx context.Context, info RequestInfo) (metadata.MD, error)
}

// PluginFunc computes the metadata of one call (grpcio's
// AuthMetadataPlugin, with the callback replaced by return values).
type PluginFunc func(ctx context.Context, info RequestInfo) (metadata.MD, error)

type plugin struct {
	name string
	fn   PluginFunc
}

func (p *plugin) GetRequestMetadata(ctx context.Context, info RequestInfo) (md metadata.MD, err error) {
	defer func() {
		if r := recover(); r != nil {
			md, err = nil, panicked(p.name, r)
		}
	}()
	md, err = p.fn(ctx, info)
	if err != nil {
		return nil, pluginError(p.name, err)
	}
	return md, nil
}

// MetadataPlugin returns call credentials that ask fn for each call's
// metadata (grpcio's metadata_call_credentials); name appears in the
// error of a call whose fn failed (default "metadata plugin").
func MetadataPlugin(name string, fn PluginFunc) CallCredentials {
	if name == "" {
		name = "metadata plugin"
	}
	return &plugin{name: name, fn: fn}
}

type accessToken struct{ md metadata.MD }

func (a *accessToken) GetRequestMetadata(context.Context, RequestInfo) (metadata.MD, error) {
	return a.md, nil
}

// AccessToken returns call credentials that send "authorization: Bearer
// token" with every call (grpcio's access_token_call_credentials).
func AccessToken(token string) CallCredentials {
	return &accessToken{md: metadata.Pairs("authorization", "Bearer "+token)}
}

type composite []CallCredentials

func (c composite) GetRequestMetadata(ctx context.Context, info RequestInfo) (metadata.MD, error) {
	return RequestMetadata(ctx, info, c...)
}

// CompositeCall returns call credentials that send the metadata of every
// one of creds, in order (grpcio's composite_call_credentials). It needs
// at least two, none of them nil.
func CompositeCall(creds ...CallCredentials) (CallCredentials, error) {
	if len(creds) < 2 {
		return nil, fmt.Errorf("credentials: CompositeCall needs at least two call credentials, got %d", len(creds))
	}
	for i, c := range creds {
		if c == nil {
			return nil, fmt.Errorf("credentials: CompositeCall: call credential %d is nil", i)
		}
	}
	return composite(append([]CallCredentials(nil), creds...)), nil
}

// RequestMetadata asks each of creds, in order, for the metadata of the
// call info describes and joins what they return. Keys are lower-cased
// and checked: a key or value gRPC cannot send, or one of the reserved
// ":"- and "grpc-" keys, fails the call INTERNAL. A credential that fails
// with a *status.Error keeps its code if gRFC A54 allows credentials that
// code (and becomes INTERNAL otherwise); any other error is UNAVAILABLE;
// a credential that panics fails the call INTERNAL, naming the panic.
// The error is always a *status.Error.
func RequestMetadata(ctx context.Context, info RequestInfo, creds ...CallCredentials) (metadata.MD, error) {
	var out metadata.MD
	for _, c := range creds {
		if c == nil {
			continue
		}
		md, err := getRequestMetadata(ctx, info, c)
		if err != nil {
			return nil, pluginError("call credentials", err)
		}
		for k, vs := range md {
			key := strings.ToLower(k)
			if err := checkKey(key); err != nil {
				return nil, status.Errorf(codes.Internal, "call credentials for %s: %v", info.MethodName, err)
			}
			for _, v := range vs {
				if err := metadata.ValidValue(key, v); err != nil {
					return nil, status.Errorf(codes.Internal, "call credentials for %s: %v", info.MethodName, err)
				}
			}
			if out == nil {
				out = metadata.MD{}
			}
			out.Append(key, vs...)
		}
	}
	return out, nil
}

// getRequestMetadata asks c, turning a panic into the call's INTERNAL
// failure: a broken credential ends its call, not the program.
func getRequestMetadata(ctx context.Context, info RequestInfo, c CallCredentials) (md metadata.MD, err error) {
	defer func() {
		if r := recover(); r != nil {
			md, err = nil, panicked(fmt.Sprintf("call credentials %T", c), r)
		}
	}()
	return c.GetRequestMetadata(ctx, info)
}

func checkKey(key string) error {
	if strings.HasPrefix(key, ":") || strings.HasPrefix(key, "grpc-") {
		return fmt.Errorf("metadata key %q is reserved for gRPC itself", key)
	}
	return metadata.ValidKey(key)
}

// pluginError turns a credential's failure into the call's status, per
// gRFC A54: codes a control plane must not produce become INTERNAL.
func pluginError(name string, err error) *status.Error {
	var st *status.Error
	isStatus := errors.As(err, &st) && st != nil
	if m := (*mapped)(nil); isStatus && errors.As(err, &m) {
		return st // a credential inside a composite, already mapped
	}
	if isStatus {
		if allowedCode(st.Code()) {
			return status.Errorf(st.Code(), "getting request metadata from %s: %s", name, st.Details()).WithCause(&mapped{err})
		}
		return status.Errorf(codes.Internal, "getting request metadata from %s: it failed with %v, a code call credentials may not produce: %s", name, st.Code(), st.Details()).WithCause(&mapped{err})
	}
	code := codes.Unavailable
	if st, ok := status.FromError(err); ok && st != nil {
		code = st.Code() // a context error: CANCELLED or DEADLINE_EXCEEDED
	}
	return status.Errorf(code, "getting request metadata from %s: %v", name, err).WithCause(&mapped{err})
}

// panicked is the call's status when the credential name panicked with r.
func panicked(name string, r any) *status.Error {
	return status.Errorf(codes.Internal, "getting request metadata from %s: it panicked: %v", name, r).WithCause(&mapped{fmt.Errorf("panic: %v", r)})
}

// mapped marks, as the cause of the status pluginError returns, a failure
// already turned into a call's status, so that a composite reports it
// once; it wraps the credential's own error.
type mapped struct{ cause error }

func (m *mapped) Error() string { return m.cause.Error() }
func (m *mapped) Unwrap() error { return m.cause }

// allowedCode reports whether gRFC A54 lets call credentials fail a call
// with c (the codes it does not list as control-plane-only).
func allowedCode(c codes.Code) bool {
	switch c {
	case codes.InvalidArgument, codes.NotFound, codes.AlreadyExists, codes.FailedPrecondition,
		codes.Aborted, codes.OutOfRange, codes.DataLoss, codes.OK:
		return false
	}
	return true
}
