package grpcgo

import (
	"context"
	"io"
	"sync"

	"github.com/grpcactor/grpcactor/channel"
	grpccodes "google.golang.org/grpc/codes"
	grpcmd "google.golang.org/grpc/metadata"
	grpcstatus "google.golang.org/grpc/status"
)

// clientStream is grpc.ClientStream over a bidirectional stream of bytes:
// every kind of streaming call is one on the wire. SendMsg is called from
// one goroutine at a time, RecvMsg from one goroutine at a time, as
// grpc-go requires.
type clientStream struct {
	ctx           context.Context
	bs            *channel.BidiStream[[]byte, []byte]
	serverStreams bool
	co            *callOpts
	finishOnce    sync.Once
	received      bool // a response has been received (RecvMsg's goroutine)
}

// Header waits for the response headers and returns their metadata.
func (s *clientStream) Header() (grpcmd.MD, error) {
	return grpcmd.MD(s.bs.InitialMetadata()), nil
}

// Trailer returns the trailers once RecvMsg has returned an error (io.EOF
// at a clean end), nil before.
func (s *clientStream) Trailer() grpcmd.MD {
	if s.bs.IsActive() {
		return nil
	}
	md := grpcmd.MD(s.bs.TrailingMetadata())
	if md == nil {
		md = grpcmd.MD{}
	}
	return md
}

// CloseSend half-closes the call.
func (s *clientStream) CloseSend() error {
	s.bs.CloseSend()
	return nil
}

// Context returns the call's context.
func (s *clientStream) Context() context.Context { return s.ctx }

// SendMsg sends one request; io.EOF if the call has ended (RecvMsg gives
// its status).
func (s *clientStream) SendMsg(m any) error {
	b, err := marshal(m)
	if err != nil {
		return err
	}
	return toGRPC(s.bs.Send(b))
}

// RecvMsg receives one response into m; io.EOF at a clean end of a
// server-streaming call. For a call with one response it reads on to the
// end of the call, as grpc-go does, so the trailers are known when it
// returns.
func (s *clientStream) RecvMsg(m any) error {
	b, err := s.bs.Recv()
	if err != nil {
		s.finish()
		if err == io.EOF && !s.serverStreams && !s.received {
			return grpcstatus.Error(grpccodes.Internal, "cardinality violation: received no response message from non-server-streaming RPC")
		}
		return toGRPC(err)
	}
	s.received = true
	if err := unmarshal(b, m); err != nil {
		s.bs.Cancel()
		s.finish()
		return err
	}
	if s.serverStreams {
		return nil
	}
	_, err = s.bs.Recv()
	s.finish()
	switch err {
	case io.EOF:
		return nil
	case nil:
		s.bs.Cancel()
		return grpcstatus.Error(grpccodes.Internal, "cardinality violation: expected <EOF> for non server-streaming RPCs, but received another message")
	}
	return toGRPC(err)
}

// finish fills the Header and Trailer call options, once the call is over.
func (s *clientStream) finish() {
	s.finishOnce.Do(func() {
		if len(s.co.header) == 0 && len(s.co.trailer) == 0 {
			return
		}
		<-s.bs.Done()
		s.co.after(s.bs.InitialMetadata(), s.bs.TrailingMetadata())
	})
}
