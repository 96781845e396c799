package actorsremote_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/grpcactor/grpcactor/actors"
	"github.com/grpcactor/grpcactor/actors/actorsremote"
	"github.com/grpcactor/grpcactor/channel"
	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/credentials"
	"github.com/grpcactor/grpcactor/metadata"
)

// secureSetup is newSetup with the gateway's channel opened with Secure
// (local credentials over loopback), which sends call credentials.
func secureSetup(t *testing.T) (*setup, *channel.Channel) {
	t.Helper()
	srv, addr := startTestServer(t)
	ch, err := channel.Secure(addr, credentials.Local(credentials.LocalTCP))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ch.Close() })
	s := &setup{srv: srv, srvAddr: addr, gw: pool.shared[0], cl: pool.shared[1]}
	name := fmt.Sprintf("grpc-%d", gateways.Add(1))
	if s.gateway, err = actorsremote.Serve(s.gw.sys, ch, name, actorsremote.Allow("/grpc.testing.TestService/*")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.gw.sys.Root.StopFuture(s.gateway).Wait() })
	s.remoteCh = actorsremote.Remote(s.cl.sys, s.gw.address(), name)
	t.Cleanup(s.remoteCh.Close)
	return s, ch
}

// gatedToken is call credentials that wait for open, then return a
// bearer token, recording the request info they were given.
type gatedToken struct {
	open  chan struct{}
	asked chan struct{} // one per request
	mu    sync.Mutex
	info  []credentials.RequestInfo
}

func (g *gatedToken) GetRequestMetadata(ctx context.Context, info credentials.RequestInfo) (metadata.MD, error) {
	g.mu.Lock()
	g.info = append(g.info, info)
	g.mu.Unlock()
	g.asked <- struct{}{}
	select {
	case <-g.open:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return metadata.Pairs("authorization", "Bearer tok"), nil
}

// Call credentials run on the calling node, asked by the gateway with
// its channel's request info (its authority), and their metadata reaches
// the server; demand granted and a half-close sent while they run wait
// for the call to start.
func TestCallCredentialsAcrossNodes(t *testing.T) {
	s, gwCh := secureSetup(t)
	token := &gatedToken{open: make(chan struct{}), asked: make(chan struct{}, 3)}
	creds := channel.CallCredentials(token)
	unary := actorsremote.Unary[*simpleReq, *simpleResp](s.remoteCh, unaryCall)
	stream := actorsremote.ServerStream[*outReq, *outResp](s.remoteCh, streamingOutputCall)
	client := actorsremote.ClientStream[*inReq, *inResp](s.remoteCh, streamingInputCall)
	type outcome struct {
		what   string
		err    error
		header metadata.MD
		msgs   int
	}
	out := make(chan outcome, 3)
	msgs := 0
	pid := s.cl.sys.Root.Spawn(actor.PropsFromFunc(func(ctx actor.Context) {
		switch m := ctx.Message().(type) {
		case *actor.Started:
			unary.Send(ctx, &simpleReq{}, creds, channel.Metadata(metadata.Pairs("x-echo-authorization", "1")), channel.Timeout(time.Minute))
			ref := stream.Send(ctx, bulk(5, 10), creds, actors.Demand(1), channel.Timeout(time.Minute))
			ref.Request(4) // while the credentials run
			cref := client.Open(ctx, creds, channel.Timeout(time.Minute))
			_ = cref.CloseSend() // while the credentials run
		case *actors.Reply[*simpleResp]:
			out <- outcome{"unary", m.Err, m.Header, 0}
		case *actors.Message[*outResp]:
			msgs++
		case *actors.End:
			out <- outcome{"server stream", m.Err, nil, msgs}
		case *actors.Reply[*inResp]:
			out <- outcome{"client stream", m.Err, nil, 0}
		}
	}))
	t.Cleanup(func() { _ = s.cl.sys.Root.StopFuture(pid).Wait() })
	for range 3 {
		<-token.asked
	}
	close(token.open)
	for range 3 {
		o := <-out
		if o.err != nil {
			t.Errorf("%s with call credentials: %v", o.what, o.err)
		}
		switch o.what {
		case "unary":
			if got := o.header.Get("x-authorization"); len(got) != 1 || got[0] != "Bearer tok" {
				t.Errorf("the server saw authorization %q, want Bearer tok", got)
			}
		case "server stream":
			if o.msgs != 5 {
				t.Errorf("server stream: %d messages, want 5 (demand 1, then 4 granted while the credentials ran)", o.msgs)
			}
		}
	}
	wantURL := "https://" + gwCh.Authority() + "/grpc.testing.TestService"
	token.mu.Lock()
	defer token.mu.Unlock()
	for _, info := range token.info {
		if info.ServiceURL != wantURL {
			t.Errorf("credentials asked with service URL %q, want %q (the gateway channel's authority)", info.ServiceURL, wantURL)
		}
	}
}

// Call credentials that fail end the call with their status; a gateway
// whose channel is plaintext refuses call credentials UNAUTHENTICATED
// without asking for them.
func TestCallCredentialsRefused(t *testing.T) {
	s, _ := secureSetup(t)
	failing := channel.CallCredentials(credentials.MetadataPlugin("broken", func(context.Context, credentials.RequestInfo) (metadata.MD, error) {
		return nil, errors.New("token service down")
	}))
	var asked atomic.Bool
	plain := newSetup(t)
	tok := channel.CallCredentials(credentials.MetadataPlugin("token", func(context.Context, credentials.RequestInfo) (metadata.MD, error) {
		asked.Store(true)
		return metadata.Pairs("authorization", "Bearer tok"), nil
	}))
	for _, c := range []struct {
		what string
		ch   *actorsremote.Channel
		opt  channel.CallOption
		code codes.Code
		with string
	}{
		{"failing credentials", s.remoteCh, failing, codes.Unavailable, "token service down"},
		{"plaintext gateway", plain.remoteCh, tok, codes.Unauthenticated, "plaintext"},
	} {
		unary := actorsremote.Unary[*simpleReq, *simpleResp](c.ch, unaryCall)
		_, out := replyCatcher(t, s.cl, func(ctx actor.Context) {
			unary.Send(ctx, &simpleReq{}, c.opt, channel.Timeout(time.Minute))
		})
		r := (<-out).(*actors.Reply[*simpleResp])
		wantCode(t, c.what, r.Code, c.code, r.Details, c.with)
	}
	if asked.Load() {
		t.Error("the plaintext gateway's caller ran its call credentials")
	}
}
