package balancer

import (
	"encoding/json"
	"sync/atomic"

	"github.com/grpcactor/grpcactor/connectivity"
)

// endpoints is the part round_robin, least_request, ring_hash and
// weighted_round_robin share: a subchannel per address, all connected at
// once and reconnected as soon as they go IDLE; a re-resolution asked for
// after a failure or a lost connection; the aggregate state of gRFC A61
// (READY if any subchannel is; else CONNECTING if any is connecting and
// has not failed since it was last READY; else TRANSIENT_FAILURE, sticky
// until a subchannel connects). Only the picker differs, made by newPicker
// whenever the set of READY subchannels (or the addresses) changes.
type endpoints struct {
	subs      []*epSub // in address order
	newPicker func(e *endpoints, ready []*epSub) Picker
	readySet  []*SubConn // the READY subchannels of the current picker
	addrsGen  int        // counts address updates (ring_hash rebuilds its ring)
	rr        atomic.Uint32
	up        Update
}

// counter is the round-robin counter the policy's pickers share, so that
// a new picker continues the rotation.
func (e *endpoints) counter() *atomic.Uint32 { return &e.rr }

type epSub struct {
	sc     *SubConn
	addr   Address // the latest (its weight may change; sc keeps the first)
	state  connectivity.State
	sticky bool // failed since it was last READY
	index  int  // position in subs
}

// endpointBuilder builds an endpoints policy with a picker maker.
type endpointBuilder struct {
	name   string
	picker func(e *endpoints, ready []*epSub) Picker
}

func (b endpointBuilder) ParseConfig(config json.RawMessage) (any, error) {
	return nil, noConfig(b.name, config)
}

func (b endpointBuilder) Build(any) Policy { return &endpoints{newPicker: b.picker} }

func (e *endpoints) UpdateAddresses(addrs []Address) Update {
	e.up = Update{}
	e.addrsGen++
	old := map[addrKey]*epSub{}
	for _, s := range e.subs {
		old[s.sc.addr.key()] = s
	}
	var subs []*epSub
	for _, a := range addrs {
		if s, ok := old[a.key()]; ok {
			s.addr = a // a new weight
			subs = append(subs, s)
			delete(old, a.key())
			continue
		}
		if seen(subs, a) {
			continue // a duplicate address
		}
		s := &epSub{sc: NewSubConn(a), addr: a}
		e.up.NewSubConns = append(e.up.NewSubConns, s.sc)
		subs = append(subs, s)
	}
	for _, s := range e.subs {
		if _, gone := old[s.sc.addr.key()]; gone {
			e.up.Shutdown = append(e.up.Shutdown, s.sc)
		}
	}
	e.subs = subs
	for i, s := range e.subs {
		s.index = i
		if s.state == connectivity.Idle {
			e.up.Connect = append(e.up.Connect, s.sc)
		}
	}
	e.readySet = nil // the addresses changed: a new picker
	return e.finish(true)
}

func seen(subs []*epSub, a Address) bool {
	for _, s := range subs {
		if s.sc.addr.key() == a.key() {
			return true
		}
	}
	return false
}

func (e *endpoints) UpdateSubConnState(sc *SubConn, st SubConnState) Update {
	e.up = Update{}
	var s *epSub
	for _, o := range e.subs {
		if o.sc == sc {
			s = o
		}
	}
	if s == nil {
		return e.finish(false)
	}
	prev := s.state
	s.state = st.State
	switch st.State {
	case connectivity.Ready:
		s.sticky = false
	case connectivity.TransientFailure:
		s.sticky = true
		e.up.ResolveNow = true
	case connectivity.Idle:
		e.up.Connect = append(e.up.Connect, s.sc) // reconnect at once
		if prev == connectivity.Ready {
			e.up.ResolveNow = true
		}
	}
	return e.finish(false)
}

// finish sets the update's state and, when the READY set changed (or
// force), a new picker.
func (e *endpoints) finish(force bool) Update {
	var ready []*epSub
	anyConnecting := false
	for _, s := range e.subs {
		switch {
		case s.state == connectivity.Ready:
			ready = append(ready, s)
		case !s.sticky && (s.state == connectivity.Connecting || s.state == connectivity.Idle):
			anyConnecting = true
		}
	}
	switch {
	case len(ready) > 0:
		e.up.State = connectivity.Ready
	case anyConnecting:
		e.up.State = connectivity.Connecting
	default:
		e.up.State = connectivity.TransientFailure
	}
	set := make([]*SubConn, len(ready))
	for i, s := range ready {
		set[i] = s.sc
	}
	if len(ready) > 0 && (force || !sameSubConns(set, e.readySet)) {
		e.readySet = set
		e.up.Picker = e.newPicker(e, ready)
	}
	if len(ready) == 0 {
		e.readySet = nil
	}
	return e.up
}

// rrPicker is round_robin's picker: the READY subchannels in address
// order, taken in turn from a counter the policy's pickers share; one that
// no longer takes streams is skipped.
type rrPicker struct {
	subs []*SubConn
	next *atomic.Uint32
}

func newRRPicker(e *endpoints, ready []*epSub) Picker {
	p := &rrPicker{next: e.counter()}
	for _, s := range ready {
		p.subs = append(p.subs, s.sc)
	}
	return p
}

func (p *rrPicker) Pick(PickInfo) (PickResult, error) {
	n := uint32(len(p.subs))
	start := uint32(0)
	if n > 1 {
		start = p.next.Add(1)
	}
	for i := range n {
		if sc := p.subs[(start+i)%n]; sc.Usable() {
			return PickResult{SubConn: sc}, nil
		}
	}
	return PickResult{}, ErrNoSubConnAvailable
}
