package actors_test

// Helpers of the middleware, Await and Spawn tests (names start with mw so
// that they stay apart from the other tests of the package).

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/grpc"
	grpcmd "google.golang.org/grpc/metadata"

	"github.com/grpcactor/grpcactor/system_test/peers"
)

const mwSvc = "/grpc.testing.TestService/"

// mwBound bounds every wait of these tests: a failure, not a timing.
const mwBound = 20 * time.Second

// mwCtx is a context that ends with the test or after mwBound.
func mwCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), mwBound)
	t.Cleanup(cancel)
	return ctx
}

// mwSpawn spawns an actor from fn and stops it when the test ends.
func mwSpawn(t *testing.T, sys *actor.ActorSystem, fn actor.ReceiveFunc, opts ...actor.PropsOption) *actor.PID {
	t.Helper()
	pid := sys.Root.Spawn(actor.PropsFromFunc(fn, opts...))
	t.Cleanup(func() { _ = sys.Root.StopFuture(pid).Wait() })
	return pid
}

// mwServer is grpc-go's interop server that records, per method, the
// values of the "authorization" header it receives, and counts the calls
// in flight (the highest count too). Calls wait at gate, if set, before
// they run.
type mwServer struct {
	addr string

	mu       sync.Mutex
	auth     map[string][]string // method -> authorization values seen
	calls    int
	inflight int
	max      int
	gate     chan struct{}
	arrived  chan struct{} // one send per call that reached the server
}

func startMWServer(t *testing.T, gate chan struct{}) *mwServer {
	s := &mwServer{auth: map[string][]string{}, gate: gate, arrived: make(chan struct{}, 100)}
	s.addr = peers.StartGoInteropOpts(t,
		grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			defer s.enter(ctx, info.FullMethod)()
			return h(ctx, req)
		}),
		grpc.ChainStreamInterceptor(func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			defer s.enter(ss.Context(), info.FullMethod)()
			return h(srv, ss)
		}))
	return s
}

// enter records a call's arrival and returns the function that records
// its end.
func (s *mwServer) enter(ctx context.Context, method string) func() {
	md, _ := grpcmd.FromIncomingContext(ctx)
	s.mu.Lock()
	s.auth[method] = append(s.auth[method], md.Get("authorization")...)
	s.calls++
	s.inflight++
	s.max = max(s.max, s.inflight)
	s.mu.Unlock()
	s.arrived <- struct{}{}
	if s.gate != nil {
		<-s.gate
	}
	return func() {
		s.mu.Lock()
		s.inflight--
		s.mu.Unlock()
	}
}

func (s *mwServer) seen(method string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.auth[mwSvc+method]...)
}

func (s *mwServer) counts() (calls, max int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls, s.max
}
