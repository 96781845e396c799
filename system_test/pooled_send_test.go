package system_test

// Pooled request buffers (issue 10): a streamed request is encoded into a
// buffer from bufpool, which goes back to the pool once the transport has
// written it, provided no retry buffer keeps it. Many concurrent streams
// of every form here send distinct payloads of mixed sizes that the
// server echoes, with retries, hedging, cancellations and server failures
// mixed in, and every echo is checked: a buffer reused while the
// transport or a replay could still read it would reach the server with
// another message's bytes (and the race detector would see the write).

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"testing"

	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	grpcmd "google.golang.org/grpc/metadata"
	grpcstatus "google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/grpcactor/grpcactor/channel"
	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/status"
)

// peServer echoes every message of a bidirectional stream. Metadata
// scripts failures: x-fail-first: k makes a call's first attempt read k
// messages and end UNAVAILABLE before answering (a retry replays them);
// x-fail-after: k ends the call ABORTED after k echoes.
func peServer(t *testing.T) string {
	t.Helper()
	return serveUnknown(t, peHandle, grpc.MaxRecvMsgSize(8<<20), grpc.MaxSendMsgSize(8<<20))
}

func peHandle(_ any, stream grpc.ServerStream) error {
	md, _ := grpcmd.FromIncomingContext(stream.Context())
	mdInt := func(key string) int {
		if v := md.Get(key); len(v) > 0 {
			n, _ := strconv.Atoi(v[0])
			return n
		}
		return -1
	}
	first := mdInt("grpc-previous-rpc-attempts") <= 0
	failFirst, failAfter := mdInt("x-fail-first"), mdInt("x-fail-after")
	for n := 0; ; n++ {
		if first && n == failFirst {
			return grpcstatus.Error(grpccodes.Unavailable, "first attempt fails")
		}
		if n == failAfter {
			return grpcstatus.Error(grpccodes.Aborted, "fails as scripted")
		}
		m := new(wrapperspb.BytesValue)
		if err := stream.RecvMsg(m); err == io.EOF {
			return nil
		} else if err != nil {
			return err
		}
		if failFirst >= 0 && first {
			continue // read, never answered
		}
		if err := stream.SendMsg(m); err != nil {
			return err
		}
	}
}

const peConfig = `{"methodConfig":[
 {"name":[{"service":"echo.Echo","method":"Retried"}],"retryPolicy":{"maxAttempts":3,"initialBackoff":"0.01s","maxBackoff":"0.05s","backoffMultiplier":2,"retryableStatusCodes":["UNAVAILABLE"]}},
 {"name":[{"service":"echo.Echo","method":"Hedged"}],"hedgingPolicy":{"maxAttempts":2,"hedgingDelay":"0s"}}]}`

// pePayload is message j of stream k: sizes from a few bytes to several
// HTTP/2 frames (some with a short last frame), bytes unique to (k, j).
func pePayload(k, j int) []byte {
	sizes := []int{37, 1000, 5000, 16400, 70000, 300, 4096, 33000}
	n := sizes[(k+j)%len(sizes)]
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*31 + j*7 + k*101)
	}
	copy(b, fmt.Sprintf("%d/%d/", k, j))
	return b
}

type peBidi = channel.BidiStream[*wrapperspb.BytesValue, *wrapperspb.BytesValue]

// peCheck receives the echo of message j of stream k and compares it.
func peCheck(s *peBidi, k, j int) error {
	r, err := s.Recv()
	if err != nil {
		return err
	}
	if want := pePayload(k, j); !bytes.Equal(r.GetValue(), want) {
		return fmt.Errorf("stream %d message %d: echo of %d bytes differs from the %d sent (starts %q)", k, j, len(r.GetValue()), len(want), r.GetValue()[:min(12, len(r.GetValue()))])
	}
	return nil
}

