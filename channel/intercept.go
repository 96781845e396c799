package channel

// The interceptor chain: Intercept, the chains of each kind, and the
// conversions between a call's details and its options and between the
// callable's types and the interceptors' any.

import (
	"context"
	"errors"
	"fmt"
	"iter"

	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/compression"
	"github.com/grpcactor/grpcactor/credentials"
	"github.com/grpcactor/grpcactor/interceptors"
	"github.com/grpcactor/grpcactor/status"
)

// chain is the interceptors of a channel, per kind of call, outermost
// first.
type chain struct {
	all []any
	uu  []interceptors.UnaryUnary
	us  []interceptors.UnaryStream
	su  []interceptors.StreamUnary
	ss  []interceptors.StreamStream
}

// Intercept returns a channel whose calls go through ics (grpcio's
// intercept_channel): each value implements one or more of
// interceptors.UnaryUnary, UnaryStream, StreamUnary and StreamStream and is
// used for the kinds of call it implements; the first listed runs first.
// Intercepting an intercepted channel puts the new interceptors outside
// the old ones. The result shares everything else with ch: connections,
// connectivity, subscriptions; closing either closes both. A value that
// implements no interceptor interface is an error naming its position and
// type.
func Intercept(ch *Channel, ics ...any) (*Channel, error) {
	if ch == nil || ch.chanState == nil {
		return nil, errors.New("channel.Intercept: the channel is nil")
	}
	c := &chain{}
	for i, ic := range ics {
		if b, ok := ic.(ChannelBinder); ok {
			ic = b.BindChannel(ch)
		}
		if ic == nil || !interceptors.Implements(ic) {
			return nil, fmt.Errorf("channel.Intercept: interceptor %d (%T) implements none of interceptors.UnaryUnary, UnaryStream, StreamUnary, StreamStream", i, ic)
		}
		c.add(ic)
	}
	if ch.chain != nil {
		for _, ic := range ch.chain.all {
			c.add(ic)
		}
	}
	return &Channel{chanState: ch.chanState, chain: c}, nil
}

func (c *chain) add(ic any) {
	c.all = append(c.all, ic)
	if i, ok := ic.(interceptors.UnaryUnary); ok {
		c.uu = append(c.uu, i)
	}
	if i, ok := ic.(interceptors.UnaryStream); ok {
		c.us = append(c.us, i)
	}
	if i, ok := ic.(interceptors.StreamUnary); ok {
		c.su = append(c.su, i)
	}
	if i, ok := ic.(interceptors.StreamStream); ok {
		c.ss = append(c.ss, i)
	}
}

// callDetails returns the details a chain starts from: the method and the
// call's options.
func callDetails(method string, opts []CallOption) *interceptors.ClientCallDetails {
	var o callOptions
	for _, opt := range opts {
		if opt != nil {
			opt.applyCall(&o)
		}
	}
	d := &interceptors.ClientCallDetails{Method: method, Metadata: o.md.Copy()}
	if o.timeoutSet {
		t := o.timeout
		d.Timeout = &t
	}
	if o.wfrSet {
		w := o.waitForReady
		d.WaitForReady = &w
	}
	if o.compressionSet {
		d.Compression = o.compressor
		if d.Compression == nil {
			d.Compression = compression.Identity
		}
	}
	switch len(o.creds) {
	case 0:
	case 1:
		d.Credentials = o.creds[0]
	default:
		d.Credentials, _ = credentials.CompositeCall(o.creds...)
	}
	return d
}

// detailsOptions turns details back into the options of the RPC, with
// the wire options ctx carries.
func detailsOptions(ctx context.Context, d *interceptors.ClientCallDetails) []CallOption {
	var w wireOptions
	if ctx != nil {
		w, _ = ctx.Value(wireOptionsKey{}).(wireOptions)
	}
	return detailsOptionsWire(w, d)
}

// detailsOptionsWire turns details back into the options of the RPC, with
// the wire options w.
func detailsOptionsWire(w wireOptions, d *interceptors.ClientCallDetails) []CallOption {
	var o callOptions
	o.wire = w
	if d.Timeout != nil {
		o.timeout, o.timeoutSet = *d.Timeout, true
	}
	o.md = d.Metadata
	if d.WaitForReady != nil {
		o.waitForReady, o.wfrSet = *d.WaitForReady, true
	}
	if d.Compression != nil {
		Compression(d.Compression).applyCall(&o)
	}
	if d.Credentials != nil {
		o.creds = []credentials.CallCredentials{d.Credentials}
	}
	return []CallOption{callOptionFunc(func(dst *callOptions) { *dst = o })}
}

