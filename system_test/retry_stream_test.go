package system_test

// The service config's retryPolicy (gRFC A6) on streaming calls against a
// grpc-go server: an attempt that fails UNAVAILABLE before the server sent
// anything is retried, replaying the requests the client already sent; once
// the server sent response headers or a message, the call is committed and
// a later UNAVAILABLE stands.

import (
	"fmt"
	"io"
	"slices"
	"sync"
	"testing"

	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	grpcmd "google.golang.org/grpc/metadata"
	grpcstatus "google.golang.org/grpc/status"

	"github.com/grpcactor/grpcactor/channel"
	"github.com/grpcactor/grpcactor/codes"
)

// rsServiceConfig retries UNAVAILABLE up to 3 attempts, with short backoffs.
const rsServiceConfig = `{"methodConfig":[{"name":[{"service":"grpc.testing.TestService"}],
	"retryPolicy":{"maxAttempts":3,"initialBackoff":"0.01s","maxBackoff":"0.05s","backoffMultiplier":2,"retryableStatusCodes":["UNAVAILABLE"]}}]}`

// rsAttempt is what the server saw of one streaming attempt.
type rsAttempt struct {
	method string
	prev   string // grpc-previous-rpc-attempts, "" if absent
	reqs   []int  // payload size of each request received, in order
	eof    bool   // the client's half-close was received
}

// rsServer is a testServer whose streaming calls go through script: given the
// attempt's number (1 for the first attempt the server sees) and its stream,
// script may end the attempt itself (handled true, with its error), or let
// the interop handler serve it. Every request a stream receives, by script
// or handler, is recorded.
type rsServer struct {
	*testServer
	mu       sync.Mutex
	attempts []*rsAttempt
}

// rsStream records what the attempt receives.
type rsStream struct {
	grpc.ServerStream
	srv *rsServer
	a   *rsAttempt
}

func (s *rsStream) RecvMsg(m any) error {
	err := s.ServerStream.RecvMsg(m)
	s.srv.mu.Lock()
	defer s.srv.mu.Unlock()
	switch {
	case err == io.EOF:
		s.a.eof = true
	case err == nil:
		if p, ok := m.(interface{ GetPayload() *testgrpc.Payload }); ok {
			s.a.reqs = append(s.a.reqs, len(p.GetPayload().GetBody()))
		}
	}
	return err
}

// recv reads one StreamingOutputCallRequest.
func (s *rsStream) recv() error { return s.RecvMsg(new(outReq)) }

// recvN reads n requests.
func (s *rsStream) recvN(n int) error {
	for range n {
		if err := s.recv(); err != nil {
			return err
		}
	}
	return nil
}

func rsStartServer(t *testing.T, script func(n int, ss *rsStream) (handled bool, err error)) *rsServer {
	t.Helper()
	rs := &rsServer{}
	icpt := func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		md, _ := grpcmd.FromIncomingContext(ss.Context())
		a := &rsAttempt{method: info.FullMethod}
		if v := md.Get("grpc-previous-rpc-attempts"); len(v) > 0 {
			a.prev = v[0]
		}
		rs.mu.Lock()
		rs.attempts = append(rs.attempts, a)
		n := len(rs.attempts)
		rs.mu.Unlock()
		st := &rsStream{ServerStream: ss, srv: rs, a: a}
		if handled, err := script(n, st); handled {
			return err
		}
		return h(srv, st)
	}
	rs.testServer = startServer(t, serverConfig{Opts: []grpc.ServerOption{grpc.ChainStreamInterceptor(icpt)}})
	return rs
}

// seen returns a copy of the attempts the server saw.
func (rs *rsServer) seen() []rsAttempt {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	out := make([]rsAttempt, len(rs.attempts))
	for i, a := range rs.attempts {
		out[i] = *a
		out[i].reqs = slices.Clone(a.reqs)
	}
	return out
}

// rsReq is request i of a test: a payload of i+1 bytes asking for one
// response of 10*(i+1) bytes.
// rsOpenAndSend opens a FullDuplexCall to srv under the retry policy and
// sends the first n requests of rsReq.
func rsOpenAndSend(t *testing.T, srv *rsServer, n int) *channel.BidiStream[*outReq, *outResp] {
	t.Helper()
	ch := dial(t, srv.Addr(), channel.WithServiceConfig(rsServiceConfig))
	bs, err := newStubs(ch).duplex.Open(tctx(t))
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if err := bs.Send(rsReq(i)); err != nil {
			t.Fatalf("Send %d: %v", i, err)
		}
	}
	return bs
}

func rsReq(i int) *outReq {
	return &outReq{
		ResponseType:       testgrpc.PayloadType_COMPRESSABLE,
		ResponseParameters: []*testgrpc.ResponseParameters{{Size: int32(10 * (i + 1))}},
		Payload:            zeros(i + 1),
	}
}

