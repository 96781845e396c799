package system_test

import (
	"context"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc"
	_ "google.golang.org/grpc/encoding/gzip" // the server decompresses gzip requests and compresses its responses
	"google.golang.org/grpc/stats"
	"google.golang.org/protobuf/proto"

	"github.com/grpcactor/grpcactor/channel"
	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/compression"
	"github.com/grpcactor/grpcactor/status"
)

// Concurrency, message size limits and compression.

func TestConcurrentUnary(t *testing.T) {
	const n = 1000
	run := func(t *testing.T, s *stubs) {
		var wg sync.WaitGroup
		var failed atomic.Int64
		errs := make(chan error, n)
		ctx := tctx(t)
		for i := range n {
			wg.Go(func() {
				resp, err := s.unary.Call(ctx, &simpleReq{ResponseSize: int32(i % 100), Payload: zeros(i % 1000)})
				if err == nil && len(resp.GetPayload().GetBody()) != i%100 {
					t.Errorf("call %d: payload of %d bytes, want %d", i, len(resp.GetPayload().GetBody()), i%100)
				}
				if err != nil {
					failed.Add(1)
					errs <- err
				}
			})
		}
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		wait(t, "1000 concurrent calls", done)
		close(errs)
		if f := failed.Load(); f > 0 {
			t.Errorf("%d of %d concurrent calls failed; first error: %v", f, n, <-errs)
		}
	}
	t.Run("ColdChannel", func(t *testing.T) {
		// All calls start on an IDLE channel and race its first connection.
		run(t, dialStubs(t, startServer(t, serverConfig{}).Addr()))
	})
	t.Run("WarmChannel", func(t *testing.T) {
		s := dialStubs(t, startServer(t, serverConfig{}).Addr())
		doEmptyUnary(t, s)
		run(t, s)
	})
	t.Run("ServerMaxConcurrentStreams16", func(t *testing.T) {
		// The server allows 16 streams at a time: the client must queue
		// the others, not fail them.
		s := dialStubs(t, startServer(t, serverConfig{Opts: []grpc.ServerOption{grpc.MaxConcurrentStreams(16)}}).Addr())
		doEmptyUnary(t, s)
		run(t, s)
	})
}

