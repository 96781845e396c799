package channel_test

// Transparent retries (gRFC A6) against a scripted HTTP/2 server that
// refuses streams, sends GOAWAY or resets streams on cue.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"syscall"
	"testing"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/grpcactor/grpcactor/channel"
	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/internal/wire"
	"github.com/grpcactor/grpcactor/status"
)

// trAction is what the scripted server does with one request.
type trAction int

const (
	// trAnswer reads the request to END_STREAM and answers OK with one
	// message, "answer conn=<c> stream=<id>".
	trAnswer trAction = iota
	// trRefuse reads the request to END_STREAM and resets the stream with
	// REFUSED_STREAM, answering nothing.
	trRefuse
	// trGoAway answers the request's HEADERS with GOAWAY (last stream id
	// 0), then half-closes the connection and closes it once the client
	// has.
	trGoAway
	// trResetAfterHeaders reads the request to END_STREAM, sends the
	// response headers, then resets the stream with INTERNAL_ERROR.
	trResetAfterHeaders
)

// trRequest is one request HEADERS the scripted server read.
type trRequest struct {
	conn   int    // index of the connection, in accept order
	stream uint32 // HTTP/2 stream id
	path   string // :path
	body   []byte // the request DATA up to END_STREAM (nil if never read)
}

// trServer is a scripted gRPC-over-HTTP/2 server on a loopback port. For
// every request HEADERS it asks script what to do, given the connection
// index and the index of the request among all the server saw.
type trServer struct {
	t      *testing.T
	lis    net.Listener
	script func(conn, nth int) trAction

	mu       sync.Mutex
	accepted int
	conns    []net.Conn
	reqs     []*trRequest
	closed   bool
	wg       sync.WaitGroup
}

// startTRServer starts a trServer; it stops when the test ends.
func startTRServer(t *testing.T, script func(conn, nth int) trAction) *trServer {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &trServer{t: t, lis: lis, script: script}
	s.wg.Add(1)
	go s.acceptLoop()
	t.Cleanup(s.close)
	return s
}

func (s *trServer) addr() string { return s.lis.Addr().String() }

func (s *trServer) close() {
	s.lis.Close()
	s.mu.Lock()
	s.closed = true
	for _, c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// requests returns a copy of the requests seen so far.
func (s *trServer) requests() []trRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]trRequest, len(s.reqs))
	for i, r := range s.reqs {
		out[i] = *r
		out[i].body = bytes.Clone(r.body)
	}
	return out
}

// acceptedConns returns how many connections the server accepted.
func (s *trServer) acceptedConns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accepted
}

func (s *trServer) acceptLoop() {
	defer s.wg.Done()
	for {
		c, err := s.lis.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return
		}
		idx := s.accepted
		s.accepted++
		s.conns = append(s.conns, c)
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			defer c.Close()
			if err := s.serveConn(idx, c); err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && !errors.Is(err, syscall.ECONNRESET) {
				// The client may reset the connection once it is done
				// with it; only protocol surprises are worth a log line.
				s.t.Logf("scripted server, connection %d: %v", idx, err)
			}
		}()
	}
}

// trStream is the server's state of one stream.
type trStream struct {
	req    *trRequest
	action trAction
}

