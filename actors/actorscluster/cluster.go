package actorscluster

import (
	"fmt"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"
	"github.com/grpcactor/grpcactor/actors/actorspb"
	"github.com/grpcactor/grpcactor/actors/actorsremote"
	"github.com/grpcactor/grpcactor/channel"
	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/status"
)

// DefaultKind is the cluster kind of channel grains unless Named says
// otherwise.
const DefaultKind = "grpc-channel"

// Opener opens the channel of a grain: target is the grain's identity,
// which the kind's allow-list has allowed. It is called in the grain's
// actor as it starts, so it must not block: channel.Insecure and
// channel.Secure perform no I/O. The channel is closed when the grain
// stops.
type Opener func(target string) (*channel.Channel, error)

// KindOption configures NewKind.
type KindOption interface {
	applyKind(*kindConfig) error
}

type kindOptionFunc func(*kindConfig) error

func (f kindOptionFunc) applyKind(c *kindConfig) error { return f(c) }

type kindConfig struct {
	name    string
	targets targetList
	gateway []actorsremote.GatewayOption
}

// Named names the kind (default DefaultKind). Callers name it with
// OfKind.
func Named(kind string) KindOption {
	return kindOptionFunc(func(c *kindConfig) error {
		if kind == "" {
			return fmt.Errorf("actorscluster.Named: empty kind")
		}
		c.name = kind
		return nil
	})
}

// AllowTargets lets grains open channels to targets: exact targets
// ("dns:///orders:443") or prefixes followed by one "*" ("dns:///*"
// allows every DNS target, "10.1.2.3:*" every port of one address).
// Several AllowTargets add up. Default: no target is allowed; the grain
// of any other target answers every call PERMISSION_DENIED naming it, so
// a cluster member is never a way to reach any address.
func AllowTargets(patterns ...string) KindOption {
	return kindOptionFunc(func(c *kindConfig) error { return c.targets.add(patterns) })
}

// Allow lets callers call methods through the kind's grains, as
// actorsremote.Allow does on a gateway: exact full names or
// "/package.Service/*". Default: nothing is allowed (PERMISSION_DENIED
// naming the method).
func Allow(methods ...string) KindOption {
	return kindOptionFunc(func(c *kindConfig) error {
		c.gateway = append(c.gateway, actorsremote.Allow(methods...))
		return nil
	})
}

// targetList is a kind's allow-list of targets.
type targetList struct {
	exact    map[string]bool
	prefixes []string
}

func (l *targetList) add(patterns []string) error {
	for _, p := range patterns {
		prefix, wild := strings.CutSuffix(p, "*")
		if p == "" || strings.Contains(prefix, "*") {
			return fmt.Errorf("actorscluster.AllowTargets(%q): want a target or a prefix followed by one \"*\"", p)
		}
		if wild {
			l.prefixes = append(l.prefixes, prefix)
			continue
		}
		if l.exact == nil {
			l.exact = map[string]bool{}
		}
		l.exact[p] = true
	}
	return nil
}

func (l *targetList) allows(target string) bool {
	if l.exact[target] {
		return true
	}
	for _, p := range l.prefixes {
		if strings.HasPrefix(target, p) {
			return true
		}
	}
	return false
}

// NewKind returns the cluster kind whose grains are channels keyed by
// target: give it to cluster.WithKinds on every member that may hold
// channels. The grain of a target opens its channel with open as it is
// activated, serves the calls of every member through it with the
// protocol and code of actorsremote's gateway (its Gateway), and closes
// it when it stops (its member leaves or shuts down, or the cluster
// moves it elsewhere): its calls in progress then end UNAVAILABLE for
// their callers.
func NewKind(open Opener, opts ...KindOption) (*cluster.Kind, error) {
	if open == nil {
		return nil, fmt.Errorf("actorscluster.NewKind: nil Opener")
	}
	cfg := &kindConfig{name: DefaultKind}
	for _, o := range opts {
		if o != nil {
			if err := o.applyKind(cfg); err != nil {
				return nil, err
			}
		}
	}
	if _, err := actorsremote.NewGateway(nil, cfg.name, cfg.gateway...); err != nil {
		return nil, err
	}
	return cluster.NewKind(cfg.name, actor.PropsFromProducer(func() actor.Actor {
		return &grain{cfg: cfg, open: open}
	})), nil
}

// grain is a channel grain: a Gateway on the channel to its identity,
// or, if that target may not or cannot be opened, an actor that refuses
// every call with why.
type grain struct {
	cfg    *kindConfig
	open   Opener
	ch     *channel.Channel
	gw     *actorsremote.Gateway
	refuse *status.Error
}

