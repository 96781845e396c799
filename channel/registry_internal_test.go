package channel

import (
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"unsafe"
)

// checkRegistry fails t unless r holds exactly want, each call at the
// index of its shard its slot names, and counts them.
func checkRegistry(t *testing.T, r *callRegistry, want []*callState) {
	t.Helper()
	in := map[*callState]bool{}
	for i := range r.shards {
		s := &r.shards[i].shardState
		for j, c := range s.calls {
			if int(c.shard) != i {
				t.Fatalf("call %p in shard %d, not its own", c, i)
			}
			if c.slot != uint32(j+1) {
				t.Fatalf("call %p at index %d of shard %d has slot %d", c, j, i, c.slot)
			}
			if in[c] {
				t.Fatalf("call %p registered twice", c)
			}
			in[c] = true
		}
	}
	for _, c := range want {
		if !in[c] {
			t.Fatalf("call %p missing", c)
		}
	}
	if len(in) != len(want) || r.len() != len(want) {
		t.Fatalf("%d calls registered, len %d, want %d", len(in), r.len(), len(want))
	}
}

// newCalls returns n calls: enough, for n of some hundreds, for each
// shard to hold several and removal to move calls within a shard.
func newCalls(n int) []*callState {
	calls := make([]*callState, n)
	for i := range calls {
		calls[i] = &callState{}
	}
	return calls
}

// filled returns a registry holding n new calls, and the calls.
func filled(n int) (*callRegistry, []*callState) {
	r := new(callRegistry)
	calls := newCalls(n)
	for _, c := range calls {
		r.add(c)
	}
	return r, calls
}

func TestRegistryAddRemove(t *testing.T) {
	const n = 200
	shuffled := func(calls []*callState) []*callState {
		c := slices.Clone(calls)
		rand.New(rand.NewPCG(1, 2)).Shuffle(len(c), func(i, j int) { c[i], c[j] = c[j], c[i] })
		return c
	}
	for _, tc := range []struct {
		name  string
		order func(calls []*callState) []*callState // the order of removal
	}{
		{"as added", slices.Clone[[]*callState]},
		{"reversed", func(calls []*callState) []*callState {
			c := slices.Clone(calls)
			slices.Reverse(c)
			return c
		}},
		{"shuffled", shuffled},
		{"middle first", func(calls []*callState) []*callState {
			return slices.Concat(calls[n/3:2*n/3], calls[:n/3], calls[2*n/3:])
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r callRegistry
			calls := newCalls(n)
			for i, c := range calls {
				if !r.add(c) {
					t.Fatalf("add %d refused", i)
				}
			}
			checkRegistry(t, &r, calls)
			if got := r.starts(); got != n {
				t.Fatalf("starts %d, want %d", got, n)
			}
			left := slices.Clone(calls)
			for i, c := range tc.order(calls) {
				r.remove(c)
				left = slices.DeleteFunc(left, func(x *callState) bool { return x == c })
				if i%17 == 0 || len(left) < 5 {
					checkRegistry(t, &r, left)
				}
				if c.slot != 0 {
					t.Fatalf("removed call has slot %d", c.slot)
				}
			}
			checkRegistry(t, &r, nil)
			if got := r.starts(); got != n {
				t.Fatalf("starts %d after removals, want %d", got, n)
			}
		})
	}
}

// Removing a call twice, or one never added, changes nothing; a call
// removed can be added again.
func TestRegistryRemoveIdempotent(t *testing.T) {
	r, calls := filled(100)
	stranger := &callState{}
	r.remove(stranger)
	r.remove(calls[10])
	r.remove(calls[10])
	r.remove(calls[50])
	want := slices.Concat(calls[:10], calls[11:50], calls[51:])
	checkRegistry(t, r, want)
	r.add(calls[10])
	checkRegistry(t, r, append(want, calls[10]))
}

// Interleaved adds and removes keep every index right.
func TestRegistryInterleaved(t *testing.T) {
	var r callRegistry
	rnd := rand.New(rand.NewPCG(3, 4))
	pool := newCalls(300)
	var in []*callState
	for step := range 3000 {
		if len(in) > 0 && rnd.IntN(2) == 0 {
			i := rnd.IntN(len(in))
			r.remove(in[i])
			in = slices.Delete(in, i, i+1)
		} else {
			c := pool[rnd.IntN(len(pool))]
			if c.slot != 0 {
				continue
			}
			r.add(c)
			in = append(in, c)
		}
		if step%100 == 0 {
			checkRegistry(t, &r, in)
		}
	}
	checkRegistry(t, &r, in)
}

// take returns every call, each once, empties the registry and closes
// it: later adds are refused, and removing a call taken changes nothing.
func TestRegistryTake(t *testing.T) {
	var r callRegistry
	calls := newCalls(150)
	for _, c := range calls {
		r.add(c)
	}
	r.remove(calls[0])
	got := r.take()
	if len(got) != len(calls)-1 {
		t.Fatalf("take returned %d calls, want %d", len(got), len(calls)-1)
	}
	seen := map[*callState]bool{}
	for _, c := range got {
		if seen[c] || c == calls[0] {
			t.Fatalf("take returned %p twice or removed", c)
		}
		seen[c] = true
		if c.slot != 0 {
			t.Fatalf("a call taken has slot %d", c.slot)
		}
	}
	checkRegistry(t, &r, nil)
	r.remove(calls[5])
	checkRegistry(t, &r, nil)
	if r.add(&callState{}) || r.add(calls[0]) {
		t.Fatal("add after take accepted")
	}
	checkRegistry(t, &r, nil)
	if again := r.take(); len(again) != 0 {
		t.Fatalf("second take returned %d calls", len(again))
	}
}

