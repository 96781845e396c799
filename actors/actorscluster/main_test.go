package actorscluster_test

import (
	"flag"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/cluster/clusterproviders/test"
	"github.com/asynkron/protoactor-go/cluster/identitylookup/disthash"
	"github.com/asynkron/protoactor-go/remote"
	"github.com/grpcactor/grpcactor/actors/actorscluster"
	"github.com/grpcactor/grpcactor/channel"
	"github.com/grpcactor/grpcactor/internal/actorsys"
	"github.com/grpcactor/grpcactor/internal/leakcheck"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
)

// protoactor's test cluster provider reports its member's TTL from a
// goroutine that ranges over a ticker's channel, which its Shutdown does
// not close (and the shared cluster's members are never shut down in the
// provider, see registry): the goroutine never ends. It is the library's,
// one per member of the shared cluster, and holds nothing of ours.
const testProviderTTL = "github.com/asynkron/protoactor-go/cluster/clusterproviders/test.(*Provider).startTtlReport.func1"

func TestMain(m *testing.M) {
	flag.Parse()
	count := 1
	if f := flag.Lookup("test.count"); f != nil {
		if n, err := strconv.Atoi(f.Value.String()); err == nil && n > 0 {
			count = n
		}
	}
	goleak.VerifyTestMain(poolM{m, 1 + killClusters*count}, leakcheck.Options(goleak.IgnoreTopFunction(testProviderTTL))...)
}

// poolM starts n clusters before the tests and shuts them down after
// them, before the leak check.
type poolM struct {
	m *testing.M
	n int
}

func (p poolM) Run() int { return run(p.m, p.n) }

// killClusters is how many fresh clusters one run of the tests takes
// (each test that kills a member takes one).
const killClusters = 1

// member is one member of a test cluster: an actor system with
// protoactor's remote layer on its own loopback port.
type member struct {
	c     *cluster.Cluster
	join  func() // gives the member to its provider
	leave func() // takes it out of its provider's list; nil: never
	once  sync.Once
	dead  atomic.Bool
}

func (n *member) sys() *actor.ActorSystem { return n.c.ActorSystem }

// kill ends the member as if its process had died (its actor system and
// remote layer stop at once: its peers lose the endpoint), then takes it
// out of the members' list, as a real provider does once its TTL lapses.
// remote.Shutdown(true) and cluster.Shutdown(true) are not used:
// they write fields that the remote layer's stream goroutines read
// without synchronization (a data race under -race).
func (n *member) kill() {
	n.once.Do(func() {
		n.dead.Store(true)
		n.c.ActorSystem.Shutdown()
		n.c.Remote.Shutdown(false)
		for _, name := range []string{"EndpointSupervisor", "activator"} {
			_ = n.c.ActorSystem.Root.StopFuture(n.c.ActorSystem.NewLocalPID(name)).Wait()
		}
		if n.leave != nil {
			n.leave()
		}
		n.c.Gossip.Shutdown()
	})
}

// registry is the in-process cluster provider of the clusters whose
// members the tests kill: the list of a cluster's members, which it gives
// to every member as it changes. protoactor's own test provider
// (clusterproviders/test), which the shared cluster runs on, cannot take
// a member out: its agent goes on notifying a member that has left, whose
// cluster then asks its stopped remote layer for endpoints (a panic in
// protoactor).
type registry struct {
	mu      sync.Mutex
	members []*cluster.Cluster
}

// join adds c and gives every member the new list.
func (r *registry) join(c *cluster.Cluster) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.members = append(r.members, c)
	r.notify()
}

// leave removes c and gives every member left the new list.
func (r *registry) leave(c *cluster.Cluster) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, m := range r.members {
		if m == c {
			r.members = append(r.members[:i:i], r.members[i+1:]...)
			r.notify()
			return
		}
	}
}

func (r *registry) notify() {
	list := make([]*cluster.Member, 0, len(r.members))
	for _, c := range r.members {
		host, port, err := c.ActorSystem.GetHostPort()
		if err != nil {
			panic(err)
		}
		list = append(list, &cluster.Member{Id: c.ActorSystem.ID, Host: host, Port: int32(port), Kinds: c.GetClusterKinds()})
	}
	for _, c := range r.members {
		c.MemberList.UpdateClusterTopology(list)
	}
}

// provider is a member's ClusterProvider on a registry, or on
// protoactor's test provider. StartMember does not join: every member of
// the pool starts its remote layer before any of them learns of another
// and connects to it (see run).
type provider struct {
	reg  *registry
	test *test.Provider
}