func TestStreamPooledSendsEcho(t *testing.T) {
	addr := peServer(t)
	ch := dial(t, addr, channel.WithServiceConfig(peConfig), channel.WithMaxReceiveMessageSize(8<<20))
	const msgs = 16
	method := func(name string) *channel.StreamStreamCallable[*wrapperspb.BytesValue, *wrapperspb.BytesValue] {
		return channel.StreamStream[*wrapperspb.BytesValue, *wrapperspb.BytesValue](ch, "/echo.Echo/"+name)
	}
	md := func(kv ...string) channel.CallOption {
		return channel.Metadata(map[string][]string{kv[0]: {kv[1]}})
	}
	// pingPong sends and checks msgs messages, ahead of the echoes by
	// ahead, then half-closes and wants the end.
	pingPong := func(s *peBidi, k, ahead int) error {
		next := 0
		for j := range msgs {
			for ; next < msgs && next <= j+ahead; next++ {
				if err := s.Send(wrapperspb.Bytes(pePayload(k, next))); err != nil {
					return fmt.Errorf("stream %d: Send %d: %w", k, next, err)
				}
			}
			if err := peCheck(s, k, j); err != nil {
				return err
			}
		}
		if err := s.CloseSend(); err != nil {
			return err
		}
		if _, err := s.Recv(); err != io.EOF {
			return fmt.Errorf("stream %d: end: %v, want io.EOF", k, err)
		}
		return nil
	}
	forms := []struct {
		name string
		run  func(ctx context.Context, k int) error
	}{
		{"PingPong", func(ctx context.Context, k int) error {
			s, err := method("Plain").Open(ctx)
			if err != nil {
				return err
			}
			return pingPong(s, k, 0)
		}},
		{"AheadGzip", func(ctx context.Context, k int) error {
			s, err := method("Plain").Open(ctx, channel.CompressionGzip())
			if err != nil {
				return err
			}
			return pingPong(s, k, 3)
		}},
		{"Retried", func(ctx context.Context, k int) error {
			// Three requests sent before any answer are in the retry
			// buffer, replayed on the second attempt.
			s, err := method("Retried").Open(ctx, md("x-fail-first", "3"))
			if err != nil {
				return err
			}
			return pingPong(s, k, 3)
		}},
		{"Hedged", func(ctx context.Context, k int) error {
			s, err := method("Hedged").Open(ctx)
			if err != nil {
				return err
			}
			return pingPong(s, k, 1)
		}},
		{"Cancelled", func(ctx context.Context, k int) error {
			ctx, cancel := context.WithCancel(ctx)
			defer cancel()
			s, err := method("Plain").Open(ctx)
			if err != nil {
				return err
			}
			for j := range msgs / 2 {
				if err := s.Send(wrapperspb.Bytes(pePayload(k, j))); err != nil {
					return err
				}
				if err := peCheck(s, k, j); err != nil {
					return err
				}
			}
			for j := msgs / 2; j < msgs; j++ { // queued, then reset
				if err := s.Send(wrapperspb.Bytes(pePayload(k, j))); err != nil {
					break
				}
			}
			cancel()
			for {
				if _, err := s.Recv(); err != nil {
					if status.Code(err) != codes.Canceled {
						return fmt.Errorf("stream %d: after cancel: %v", k, err)
					}
					return nil
				}
			}
		}},
		{"ServerFails", func(ctx context.Context, k int) error {
			s, err := method("Plain").Open(ctx, md("x-fail-after", "5"))
			if err != nil {
				return err
			}
			for j := range msgs {
				if s.Send(wrapperspb.Bytes(pePayload(k, j))) != nil {
					break // the call ended: its status comes from Recv
				}
			}
			for j := 0; ; j++ {
				if err := peCheck(s, k, j); err != nil {
					if status.Code(err) == codes.Aborted && j == 5 {
						return nil
					}
					return fmt.Errorf("stream %d: after %d echoes: %v", k, j, err)
				}
			}
		}},
		{"Started", func(ctx context.Context, k int) error {
			credit, got, end := make(chan int, 64), make(chan []byte, 64), make(chan error, 1)
			call := method("Plain").Start(ctx, channel.StreamHandler[*wrapperspb.BytesValue]{
				OnSendCredit: func(n int) { credit <- n },
				OnMessage:    func(r *wrapperspb.BytesValue) { got <- r.GetValue() },
				OnEnd:        func(_ *channel.Call, err error) { end <- err },
			})
			have := 0
			for j := range msgs {
				for have == 0 {
					select {
					case n := <-credit:
						have += n
					case err := <-end:
						return fmt.Errorf("stream %d: ended before message %d: %v", k, j, err)
					}
				}
				if err := call.Send(wrapperspb.Bytes(pePayload(k, j))); err != nil {
					return err
				}
				have--
				select {
				case b := <-got:
					if !bytes.Equal(b, pePayload(k, j)) {
						return fmt.Errorf("stream %d message %d: echo differs from what was sent", k, j)
					}
				case err := <-end:
					return fmt.Errorf("stream %d: ended before echo %d: %v", k, j, err)
				}
			}
			if err := call.CloseSend(); err != nil {
				return err
			}
			return <-end
		}},
	}
	const rounds = 3
	var wg sync.WaitGroup
	errs := make(chan error, rounds*len(forms))
	for r := range rounds {
		for i, f := range forms {
			k := r*len(forms) + i
			wg.Go(func() {
				if err := f.run(tctx(t), k); err != nil {
					errs <- fmt.Errorf("%s: %w", f.name, err)
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	if err := errors.Join(all...); err != nil {
		t.Fatal(err)
	}
}