// rsWantAttempts checks the attempts the server saw: their number, the
// method, grpc-previous-rpc-attempts ("", "1", ...) and the requests of
// each (payload sizes).
func rsWantAttempts(t *testing.T, got []rsAttempt, method string, reqs ...[]int) {
	t.Helper()
	if len(got) != len(reqs) {
		t.Fatalf("server saw %d attempts %+v, want %d", len(got), got, len(reqs))
	}
	for i, a := range got {
		wantPrev := ""
		if i > 0 {
			wantPrev = fmt.Sprint(i)
		}
		if a.method != method || a.prev != wantPrev {
			t.Errorf("attempt %d: method %s, grpc-previous-rpc-attempts %q; want %s, %q", i+1, a.method, a.prev, method, wantPrev)
		}
		if !slices.Equal(a.reqs, reqs[i]) {
			t.Errorf("attempt %d received requests with payloads %v, want %v", i+1, a.reqs, reqs[i])
		}
	}
}

// rsRecvSizes receives n responses and returns their payload sizes.
func rsRecvSizes(t *testing.T, what string, s interface{ Recv() (*outResp, error) }, n int) []int {
	t.Helper()
	var sizes []int
	for range n {
		r, err := s.Recv()
		if err != nil {
			t.Fatalf("%s: response %d: %v (after %v)", what, len(sizes)+1, err, sizes)
		}
		checkPayload(t, what, r.GetPayload(), len(r.GetPayload().GetBody()))
		sizes = append(sizes, len(r.GetPayload().GetBody()))
	}
	return sizes
}

func rsUnavailable(n int, when string) error {
	return grpcstatus.Errorf(grpccodes.Unavailable, "rs: attempt %d fails %s", n, when)
}

