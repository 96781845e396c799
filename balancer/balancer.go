package balancer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/grpcactor/grpcactor/connectivity"
	"github.com/grpcactor/grpcactor/internal/lbconn"
	"github.com/grpcactor/grpcactor/internal/transport"
	"github.com/grpcactor/grpcactor/metadata"
)

// Address is one backend a policy may connect to, as the channel's name
// resolution found it.
type Address struct {
	// Network is "tcp" or "unix".
	Network string
	// Addr is host:port, a socket path, or "@name" for an abstract socket.
	Addr string
	// Weight is the address's weight (weighted_round_robin, ring_hash);
	// 0 means unset and counts as 1.
	Weight uint32
	// Attributes is what else the resolver said of the address (package
	// resolver's Address.Attributes), for policies to read; nil when it
	// said nothing. It must not be changed.
	Attributes map[string]string
}

// key identifies an address across updates (its weight may change).
func (a Address) key() addrKey { return addrKey{a.Network, a.Addr} }

type addrKey struct{ network, addr string }

func (a Address) weight() uint32 {
	if a.Weight == 0 {
		return 1
	}
	return a.Weight
}

// SubConn is one subchannel a policy asked for: it is made with
// NewSubConn and handed to the channel in Update.NewSubConns; the channel
// connects it when told (Update.Connect), reports its states
// (Policy.UpdateSubConnState) and shuts it down when told
// (Update.Shutdown). A picker returns the SubConn a call should use.
type SubConn struct {
	addr     Address
	inFlight atomic.Int64
	ready    atomic.Pointer[readyConn]
	done     func(DoneInfo) // takes one off inFlight
}

type readyConn struct {
	conn   *transport.Conn
	usable func() bool
}

// NewSubConn returns a SubConn for addr, for a policy to put in
// Update.NewSubConns.
func NewSubConn(addr Address) *SubConn {
	sc := &SubConn{addr: addr}
	sc.done = func(DoneInfo) { sc.inFlight.Add(-1) }
	return sc
}

// Address returns the address sc connects to.
func (sc *SubConn) Address() Address { return sc.addr }

// InFlight is a counter that lives as long as sc, across pickers: pickers
// that balance by load count the calls in progress on it there
// (least_request adds one on a pick and takes it off in PickResult.Done).
func (sc *SubConn) InFlight() *atomic.Int64 { return &sc.inFlight }

// Usable reports whether the channel's connection for sc takes new
// streams now: false once it has received GOAWAY or closed, even before
// the subchannel's new state reaches the policy. A SubConn no channel runs
// (as in a policy's table test) counts as usable.
func (sc *SubConn) Usable() bool {
	r := sc.ready.Load()
	if r == nil {
		return true
	}
	return r.conn != nil && (r.usable == nil || r.usable())
}

// String returns the address sc connects to, for logs.
func (sc *SubConn) String() string { return sc.addr.Addr }

func init() {
	lbconn.Attach = func(s any, conn *transport.Conn, usable func() bool) {
		s.(*SubConn).ready.Store(&readyConn{conn: conn, usable: usable})
	}
	lbconn.Conn = func(s any) *transport.Conn {
		if r := s.(*SubConn).ready.Load(); r != nil {
			return r.conn
		}
		return nil
	}
}

// SubConnState is a subchannel's new connectivity state, with the error
// that put it in TRANSIENT_FAILURE.
type SubConnState struct {
	State connectivity.State
	Err   error
}

// Update is what a policy asks of the channel after an address update or
// a subchannel's state change. The channel creates the new subchannels,
// shuts down those listed, connects those listed (in that order), asks
// the resolver to resolve again if ResolveNow is set, and then moves to
// State with Picker.
type Update struct {
	NewSubConns []*SubConn
	Shutdown    []*SubConn
	Connect     []*SubConn
	// ResolveNow asks for a re-resolution of the target (rate-limited by
	// the channel).
	ResolveNow bool
	// State is the policy's aggregate state, which becomes the channel's.
	// A policy that goes IDLE is closed: the channel builds a new one when
	// it next leaves IDLE.
	State connectivity.State
	// Picker chooses the subchannel of each call while the channel is
	// READY; nil keeps the last one.
	Picker Picker
}

// Policy is a load-balancing policy: a pure state machine the channel
// actor drives, one instance per channel (rebuilt after the channel was
// IDLE). Its methods run on the channel actor, one at a time, and must not
// block. A policy never starts goroutines: everything it wants done is in
// the Update it returns.
type Policy interface {
	// UpdateAddresses gives the policy the target's addresses (never an
	// empty list: the channel handles that itself).
	UpdateAddresses(addrs []Address) Update
	// UpdateSubConnState reports a state change of one of the policy's
	// subchannels (never one it shut down).
	UpdateSubConnState(sc *SubConn, s SubConnState) Update
}

