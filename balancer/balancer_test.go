package balancer

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/grpcactor/grpcactor/connectivity"
	"github.com/grpcactor/grpcactor/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.VerifyTestMain(m) }

// harness drives a policy as the channel does, by address: it keeps the
// SubConns the policy made and describes each Update as strings.
type harness struct {
	t      *testing.T
	p      Policy
	subs   map[string]*SubConn
	picker Picker
	state  connectivity.State
}

func newHarness(t *testing.T, name string, config string) *harness {
	t.Helper()
	b, ok := Get(name)
	if !ok {
		t.Fatalf("policy %q not registered", name)
	}
	var raw []byte
	if config != "" {
		raw = []byte(config)
	}
	cfg, err := b.ParseConfig(raw)
	if err != nil {
		t.Fatalf("ParseConfig(%s): %v", config, err)
	}
	return &harness{t: t, p: b.Build(cfg), subs: map[string]*SubConn{}}
}

func addrs(as ...string) []Address {
	var out []Address
	for _, a := range as {
		name, w, _ := strings.Cut(a, "*")
		ad := Address{Network: "tcp", Addr: name}
		if w != "" {
			fmt.Sscan(w, &ad.Weight)
		}
		out = append(out, ad)
	}
	return out
}

func (h *harness) describe(u Update) []string {
	var out []string
	for _, sc := range u.NewSubConns {
		h.subs[sc.Address().Addr] = sc
		out = append(out, "new "+sc.Address().Addr)
	}
	for _, sc := range u.Shutdown {
		delete(h.subs, sc.Address().Addr)
		out = append(out, "shutdown "+sc.Address().Addr)
	}
	for _, sc := range u.Connect {
		out = append(out, "connect "+sc.Address().Addr)
	}
	if u.ResolveNow {
		out = append(out, "resolve")
	}
	if u.Picker != nil {
		h.picker = u.Picker
		out = append(out, "picker")
	}
	if u.State != h.state {
		out = append(out, u.State.String())
		h.state = u.State
	}
	return out
}

func (h *harness) update(as ...string) []string { return h.describe(h.p.UpdateAddresses(addrs(as...))) }

func (h *harness) sub(addr string, s connectivity.State) []string {
	sc := h.subs[addr]
	if sc == nil {
		h.t.Fatalf("no subchannel for %s", addr)
	}
	return h.describe(h.p.UpdateSubConnState(sc, SubConnState{State: s}))
}

// picks returns the addresses of n picks.
func (h *harness) picks(n int, info PickInfo) []string {
	var out []string
	for range n {
		res, err := h.picker.Pick(info)
		if err != nil {
			out = append(out, err.Error())
			continue
		}
		out = append(out, res.SubConn.Address().Addr)
		if res.Done != nil {
			res.Done(DoneInfo{})
		}
	}
	return out
}

type step struct {
	do   func(h *harness) []string
	want []string
}

func upd(as ...string) func(*harness) []string {
	return func(h *harness) []string { return h.update(as...) }
}

func st(addr string, s connectivity.State) func(*harness) []string {
	return func(h *harness) []string { return h.sub(addr, s) }
}

func runSteps(t *testing.T, h *harness, steps []step) {
	t.Helper()
	for i, s := range steps {
		if got := s.do(h); !reflect.DeepEqual(got, s.want) {
			t.Fatalf("step %d: %q, want %q", i, got, s.want)
		}
	}
}

const (
	idle  = connectivity.Idle
	conn  = connectivity.Connecting
	ready = connectivity.Ready
	tf    = connectivity.TransientFailure
)

func TestPickFirst(t *testing.T) {
	h := newHarness(t, PickFirst, "")
	h.state = idle
	runSteps(t, h, []step{
		{upd("a", "b"), []string{"new a", "new b", "connect a", "CONNECTING"}},
		{st("a", tf), []string{"connect b"}},
		{st("b", tf), []string{"resolve", "TRANSIENT_FAILURE"}},
		{st("a", idle), []string{"connect a"}}, // sticky failure: every address keeps trying
		{st("b", ready), []string{"shutdown a", "picker", "READY"}},
		{upd("c", "b"), nil}, // keeps the subchannel in use, adds none
		{st("b", idle), []string{"shutdown b", "resolve", "IDLE"}},
	})
	if got := h.picks(1, PickInfo{}); got[0] != "b" {
		t.Errorf("the last picker picks %v", got)
	}
}

