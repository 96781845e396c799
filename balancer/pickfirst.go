package balancer

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/grpcactor/grpcactor/connectivity"
)

// PickFirstConfig is pick_first's config.
type PickFirstConfig struct {
	// ShuffleAddressList shuffles the addresses before connecting (gRFC
	// A62); the channel does the shuffling.
	ShuffleAddressList bool `json:"shuffleAddressList"`
}

type pickFirstBuilder struct{}

func (pickFirstBuilder) ParseConfig(config json.RawMessage) (any, error) {
	var c PickFirstConfig
	if len(config) == 0 || string(config) == "null" {
		return c, nil
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(config, &raw); err != nil {
		return nil, fmt.Errorf("pick_first: config %s is not a JSON object", config)
	}
	if v, ok := raw["shuffleAddressList"]; ok && string(v) != "null" {
		if err := json.Unmarshal(v, &c.ShuffleAddressList); err != nil {
			return nil, fmt.Errorf("pick_first: shuffleAddressList: %s is not a boolean", v)
		}
	}
	return c, nil
}

func (pickFirstBuilder) Build(any) Policy { return &pickFirst{} }

// pickFirst connects to the addresses one at a time, in order, and keeps
// the first that connects; the others are shut down. When every address
// has failed it is TRANSIENT_FAILURE (sticky, gRFC A62: every address keeps
// trying, and the state stays until one connects). When the connection in
// use is lost it goes IDLE (the channel reconnects on the next call).
type pickFirst struct {
	subs       []*pfSub // in address order
	selected   *pfSub   // the READY subchannel in use
	passIdx    int      // the subchannel the current pass is trying
	passFailed bool     // every address failed since the last READY
	picked     *SubConn // what the current picker returns
	up         Update
}

type pfSub struct {
	sc    *SubConn
	state connectivity.State
}

func (p *pickFirst) UpdateAddresses(addrs []Address) Update {
	p.up = Update{}
	created := false
	// The selected subchannel is kept alone while the new list still has
	// its address; an update that drops it starts a new pass over the new
	// list.
	keepSelected := p.selected != nil && slices.ContainsFunc(addrs, func(a Address) bool { return a.key() == p.selected.sc.addr.key() })
	old := map[addrKey]*pfSub{}
	for _, s := range p.subs {
		old[s.sc.addr.key()] = s
	}
	var subs []*pfSub
	for _, a := range addrs {
		if s, ok := old[a.key()]; ok {
			subs = append(subs, s)
			delete(old, a.key())
			continue
		}
		if keepSelected {
			continue // keeps only the selected subchannel
		}
		s := &pfSub{sc: NewSubConn(a)}
		created = true
		p.up.NewSubConns = append(p.up.NewSubConns, s.sc)
		subs = append(subs, s)
	}
	for _, s := range p.subs {
		if _, gone := old[s.sc.addr.key()]; gone {
			p.up.Shutdown = append(p.up.Shutdown, s.sc)
			if s == p.selected {
				p.selected = nil
			}
		}
	}
	p.subs = subs
	if p.selected == nil && (created || !p.passFailed) {
		// A new pass over the addresses, in order. A subchannel still
		// backing off connects when it reports IDLE.
		p.passFailed = false
		p.passIdx = 0
		if len(p.subs) > 0 && p.subs[0].state == connectivity.Idle {
			p.up.Connect = append(p.up.Connect, p.subs[0].sc)
		}
	}
	return p.finish()
}

func (p *pickFirst) UpdateSubConnState(sc *SubConn, st SubConnState) Update {
	p.up = Update{}
	i, s := -1, (*pfSub)(nil)
	for j, o := range p.subs {
		if o.sc == sc {
			i, s = j, o
		}
	}
	if s == nil {
		return p.finish()
	}
	s.state = st.State
	switch st.State {
	case connectivity.Ready:
		if p.selected == nil {
			p.selected = s
			p.passFailed = false
			for _, o := range p.subs {
				if o != s {
					p.up.Shutdown = append(p.up.Shutdown, o.sc)
				}
			}
			p.subs = []*pfSub{s}
		}
	case connectivity.Idle:
		if s == p.selected {
			// The connection in use was lost: IDLE, and re-resolve.
			for _, o := range p.subs {
				p.up.Shutdown = append(p.up.Shutdown, o.sc)
			}
			*p = pickFirst{up: p.up}
			p.up.ResolveNow = true
			p.up.State = connectivity.Idle
			return p.up
		}
		if p.selected == nil && (p.passFailed || i == p.passIdx) {
			// Sticky TRANSIENT_FAILURE keeps every address trying; during
			// a pass, the address whose turn it is connects.
			p.up.Connect = append(p.up.Connect, s.sc)
		}
	case connectivity.TransientFailure:
		if p.selected == nil && !p.passFailed && i == p.passIdx {
			if i+1 < len(p.subs) {
				p.passIdx = i + 1
				if p.subs[i+1].state == connectivity.Idle {
					p.up.Connect = append(p.up.Connect, p.subs[i+1].sc)
				}
			} else {
				p.passFailed = true
				p.up.ResolveNow = true
			}
		}
	}
	return p.finish()
}

// finish sets the update's state and picker.
func (p *pickFirst) finish() Update {
	switch {
	case p.selected != nil && p.selected.state == connectivity.Ready:
		p.up.State = connectivity.Ready
		if p.picked != p.selected.sc {
			p.picked = p.selected.sc
			p.up.Picker = &pickFirstPicker{p.picked}
		}
	case p.passFailed:
		p.up.State = connectivity.TransientFailure
	default:
		p.up.State = connectivity.Connecting
	}
	if p.up.State != connectivity.Ready {
		p.picked = nil
	}
	return p.up
}

type pickFirstPicker struct{ sc *SubConn }

func (p *pickFirstPicker) Pick(PickInfo) (PickResult, error) {
	if !p.sc.Usable() {
		return PickResult{}, ErrNoSubConnAvailable
	}
	return PickResult{SubConn: p.sc}, nil
}