func (g *grain) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *cluster.ClusterInit:
		g.init(ctx, m.Identity.GetIdentity())
	case *actor.Stopped:
		if g.ch != nil {
			// Close waits for the channel's actors to stop: not in
			// Receive. Its calls were cancelled on Stopping.
			go g.ch.Close()
		}
	case *actorspb.UnaryRequest:
		if g.refuse != nil {
			if s := ctx.Sender(); s != nil {
				ctx.Send(s, &actorspb.UnaryResponse{Id: m.GetId(), Code: int32(g.refuse.Code()), Details: g.refuse.Details()})
			}
			return
		}
		g.pass(ctx)
	case *actorspb.StreamOpen:
		if g.refuse != nil {
			if s := ctx.Sender(); s != nil {
				ctx.Send(s, &actorspb.StreamEnd{Id: m.GetId(), Code: int32(g.refuse.Code()), Details: g.refuse.Details()})
			}
			return
		}
		g.pass(ctx)
	default:
		g.pass(ctx)
	}
}

func (g *grain) pass(ctx actor.Context) {
	if g.gw != nil {
		g.gw.Receive(ctx)
	}
}

// init opens the grain's channel.
func (g *grain) init(ctx actor.Context, target string) {
	name := g.cfg.name + "/" + target
	if !g.cfg.targets.allows(target) {
		g.refuse = status.Errorf(codes.PermissionDenied, "target %q is not allowed by cluster kind %q", target, g.cfg.name)
		return
	}
	ch, err := g.open(target)
	if err != nil {
		g.refuse = status.Errorf(codes.InvalidArgument, "%s: opening the channel: %v", name, err)
		return
	}
	if ch == nil {
		g.refuse = status.Errorf(codes.Internal, "%s: the Opener returned no channel", name)
		return
	}
	gw, err := actorsremote.NewGateway(ch, name, g.cfg.gateway...)
	if err != nil { // checked by NewKind
		go ch.Close()
		g.refuse = status.Errorf(codes.Internal, "%s: %v", name, err)
		return
	}
	g.ch, g.gw = ch, gw
	ctx.Logger().Debug("actorscluster: channel grain activated", "grain", name)
}

// ChannelOption configures Channel.
type ChannelOption interface {
	applyChannel(*channelConfig)
}

type channelOptionFunc func(*channelConfig)

func (f channelOptionFunc) applyChannel(c *channelConfig) { f(c) }

type channelConfig struct {
	kind     string
	attempts int
}

// OfKind names the channel grains' kind (default DefaultKind), as Named
// named it on the members.
func OfKind(kind string) ChannelOption {
	return channelOptionFunc(func(c *channelConfig) { c.kind = kind })
}

// Channel returns a handle on the channel grain of target in the cluster
// c (a member or a client of it): the calls made on it with
// actorsremote's Unary, ServerStream, ClientStream and BidiStream reach
// the one member that holds the grain, activated there by its first
// call. The grain's PID is looked up (cluster.Get) when the first call
// needs it, on a goroutine of the handle's, while calls wait in the
// handle; the grain is then watched. When it is lost (its member leaves,
// dies or cannot be reached, or the grain stops), every call in progress
// ends UNAVAILABLE and the next call looks the grain up again, which
// activates it on another member once the cluster's topology no longer
// has the lost one. A lookup that finds no PID is tried again, five times
// in all (a new member, or a topology still settling, may not answer
// yet); then the calls waiting end UNAVAILABLE. Close stops the handle.
func Channel(c *cluster.Cluster, target string, opts ...ChannelOption) *actorsremote.Channel {
	cfg := channelConfig{kind: DefaultKind, attempts: 5}
	for _, o := range opts {
		if o != nil {
			o.applyChannel(&cfg)
		}
	}
	what := cfg.kind + "/" + target
	return actorsremote.Locate(c.ActorSystem, what, func() (*actor.PID, error) {
		for i := range cfg.attempts {
			if c.ActorSystem.IsStopped() {
				break
			}
			if pid := c.Get(target, cfg.kind); pid != nil {
				return pid, nil
			}
			if i < cfg.attempts-1 {
				time.Sleep(time.Duration(100<<i) * time.Millisecond) // a lookup's retry: not a call, not in a Receive
			}
		}
		return nil, status.Errorf(codes.Unavailable, "no member of cluster %q activated grain %s (kind %q, %d lookups)", c.Config.Name, target, cfg.kind, cfg.attempts)
	})
}