// icError makes what an interceptor returned a *status.Error.
func icError(err error) error {
	if err == nil {
		return nil
	}
	if st, ok := status.FromError(err); ok && st != nil {
		return st // a status, or a context error's
	}
	return status.Errorf(codes.Internal, "interceptor failed: %v", err).WithCause(err)
}

// recovered turns a panic in an interceptor into the call's error.
func recovered(method string, err *error) {
	if r := recover(); r != nil {
		*err = status.Errorf(codes.Internal, "interceptor panicked on %s: %v", method, r)
	}
}

// The messages of a value of the wrong type from an interceptor: its type,
// the method, the type the callable wants.
const (
	wrongReq  = "an interceptor passed a request of type %T to %s, want %T"
	wrongResp = "an interceptor returned a response of type %T for %s, want %T"
)

// as converts what an interceptor handed over to the callable's type T; a
// value of another type is INTERNAL with msg (wrongReq or wrongResp).
func as[T any](v any, msg, method string) (T, error) {
	r, ok := v.(T)
	if !ok && v != nil {
		var zero T
		return zero, status.Errorf(codes.Internal, msg, v, method, zero)
	}
	return r, nil
}

// reqTypeError is what typedReqs panics with, for the request pump to
// fail the call with st.
type reqTypeError struct{ st *status.Error }

// typedReqs turns an interceptor's request iterator back into the
// callable's type; a value of another type stops the requests and ends the
// call INTERNAL (through the request pump's panic handling).
func typedReqs[Req any](reqs iter.Seq[any], method string) iter.Seq[Req] {
	return func(yield func(Req) bool) {
		for v := range reqs {
			r, err := as[Req](v, wrongReq, method)
			if err != nil {
				panic(reqTypeError{err.(*status.Error)})
			}
			if !yield(r) {
				return
			}
		}
	}
}

func anyReqs[Req any](reqs iter.Seq[Req]) iter.Seq[any] {
	return func(yield func(any) bool) {
		for r := range reqs {
			if !yield(r) {
				return
			}
		}
	}
}

// plain returns a copy of the callable that makes the RPC itself, for
// the end of a chain, bound to method.
func (c *callable[Req, Resp]) plain(method string) callable[Req, Resp] {
	p := *c
	p.chain, p.method = nil, method
	return p
}

// buildChain wraps terminal in ics, the first outermost.
func buildChain[I, N any](ics []I, terminal N, wrap func(ic I, next N) N) N {
	next := terminal
	for i := len(ics) - 1; i >= 0; i-- {
		next = wrap(ics[i], next)
	}
	return next
}

func unaryChain(ics []interceptors.UnaryUnary, terminal interceptors.UnaryInvoker) interceptors.UnaryInvoker {
	return buildChain(ics, terminal, func(ic interceptors.UnaryUnary, next interceptors.UnaryInvoker) interceptors.UnaryInvoker {
		return func(ctx context.Context, d *interceptors.ClientCallDetails, req any) (any, interceptors.Call, error) {
			return ic.InterceptUnaryUnary(ctx, d, req, next)
		}
	})
}

func unaryStreamChain(ics []interceptors.UnaryStream, terminal interceptors.UnaryStreamInvoker) interceptors.UnaryStreamInvoker {
	return buildChain(ics, terminal, func(ic interceptors.UnaryStream, next interceptors.UnaryStreamInvoker) interceptors.UnaryStreamInvoker {
		return func(ctx context.Context, d *interceptors.ClientCallDetails, req any) (interceptors.ClientStream, error) {
			return ic.InterceptUnaryStream(ctx, d, req, next)
		}
	})
}

func streamUnaryChain(ics []interceptors.StreamUnary, terminal interceptors.StreamUnaryInvoker) interceptors.StreamUnaryInvoker {
	return buildChain(ics, terminal, func(ic interceptors.StreamUnary, next interceptors.StreamUnaryInvoker) interceptors.StreamUnaryInvoker {
		return func(ctx context.Context, d *interceptors.ClientCallDetails, reqs iter.Seq[any]) (any, interceptors.Call, error) {
			return ic.InterceptStreamUnary(ctx, d, reqs, next)
		}
	})
}

func streamStreamChain(ics []interceptors.StreamStream, terminal interceptors.StreamStreamInvoker) interceptors.StreamStreamInvoker {
	return buildChain(ics, terminal, func(ic interceptors.StreamStream, next interceptors.StreamStreamInvoker) interceptors.StreamStreamInvoker {
		return func(ctx context.Context, d *interceptors.ClientCallDetails, reqs iter.Seq[any]) (interceptors.ClientStream, error) {
			return ic.InterceptStreamStream(ctx, d, reqs, next)
		}
	})
}