// serveConn runs one connection: preface, SETTINGS, then requests as the
// script says. Reading and writing happen on this goroutine only.
func (s *trServer) serveConn(idx int, c net.Conn) error {
	preface := make([]byte, len(http2.ClientPreface))
	if _, err := io.ReadFull(c, preface); err != nil {
		return fmt.Errorf("reading the client preface: %w", err)
	}
	if string(preface) != http2.ClientPreface {
		return fmt.Errorf("client preface %q, want %q", preface, http2.ClientPreface)
	}
	fr := http2.NewFramer(c, c)
	fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	var hbuf bytes.Buffer
	enc := hpack.NewEncoder(&hbuf)
	headerBlock := func(fields ...hpack.HeaderField) []byte {
		hbuf.Reset()
		for _, f := range fields {
			if err := enc.WriteField(f); err != nil {
				panic(err) // a bytes.Buffer never fails
			}
		}
		return bytes.Clone(hbuf.Bytes())
	}
	if err := fr.WriteSettings(); err != nil {
		return err
	}
	streams := map[uint32]*trStream{}
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			return err
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				if err := fr.WriteSettingsAck(); err != nil {
					return err
				}
			}
		case *http2.PingFrame:
			if !f.IsAck() {
				if err := fr.WritePing(true, f.Data); err != nil {
					return err
				}
			}
		case *http2.MetaHeadersFrame:
			req := &trRequest{conn: idx, stream: f.StreamID}
			for _, hf := range f.Fields {
				if hf.Name == ":path" {
					req.path = hf.Value
				}
			}
			s.mu.Lock()
			nth := len(s.reqs)
			s.reqs = append(s.reqs, req)
			s.mu.Unlock()
			action := s.script(idx, nth)
			if action == trGoAway {
				if err := fr.WriteGoAway(0, http2.ErrCodeNo, []byte("scripted goaway")); err != nil {
					return err
				}
				// Half-close, then read until the client closes: closing
				// with unread bytes would reset the connection, and the
				// client might lose the GOAWAY.
				if tc, ok := c.(*net.TCPConn); ok {
					if err := tc.CloseWrite(); err != nil {
						return err
					}
				}
				_, err := io.Copy(io.Discard, c)
				return err
			}
			st := &trStream{req: req, action: action}
			streams[f.StreamID] = st
			if f.StreamEnded() {
				if err := s.respond(fr, headerBlock, st); err != nil {
					return err
				}
				delete(streams, f.StreamID)
			}
		case *http2.DataFrame:
			st, ok := streams[f.StreamID]
			if !ok {
				continue // a stream already answered or reset
			}
			s.mu.Lock()
			st.req.body = append(st.req.body, f.Data()...)
			s.mu.Unlock()
			if n := uint32(len(f.Data())); n > 0 {
				// Give the window back so that large requests flow.
				if err := fr.WriteWindowUpdate(0, n); err != nil {
					return err
				}
			}
			if f.StreamEnded() {
				if err := s.respond(fr, headerBlock, st); err != nil {
					return err
				}
				delete(streams, f.StreamID)
			}
		case *http2.RSTStreamFrame:
			delete(streams, f.StreamID)
		case *http2.GoAwayFrame, *http2.WindowUpdateFrame:
			// The client closing, or flow-control credit: nothing to do.
		default:
			return fmt.Errorf("unexpected %v frame", f.Header().Type)
		}
	}
}

// respond acts on a request that the client half-closed.
func (s *trServer) respond(fr *http2.Framer, headerBlock func(...hpack.HeaderField) []byte, st *trStream) error {
	id := st.req.stream
	switch st.action {
	case trRefuse:
		return fr.WriteRSTStream(id, http2.ErrCodeRefusedStream)
	case trResetAfterHeaders:
		if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, EndHeaders: true, BlockFragment: headerBlock(
			hpack.HeaderField{Name: ":status", Value: "200"},
			hpack.HeaderField{Name: "content-type", Value: "application/grpc"},
		)}); err != nil {
			return err
		}
		return fr.WriteRSTStream(id, http2.ErrCodeInternal)
	case trAnswer:
		msg := []byte("answer conn=" + strconv.Itoa(st.req.conn) + " stream=" + strconv.FormatUint(uint64(id), 10))
		if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, EndHeaders: true, BlockFragment: headerBlock(
			hpack.HeaderField{Name: ":status", Value: "200"},
			hpack.HeaderField{Name: "content-type", Value: "application/grpc"},
		)}); err != nil {
			return err
		}
		if err := fr.WriteData(id, false, append(wire.AppendMsgHeader(nil, false, len(msg)), msg...)); err != nil {
			return err
		}
		return fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, EndHeaders: true, EndStream: true, BlockFragment: headerBlock(
			hpack.HeaderField{Name: "grpc-status", Value: "0"},
		)})
	}
	return fmt.Errorf("stream %d: action %d", id, st.action)
}

// trMethod is the method every call of these tests uses.
const trMethod = "/grpcactor.test.Retry/Call"

// trDial opens a channel to s and returns a []byte unary callable on it.
func trDial(t *testing.T, s *trServer, opts ...channel.Option) *channel.UnaryUnaryCallable[[]byte, []byte] {
	t.Helper()
	ch, err := channel.Insecure(s.addr(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ch.Close() })
	return channel.UnaryUnary[[]byte, []byte](ch, trMethod)
}

// trWantRequests checks that the server saw exactly want (connection and
// stream of each request), each carrying the request body.
func trWantRequests(t *testing.T, got []trRequest, body []byte, want ...[2]int) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("server saw %d request HEADERS %v, want %d %v", len(got), got, len(want), want)
	}
	wantBody := append(wire.AppendMsgHeader(nil, false, len(body)), body...)
	for i, r := range got {
		if r.conn != want[i][0] || r.stream != uint32(want[i][1]) {
			t.Errorf("request %d on connection %d stream %d, want connection %d stream %d", i, r.conn, r.stream, want[i][0], want[i][1])
		}
		if r.path != trMethod {
			t.Errorf("request %d: :path %q, want %q", i, r.path, trMethod)
		}
		if !bytes.Equal(r.body, wantBody) {
			t.Errorf("request %d: body %q, want %q (the framed request)", i, r.body, wantBody)
		}
	}
}