func (p *provider) StartMember(*cluster.Cluster) error { return nil }
func (p *provider) StartClient(*cluster.Cluster) error {
	return fmt.Errorf("the tests' provider has no clients")
}
func (p *provider) Shutdown(bool) error { return nil }

// testCluster is three members with the channel kind, and a gRPC server
// target allowed.
type testCluster struct {
	members [3]*member
}

var pool struct {
	mu       sync.Mutex
	shared   *testCluster
	free     []*testCluster
	all      []*member
	clusters int
}

// kindOf is the channel kind of the test clusters: loopback targets
// (the tests' servers) allowed, TestService and the held server's method.
func kindOf() *cluster.Kind {
	k, err := actorscluster.NewKind(func(target string) (*channel.Channel, error) {
		return channel.Insecure(target)
	}, actorscluster.AllowTargets("127.0.0.1:*"), actorscluster.Allow("/grpc.testing.TestService/*", "/held.Held/*"))
	if err != nil {
		panic(err)
	}
	return k
}

// run starts n clusters before the tests and shuts them down after them.
// remote.Start sets grpc-go's global logger (grpclog.SetLoggerV2), which
// races with any grpc-go goroutine already running, so every member's
// remote layer starts before the tests, and before any member connects
// to another: the providers register the members only once all have
// started. Between two starts, reading the previous member's first bytes
// on a raw connection makes its server goroutine (which reads the logger
// when it starts serving) happen before the next write, for the race
// detector.
func run(m *testing.M, n int) int {
	var conns []net.Conn
	for i := range n {
		reg, agent := &registry{}, test.NewInMemAgent()
		tc := &testCluster{}
		for j := range tc.members {
			sys := actorsys.NewQuiet()
			p := &provider{reg: reg}
			if i == 0 {
				p.test = test.NewTestProvider(agent)
			}
			// protoactor's endpoint writer tries a connection
			// MaxRetryCount times but closes only the last try's grpc-go
			// ClientConn when it stops: a writer to a member the tests
			// killed would leave the others reconnecting for ever. One
			// try leaves nothing behind.
			// Stop waits for the member's endpoint readers (gRPC
			// handlers): kill stops the endpoint supervisor next, and a
			// reader still handing on a Terminated from a peer would ask
			// that stopped supervisor for an endpoint and panic in
			// protoactor (endpointLazy.connect: interface {} is nil).
			rc := remote.Configure("127.0.0.1", 0, remote.WithServerOptions(grpc.WaitForHandlers(true)))
			rc.MaxRetryCount = 1
			cfg := cluster.Configure(fmt.Sprintf("test-%d", i), p, disthash.New(), rc, cluster.WithKinds(kindOf()))
			// protoactor's gossip shares one math/rand source among the
			// members of a process and marshals its state while its actor
			// writes it: data races only members in one process (these
			// tests) have. The tests need no gossip (the provider gives
			// the topology): it runs once an hour.
			cfg.GossipInterval = time.Hour
			c := cluster.New(sys, cfg)
			c.StartMember()
			mb := &member{c: c}
			if p.test != nil {
				mb.join = func() {
					if err := p.test.StartMember(c); err != nil {
						panic(err)
					}
				}
			} else {
				mb.join, mb.leave = func() { reg.join(c) }, func() { reg.leave(c) }
			}
			tc.members[j] = mb
			pool.all = append(pool.all, mb)
			conn, err := net.Dial("tcp", sys.Address())
			if err != nil {
				panic(err)
			}
			if _, err := conn.Read(make([]byte, 1)); err != nil {
				panic(fmt.Sprintf("handshake with member %s: %v", sys.Address(), err))
			}
			conns = append(conns, conn)
		}
		if i == 0 {
			pool.shared = tc
		} else {
			pool.free = append(pool.free, tc)
		}
	}
	for _, c := range conns {
		_, _ = c.Write([]byte("bye"))
		c.Close()
	}
	for _, mb := range pool.all {
		mb.join()
	}
	code := m.Run()
	for _, mb := range pool.all {
		mb.kill()
	}
	return code
}

// takeCluster returns a cluster of the test's own, whose members it may
// kill.
func takeCluster(t testing.TB) *testCluster {
	t.Helper()
	pool.mu.Lock()
	defer pool.mu.Unlock()
	if len(pool.free) == 0 {
		t.Fatal("the pool of clusters is used up: raise killClusters")
	}
	tc := pool.free[0]
	pool.free = pool.free[1:]
	return tc
}
