package system_test

// Client-side health checking (gRFC A17) against grpc-go servers running
// grpc-go's health service: calls follow SERVING/NOT_SERVING under
// round_robin, a server without the health service stays usable, and
// pick_first does not check.

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"

	"github.com/grpcactor/grpcactor/channel"
	"github.com/grpcactor/grpcactor/codes"
)

const hcService = "grpc.testing.TestService"

// hcServer is a grpc-go interop server, with grpc-go's health service
// unless started without, counting the TestService calls it handles.
type hcServer struct {
	addr   string
	health *health.Server // nil: no health service (UNIMPLEMENTED)
	calls  atomic.Int64
}

func hcStart(t *testing.T, withHealth bool, initial healthpb.HealthCheckResponse_ServingStatus) *hcServer {
	t.Helper()
	s := &hcServer{}
	cfg := serverConfig{Hook: func(_ context.Context, method string) error {
		if strings.HasPrefix(method, "/"+hcService+"/") {
			s.calls.Add(1)
		}
		return nil
	}}
	if withHealth {
		s.health = health.NewServer()
		s.health.SetServingStatus(hcService, initial)
		cfg.Register = func(srv *grpc.Server) { healthpb.RegisterHealthServer(srv, s.health) }
	}
	s.addr = startServer(t, cfg).Addr()
	return s
}

func (s *hcServer) set(st healthpb.HealthCheckResponse_ServingStatus) {
	s.health.SetServingStatus(hcService, st)
}

func hcTarget(srvs []*hcServer) string {
	var addrs []string
	for _, s := range srvs {
		addrs = append(addrs, s.addr)
	}
	return "ipv4:" + strings.Join(addrs, ",")
}

func hcCounts(srvs []*hcServer) []int64 {
	out := make([]int64, len(srvs))
	for i, s := range srvs {
		out[i] = s.calls.Load()
	}
	return out
}

// hcBatch makes n wait-for-ready calls and returns how many each server
// handled.
func hcBatch(t *testing.T, ch *channel.Channel, srvs []*hcServer, n int) []int64 {
	t.Helper()
	empty := newStubs(ch).empty
	base := hcCounts(srvs)
	for i := range n {
		if _, err := empty.Call(tctx(t), &testgrpc.Empty{}, channel.WaitForReady(true)); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	return callsSince(hcCounts(srvs), base)
}

// hcWaitSpread polls with batches of calls until one batch reaches
// exactly the servers in want (want[i]: server i gets calls), failing
// after testTimeout's worth of batches.
func hcWaitSpread(t *testing.T, ch *channel.Channel, srvs []*hcServer, want []bool) {
	t.Helper()
	ctx := tctx(t)
	var last []int64
	for ctx.Err() == nil {
		last = hcBatch(t, ch, srvs, 30)
		ok := true
		for i, w := range want {
			if w != (last[i] > 0) {
				ok = false
			}
		}
		if ok {
			return
		}
	}
	t.Fatalf("calls never reached exactly the servers %v: last batch of 30 per server %v", want, last)
}

func TestHealthCheckRoundRobin(t *testing.T) {
	const serving, notServing = healthpb.HealthCheckResponse_SERVING, healthpb.HealthCheckResponse_NOT_SERVING
	srvs := []*hcServer{hcStart(t, true, serving), hcStart(t, true, serving), hcStart(t, true, notServing)}
	ch := dial(t, hcTarget(srvs), channel.WithServiceConfig(`{"loadBalancingConfig": [{"round_robin": {}}],
		"healthCheckConfig": {"serviceName": "`+hcService+`"}}`))
	rec := subscribeStates(ch, false)

	// Server 2 says NOT_SERVING from the start: it never gets a call.
	hcWaitSpread(t, ch, srvs, []bool{true, true, false})
	if c := hcBatch(t, ch, srvs, 100); c[2] != 0 || c[0] == 0 || c[1] == 0 {
		t.Fatalf("100 calls per server %v, want none on the NOT_SERVING server 2", c)
	}

	// Server 0 turns NOT_SERVING, server 2 SERVING: the calls move.
	srvs[0].set(notServing)
	srvs[2].set(serving)
	hcWaitSpread(t, ch, srvs, []bool{false, true, true})
	if c := hcBatch(t, ch, srvs, 100); c[0] != 0 || c[1] == 0 || c[2] == 0 {
		t.Fatalf("100 calls per server %v, want none on the NOT_SERVING server 0", c)
	}

	// SERVICE_UNKNOWN counts as unhealthy too.
	srvs[1].set(healthpb.HealthCheckResponse_SERVICE_UNKNOWN)
	srvs[0].set(serving)
	hcWaitSpread(t, ch, srvs, []bool{true, false, true})

	// Nobody healthy: fail-fast calls fail UNAVAILABLE, saying why.
	srvs[0].set(notServing)
	srvs[2].set(healthpb.HealthCheckResponse_UNKNOWN)
	empty := newStubs(ch).empty
	ctx := tctx(t)
	for {
		_, err := empty.Call(ctx, &testgrpc.Empty{})
		if err == nil {
			continue // a subchannel still READY: the change is on its way
		}
		st := wantStatus(t, "a call with no healthy server", err, codes.Unavailable, "")
		if strings.Contains(st.Message(), "health check says") {
			t.Logf("call error: %v", st)
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("calls with no healthy server fail with %v, want a message about the health check", st)
		}
	}

	// Back to health: the channel leaves TRANSIENT_FAILURE through
	// CONNECTING, as the connectivity-semantics document has it.
	srvs[1].set(serving)
	hcWaitSpread(t, ch, srvs, []bool{false, true, false})
	rec.WaitAfter(t, rec.WaitAfter(t, 0, channel.TransientFailure, testTimeout)+1, channel.Ready, testTimeout)
	t.Logf("channel states: %v", rec.States())
	checkSequence(t, "round_robin with health checks", rec.States(), channel.Idle, false)
}

// hcLogs collects the messages of the records a slog.Logger receives.
type hcLogs struct {
	mu   sync.Mutex
	msgs []string
}

func (h *hcLogs) Enabled(context.Context, slog.Level) bool { return true }
func (h *hcLogs) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.msgs = append(h.msgs, r.Level.String()+" "+r.Message)
	return nil
}
func (h *hcLogs) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *hcLogs) WithGroup(string) slog.Handler      { return h }
func (h *hcLogs) all() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.msgs...)
}
func (h *hcLogs) count(sub string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, m := range h.msgs {
		if strings.Contains(m, sub) {
			n++
		}
	}
	return n
}

