package system_test

// Name resolution of channel targets: the system resolver, a failing
// lookup, and a DNS server named in the target's authority.

import (
	"strings"
	"testing"
	"time"

	testgrpc "google.golang.org/grpc/interop/grpc_testing"

	"github.com/grpcactor/grpcactor/channel"
	"github.com/grpcactor/grpcactor/codes"
)

func TestConnectivityNameResolution(t *testing.T) {
	srv := startServer(t, serverConfig{})
	_, port, _ := strings.Cut(srv.Addr(), ":")

	for _, target := range []string{
		"localhost:" + port,
		"dns:///localhost:" + port,
		"ipv4:127.0.0.1:" + port,
		"passthrough:///127.0.0.1:" + port,
	} {
		t.Run(target, func(t *testing.T) {
			ch := dial(t, target)
			if _, err := newStubs(ch).empty.Call(tctx(t), &testgrpc.Empty{}); err != nil {
				t.Fatalf("call to %s: %v", target, err)
			}
			if s := ch.State(false); s != channel.Ready {
				t.Fatalf("State = %v, want READY", s)
			}
		})
	}

	t.Run("Unresolvable", func(t *testing.T) {
		for _, target := range []string{"nosuch.invalid:80", "dns:///nosuch.invalid:80"} {
			ch := dial(t, target)
			_, err := newStubs(ch).empty.Call(tctx(t), &testgrpc.Empty{})
			st := wantStatus(t, "call to "+target, err, codes.Unavailable, "")
			if !strings.Contains(st.Details(), "nosuch.invalid") || !strings.Contains(st.Details(), "lookup") {
				t.Errorf("call to %s: UNAVAILABLE message %q does not carry the lookup error", target, st.Details())
			}
			t.Logf("%s: %q", target, st.Details())
			if s := ch.State(false); s != channel.TransientFailure {
				t.Errorf("%s: State = %v, want TRANSIENT_FAILURE", target, s)
			}
		}
	})

	t.Run("DNSServerInAuthority", func(t *testing.T) {
		dns := startDNS(t, map[string]string{"grpcactor.test": "127.0.0.1"})
		target := "dns://" + dns.Addr() + "/grpcactor.test:" + port
		ch := dial(t, target)
		if _, err := newStubs(ch).empty.Call(tctx(t), &testgrpc.Empty{}); err != nil {
			t.Fatalf("call to %s: %v", target, err)
		}
		if dns.queries.Load() == 0 {
			t.Errorf("the DNS server of %s was not asked", target)
		}
		// A name that server does not know fails with its answer.
		target = "dns://" + dns.Addr() + "/nosuch.grpcactor.test:" + port
		ch = dial(t, target)
		_, err := newStubs(ch).empty.Call(tctx(t), &testgrpc.Empty{})
		st := wantStatus(t, "call to "+target, err, codes.Unavailable, "")
		if !strings.Contains(st.Details(), "nosuch.grpcactor.test") {
			t.Errorf("call to %s: UNAVAILABLE message %q does not carry the lookup error", target, st.Details())
		}
		t.Logf("%s: %q", target, st.Details())
	})
}

// Re-resolution after connection failures is rate-limited by
// grpc.dns_min_time_between_resolutions_ms (30 s here): a round_robin
// channel whose only address refuses connections keeps redialling with a
// short backoff, but asks the DNS server again at most once in that time.
func TestConnectivityDNSReResolutionRateLimited(t *testing.T) {
	dns := startDNS(t, map[string]string{"grpcactor.test": "127.0.0.1"})
	_, port, _ := strings.Cut(deadPort(t), ":")
	dials := newDialRecorder()
	ch := dial(t, "dns://"+dns.Addr()+"/grpcactor.test:"+port,
		channel.WithLBPolicy("round_robin"),
		channel.WithOption("grpc.dns_min_time_between_resolutions_ms", 30000),
		channel.WithConnectBackoff(20*time.Millisecond, 50*time.Millisecond, time.Second),
		channel.WithDialer(dials.Dial))
	ch.State(true)
	dials.WaitCount(t, 8, 5*time.Second)
	// One lookup is an A and an AAAA query; allow the first lookup and one
	// rate-limited re-resolution.
	if q := dns.queries.Load(); q > 4 {
		t.Errorf("%d DNS queries during %d connection attempts within the 30 s minimum between resolutions, want at most 4 (two lookups)", q, dials.Count())
	}
}
