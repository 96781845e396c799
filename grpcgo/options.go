package grpcgo

import (
	"context"
	"fmt"
	"strings"

	"github.com/grpcactor/grpcactor/channel"
	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/compression"
	"github.com/grpcactor/grpcactor/credentials"
	"github.com/grpcactor/grpcactor/metadata"
	"github.com/grpcactor/grpcactor/status"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	grpccreds "google.golang.org/grpc/credentials"
	grpcmd "google.golang.org/grpc/metadata"
	grpcstatus "google.golang.org/grpc/status"
)

// callOpts is what grpc-go's call options of one call become.
type callOpts struct {
	opts    []channel.CallOption
	header  []*grpcmd.MD
	trailer []*grpcmd.MD
}

// callOptions translates the outgoing metadata of ctx and grpc-go's call
// options; an option with no meaning here is an INTERNAL error naming it.
func (c *clientConn) callOptions(ctx context.Context, method string, opts []grpc.CallOption) (*callOpts, error) {
	co := &callOpts{}
	var md metadata.MD
	if ctx != nil {
		if out, ok := grpcmd.FromOutgoingContext(ctx); ok && len(out) > 0 {
			md = metadata.MD(out)
		}
	}
	for _, o := range opts {
		switch o := o.(type) {
		case nil, grpc.EmptyCallOption, grpc.StaticMethodCallOption:
		case grpc.HeaderCallOption:
			co.header = append(co.header, o.HeaderAddr)
		case grpc.TrailerCallOption:
			co.trailer = append(co.trailer, o.TrailerAddr)
		case grpc.FailFastCallOption:
			co.opts = append(co.opts, channel.WaitForReady(!o.FailFast))
		case grpc.CompressorCallOption:
			switch o.CompressorType {
			case "":
			case "identity":
				co.opts = append(co.opts, channel.Compression(compression.Identity))
			default:
				comp, ok := compression.Get(o.CompressorType)
				if !ok {
					return nil, grpcstatus.Errorf(grpccodes.Internal, "grpc: Compressor is not installed for requested grpc-encoding %q", o.CompressorType)
				}
				co.opts = append(co.opts, channel.Compression(comp))
			}
		case grpc.MaxRecvMsgSizeCallOption:
			co.opts = append(co.opts, channel.MaxReceiveMessageSize(o.MaxRecvMsgSize))
		case grpc.MaxSendMsgSizeCallOption:
			co.opts = append(co.opts, channel.MaxSendMessageSize(o.MaxSendMsgSize))
		case grpc.ContentSubtypeCallOption:
			if sub := strings.ToLower(o.ContentSubtype); sub != "proto" && sub != "" {
				return nil, grpcstatus.Errorf(grpccodes.Internal, "grpcgo: call option grpc.CallContentSubtype(%q): only \"proto\" is supported (messages are always protobuf)", o.ContentSubtype)
			}
			co.opts = append(co.opts, channel.ContentSubtype(o.ContentSubtype))
		case grpc.PerRPCCredsCallOption:
			if o.Creds == nil {
				continue
			}
			creds := perRPC(o.Creds, method)
			if o.Creds.RequireTransportSecurity() {
				// The channel sends them over TLS or local connections
				// only, and fails the call UNAUTHENTICATED otherwise.
				co.opts = append(co.opts, channel.CallCredentials(creds))
				continue
			}
			// grpc-go sends these on any connection: ask them here.
			got, err := credentials.RequestMetadata(ctx, credentials.NewRequestInfo(c.ch.Authority(), method), creds)
			if err != nil {
				return nil, toGRPC(err)
			}
			md = metadata.Join(md, got)
		default:
			return nil, grpcstatus.Errorf(grpccodes.Internal, "grpcgo: call option %T has no meaning on a grpcactor channel; the call was not made", o)
		}
	}
	if md != nil {
		co.opts = append(co.opts, channel.Metadata(md))
	}
	return co, nil
}

// after fills the Header and Trailer call options.
func (co *callOpts) after(header, trailer metadata.MD) {
	for _, p := range co.header {
		if p != nil {
			*p = grpcmd.MD(header.Copy())
		}
	}
	for _, p := range co.trailer {
		if p != nil {
			*p = grpcmd.MD(trailer.Copy())
		}
	}
}

// perRPC makes grpc-go's per-RPC credentials call credentials: they get
// the service URL and, in their context, grpc-go's RequestInfo with the
// method; a grpc-go status error they return keeps its code where gRFC
// A54 allows.
func perRPC(pc grpccreds.PerRPCCredentials, method string) credentials.CallCredentials {
	return credentials.MetadataPlugin(fmt.Sprintf("grpc.PerRPCCredentials %T", pc), func(ctx context.Context, info credentials.RequestInfo) (metadata.MD, error) {
		ctx = grpccreds.NewContextWithRequestInfo(ctx, grpccreds.RequestInfo{Method: method})
		m, err := pc.GetRequestMetadata(ctx, info.ServiceURL)
		if err != nil {
			if gs, ok := grpcstatus.FromError(err); ok {
				return nil, status.New(codes.Code(gs.Code()), gs.Message())
			}
			return nil, err
		}
		md := make(metadata.MD, len(m))
		for k, v := range m {
			md.Append(k, v)
		}
		return md, nil
	})
}