// closeWait's channel closes when the last call leaves, however the
// calls leave, and not before; an empty registry needs no wait.
func TestRegistryCloseWait(t *testing.T) {
	closed := func(c <-chan struct{}) bool {
		select {
		case <-c:
			return true
		default:
			return false
		}
	}
	t.Run("empty", func(t *testing.T) {
		var r callRegistry
		c := r.add(&callState{})
		if !c {
			t.Fatal("add refused")
		}
		r.take()
		if w := r.closeWait(); w != nil {
			t.Fatal("closeWait of an empty registry returned a channel")
		}
		var r2 callRegistry
		if w := r2.closeWait(); w != nil {
			t.Fatal("closeWait of a new registry returned a channel")
		}
		if r2.add(&callState{}) {
			t.Fatal("add after closeWait accepted")
		}
	})
	t.Run("removals", func(t *testing.T) {
		r, calls := filled(100)
		w := r.closeWait()
		if w == nil {
			t.Fatal("closeWait with calls returned nil")
		}
		if r.add(&callState{}) {
			t.Fatal("add after closeWait accepted")
		}
		if w2 := r.closeWait(); w2 != w {
			t.Fatal("a second closeWait returned another channel")
		}
		for i, c := range calls {
			if closed(w) {
				t.Fatalf("closed with %d calls left", len(calls)-i)
			}
			r.remove(c)
		}
		if !closed(w) {
			t.Fatal("not closed once empty")
		}
		if w3 := r.closeWait(); w3 != nil {
			t.Fatal("closeWait once empty returned a channel")
		}
	})
	t.Run("take", func(t *testing.T) {
		r, calls := filled(100)
		w := r.closeWait()
		r.remove(calls[3])
		if closed(w) {
			t.Fatal("closed with calls left")
		}
		if got := r.take(); len(got) != len(calls)-1 {
			t.Fatalf("take returned %d calls, want %d", len(got), len(calls)-1)
		}
		if !closed(w) {
			t.Fatal("not closed once take emptied the registry")
		}
		for _, c := range calls {
			r.remove(c) // the calls' own ends, after Close's cancel
		}
		checkRegistry(t, r, nil)
	})
}

// While goroutines add and remove calls, take returns every call added
// and not removed before it, and refuses every add after it: none is lost.
func TestRegistryTakeConcurrent(t *testing.T) {
	for round := range 20 {
		var r callRegistry
		const workers = 16
		kept := make([][]*callState, workers) // added and never removed by their goroutine
		var wg, started, first sync.WaitGroup
		started.Add(workers)
		first.Add(workers)
		for w := range workers {
			wg.Go(func() {
				started.Done()
				for i := 0; ; i++ {
					c := &callState{}
					if !r.add(c) {
						if i == 0 {
							first.Done()
						}
						return
					}
					if i%3 == 0 {
						kept[w] = append(kept[w], c)
						if i == 0 {
							first.Done()
						}
						continue
					}
					r.remove(c)
				}
			})
		}
		started.Wait()
		if round%2 == 0 {
			first.Wait() // each goroutine has a call in
		}
		got := r.take()
		wg.Wait()
		taken := map[*callState]bool{}
		for _, c := range got {
			if taken[c] {
				t.Fatalf("call %p taken twice", c)
			}
			taken[c] = true
		}
		n := 0
		for _, cs := range kept {
			for _, c := range cs {
				if !taken[c] {
					t.Fatalf("round %d: call %p added, never removed, not taken", round, c)
				}
				n++
			}
		}
		// Calls removed as take ran may be taken too; nothing else.
		if len(got) < n {
			t.Fatalf("take returned %d calls, %d kept", len(got), n)
		}
		checkRegistry(t, &r, nil)
		if r.add(&callState{}) {
			t.Fatal("add after take accepted")
		}
	}
}

// closeWait as goroutines add and remove calls: its channel closes once
// the calls in then have all gone.
func TestRegistryCloseWaitConcurrent(t *testing.T) {
	for range 20 {
		var r callRegistry
		const workers = 16
		held := make([][]*callState, workers)
		var wg, started sync.WaitGroup
		started.Add(workers)
		for w := range workers {
			wg.Go(func() {
				started.Done()
				for i := 0; ; i++ {
					c := &callState{}
					if !r.add(c) {
						return
					}
					if i%5 == 0 && len(held[w]) < 50 {
						held[w] = append(held[w], c)
						continue
					}
					r.remove(c)
				}
			})
		}
		started.Wait()
		w := r.closeWait()
		wg.Wait()
		for _, cs := range held {
			for _, c := range cs {
				r.remove(c)
			}
		}
		checkRegistry(t, &r, nil)
		if w != nil {
			<-w // hangs (the test's timeout) if the wake-up is lost
		}
	}
}

// A call's state keeps within its size class with the registry's slot in
// it (TestCallStateSize), and no shard shares a cache line pair.
func TestRegistryShardSize(t *testing.T) {
	if n := unsafe.Sizeof(regShard{}); n != shardPad {
		t.Fatalf("a shard takes %d bytes, want %d", n, shardPad)
	}
}