// Builder makes a policy from its config.
type Builder interface {
	// ParseConfig validates the policy's config, the JSON value of its
	// entry in the service config's loadBalancingConfig (nil when the
	// policy was chosen by name, as with grpc.lb_policy_name: defaults
	// then). The error names the bad field and its value.
	ParseConfig(config json.RawMessage) (any, error)
	// Build returns a new policy with a config ParseConfig returned.
	Build(config any) Policy
}

// PickInfo is what a picker knows of the call it picks for.
type PickInfo struct {
	// Ctx is the call's context.
	Ctx context.Context
	// Method is the call's full method name, "/package.Service/Method".
	Method string
	// Metadata is the call's custom metadata (read-only).
	Metadata metadata.MD
	// HashKey is the call's channel.HashKey, "" when it has none.
	HashKey string
}

// DoneInfo says how a picked call ended.
type DoneInfo struct {
	// Err is the call's error, nil when it ended OK.
	Err error
}

// PickResult is a picker's choice for a call.
type PickResult struct {
	// SubConn is the subchannel the call goes to.
	SubConn *SubConn
	// Done, if set, is called once when the call (the attempt that used
	// this pick) ends. It runs on whatever goroutine ends the call and
	// must not block.
	Done func(DoneInfo)
}

// Picker chooses a subchannel for each call. It runs on the caller's
// goroutine, many at once, on the snapshot the channel last published:
// it must be safe for concurrent use and must not block. The channel
// consults it only while it is READY; in other states calls wait
// (CONNECTING, IDLE) or fail fast with UNAVAILABLE (TRANSIENT_FAILURE).
type Picker interface {
	// Pick returns the subchannel for the call, ErrNoSubConnAvailable to
	// make the call wait for the next picker, or another error to fail
	// it (a *status.Error keeps its code; others fail UNAVAILABLE).
	Pick(info PickInfo) (PickResult, error)
}

// ErrNoSubConnAvailable from a picker makes the call wait for the next
// picker the policy publishes.
var ErrNoSubConnAvailable = errors.New("no subchannel available")

var (
	regMu    sync.RWMutex
	registry = map[string]Builder{}
)

// Register makes a policy available by name to grpc.lb_policy_name
// (channel.WithLBPolicy) and to the service config's loadBalancingConfig.
// Registering a name again replaces the builder. It is meant to be called
// from an init function; channels opened before keep their policy. It
// panics on an empty name or a nil builder.
func Register(name string, b Builder) {
	if name == "" || b == nil {
		panic(fmt.Sprintf("balancer.Register(%q, %v): needs a name and a builder", name, b))
	}
	regMu.Lock()
	defer regMu.Unlock()
	registry[name] = b
}

// Get returns the builder registered under name.
func Get(name string) (Builder, bool) {
	regMu.RLock()
	defer regMu.RUnlock()
	b, ok := registry[name]
	return b, ok
}

// Names returns the registered policy names, sorted.
func Names() []string {
	regMu.RLock()
	defer regMu.RUnlock()
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// The names of the built-in policies. least_request and ring_hash are
// also registered under grpc-go's names, least_request_experimental and
// ring_hash_experimental.
const (
	PickFirst          = "pick_first"
	RoundRobin         = "round_robin"
	LeastRequest       = "least_request"
	RingHash           = "ring_hash"
	WeightedRoundRobin = "weighted_round_robin"
)

func init() {
	Register(PickFirst, pickFirstBuilder{})
	Register(RoundRobin, endpointBuilder{name: RoundRobin, picker: newRRPicker})
	Register(LeastRequest, leastRequestBuilder{})
	Register(LeastRequest+"_experimental", leastRequestBuilder{})
	Register(RingHash, ringHashBuilder{})
	Register(RingHash+"_experimental", ringHashBuilder{})
	Register(WeightedRoundRobin, endpointBuilder{name: WeightedRoundRobin, picker: newWRRPicker})
}

// noConfig parses the config of a policy that takes none: an object
// (whose fields are ignored) or nothing.
func noConfig(name string, config json.RawMessage) error {
	if len(config) == 0 || string(config) == "null" {
		return nil
	}
	var m map[string]any
	if err := json.Unmarshal(config, &m); err != nil {
		return fmt.Errorf("%s: config %s is not a JSON object", name, config)
	}
	return nil
}

// sameSubConns reports whether a and b hold the same subchannels in order.
func sameSubConns(a, b []*SubConn) bool { return slices.Equal(a, b) }