func TestLargeMessages(t *testing.T) {
	const big = 16 << 20
	addr := startServer(t, serverConfig{}).Addr() // its limits are raised to peers.MaxMessageSize
	bigReq := &simpleReq{ResponseSize: big}
	bigRespSize := proto.Size(&simpleResp{Payload: zeros(big)})

	t.Run("ResponseWithRaisedLimit", func(t *testing.T) {
		s := dialStubs(t, addr, channel.WithMaxReceiveMessageSize(32<<20))
		resp, err := s.unary.Call(tctx(t), bigReq)
		if err != nil {
			t.Fatal(err)
		}
		checkPayload(t, "16 MiB response", resp.GetPayload(), big)
		// And streamed.
		rs, err := s.streamOut.Call(tctx(t), serverStreamReq([]int{1, big, 2}))
		if err != nil {
			t.Fatal(err)
		}
		for i, want := range []int{1, big, 2} {
			r, err := rs.Recv()
			if err != nil {
				t.Fatalf("Recv %d: %v", i, err)
			}
			checkPayload(t, "streamed response", r.GetPayload(), want)
		}
		if _, err := rs.Recv(); err != io.EOF {
			t.Fatalf("end of stream: %v", err)
		}
	})

	t.Run("ResponseOverDefaultLimit", func(t *testing.T) {
		s := dialStubs(t, addr)
		_, err := s.unary.Call(tctx(t), bigReq)
		st := wantStatus(t, "16 MiB response with the default 4 MiB limit", err, codes.ResourceExhausted, "")
		if !containsAll(st.Details(), strconv.Itoa(bigRespSize), "4194304") {
			t.Errorf("message %q does not give both sizes (%d and 4194304)", st.Details(), bigRespSize)
		}
		// The channel still works, for small and large-but-allowed calls.
		doEmptyUnary(t, s)
		doLargeUnary(t, s)
		// A streamed response over the limit fails the stream alike.
		rs, err := s.streamOut.Call(tctx(t), serverStreamReq([]int{1, big}))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := rs.Recv(); err != nil {
			t.Fatalf("first (small) response: %v", err)
		}
		_, err = rs.Recv()
		wantStatus(t, "streamed 16 MiB response", err, codes.ResourceExhausted, "")
		doEmptyUnary(t, s)
	})

	t.Run("ZeroLimit", func(t *testing.T) {
		// 0 is a limit of 0 bytes, not "the default" (grpc-go's
		// MaxCallRecvMsgSize(0)): an empty response passes, any other
		// fails RESOURCE_EXHAUSTED, for the channel's limit and a call's.
		for _, tc := range []struct {
			name string
			ch   []channel.Option
			call []channel.CallOption
		}{
			{"channel", []channel.Option{channel.WithMaxReceiveMessageSize(0)}, nil},
			{"call", nil, []channel.CallOption{channel.MaxReceiveMessageSize(0)}},
		} {
			s := dialStubs(t, addr, tc.ch...)
			if _, err := s.empty.Call(tctx(t), &empty{}, tc.call...); err != nil {
				t.Errorf("%s limit 0: empty response: %v", tc.name, err)
			}
			_, err := s.unary.Call(tctx(t), &simpleReq{ResponseSize: 1}, tc.call...)
			st := wantStatus(t, tc.name+" limit 0: 1-byte payload", err, codes.ResourceExhausted, "")
			if st != nil && !containsAll(st.Details(), "vs. 0") {
				t.Errorf("%s limit 0: message %q does not give the limit 0", tc.name, st.Details())
			}
		}
	})

	t.Run("ResponseUnlimited", func(t *testing.T) {
		s := dialStubs(t, addr, channel.WithMaxReceiveMessageSize(-1))
		resp, err := s.unary.Call(tctx(t), bigReq)
		if err != nil {
			t.Fatal(err)
		}
		checkPayload(t, "16 MiB response", resp.GetPayload(), big)
	})

	t.Run("Request", func(t *testing.T) {
		s := dialStubs(t, addr)
		resp, err := s.unary.Call(tctx(t), &simpleReq{ResponseSize: 7, Payload: zeros(big)})
		if err != nil {
			t.Fatal(err)
		}
		checkPayload(t, "response to a 16 MiB request", resp.GetPayload(), 7)
		// Client streaming with 16 MiB messages.
		agg, err := s.streamIn.Call(tctx(t), clientStreamReqs([]int{1, big, 2}))
		if err != nil {
			t.Fatal(err)
		}
		if agg.GetAggregatedPayloadSize() != big+3 {
			t.Fatalf("aggregated %d, want %d", agg.GetAggregatedPayloadSize(), big+3)
		}
	})

	t.Run("SendLimit", func(t *testing.T) {
		ps := startProbeServer(t)
		s := dialStubs(t, ps.Addr(), channel.WithMaxSendMessageSize(1024))
		doEmptyUnary(t, s) // connect
		before := ps.calls.Load()
		req := &simpleReq{ResponseSize: 1, Payload: zeros(2048)}
		reqSize := proto.Size(req)
		_, err := s.unary.Call(tctx(t), req)
		st := wantStatus(t, "2 KiB request with a 1 KiB send limit", err, codes.ResourceExhausted, "")
		if !containsAll(st.Details(), strconv.Itoa(reqSize), "1024") {
			t.Errorf("message %q does not give both sizes (%d and 1024)", st.Details(), reqSize)
		}
		// Streamed requests alike.
		bs, err := s.duplex.Open(tctx(t))
		if err != nil {
			t.Fatal(err)
		}
		err = bs.Send(pingReq(1, 2048))
		if err == nil {
			_, err = bs.Recv()
		}
		wantStatus(t, "streamed 2 KiB request with a 1 KiB send limit", err, codes.ResourceExhausted, "")
		if _, err := s.streamIn.Call(tctx(t), clientStreamReqs([]int{10, 2048})); status.Code(err) != codes.ResourceExhausted {
			t.Fatalf("client-streaming 2 KiB request with a 1 KiB send limit: %v, want RESOURCE_EXHAUSTED", err)
		}
		// Small requests still go through.
		if _, err := s.unary.Call(tctx(t), &simpleReq{ResponseSize: 1, Payload: zeros(100)}); err != nil {
			t.Fatalf("small request after the failed one: %v", err)
		}
		// The oversized unary never reached the server (streams opened
		// before their first message may have).
		if got := ps.calls.Load() - before; got > 3 {
			t.Fatalf("the server saw %d calls, want at most 3 (the bidi and client stream openings, the small call)", got)
		}
	})
}

