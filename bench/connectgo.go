package main

import (
	"context"
	"errors"
	"io"
	"net/http"

	"connectrpc.com/connect"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
)

// connect-go's client, speaking the gRPC protocol (connect.WithGRPC) over
// net/http's own HTTP/2 in plaintext (h2c with prior knowledge), with its
// defaults otherwise: a second peer that is neither grpc-go nor this
// project, built on the standard library's HTTP/2.

type connectClient struct {
	tr     *http.Transport
	unaryC *connect.Client[testgrpc.SimpleRequest, testgrpc.SimpleResponse]
	bidiC  *connect.Client[testgrpc.StreamingOutputCallRequest, testgrpc.StreamingOutputCallResponse]
	ssC    *connect.Client[testgrpc.StreamingOutputCallRequest, testgrpc.StreamingOutputCallResponse]
}

func dialConnect(addr string) (client, error) {
	var protos http.Protocols
	protos.SetUnencryptedHTTP2(true)
	tr := &http.Transport{Protocols: &protos}
	hc := &http.Client{Transport: tr}
	base := "http://" + addr + testService
	return &connectClient{
		tr:     tr,
		unaryC: connect.NewClient[testgrpc.SimpleRequest, testgrpc.SimpleResponse](hc, base+"UnaryCall", connect.WithGRPC()),
		bidiC:  connect.NewClient[testgrpc.StreamingOutputCallRequest, testgrpc.StreamingOutputCallResponse](hc, base+"FullDuplexCall", connect.WithGRPC()),
		ssC:    connect.NewClient[testgrpc.StreamingOutputCallRequest, testgrpc.StreamingOutputCallResponse](hc, base+"StreamingOutputCall", connect.WithGRPC()),
	}, nil
}

func (c *connectClient) unary(ctx context.Context, req *testgrpc.SimpleRequest) (*testgrpc.SimpleResponse, error) {
	resp, err := c.unaryC.CallUnary(ctx, connect.NewRequest(req))
	if err != nil {
		return nil, err
	}
	return resp.Msg, nil
}

func (c *connectClient) openBidi(ctx context.Context) (bidiStream, error) {
	return &connectBidi{s: c.bidiC.CallBidiStream(ctx)}, nil
}

func (c *connectClient) serverStream(ctx context.Context, req *testgrpc.StreamingOutputCallRequest) (recvStream, error) {
	s, err := c.ssC.CallServerStream(ctx, connect.NewRequest(req))
	if err != nil {
		return nil, err
	}
	return &connectServerStream{s: s}, nil
}

func (c *connectClient) close() error {
	c.tr.CloseIdleConnections()
	return nil
}

type connectBidi struct {
	s *connect.BidiStreamForClient[testgrpc.StreamingOutputCallRequest, testgrpc.StreamingOutputCallResponse]
}

func (b *connectBidi) Send(m *testgrpc.StreamingOutputCallRequest) error { return b.s.Send(m) }
func (b *connectBidi) CloseSend() error                                  { return b.s.CloseRequest() }
func (b *connectBidi) Recv() (*testgrpc.StreamingOutputCallResponse, error) {
	m, err := b.s.Receive()
	if err != nil {
		b.s.CloseResponse()
		if errors.Is(err, io.EOF) {
			return nil, io.EOF
		}
	}
	return m, err
}

type connectServerStream struct {
	s *connect.ServerStreamForClient[testgrpc.StreamingOutputCallResponse]
}

func (s *connectServerStream) Recv() (*testgrpc.StreamingOutputCallResponse, error) {
	if s.s.Receive() {
		return s.s.Msg(), nil
	}
	err := s.s.Err()
	s.s.Close()
	if err == nil {
		err = io.EOF
	}
	return nil, err
}
