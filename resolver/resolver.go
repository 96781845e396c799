package resolver

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// Address is one endpoint a resolver found for a target.
type Address struct {
	// Network is the network to dial: "tcp" (assumed when empty) or
	// "unix".
	Network string
	// Addr is "host:port" for tcp (an IPv6 host in brackets) or a socket
	// path for unix ("@name" for an abstract socket).
	Addr string
	// Weight is the address's share of the calls under a weighted policy
	// (weighted_round_robin): an address of weight 2 gets twice the calls
	// of one of weight 1. 0 means 1. Other policies ignore it.
	Weight uint32
	// Attributes carries what else the resolver knows of the address (a
	// zone, a shard, a version) for load-balancing policies to read; the
	// channel itself reads none of them. The map must not be changed once
	// it has been sent.
	Attributes map[string]string
}

// String returns the address as "tcp:host:port" or "unix:path".
func (a Address) String() string {
	n := a.Network
	if n == "" {
		n = "tcp"
	}
	return n + ":" + a.Addr
}

// Target is a channel's target, split as gRPC's naming document splits a
// URI: scheme://authority/endpoint (or scheme:endpoint).
type Target struct {
	// Scheme is the target's scheme ("dns" for a target with none).
	Scheme string
	// Authority is the part between "//" and the next "/" (the DNS server
	// of a dns target); often empty.
	Authority string
	// Endpoint is what the resolver resolves: the path without its
	// leading "/".
	Endpoint string
	// Raw is the target as the channel was given it.
	Raw string
}

// String returns the target as the channel was given it.
func (t Target) String() string { return t.Raw }

// Update is a message from a resolver to its channel: the addresses and
// service config it resolved, or the error it met. A Poll function returns
// one; an actor sends *Update to the channel's PID.
type Update struct {
	// Addresses is the new address list; it replaces the last one. An
	// empty list (with no Err) is a resolution that found nothing: the
	// channel fails fast-failing calls UNAVAILABLE until addresses come.
	Addresses []Address
	// ServiceConfig, when not empty, is a service config in gRPC's JSON
	// form. It replaces the one in force (the last good one, else the
	// channel's WithServiceConfig). An invalid document is logged at Warn
	// and ignored; the addresses of the same update still apply.
	ServiceConfig string
	// Err, when set, says resolution failed; the other fields are then
	// ignored. The channel keeps the addresses it has (with none, it goes
	// TRANSIENT_FAILURE and asks again after a backoff); calls that fail
	// meanwhile carry Err's text.
	Err error
}

// Start is the first message a resolver actor receives: resolve Target and
// send *Update messages to Channel from now on.
type Start struct {
	Target  Target
	Channel *actor.PID
}

// ResolveNow asks a resolver actor to resolve its target again for Channel
// (a connection was lost or failed). It is a hint: a push resolver that
// has nothing new may ignore it. The channel sends it at most once per
// grpc.dns_min_time_between_resolutions_ms.
type ResolveNow struct {
	Channel *actor.PID
}

// Stop tells a resolver actor given as a PID that Channel has closed and
// wants no more updates (one sent anyway reaches a stopped actor: a dead
// letter). A resolver spawned from Props is stopped instead.
type Stop struct {
	Channel *actor.PID
}

// Resolver is one channel's resolver, as a Builder makes it: exactly one
// of Poll, Props, PID and Static is set. The package documentation
// describes the four forms.
type Resolver struct {
	// Poll is called by the channel, on a goroutine of its own, each time
	// it needs the target resolved; ctx ends when the channel closes (or
	// after 20 s). Calls never overlap.
	Poll func(ctx context.Context) Update
	// PollInterval, when positive, has the channel also call Poll every
	// PollInterval, counted from the end of the previous call, while the
	// channel is out of IDLE (no poll while it is IDLE or after it
	// closed). Such a periodic poll runs at once, whatever
	// grpc.dns_min_time_between_resolutions_ms says, and counts as a
	// resolution for that limit: a re-resolution the channel asks for soon
	// after it waits as usual (and the next periodic poll, if it comes
	// first, serves it). A poll that fails while the channel has no
	// address is retried with the channel's backoff instead, and the
	// period starts again after the next success. Zero (the default) polls
	// only when the channel asks. Only with Poll.
	PollInterval time.Duration
	// Props is an actor the channel spawns as its child and stops when it
	// closes.
	Props *actor.Props
	// PID is an actor of the user's own system, which must be the
	// channel's (channel.WithActorSystem); the channel watches it.
	PID *actor.PID
	// Static is a fixed address list, known when the resolver is built:
	// the channel connects to these addresses and never resolves again
	// (the form of the built-in unix, unix-abstract, ipv4, ipv6 and
	// passthrough schemes).
	Static []Address
}

