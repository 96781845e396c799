package channel

import (
	"context"
	"strings"
	"time"

	"github.com/grpcactor/grpcactor/compression"
	"github.com/grpcactor/grpcactor/credentials"
	"github.com/grpcactor/grpcactor/metadata"
)

// CallOption configures one call (grpcio's per-call keyword arguments).
type CallOption interface {
	applyCall(*callOptions)
}

type callOptionFunc func(*callOptions)

func (f callOptionFunc) applyCall(o *callOptions) { f(o) }

type callOptions struct {
	timeout    time.Duration
	md         metadata.MD
	compressor compression.Compressor
	creds      []credentials.CallCredentials
	wire       wireOptions
	// The flags together, so that a call's state stays in its heap size
	// class (actors' inflight test).
	timeoutSet     bool
	waitForReady   bool
	wfrSet         bool
	compressionSet bool
}

// wireOptions are the call options that interceptors do not see: they
// reach the RPC past an interceptor chain in the call's context.
type wireOptions struct {
	maxRecv, maxSend       int
	maxRecvSet, maxSendSet bool
	subtype                string
	hashKey                *string // HashKey, for the policy's picker (a pointer: 8 bytes less per call)
}

// Timeout bounds the call: it ends DEADLINE_EXCEEDED after d (at once
// for d <= 0). The earlier of this and the context's deadline wins.
// Default: the context's deadline only.
func Timeout(d time.Duration) CallOption {
	return callOptionFunc(func(o *callOptions) { o.timeout, o.timeoutSet = d, true })
}

// Metadata sends md as the call's custom metadata. Keys ending in "-bin"
// carry binary values. Several Metadata options add up.
func Metadata(md metadata.MD) CallOption {
	return callOptionFunc(func(o *callOptions) {
		if o.md == nil {
			o.md = md
			return
		}
		o.md = metadata.Join(o.md, md)
	})
}

// WaitForReady makes the call wait, until its deadline, for the channel to
// become READY even through TRANSIENT_FAILURE, instead of failing
// UNAVAILABLE (gRPC's wait-for-ready semantics). Default false.
func WaitForReady(wait bool) CallOption {
	return callOptionFunc(func(o *callOptions) { o.waitForReady, o.wfrSet = wait, true })
}

// Compression compresses this call's request messages with c, overriding
// the channel's WithCompression; compression.Identity turns it off.
func Compression(c compression.Compressor) CallOption {
	return callOptionFunc(func(o *callOptions) {
		o.compressor, o.compressionSet = c, true
		if c != nil && c.Name() == "identity" {
			o.compressor = nil
		}
	})
}

// CompressionGzip is Compression(compression.Gzip).
func CompressionGzip() CallOption { return Compression(compression.Gzip) }

// CallCredentials sends the metadata of creds with this call, after the
// call credentials of the channel's own credentials (grpcio's credentials=
// keyword). They need a channel opened with Secure over TLS or local
// credentials: on a plaintext channel the call fails UNAUTHENTICATED and
// nothing is sent. Several CallCredentials options add up.
func CallCredentials(creds credentials.CallCredentials) CallOption {
	return callOptionFunc(func(o *callOptions) {
		if creds != nil {
			o.creds = append(o.creds, creds)
		}
	})
}

// MaxReceiveMessageSize limits this call's response messages to n bytes
// (after decompression; -1 for no limit), in place of the channel's
// WithMaxReceiveMessageSize; a service config's maxResponseMessageBytes
// still applies if it is smaller (grpc-go's MaxCallRecvMsgSize). A larger
// message ends the call RESOURCE_EXHAUSTED. Default: the channel's limit.
func MaxReceiveMessageSize(n int) CallOption {
	return callOptionFunc(func(o *callOptions) { o.wire.maxRecv, o.wire.maxRecvSet = n, true })
}

// MaxSendMessageSize limits this call's request messages to n bytes (-1
// for no limit), in place of the channel's WithMaxSendMessageSize; a
// service config's maxRequestMessageBytes still applies if it is smaller
// (grpc-go's MaxCallSendMsgSize). A larger message fails RESOURCE_EXHAUSTED
// without being sent. Default: the channel's limit.
func MaxSendMessageSize(n int) CallOption {
	return callOptionFunc(func(o *callOptions) { o.wire.maxSend, o.wire.maxSendSet = n, true })
}

// ContentSubtype sends the call's content-type as "application/grpc+" +
// subtype (lower-cased), as grpc-go's CallContentSubtype does; the
// messages are still encoded by the method's codec. Default: plain
// "application/grpc".
func ContentSubtype(subtype string) CallOption {
	return callOptionFunc(func(o *callOptions) { o.wire.subtype = strings.ToLower(subtype) })
}

type wireOptionsKey struct{}

// withWireOptions carries the wire options of opts in ctx past an
// interceptor chain, which sees only the call's details.
func withWireOptions(ctx context.Context, opts []CallOption) context.Context {
	var o callOptions
	for _, opt := range opts {
		if opt != nil {
			opt.applyCall(&o)
		}
	}
	if o.wire == (wireOptions{}) {
		return ctx
	}
	if ctx == nil {
		ctx = context.Background()
	}
	return context.WithValue(ctx, wireOptionsKey{}, o.wire)
}
