package balancer

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
)

// RingHashConfig is ring_hash's config (gRFC A42, with grpc-go's
// requestHashHeader).
type RingHashConfig struct {
	// MinRingSize is the least number of points on the ring. Default
	// 1024.
	MinRingSize uint64 `json:"minRingSize"`
	// MaxRingSize caps the number of points. Default 4096; at most
	// 8388608.
	MaxRingSize uint64 `json:"maxRingSize"`
	// RequestHashHeader names a request header whose value (values joined
	// with ",") is hashed for calls without a channel.HashKey. "" means
	// none.
	RequestHashHeader string `json:"requestHashHeader"`

	rand func() uint64 // test hook: rand.Uint64
}

const maxRingSizeLimit = 8 << 20

type ringHashBuilder struct{}

func (ringHashBuilder) ParseConfig(config json.RawMessage) (any, error) {
	c := RingHashConfig{MinRingSize: 1024, MaxRingSize: 4096}
	if len(config) == 0 || string(config) == "null" {
		return c, nil
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(config, &raw); err != nil {
		return nil, fmt.Errorf("ring_hash: config %s is not a JSON object", config)
	}
	size := func(name string, dst *uint64) error {
		v, ok := raw[name]
		if !ok || string(v) == "null" {
			return nil
		}
		s := strings.Trim(string(v), `"`) // the proto JSON mapping allows a string
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil || n == 0 || n > maxRingSizeLimit {
			return fmt.Errorf("ring_hash: %s: %s is invalid (want 1..%d)", name, v, maxRingSizeLimit)
		}
		*dst = n
		return nil
	}
	if err := size("minRingSize", &c.MinRingSize); err != nil {
		return nil, err
	}
	if err := size("maxRingSize", &c.MaxRingSize); err != nil {
		return nil, err
	}
	if c.MinRingSize > c.MaxRingSize {
		return nil, fmt.Errorf("ring_hash: minRingSize %d is above maxRingSize %d", c.MinRingSize, c.MaxRingSize)
	}
	if v, ok := raw["requestHashHeader"]; ok && string(v) != "null" {
		if err := json.Unmarshal(v, &c.RequestHashHeader); err != nil {
			return nil, fmt.Errorf("ring_hash: requestHashHeader: %s is not a string", v)
		}
		c.RequestHashHeader = strings.ToLower(c.RequestHashHeader)
		if strings.HasPrefix(c.RequestHashHeader, ":") {
			return nil, fmt.Errorf("ring_hash: requestHashHeader: %q is a pseudo-header", c.RequestHashHeader)
		}
	}
	return c, nil
}

func (ringHashBuilder) Build(config any) Policy {
	c, ok := config.(RingHashConfig)
	if !ok || c.MinRingSize == 0 {
		c.MinRingSize, c.MaxRingSize = 1024, 4096
	}
	if c.rand == nil {
		c.rand = rand.Uint64
	}
	var ring []ringEntry
	gen := -1
	return &endpoints{newPicker: func(e *endpoints, ready []*epSub) Picker {
		if gen != e.addrsGen {
			gen = e.addrsGen
			addrs := make([]Address, len(e.subs))
			for i, s := range e.subs {
				addrs[i] = s.addr
			}
			ring = buildRing(addrs, c.MinRingSize, c.MaxRingSize)
		}
		p := &ringPicker{ring: ring, header: c.RequestHashHeader, rand: c.rand,
			subs: make([]*SubConn, len(e.subs)), ready: make([]bool, len(e.subs))}
		for i, s := range e.subs {
			p.subs[i] = s.sc
		}
		for _, s := range ready {
			p.ready[s.index] = true
		}
		return p
	}}
}

// ringEntry is a point of the ring: a hash and the index of its address.
type ringEntry struct {
	hash uint64
	idx  int
}

// buildRing places the addresses on the ring as gRFC A42 says: each gets
// a share of the points proportional to its weight; the ring has
// min(ceil(minWeight*minSize)/minWeight, maxSize) points, minWeight being
// the smallest normalized weight; the points of an address are the XXH64
// hashes of "<address>_<n>", n counting from 0.
func buildRing(addrs []Address, minSize, maxSize uint64) []ringEntry {
	var total float64
	for _, a := range addrs {
		total += float64(a.weight())
	}
	minNorm := 1.0
	for _, a := range addrs {
		minNorm = min(minNorm, float64(a.weight())/total)
	}
	scale := min(math.Ceil(minNorm*float64(minSize))/minNorm, float64(maxSize))
	ring := make([]ringEntry, 0, int(math.Ceil(scale)))
	var current, target float64
	for i, a := range addrs {
		target += scale * float64(a.weight()) / total
		for n := 0; current < target; n++ {
			ring = append(ring, ringEntry{hash: xxh64(a.Addr + "_" + strconv.Itoa(n)), idx: i})
			current++
		}
	}
	sort.SliceStable(ring, func(i, j int) bool { return ring[i].hash < ring[j].hash })
	return ring
}

// ringPicker is ring_hash's picker: the call's hash (its channel.HashKey,
// else the configured header, else random) finds the first point at or
// after it on the ring; its address takes the call if READY, else the
// next READY address along the ring does.
type ringPicker struct {
	ring   []ringEntry
	subs   []*SubConn // by address index
	ready  []bool     // by address index
	header string
	rand   func() uint64
}

func (p *ringPicker) Pick(info PickInfo) (PickResult, error) {
	h := p.hash(info)
	i := sort.Search(len(p.ring), func(i int) bool { return p.ring[i].hash >= h })
	for j := range len(p.ring) {
		e := p.ring[(i+j)%len(p.ring)]
		if sc := p.subs[e.idx]; p.ready[e.idx] && sc.Usable() {
			return PickResult{SubConn: sc}, nil
		}
	}
	return PickResult{}, ErrNoSubConnAvailable
}

func (p *ringPicker) hash(info PickInfo) uint64 {
	if info.HashKey != "" {
		return xxh64(info.HashKey)
	}
	if p.header != "" {
		switch v := info.Metadata[p.header]; len(v) {
		case 0:
		case 1:
			return xxh64(v[0])
		default:
			return xxh64(strings.Join(v, ","))
		}
	}
	return p.rand()
}
