package system_test

// Client keepalive (gRFC A8) against grpc-go servers through a TCP proxy:
// a server that stops answering is found out; a server with the default
// enforcement answers pings every 10 s with GOAWAY too_many_pings. Both
// wait out real keepalive times (10 s is the floor), so they are skipped
// with -short and run in parallel with each other.

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/keepalive"

	"github.com/grpcactor/grpcactor/channel"
	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/system_test/chaos"
)

// A proxy that stops forwarding (sockets left open) makes the keepalive
// PING go unanswered: after Time + Timeout (about 11 s) the connection is
// closed, the open call fails UNAVAILABLE and the channel leaves READY;
// once the proxy forwards again the channel reconnects.
func TestConnectivityKeepaliveDetectsStall(t *testing.T) {
	if testing.Short() {
		t.Skip("waits out a 10 s keepalive time")
	}
	t.Parallel()
	srv := startServer(t, serverConfig{Opts: []grpc.ServerOption{
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: time.Millisecond, PermitWithoutStream: true}),
	}})
	proxy := chaos.NewProxy(t, srv.Addr())
	frames := sniffFrames(proxy)
	ch := dial(t, proxy.Addr(), channel.WithKeepalive(channel.Keepalive{Time: 10 * time.Second, Timeout: time.Second, PermitWithoutCalls: true}))
	rec := subscribeStates(ch, false)

	bs := openLive(t, ctxWithin(t, 30*time.Second), newStubs(ch).duplex, &testgrpc.StreamingOutputCallRequest{ResponseParameters: []*testgrpc.ResponseParameters{{Size: 1}}}, channel.WaitForReady(true))
	if s := ch.State(false); s != channel.Ready {
		t.Fatalf("State = %v, want READY", s)
	}

	proxy.Stall()
	start := time.Now()
	mark := rec.Len()
	_, err := bs.Recv()
	st := wantStatus(t, "call open while the server went silent", err, codes.Unavailable, "")
	if !strings.Contains(strings.ToLower(st.Details()), "keepalive") {
		t.Errorf("UNAVAILABLE message %q does not say keepalive", st.Details())
	}
	idx := rec.WaitAfter(t, mark, channel.Idle, testTimeout)
	t.Logf("stall detected after %v: %q; states %v", time.Since(start), st.Details(), rec.States()[mark:idx+1])
	if el := time.Since(start); el < 5*time.Second {
		t.Errorf("stall detected after %v, before the 10 s keepalive time could have elapsed", el)
	}
	var pings int
	for _, f := range frames.Frames() {
		if f.toServer && f.typ == framePing && f.flags&1 == 0 {
			pings++
		}
	}
	if pings == 0 {
		t.Errorf("the client sent no PING before giving up on the connection")
	}

	// The proxy forwards again: a fresh connection, READY.
	proxy.Resume()
	if _, err := newStubs(ch).empty.Call(tctx(t), &testgrpc.Empty{}); err != nil {
		t.Fatalf("call after the proxy resumed: %v", err)
	}
	waitState(t, ch, channel.Ready, testTimeout)
	if n := proxy.Accepted(); n != 2 {
		t.Errorf("proxy accepted %d connections, want 2 (the stalled one, then a fresh one)", n)
	}
	rec.closeAndCheck(t, ch, testTimeout)
}

// grpc-go's default enforcement (a ping at most every 5 minutes, none
// without calls) strikes every ping after the first: a channel pinging
// every 10 s without calls (and no limit on pings without data) gets GOAWAY ENHANCE_YOUR_CALM "too_many_pings"
// on its 4th ping (about 40 s), leaves READY and reconnects on the next
// call.
func TestConnectivityKeepaliveTooManyPings(t *testing.T) {
	if testing.Short() {
		t.Skip("waits out four 10 s keepalive pings")
	}
	t.Parallel()
	srv := startServer(t, serverConfig{})
	proxy := chaos.NewProxy(t, srv.Addr())
	frames := sniffFrames(proxy)
	ch := dial(t, proxy.Addr(), channel.WithKeepalive(channel.Keepalive{Time: 10 * time.Second, PermitWithoutCalls: true, MaxPingsWithoutData: -1}))
	rec := subscribeStates(ch, false)
	if _, err := newStubs(ch).empty.Call(tctx(t), &testgrpc.Empty{}); err != nil {
		t.Fatal(err)
	}
	mark := rec.Len()
	start := time.Now()
	ga := frames.WaitFrame(t, "GOAWAY from the server", 60*time.Second, func(f h2Frame) bool {
		return !f.toServer && f.typ == frameGoAway
	})
	if ga.goAway != 0xb || ga.debug != "too_many_pings" {
		t.Fatalf("GOAWAY code %#x debug %q, want ENHANCE_YOUR_CALM (0xb) \"too_many_pings\"", ga.goAway, ga.debug)
	}
	var pings int
	for _, f := range frames.Frames() {
		if f.toServer && f.typ == framePing && f.flags&1 == 0 {
			pings++
		}
	}
	t.Logf("GOAWAY too_many_pings after %v and %d client PINGs", time.Since(start), pings)
	if pings < 3 {
		t.Errorf("GOAWAY too_many_pings after %d client PINGs, want at least 3", pings)
	}
	rec.WaitAfter(t, mark, channel.Idle, testTimeout)
	if _, err := newStubs(ch).empty.Call(tctx(t), &testgrpc.Empty{}); err != nil {
		t.Fatalf("call after GOAWAY too_many_pings: %v", err)
	}
	if n := proxy.Accepted(); n != 2 {
		t.Errorf("proxy accepted %d connections, want 2", n)
	}
}