// A server without the health service answers Watch with UNIMPLEMENTED:
// the check is off for it (logged), and it keeps getting calls.
func TestHealthCheckUnimplemented(t *testing.T) {
	srvs := []*hcServer{hcStart(t, false, 0), hcStart(t, true, healthpb.HealthCheckResponse_SERVING)}
	logs := &hcLogs{}
	ch := dial(t, hcTarget(srvs), channel.WithLogger(slog.New(logs)), channel.WithServiceConfig(`{
		"loadBalancingPolicy": "round_robin", "healthCheckConfig": {"serviceName": "`+hcService+`"}}`))
	hcWaitSpread(t, ch, srvs, []bool{true, true})
	if c := hcBatch(t, ch, srvs, 100); c[0] == 0 || c[1] == 0 {
		t.Fatalf("100 calls per server %v, want both used", c)
	}
	if n := logs.count("ERROR health check disabled"); n != 1 {
		t.Fatalf("%d error records saying the health check is disabled, want 1 (records: %q)", n, logs.all())
	}
}

// pick_first does not use client-side health checking (gRFC A17), and
// grpc.inhibit_health_checking turns it off: a NOT_SERVING server keeps
// its calls.
func TestHealthCheckOff(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []channel.Option
	}{
		{"PickFirst", []channel.Option{channel.WithServiceConfig(`{"healthCheckConfig": {"serviceName": "` + hcService + `"}}`)}},
		{"Inhibited", []channel.Option{channel.WithOption("grpc.inhibit_health_checking", 1), channel.WithServiceConfig(
			`{"loadBalancingPolicy": "round_robin", "healthCheckConfig": {"serviceName": "` + hcService + `"}}`)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srvs := []*hcServer{hcStart(t, true, healthpb.HealthCheckResponse_NOT_SERVING)}
			ch := dial(t, hcTarget(srvs), tc.opts...)
			if c := hcBatch(t, ch, srvs, 10); c[0] != 10 {
				t.Fatalf("calls per server %v, want [10]", c)
			}
		})
	}
}