// payloadStats records the sizes of the messages grpc-go's server received
// and sent.
type payloadStats struct {
	mu  sync.Mutex
	in  []*stats.InPayload
	out []*stats.OutPayload
}

func (p *payloadStats) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context { return ctx }
func (p *payloadStats) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context {
	return ctx
}
func (p *payloadStats) HandleConn(context.Context, stats.ConnStats) {}
func (p *payloadStats) HandleRPC(_ context.Context, s stats.RPCStats) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch s := s.(type) {
	case *stats.InPayload:
		c := *s
		c.Payload = nil
		p.in = append(p.in, &c)
	case *stats.OutPayload:
		c := *s
		c.Payload = nil
		p.out = append(p.out, &c)
	}
}

// take returns and forgets what was recorded.
func (p *payloadStats) take() (in []*stats.InPayload, out []*stats.OutPayload) {
	p.mu.Lock()
	defer p.mu.Unlock()
	in, out = p.in, p.out
	p.in, p.out = nil, nil
	return in, out
}

func TestCompression(t *testing.T) {
	ps := &payloadStats{}
	addr := startServer(t, serverConfig{Opts: []grpc.ServerOption{grpc.StatsHandler(ps)}}).Addr()

	// checkCompressed checks that the server received every request
	// message compressed and sent every response message compressed.
	checkCompressed := func(t *testing.T, what string) {
		t.Helper()
		in, out := ps.take()
		if len(in) == 0 || len(out) == 0 {
			t.Fatalf("%s: the server recorded %d requests and %d responses", what, len(in), len(out))
		}
		for _, p := range in {
			// grpc-go reports CompressedLength == Length for a message
			// that was not compressed (a compressed tiny message may grow).
			if p.Length > 0 && p.CompressedLength == p.Length {
				t.Errorf("%s: request of %d bytes arrived uncompressed (%d bytes on the wire)", what, p.Length, p.CompressedLength)
			}
		}
		for _, p := range out {
			if p.Length > 0 && p.CompressedLength == p.Length {
				t.Errorf("%s: response of %d bytes went out uncompressed (%d bytes)", what, p.Length, p.CompressedLength)
			}
		}
	}
	checkPlain := func(t *testing.T, what string) {
		t.Helper()
		in, _ := ps.take()
		for _, p := range in {
			if p.Length > 0 && p.CompressedLength != p.Length {
				t.Errorf("%s: request of %d bytes arrived compressed (%d bytes)", what, p.Length, p.CompressedLength)
			}
		}
	}

	t.Run("PerCall", func(t *testing.T) {
		s := dialStubs(t, addr)
		ps.take()
		resp, err := largeUnary(tctx(t), s, channel.CompressionGzip())
		if err != nil {
			t.Fatal(err)
		}
		checkPayload(t, "gzip unary", resp.GetPayload(), largeRespSize)
		checkCompressed(t, "unary with CompressionGzip()")

		// The next call on the channel, without the option, is plain.
		if _, err := largeUnary(tctx(t), s); err != nil {
			t.Fatal(err)
		}
		checkPlain(t, "unary without compression")

		// Streaming calls.
		rs, err := s.duplex.Call(tctx(t), func(yield func(*outReq) bool) {
			for i := range pingPongReqSizes {
				if !yield(pingReq(serverStreamSizes[i], pingPongReqSizes[i])) {
					return
				}
			}
		}, channel.CompressionGzip())
		if err != nil {
			t.Fatal(err)
		}
		ps := allPayloads(t, rs.All())
		for i, p := range ps {
			checkPayload(t, "gzip bidi response", p, serverStreamSizes[i])
		}
		if len(ps) != len(serverStreamSizes) {
			t.Fatalf("%d responses, want %d", len(ps), len(serverStreamSizes))
		}
		checkCompressed(t, "bidi with CompressionGzip()")

		agg, err := s.streamIn.Call(tctx(t), clientStreamReqs(clientStreamSizes), channel.CompressionGzip())
		if err != nil || agg.GetAggregatedPayloadSize() != 74922 {
			t.Fatalf("gzip client streaming: %v, %v", agg, err)
		}
		checkCompressed(t, "client streaming with CompressionGzip()")
	})

	t.Run("PerChannel", func(t *testing.T) {
		s := dialStubs(t, addr, channel.WithCompression(compression.Gzip))
		ps.take()
		resp, err := largeUnary(tctx(t), s)
		if err != nil {
			t.Fatal(err)
		}
		checkPayload(t, "gzip unary", resp.GetPayload(), largeRespSize)
		checkCompressed(t, "unary on a WithCompression(Gzip) channel")

		rs, err := s.streamOut.Call(tctx(t), serverStreamReq(serverStreamSizes))
		if err != nil {
			t.Fatal(err)
		}
		ps := allPayloads(t, rs.All())
		for i, p := range ps {
			checkPayload(t, "gzip server-streaming response", p, serverStreamSizes[i])
		}
		checkCompressed(t, "server streaming on a WithCompression(Gzip) channel")

		// A call can turn it off.
		if _, err := largeUnary(tctx(t), s, channel.Compression(compression.Identity)); err != nil {
			t.Fatal(err)
		}
		checkPlain(t, "unary with Compression(Identity) on a gzip channel")
	})

	t.Run("LargeCompressed", func(t *testing.T) {
		// Both ways over several HTTP/2 frames and flow-control windows,
		// the response above the default limit once decompressed.
		const big = 6 << 20
		s := dialStubs(t, addr, channel.WithCompression(compression.Gzip), channel.WithMaxReceiveMessageSize(8<<20))
		resp, err := s.unary.Call(tctx(t), &simpleReq{ResponseSize: big, Payload: zeros(big)})
		if err != nil {
			t.Fatal(err)
		}
		checkPayload(t, "6 MiB gzip response", resp.GetPayload(), big)
		ps.take()
	})

	t.Run("DecompressedOverLimit", func(t *testing.T) {
		// 8 MiB of zeros compresses to a few KiB: under the 4 MiB limit on
		// the wire, over it once decompressed.
		s := dialStubs(t, addr)
		_, err := s.unary.Call(tctx(t), &simpleReq{ResponseSize: 8 << 20, Payload: zeros(10)}, channel.CompressionGzip())
		wantStatus(t, "8 MiB gzip response with a 4 MiB limit", err, codes.ResourceExhausted, "")
		_, out := ps.take()
		for _, p := range out {
			if p.Length >= 8<<20 && p.CompressedLength >= 4<<20 {
				t.Fatalf("the server sent %d bytes on the wire: the test needs a small compressed response", p.CompressedLength)
			}
		}
		// The channel still works.
		if _, err := largeUnary(tctx(t), s, channel.CompressionGzip()); err != nil {
			t.Fatalf("call after the failed one: %v", err)
		}
		ps.take()
	})
}