func TestRetryPolicyStreaming(t *testing.T) {
	// The first attempt reads the request and fails before any response
	// headers (a trailers-only response); the second is the handler's.
	t.Run("ServerStreamingRetried", func(t *testing.T) {
		srv := rsStartServer(t, func(n int, ss *rsStream) (bool, error) {
			if n > 1 {
				return false, nil
			}
			if err := ss.recv(); err != nil {
				return true, err
			}
			return true, rsUnavailable(n, "before headers")
		})
		ch := dial(t, srv.Addr(), channel.WithServiceConfig(rsServiceConfig))
		req := rsReq(4)
		req.ResponseParameters = []*testgrpc.ResponseParameters{{Size: 31}, {Size: 7}, {Size: 0}, {Size: 1024}}
		rs, err := newStubs(ch).streamOut.Call(tctx(t), req)
		if err != nil {
			t.Fatal(err)
		}
		got := rsRecvSizes(t, "StreamingOutputCall retried after UNAVAILABLE", rs, 4)
		if _, err := rs.Recv(); err != io.EOF {
			t.Fatalf("after 4 responses: %v, want io.EOF", err)
		}
		if want := []int{31, 7, 0, 1024}; !slices.Equal(got, want) {
			t.Errorf("responses of %v bytes, want %v", got, want)
		}
		if rs.Code() != codes.OK {
			t.Errorf("call ended %v, want OK", rs.Code())
		}
		rsWantAttempts(t, srv.seen(), mStreamingOutput, []int{5}, []int{5})
	})

	// The client sends three requests and keeps the stream open; the first
	// attempt reads all three and fails. The retry must replay them from
	// the retry buffer, and a request sent after the retry follows them on
	// the new attempt.
	t.Run("BidiRetriedReplaysRequests", func(t *testing.T) {
		srv := rsStartServer(t, func(n int, ss *rsStream) (bool, error) {
			if n > 1 {
				return false, nil
			}
			if err := ss.recvN(3); err != nil {
				return true, err
			}
			return true, rsUnavailable(n, "after 3 requests, before headers")
		})
		bs := rsOpenAndSend(t, srv, 3)
		got := rsRecvSizes(t, "FullDuplexCall retried after UNAVAILABLE", bs, 3)
		if err := bs.Send(rsReq(3)); err != nil {
			t.Fatalf("Send 3, after the retry: %v", err)
		}
		got = append(got, rsRecvSizes(t, "FullDuplexCall, request sent after the retry", bs, 1)...)
		if err := bs.CloseSend(); err != nil {
			t.Fatalf("CloseSend: %v", err)
		}
		if _, err := bs.Recv(); err != io.EOF {
			t.Fatalf("after CloseSend: %v, want io.EOF", err)
		}
		if want := []int{10, 20, 30, 40}; !slices.Equal(got, want) {
			t.Errorf("responses of %v bytes, want %v", got, want)
		}
		rsWantAttempts(t, srv.seen(), mFullDuplex, []int{1, 2, 3}, []int{1, 2, 3, 4})
		if a := srv.seen(); !a[1].eof {
			t.Errorf("the second attempt never saw the client's half-close")
		}
	})

	// As above, but the client half-closes before the failure: the replay
	// must end the new stream too.
	t.Run("BidiRetriedReplaysHalfClose", func(t *testing.T) {
		srv := rsStartServer(t, func(n int, ss *rsStream) (bool, error) {
			if n > 1 {
				return false, nil
			}
			if err := ss.recvN(3); err != nil {
				return true, err
			}
			if err := ss.recv(); err != io.EOF {
				return true, grpcstatus.Errorf(grpccodes.FailedPrecondition, "rs: want the half-close after 3 requests, got %v", err)
			}
			return true, rsUnavailable(n, "after the half-close, before headers")
		})
		bs := rsOpenAndSend(t, srv, 3)
		if err := bs.CloseSend(); err != nil {
			t.Fatalf("CloseSend: %v", err)
		}
		got := rsRecvSizes(t, "half-closed FullDuplexCall retried after UNAVAILABLE", bs, 3)
		if _, err := bs.Recv(); err != io.EOF {
			t.Fatalf("after 3 responses: %v, want io.EOF", err)
		}
		if want := []int{10, 20, 30}; !slices.Equal(got, want) {
			t.Errorf("responses of %v bytes, want %v", got, want)
		}
		rsWantAttempts(t, srv.seen(), mFullDuplex, []int{1, 2, 3}, []int{1, 2, 3})
		if a := srv.seen(); !a[0].eof || !a[1].eof {
			t.Errorf("half-close seen by attempt 1: %v, attempt 2: %v; want both", a[0].eof, a[1].eof)
		}
	})

	// A response message commits the call: a later UNAVAILABLE ends it.
	t.Run("ServerStreamingCommittedByMessage", func(t *testing.T) {
		srv := rsStartServer(t, func(n int, ss *rsStream) (bool, error) {
			if err := ss.recv(); err != nil {
				return true, err
			}
			if err := ss.SendMsg(&outResp{Payload: zeros(9)}); err != nil {
				return true, err
			}
			return true, rsUnavailable(n, "after a message")
		})
		ch := dial(t, srv.Addr(), channel.WithServiceConfig(rsServiceConfig))
		rs, err := newStubs(ch).streamOut.Call(tctx(t), rsReq(0))
		if err != nil {
			t.Fatal(err)
		}
		if got := rsRecvSizes(t, "StreamingOutputCall's first response", rs, 1); got[0] != 9 {
			t.Errorf("response of %d bytes, want 9", got[0])
		}
		_, err = rs.Recv()
		wantStatus(t, "StreamingOutputCall failing UNAVAILABLE after a message", err, codes.Unavailable, "rs: attempt 1 fails after a message")
		rsWantAttempts(t, srv.seen(), mStreamingOutput, []int{1})
	})

	t.Run("BidiCommittedByMessage", func(t *testing.T) {
		srv := rsStartServer(t, func(n int, ss *rsStream) (bool, error) {
			if err := ss.recv(); err != nil {
				return true, err
			}
			if err := ss.SendMsg(&outResp{Payload: zeros(9)}); err != nil {
				return true, err
			}
			if err := ss.recv(); err != nil {
				return true, err
			}
			return true, rsUnavailable(n, "after a message")
		})
		bs := rsOpenAndSend(t, srv, 1)
		if got := rsRecvSizes(t, "FullDuplexCall's first response", bs, 1); got[0] != 9 {
			t.Errorf("response of %d bytes, want 9", got[0])
		}
		if err := bs.Send(rsReq(1)); err != nil {
			t.Fatal(err)
		}
		_, err := bs.Recv()
		wantStatus(t, "FullDuplexCall failing UNAVAILABLE after a message", err, codes.Unavailable, "rs: attempt 1 fails after a message")
		rsWantAttempts(t, srv.seen(), mFullDuplex, []int{1, 2})
	})

	// Response headers alone commit the call too (gRFC A6: "when the
	// client receives response headers"); TestRetryPolicyCommittedByBareHeaders
	// has headers without metadata.
	t.Run("ServerStreamingCommittedByHeaders", func(t *testing.T) {
		rsCommittedByHeaders(t, grpcmd.Pairs("x-rs-header", "1"))
	})
}

// Response headers that carry no application metadata (only :status and
// content-type, as grpc-go sends for SendHeader(nil)) commit the call as
// well: the UNAVAILABLE that follows must not be retried.
func TestRetryPolicyCommittedByBareHeaders(t *testing.T) {
	rsCommittedByHeaders(t, nil)
}

// rsCommittedByHeaders runs a StreamingOutputCall whose server sends the
// response headers with md, then fails UNAVAILABLE without a message: one
// attempt only.
func rsCommittedByHeaders(t *testing.T, md grpcmd.MD) {
	t.Helper()
	srv := rsStartServer(t, func(n int, ss *rsStream) (bool, error) {
		if err := ss.recv(); err != nil {
			return true, err
		}
		if err := ss.SendHeader(md); err != nil {
			return true, err
		}
		return true, rsUnavailable(n, "after the headers")
	})
	ch := dial(t, srv.Addr(), channel.WithServiceConfig(rsServiceConfig))
	rs, err := newStubs(ch).streamOut.Call(tctx(t), rsReq(0))
	if err != nil {
		t.Fatal(err)
	}
	_, err = rs.Recv()
	wantStatus(t, "StreamingOutputCall failing UNAVAILABLE after its headers", err, codes.Unavailable, "rs: attempt 1 fails after the headers")
	rsWantAttempts(t, srv.seen(), mStreamingOutput, []int{1})
}