// Builder makes the resolver of one channel. Build is called once per
// channel, when the channel is opened; it must not block or do I/O (the
// resolver starts when the channel first leaves IDLE). An error from Build
// is an error from channel.Insecure or channel.Secure.
type Builder interface {
	Build(t Target) (Resolver, error)
}

// BuilderFunc is a function that is a Builder.
type BuilderFunc func(t Target) (Resolver, error)

// Build calls f.
func (f BuilderFunc) Build(t Target) (Resolver, error) { return f(t) }

// PollFunc returns a Builder whose resolvers call fn with their channel's
// target each time the channel needs it resolved (the Poll form), and, with
// the option Every, periodically too.
func PollFunc(fn func(ctx context.Context, t Target) Update, opts ...PollOption) Builder {
	var o pollOptions
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	return BuilderFunc(func(t Target) (Resolver, error) {
		return Resolver{Poll: func(ctx context.Context) Update { return fn(ctx, t) }, PollInterval: o.every}, nil
	})
}

// PollOption is an option of PollFunc.
type PollOption func(*pollOptions)

type pollOptions struct {
	every time.Duration
}

// Every makes PollFunc's resolvers poll every d as well as when their
// channel asks (Resolver.PollInterval): a plain function that reads a file
// or asks a registry then follows changes without a watch of its own.
// A negative d is an error from the channel's Insecure or Secure.
func Every(d time.Duration) PollOption {
	return func(o *pollOptions) { o.every = d }
}

// ActorPID returns a Builder whose channels all use the actor pid as their
// resolver (the PID form): pid receives *Start, *ResolveNow and *Stop,
// each naming the channel's PID. The channels must run in pid's actor
// system (channel.WithActorSystem).
func ActorPID(pid *actor.PID) Builder {
	return BuilderFunc(func(Target) (Resolver, error) {
		if pid == nil {
			return Resolver{}, fmt.Errorf("resolver: nil PID")
		}
		return Resolver{PID: pid}, nil
	})
}

// Check reports what is wrong with r, naming the field: it must have
// exactly one of Poll, Props, PID and Static set, and PollInterval, if
// set, must be positive and go with Poll.
func (r Resolver) Check() error {
	n := 0
	for _, set := range []bool{r.Poll != nil, r.Props != nil, r.PID != nil, len(r.Static) > 0} {
		if set {
			n++
		}
	}
	switch {
	case n == 0:
		return fmt.Errorf("resolver: none of Poll, Props and PID is set, and Static is empty")
	case n > 1:
		return fmt.Errorf("resolver: more than one of Poll, Props, PID and Static is set")
	case r.PollInterval < 0:
		return fmt.Errorf("resolver: negative PollInterval %v", r.PollInterval)
	case r.PollInterval > 0 && r.Poll == nil:
		return fmt.Errorf("resolver: PollInterval %v is set without Poll", r.PollInterval)
	}
	return nil
}

var (
	registryMu sync.RWMutex
	registry   = map[string]Builder{}
)

// Register makes b the resolver of every channel whose target has scheme
// (in lower case: "consul" for "consul:///svc"), unless the channel is
// given its own with channel.WithResolver. A scheme registered twice keeps
// the last builder, as in grpc-go; the built-in schemes (dns, unix,
// unix-abstract, ipv4, ipv6, passthrough) are registered builders like any
// other, so registering one of them replaces it for channels opened
// afterwards (Builtin still returns the original). A target of a built-in
// scheme is still checked as that scheme's (a bad "ipv4:" list is an
// error from channel.Insecure naming the target) whichever builder
// resolves it. Register is meant for
// init functions; it panics if scheme is empty or not a URI scheme
// (letters, digits, '+', '-', '.', starting with a letter) or b is nil.
func Register(scheme string, b Builder) {
	if !validScheme(scheme) {
		panic(fmt.Sprintf("resolver.Register: invalid scheme %q (want a letter, then letters, digits, '+', '-' or '.')", scheme))
	}
	if b == nil {
		panic(fmt.Sprintf("resolver.Register: nil builder for scheme %q", scheme))
	}
	registryMu.Lock()
	defer registryMu.Unlock()
	registry[strings.ToLower(scheme)] = b
}

// Get returns the builder registered for scheme (case-insensitive), or nil.
func Get(scheme string) Builder {
	registryMu.RLock()
	defer registryMu.RUnlock()
	return registry[strings.ToLower(scheme)]
}

// Schemes returns the registered schemes, the built-in ones included,
// sorted.
func Schemes() []string {
	registryMu.RLock()
	defer registryMu.RUnlock()
	out := make([]string, 0, len(registry))
	for s := range registry {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// validScheme reports whether s is a URI scheme (RFC 3986, section 3.1).
func validScheme(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case i > 0 && (c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return true
}
