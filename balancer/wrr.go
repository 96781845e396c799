package balancer

import "sync/atomic"

// maxSchedule bounds the length of weighted_round_robin's schedule: larger
// weights are scaled down to it (each kept at least 1).
const maxSchedule = 4096

// wrrPicker is weighted_round_robin's picker with the weights of the
// addresses (Address.Weight; ORCA load reports are not used). It is
// deterministic and lock-free: a schedule, made once per picker, lists
// the READY subchannels interleaved in proportion to their weights
// (smooth weighted round robin over one period of the reduced weights),
// and a counter the policy's pickers share walks it. Every full period
// gives each subchannel exactly its share.
type wrrPicker struct {
	schedule []*SubConn
	next     *atomic.Uint32
}

func newWRRPicker(e *endpoints, ready []*epSub) Picker {
	weights := make([]uint64, len(ready))
	var sum uint64
	for i, s := range ready {
		weights[i] = uint64(s.addr.weight())
		sum += weights[i]
	}
	g := weights[0]
	for _, w := range weights[1:] {
		g = gcd(g, w)
	}
	sum = 0
	for i := range weights {
		weights[i] /= g
		sum += weights[i]
	}
	if sum > maxSchedule {
		sum = 0
		var top uint64
		for _, w := range weights {
			top = max(top, w)
		}
		for i, w := range weights {
			weights[i] = max(1, w*maxSchedule/uint64(len(weights))/top)
			sum += weights[i]
		}
	}
	// Smooth weighted round robin (as nginx's): each step every entry
	// gains its weight, the largest current value is chosen and loses
	// the total.
	cur := make([]int64, len(weights))
	p := &wrrPicker{schedule: make([]*SubConn, 0, sum), next: e.counter()}
	for range sum {
		best := 0
		for i, w := range weights {
			cur[i] += int64(w)
			if cur[i] > cur[best] {
				best = i
			}
		}
		cur[best] -= int64(sum)
		p.schedule = append(p.schedule, ready[best].sc)
	}
	return p
}

func gcd(a, b uint64) uint64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

func (p *wrrPicker) Pick(PickInfo) (PickResult, error) {
	n := uint32(len(p.schedule))
	start := p.next.Add(1) - 1
	for i := range n {
		if sc := p.schedule[(start+i)%n]; sc.Usable() {
			return PickResult{SubConn: sc}, nil
		}
	}
	return PickResult{}, ErrNoSubConnAvailable
}