func TestTransparentRetry(t *testing.T) {
	body := []byte("transparent retry request")

	// A stream refused with REFUSED_STREAM never reached the application:
	// the call goes again, on the same connection, without a retry policy.
	t.Run("RefusedStream", func(t *testing.T) {
		srv := startTRServer(t, func(conn, nth int) trAction {
			if nth == 0 {
				return trRefuse
			}
			return trAnswer
		})
		call := trDial(t, srv)
		resp, err := call.Call(codecCtx(t), body)
		if err != nil {
			t.Fatalf("call whose first stream was refused: %v, want a transparent retry that succeeds", err)
		}
		if want := "answer conn=0 stream=3"; string(resp) != want {
			t.Errorf("response %q, want %q", resp, want)
		}
		trWantRequests(t, srv.requests(), body, [2]int{0, 1}, [2]int{0, 3})
		if n := srv.acceptedConns(); n != 1 {
			t.Errorf("server accepted %d connections, want 1", n)
		}
	})

	// The same with retries disabled (grpc.enable_retries 0): transparent
	// retries are not part of the retry policy.
	t.Run("RefusedStreamRetriesDisabled", func(t *testing.T) {
		srv := startTRServer(t, func(conn, nth int) trAction {
			if nth == 0 {
				return trRefuse
			}
			return trAnswer
		})
		call := trDial(t, srv, channel.WithRetries(false))
		if _, err := call.Call(codecCtx(t), body); err != nil {
			t.Fatalf("call whose first stream was refused, retries disabled: %v", err)
		}
		trWantRequests(t, srv.requests(), body, [2]int{0, 1}, [2]int{0, 3})
	})

	// A server that refuses every stream does not make the call loop: it
	// fails UNAVAILABLE (REFUSED_STREAM's code) after a bounded number of
	// transparent retries (maxTransparentRetries, 5, in call.go).
	t.Run("RefusedStreamBounded", func(t *testing.T) {
		srv := startTRServer(t, func(conn, nth int) trAction { return trRefuse })
		call := trDial(t, srv)
		_, err := call.Call(codecCtx(t), body)
		if code := status.Code(err); code != codes.Unavailable {
			t.Fatalf("call on a server that refuses every stream: %v (code %v), want UNAVAILABLE", err, code)
		}
		reqs := srv.requests()
		if n := len(reqs); n < 2 || n > 6 {
			t.Fatalf("server saw %d requests, want 2 to 6 (the first and at most 5 transparent retries)", n)
		}
		for i, r := range reqs {
			if r.conn != 0 || r.stream != uint32(2*i+1) {
				t.Errorf("request %d on connection %d stream %d, want connection 0 stream %d", i, r.conn, r.stream, 2*i+1)
			}
		}
	})

	// GOAWAY with last stream id 0 says the server processed nothing: the
	// call moves to a new connection.
	t.Run("GoAwayLastStreamZero", func(t *testing.T) {
		srv := startTRServer(t, func(conn, nth int) trAction {
			if conn == 0 {
				return trGoAway
			}
			return trAnswer
		})
		call := trDial(t, srv)
		resp, err := call.Call(codecCtx(t), body)
		if err != nil {
			t.Fatalf("call answered with GOAWAY(last stream 0): %v, want a transparent retry that succeeds", err)
		}
		if want := "answer conn=1 stream=1"; string(resp) != want {
			t.Errorf("response %q, want %q (from the second connection)", resp, want)
		}
		if n := srv.acceptedConns(); n != 2 {
			t.Errorf("server accepted %d connections, want 2", n)
		}
		reqs := srv.requests()
		if len(reqs) != 2 || reqs[0].conn != 0 || reqs[0].stream != 1 || reqs[0].path != trMethod {
			t.Fatalf("server saw requests %v, want stream 1 on connection 0 then stream 1 on connection 1", reqs)
		}
		// The first connection's request was never read past its
		// HEADERS; the second must carry the whole request.
		trWantRequests(t, reqs[1:], body, [2]int{1, 1})
	})

	// A reset after the response headers is a failure of a call the
	// server processed: no retry, the code from RST_STREAM's.
	t.Run("ResetAfterHeaders", func(t *testing.T) {
		srv := startTRServer(t, func(conn, nth int) trAction {
			if nth == 0 {
				return trResetAfterHeaders
			}
			return trAnswer
		})
		call := trDial(t, srv)
		_, err := call.Call(codecCtx(t), body)
		if err == nil {
			t.Fatal("call reset with INTERNAL_ERROR after its headers succeeded, want INTERNAL")
		}
		if code := status.Code(err); code != codes.Internal {
			t.Fatalf("call reset with INTERNAL_ERROR after its headers: %v (code %v), want INTERNAL", err, code)
		}
		trWantRequests(t, srv.requests(), body, [2]int{0, 1})

		// Nothing was retried behind the caller's back: the next call is
		// the server's second request, on the same connection.
		if _, err := call.Call(codecCtx(t), body); err != nil {
			t.Fatalf("call after the reset one: %v", err)
		}
		trWantRequests(t, srv.requests(), body, [2]int{0, 1}, [2]int{0, 3})
	})
}