// An update that drops the address pick_first is using starts a new pass
// over the new list (it used to keep no subchannel at all).
func TestPickFirstUpdateDropsSelected(t *testing.T) {
	h := newHarness(t, PickFirst, "")
	h.state = idle
	runSteps(t, h, []step{
		{upd("a", "b"), []string{"new a", "new b", "connect a", "CONNECTING"}},
		{st("a", ready), []string{"shutdown b", "picker", "READY"}},
		{upd("c", "d"), []string{"new c", "new d", "shutdown a", "connect c", "CONNECTING"}},
		{st("c", tf), []string{"connect d"}},
		{st("d", ready), []string{"shutdown c", "picker", "READY"}},
	})
	if got := h.picks(1, PickInfo{}); got[0] != "d" {
		t.Errorf("the picker picks %v, want d", got)
	}
}

func TestRoundRobin(t *testing.T) {
	h := newHarness(t, RoundRobin, "")
	h.state = idle
	runSteps(t, h, []step{
		{upd("a", "b", "c"), []string{"new a", "new b", "new c", "connect a", "connect b", "connect c", "CONNECTING"}},
		{st("a", ready), []string{"picker", "READY"}},
		{st("b", ready), []string{"picker"}},
		{st("c", tf), []string{"resolve"}},
		{st("c", conn), nil}, // the READY set is unchanged: no new picker
	})
	if got := h.picks(4, PickInfo{}); !reflect.DeepEqual(got, []string{"b", "a", "b", "a"}) {
		t.Errorf("picks %q", got)
	}
	runSteps(t, h, []step{
		{st("a", idle), []string{"connect a", "resolve", "picker"}},
		{st("b", idle), []string{"connect b", "resolve", "CONNECTING"}},
		{st("a", tf), []string{"resolve"}},
		{st("b", tf), []string{"resolve", "TRANSIENT_FAILURE"}}, // c failed before: sticky
		{st("c", tf), []string{"resolve"}},
		{st("c", idle), []string{"connect c"}}, // sticky until one connects
		{st("c", ready), []string{"picker", "READY"}},
		{upd("c", "d"), []string{"new d", "shutdown a", "shutdown b", "connect d", "picker"}},
	})
	// A subchannel whose connection stopped taking streams is skipped.
	h.subs["c"].ready.Store(&readyConn{})
	if _, err := h.picker.Pick(PickInfo{}); err != ErrNoSubConnAvailable {
		t.Errorf("pick with no usable subchannel: %v", err)
	}
}

func TestLeastRequest(t *testing.T) {
	b := leastRequestBuilder{}
	if _, err := b.ParseConfig([]byte(`{"choiceCount": 1}`)); err == nil || !strings.Contains(err.Error(), "choiceCount: 1 is invalid") {
		t.Errorf("choiceCount 1: %v", err)
	}
	cfg, err := b.ParseConfig([]byte(`{"choiceCount": 25}`))
	if err != nil || cfg.(LeastRequestConfig).ChoiceCount != 10 {
		t.Errorf("choiceCount 25: %v %v, want capped at 10", cfg, err)
	}
	// The samples are scripted: each pick samples the two next indexes.
	var draws []int
	c := LeastRequestConfig{ChoiceCount: 2, intn: func(n int) int {
		d := draws[0]
		draws = draws[1:]
		return d % n
	}}
	h := &harness{t: t, p: b.Build(c), subs: map[string]*SubConn{}}
	h.update("a", "b", "c")
	for _, a := range []string{"a", "b", "c"} {
		h.sub(a, ready)
	}
	pick := func(i, j int) (string, func(DoneInfo)) {
		draws = append(draws, i, j)
		res, err := h.picker.Pick(PickInfo{})
		if err != nil {
			t.Fatal(err)
		}
		return res.SubConn.Address().Addr, res.Done
	}
	inFlight := func() []int64 {
		return []int64{h.subs["a"].InFlight().Load(), h.subs["b"].InFlight().Load(), h.subs["c"].InFlight().Load()}
	}
	got, doneA := pick(0, 1) // a:0 b:0, the first wins a tie
	if got != "a" {
		t.Fatalf("pick 1: %s", got)
	}
	if got, _ = pick(0, 1); got != "b" { // a has one in flight
		t.Fatalf("pick 2: %s", got)
	}
	if got, _ = pick(0, 2); got != "c" {
		t.Fatalf("pick 3: %s", got)
	}
	if got, _ = pick(1, 0); got != "b" { // a tie goes to the first sampled
		t.Fatalf("pick 4: %s", got)
	}
	if got, _ = pick(1, 2); got != "c" { // b 2, c 1
		t.Fatalf("pick 5: %s", got)
	}
	if f := inFlight(); !reflect.DeepEqual(f, []int64{1, 2, 2}) {
		t.Fatalf("in flight %v, want [1 2 2]", f)
	}
	doneA(DoneInfo{})
	if got, _ = pick(2, 0); got != "a" {
		t.Fatalf("pick after a's call ended: %s", got)
	}
	// The counts live on the SubConn: a new picker keeps them.
	h.sub("c", idle)
	h.sub("c", ready)
	if f := inFlight(); !reflect.DeepEqual(f, []int64{1, 2, 2}) {
		t.Fatalf("in flight after a new picker %v, want [1 2 2]", f)
	}
	if got, _ = pick(1, 2); got != "b" { // a tie
		t.Fatalf("pick with a new picker: %s", got)
	}
}

