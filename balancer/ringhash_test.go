package balancer

import (
	"fmt"
	"strings"
	"testing"

	"github.com/grpcactor/grpcactor/metadata"
)

func TestXXH64(t *testing.T) {
	// Digests from the reference implementation (github.com/cespare/xxhash).
	for _, tt := range []struct {
		in   string
		want uint64
	}{
		{"", 0xef46db3751d8e999},
		{"a", 0xd24ec4f1a98c6e5b},
		{"abc", 0x44bc2cf5ad770999},
		{"127.0.0.1:8080_0", 0xf673a43b9624fa24},
		{"12345678901234567890123456789012", 0x40fd1aa52d98274c},
		{strings.Repeat("grpcactor ring ", 7), 0x990d9f82ff7559b2},
	} {
		if got := xxh64(tt.in); got != tt.want {
			t.Errorf("xxh64(%q) = %#x, want %#x", tt.in, got, tt.want)
		}
	}
}

func TestBuildRing(t *testing.T) {
	tests := []struct {
		addrs    []Address
		min, max uint64
		want     map[string]int // points per address
	}{
		// ceil(1/3 * 1024) / (1/3) = 1026 points, 342 each.
		{addrs("a", "b", "c"), 1024, 4096, map[string]int{"a": 342, "b": 342, "c": 342}},
		{addrs("a", "b"), 1024, 4096, map[string]int{"a": 512, "b": 512}},
		// Weights 1:3: the smaller gets ceil(0.25*1024)=256, scale 1024.
		{addrs("a*1", "b*3"), 1024, 4096, map[string]int{"a": 256, "b": 768}},
		// ceil(0.01*1024)/0.01 = 1100 points; with 1:9999, maxRingSize caps the ring.
		{addrs("a*1", "b*99"), 1024, 4096, map[string]int{"a": 11, "b": 1089}},
		{addrs("a*1", "b*9999"), 1024, 4096, map[string]int{"a": 1, "b": 4095}},
		{addrs("a", "b", "c"), 1, 4096, map[string]int{"a": 1, "b": 1, "c": 1}},
	}
	for _, tt := range tests {
		ring := buildRing(tt.addrs, tt.min, tt.max)
		got := map[string]int{}
		for i, e := range ring {
			got[tt.addrs[e.idx].Addr]++
			if i > 0 && ring[i-1].hash > e.hash {
				t.Fatalf("ring not sorted at %d", i)
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("ring of %v (%d..%d): points %v, want %v", tt.addrs, tt.min, tt.max, got, tt.want)
		}
	}
}

// keyOwners maps each of n keys to the address ring_hash picks for it.
func keyOwners(t *testing.T, h *harness, n int) map[string]string {
	t.Helper()
	out := map[string]string{}
	for i := range n {
		key := fmt.Sprintf("user-%d", i)
		res, err := h.picker.Pick(PickInfo{HashKey: key})
		if err != nil {
			t.Fatal(err)
		}
		out[key] = res.SubConn.Address().Addr
	}
	return out
}

func readyHarness(t *testing.T, config string, as ...string) *harness {
	h := newHarness(t, RingHash, config)
	h.update(as...)
	for _, a := range as {
		h.sub(strings.Split(a, "*")[0], ready)
	}
	return h
}

func TestRingHashAffinity(t *testing.T) {
	const keys = 3000
	for _, tt := range []struct {
		config string
		// the most keys of the servers that stay that may move when one
		// is removed (A42 rescales the ring: the others gain points)
		maxMoved float64
	}{
		{`{"minRingSize": 1}`, 0}, // one point each, before and after
		{"", 0.15},
	} {
		h := readyHarness(t, tt.config, "10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80")
		before := keyOwners(t, h, keys)
		per := map[string]int{}
		for _, a := range before {
			per[a]++
		}
		if tt.config == "" {
			for a, n := range per {
				if n < keys/6 {
					t.Errorf("default ring: %s owns %d of %d keys", a, n, keys)
				}
			}
		}
		if again := keyOwners(t, h, keys); fmt.Sprint(again) != fmt.Sprint(before) {
			t.Fatal("the same keys went elsewhere on a second pass")
		}
		h.update("10.0.0.1:80", "10.0.0.3:80") // 10.0.0.2 removed
		after := keyOwners(t, h, keys)
		moved, stayed := 0, 0
		for k, a := range before {
			switch {
			case a == "10.0.0.2:80":
				if after[k] == a {
					t.Fatalf("key %s still goes to the removed server", k)
				}
			case after[k] != a:
				moved++
			default:
				stayed++
			}
		}
		if f := float64(moved) / float64(moved+stayed); f > tt.maxMoved {
			t.Errorf("config %q: %d of %d keys of the remaining servers moved (%.1f%%), want at most %.0f%%", tt.config, moved, moved+stayed, 100*f, 100*tt.maxMoved)
		} else {
			t.Logf("config %q: %d of %d keys of the remaining servers moved", tt.config, moved, moved+stayed)
		}
	}
}

func TestRingHashPick(t *testing.T) {
	h := readyHarness(t, `{"requestHashHeader": "x-shard"}`, "a:1", "b:1", "c:1")
	var rnd uint64
	h.picker.(*ringPicker).rand = func() uint64 { rnd += 1 << 60; return rnd }
	owner := func(info PickInfo) string {
		res, err := h.picker.Pick(info)
		if err != nil {
			t.Fatal(err)
		}
		return res.SubConn.Address().Addr
	}
	// The header's value hashes as the same key would.
	for i := range 50 {
		key := fmt.Sprint("k", i)
		if a, b := owner(PickInfo{HashKey: key}), owner(PickInfo{Metadata: metadata.Pairs("x-shard", key)}); a != b {
			t.Fatalf("key %s: HashKey picks %s, header picks %s", key, a, b)
		}
	}
	// No key: a random hash each time, so calls spread.
	seen := map[string]bool{}
	for range 16 {
		seen[owner(PickInfo{})] = true
	}
	if len(seen) != 3 {
		t.Errorf("keyless picks reached %v", seen)
	}
	// A key whose server is not READY goes to the next READY one along
	// the ring, and comes back when it is READY again.
	key := PickInfo{HashKey: "pinned"}
	first := owner(key)
	h.sub(first, idle)
	if other := owner(key); other == first {
		t.Fatalf("key still picks %s, which is not READY", first)
	}
	h.sub(first, ready)
	if back := owner(key); back != first {
		t.Fatalf("key picks %s once %s is READY again", back, first)
	}
}

// A duplicate address gets one subchannel, and the ring still maps every
// point to a subchannel the picker knows.
func TestRingHashDuplicateAddress(t *testing.T) {
	h := newHarness(t, RingHash, "")
	if got := h.update("a:1", "a:1", "b:1"); fmt.Sprint(got) != "[new a:1 new b:1 connect a:1 connect b:1 CONNECTING]" {
		t.Fatalf("update: %q", got)
	}
	h.sub("b:1", ready)
	for i := range 200 {
		res, err := h.picker.Pick(PickInfo{HashKey: fmt.Sprint(i)})
		if err != nil || res.SubConn.Address().Addr != "b:1" {
			t.Fatalf("key %d: %v %v, want b:1 (the only READY one)", i, res.SubConn, err)
		}
	}
}
