package subchannel_test

import (
	"net"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/grpcactor/grpcactor/connectivity"
	"github.com/grpcactor/grpcactor/internal/actorsys"
	"github.com/grpcactor/grpcactor/internal/subchannel"
	"github.com/grpcactor/grpcactor/internal/transport"
)

// bound fails a wait that should end (a hang fails the test, not the run).
const bound = 15 * time.Second

// parent spawns one subchannel and forwards what it reports.
type parent struct {
	cfg    subchannel.Config
	sub    chan *subchannel.Subchannel
	states chan *subchannel.StateChanged
	gone   chan struct{}
}

func (p *parent) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		p.sub <- subchannel.Spawn(ctx, p.cfg)
	case *subchannel.StateChanged:
		p.states <- m
	case *actor.Terminated: // the subchannel, a child, stopped
		close(p.gone)
	}
}

func waitState(t *testing.T, p *parent, want connectivity.State) *subchannel.StateChanged {
	t.Helper()
	timer := time.NewTimer(bound)
	defer timer.Stop()
	for {
		select {
		case m := <-p.states:
			if m.State == want {
				return m
			}
		case <-timer.C:
			t.Fatalf("subchannel never reported %v", want)
		}
	}
}

func startHealthServer(t *testing.T) (string, *health.Server, *grpc.Server, chan struct{}) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := health.NewServer()
	srv := grpc.NewServer()
	healthpb.RegisterHealthServer(srv, hs)
	served := make(chan struct{})
	go func() { defer close(served); _ = srv.Serve(lis) }()
	t.Cleanup(func() { srv.Stop(); <-served })
	return lis.Addr().String(), hs, srv, served
}

func spawnParent(t *testing.T, addr string) *parent {
	t.Helper()
	service := "svc"
	p := &parent{
		cfg: subchannel.Config{
			Transport:          transport.Config{Network: "tcp", Address: addr, Authority: addr, Scheme: "http"},
			HealthCheckService: &service,
		},
		sub:    make(chan *subchannel.Subchannel, 1),
		states: make(chan *subchannel.StateChanged, 64),
		gone:   make(chan struct{}),
	}
	sys := actorsys.NewQuiet()
	pid := sys.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return p }))
	t.Cleanup(func() { _ = sys.Root.StopFuture(pid).Wait() })
	return p
}

// A graceful shutdown cancels the health stream: the connection drains
// and the subchannel stops (an open Watch would hold it forever).
func TestHealthShutdownDrains(t *testing.T) {
	addr, hs, _, _ := startHealthServer(t)
	hs.SetServingStatus("svc", healthpb.HealthCheckResponse_SERVING)
	p := spawnParent(t, addr)
	s := <-p.sub
	s.Connect()
	waitState(t, p, connectivity.Ready)
	s.Shutdown()
	select {
	case <-p.gone:
	case <-time.After(bound):
		t.Fatal("subchannel did not stop after Shutdown: its health stream keeps the connection draining")
	}
}

// A server's graceful stop (GOAWAY) ends once the subchannel has
// cancelled its health stream; the subchannel goes IDLE.
func TestHealthGoAwayCancelsWatch(t *testing.T) {
	addr, hs, srv, served := startHealthServer(t)
	hs.SetServingStatus("svc", healthpb.HealthCheckResponse_SERVING)
	p := spawnParent(t, addr)
	s := <-p.sub
	s.Connect()
	waitState(t, p, connectivity.Ready)
	stopped := make(chan struct{})
	go func() { srv.GracefulStop(); close(stopped) }()
	waitState(t, p, connectivity.Idle)
	select {
	case <-stopped:
	case <-time.After(bound):
		t.Fatal("the server's graceful stop never ended: the health stream was not cancelled")
	}
	<-served
}

// NOT_SERVING takes a READY subchannel to TRANSIENT_FAILURE with the
// connection kept; SERVING brings it back.
func TestHealthFlips(t *testing.T) {
	addr, hs, _, _ := startHealthServer(t)
	hs.SetServingStatus("svc", healthpb.HealthCheckResponse_SERVING)
	p := spawnParent(t, addr)
	s := <-p.sub
	s.Connect()
	first := waitState(t, p, connectivity.Ready)
	hs.SetServingStatus("svc", healthpb.HealthCheckResponse_NOT_SERVING)
	tf := waitState(t, p, connectivity.TransientFailure)
	if tf.Err == nil || tf.Err.Details() != `connection to `+addr+` is up but its health check says NOT_SERVING for service "svc"` {
		t.Fatalf("TRANSIENT_FAILURE error %v", tf.Err)
	}
	hs.SetServingStatus("svc", healthpb.HealthCheckResponse_SERVING)
	if again := waitState(t, p, connectivity.Ready); again.Conn != first.Conn {
		t.Fatal("READY again on another connection: the unhealthy one was dropped")
	}
}