func TestWeightedRoundRobin(t *testing.T) {
	h := newHarness(t, WeightedRoundRobin, "")
	h.update("a*1", "b*2", "c*3")
	for _, a := range []string{"a", "b", "c"} {
		h.sub(a, ready)
	}
	got := h.picks(6, PickInfo{})
	if !reflect.DeepEqual(got, []string{"c", "b", "a", "c", "b", "c"}) {
		t.Errorf("one period: %q, want the smooth interleaving c b a c b c", got)
	}
	// Any 600 consecutive picks hold exactly 100 periods.
	h.picks(5, PickInfo{})
	counts := map[string]int{}
	for _, a := range h.picks(600, PickInfo{}) {
		counts[a]++
	}
	if counts["a"] != 100 || counts["b"] != 200 || counts["c"] != 300 {
		t.Errorf("600 picks: %v, want a 100, b 200, c 300", counts)
	}
	// New weights, same subchannels: a new schedule.
	h.update("a*4", "b*0", "c*4") // 0 counts as 1
	counts = map[string]int{}
	for _, a := range h.picks(900, PickInfo{}) {
		counts[a]++
	}
	if counts["a"] != 400 || counts["b"] != 100 || counts["c"] != 400 {
		t.Errorf("900 picks with weights 4 1 4: %v", counts)
	}
	// Huge weights are scaled down to a bounded schedule.
	h.update("a*1000000", "b*3000000", "c*1")
	if n := len(h.picker.(*wrrPicker).schedule); n > maxSchedule+3 {
		t.Errorf("schedule of %d entries, want at most about %d", n, maxSchedule)
	}
	// A subchannel not READY leaves the schedule.
	h.sub("c", idle)
	for _, a := range h.picks(50, PickInfo{}) {
		if a == "c" {
			t.Fatal("picked a subchannel that is not READY")
		}
	}
}

func TestParseConfigErrors(t *testing.T) {
	tests := []struct {
		name, config, want string
	}{
		{RingHash, `{"minRingSize": 0}`, "minRingSize: 0 is invalid"},
		{RingHash, `{"maxRingSize": 8388609}`, "maxRingSize: 8388609 is invalid"},
		{RingHash, `{"minRingSize": 10, "maxRingSize": 5}`, "minRingSize 10 is above maxRingSize 5"},
		{RingHash, `{"requestHashHeader": ":path"}`, "pseudo-header"},
		{RingHash, `[]`, "not a JSON object"},
		{LeastRequest, `{"choiceCount": "x"}`, "not a whole number"},
		{PickFirst, `{"shuffleAddressList": 1}`, "not a boolean"},
		{RoundRobin, `3`, "not a JSON object"},
	}
	for _, tt := range tests {
		b, _ := Get(tt.name)
		_, err := b.ParseConfig([]byte(tt.config))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s %s: %v, want an error with %q", tt.name, tt.config, err, tt.want)
		}
	}
	b, _ := Get(RingHash)
	c, err := b.ParseConfig([]byte(`{"minRingSize": "16", "maxRingSize": 64, "requestHashHeader": "X-Shard"}`))
	want := RingHashConfig{MinRingSize: 16, MaxRingSize: 64, RequestHashHeader: "x-shard"}
	if err != nil || fmt.Sprintf("%+v", c) != fmt.Sprintf("%+v", want) {
		t.Errorf("ring_hash config: %+v %v, want %+v", c, err, want)
	}
}

func TestRegister(t *testing.T) {
	names := Names()
	for _, n := range []string{PickFirst, RoundRobin, LeastRequest, RingHash, WeightedRoundRobin, "ring_hash_experimental", "least_request_experimental"} {
		if _, ok := Get(n); !ok {
			t.Errorf("%s is not registered (have %v)", n, names)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("Register with no name did not panic")
		}
	}()
	Register("", pickFirstBuilder{})
}
