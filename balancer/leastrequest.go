package balancer

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
)

// LeastRequestConfig is least_request's config (gRFC A48).
type LeastRequestConfig struct {
	// ChoiceCount is how many READY subchannels a pick samples; the one
	// with the fewest calls in flight wins. At least 2; above 10 it is
	// capped at 10. Default 2.
	ChoiceCount uint32 `json:"choiceCount"`

	intn func(n int) int // test hook: rand.IntN
}

type leastRequestBuilder struct{}

func (leastRequestBuilder) ParseConfig(config json.RawMessage) (any, error) {
	c := LeastRequestConfig{ChoiceCount: 2}
	if len(config) == 0 || string(config) == "null" {
		return c, nil
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(config, &raw); err != nil {
		return nil, fmt.Errorf("least_request: config %s is not a JSON object", config)
	}
	if v, ok := raw["choiceCount"]; ok && string(v) != "null" {
		var n float64
		if err := json.Unmarshal(v, &n); err != nil || n != float64(uint32(n)) {
			return nil, fmt.Errorf("least_request: choiceCount: %s is not a whole number", v)
		}
		if n < 2 {
			return nil, fmt.Errorf("least_request: choiceCount: %s is invalid (must be at least 2)", v)
		}
		c.ChoiceCount = uint32(min(n, 10))
	}
	return c, nil
}

func (leastRequestBuilder) Build(config any) Policy {
	c, ok := config.(LeastRequestConfig)
	if !ok || c.ChoiceCount < 2 {
		c = LeastRequestConfig{ChoiceCount: 2, intn: c.intn}
	}
	if c.intn == nil {
		c.intn = rand.IntN
	}
	return &endpoints{newPicker: func(_ *endpoints, ready []*epSub) Picker {
		p := &lrPicker{choice: int(c.ChoiceCount), intn: c.intn}
		for _, s := range ready {
			p.subs = append(p.subs, lrEntry{s.sc, s.sc.done})
		}
		return p
	}}
}

// lrPicker is least_request's picker (gRFC A48): it samples ChoiceCount
// READY subchannels at random (with replacement) and takes the one with
// the fewest calls in flight, counted on the SubConn (InFlight): one more
// on the pick, one less when the call ends.
type lrPicker struct {
	subs   []lrEntry
	choice int
	intn   func(int) int
}

type lrEntry struct {
	sc   *SubConn
	done func(DoneInfo) // made once per SubConn: a pick allocates nothing
}

func (p *lrPicker) Pick(PickInfo) (PickResult, error) {
	var best *lrEntry
	var bestN int64
	for range p.choice {
		e := &p.subs[p.intn(len(p.subs))]
		if !e.sc.Usable() {
			continue
		}
		if n := e.sc.inFlight.Load(); best == nil || n < bestN {
			best, bestN = e, n
		}
	}
	if best == nil {
		// Every sample was unusable: take the least loaded usable one.
		for i := range p.subs {
			e := &p.subs[i]
			if !e.sc.Usable() {
				continue
			}
			if n := e.sc.inFlight.Load(); best == nil || n < bestN {
				best, bestN = e, n
			}
		}
		if best == nil {
			return PickResult{}, ErrNoSubConnAvailable
		}
	}
	best.sc.inFlight.Add(1)
	return PickResult{SubConn: best.sc, Done: best.done}, nil
}
