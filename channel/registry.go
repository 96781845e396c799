package channel

import (
	"sync"
	"sync/atomic"
	"unsafe"
)

// registryShards is how many shards a channel's call registry has
// (2^registryBits): with a call's shard taken from its address, callers
// on different Ps seldom meet on one lock.
const (
	registryBits   = 4
	registryShards = 1 << registryBits
)

// shardPad is the room each shard takes: two cache lines, so that
// neither a shard's neighbour nor the adjacent-line prefetcher shares its
// lock's line.
const shardPad = 128

// callRegistry is a channel's active calls, so that Close can cancel
// them, CloseGrace can wait for them to end and the idle check can count
// them. A call is in one shard (callState.shard), chosen from its address
// when it is added, at index slot-1 of the shard's slice (callState.slot,
// 0 when it is in none); removal moves the shard's last call into its
// place. Nothing is hashed, and calls on different shards take different
// locks.
//
// Once closed (take, closeWait) the registry refuses every add: the check
// and the insert are under the shard's lock, which take and closeWait
// take after setting closed, so a call is either refused or seen by them.
type callRegistry struct {
	_      [shardPad]byte // off the line of the fields before it
	shards [registryShards]regShard
	closed atomic.Bool

	graceMu sync.Mutex
	grace   *graceWait // made by the first closeWait
}

// regShard is one shard of a callRegistry, padded to shardPad bytes.
type regShard struct {
	shardState
	_ [shardPad - unsafe.Sizeof(shardState{})]byte
}

// shardState is a shard's state, guarded by mu (starts is also read
// without it).
type shardState struct {
	mu    sync.Mutex
	calls []*callState
	// starts counts the calls ever added to the shard.
	starts atomic.Uint64
	// grace, set by closeWait on a shard with calls, is told when the
	// shard empties.
	grace *graceWait
}

// graceWait is closeWait's wake-up: pending counts the shards it waits
// for, plus one that closeWait holds while it visits them; who brings it
// to zero closes done.
type graceWait struct {
	pending atomic.Int32
	done    chan struct{}
}

// release gives up one of g's pending counts.
func (g *graceWait) release() {
	if g.pending.Add(-1) == 0 {
		close(g.done)
	}
}

// shardOf returns the shard a new call goes to: its address, multiplied
// by 2^64/φ, gives neighbouring calls distant shards, with no state
// shared between callers.
func shardOf(c *callState) int {
	return int(uint64(uintptr(unsafe.Pointer(c))) * 0x9e3779b97f4a7c15 >> (64 - registryBits))
}

// add registers c, unless the registry is closed (then it reports false).
func (r *callRegistry) add(c *callState) bool {
	n := shardOf(c)
	c.shard = uint8(n) // before c is shared: remove reads it without a lock
	s := &r.shards[n].shardState
	s.mu.Lock()
	if r.closed.Load() {
		s.mu.Unlock()
		return false
	}
	s.calls = append(s.calls, c)
	c.slot = uint32(len(s.calls)) // 4G calls at once would not fit the heap
	s.starts.Add(1)
	s.mu.Unlock()
	return true
}

// remove unregisters c; a call not registered (or taken by take) is left
// alone.
func (r *callRegistry) remove(c *callState) {
	s := &r.shards[c.shard].shardState
	s.mu.Lock()
	if i := c.slot; i != 0 {
		last := len(s.calls) - 1
		if m := s.calls[last]; m != c {
			s.calls[i-1], m.slot = m, i
		}
		s.calls[last] = nil
		s.calls = s.calls[:last]
		c.slot = 0
		if last == 0 && s.grace != nil {
			s.grace.release()
			s.grace = nil
		}
	}
	s.mu.Unlock()
}

// take closes the registry and unregisters and returns every call in it
// (waking closeWait's waiter).
func (r *callRegistry) take() []*callState {
	r.closed.Store(true)
	var all []*callState
	for i := range r.shards {
		s := &r.shards[i].shardState
		s.mu.Lock()
		for _, c := range s.calls {
			c.slot = 0
		}
		all = append(all, s.calls...)
		clear(s.calls)
		s.calls = s.calls[:0]
		if s.grace != nil {
			s.grace.release()
			s.grace = nil
		}
		s.mu.Unlock()
	}
	return all
}

// closeWait closes the registry and returns a channel closed once it is
// empty, or nil if it is empty now.
func (r *callRegistry) closeWait() <-chan struct{} {
	r.closed.Store(true)
	r.graceMu.Lock()
	defer r.graceMu.Unlock()
	g := r.grace
	if g == nil {
		// Closed, the registry only loses calls: one visit of each
		// shard finds all it will ever hold.
		g = &graceWait{done: make(chan struct{})}
		g.pending.Store(1)
		for i := range r.shards {
			s := &r.shards[i].shardState
			s.mu.Lock()
			if len(s.calls) > 0 {
				s.grace = g
				g.pending.Add(1)
			}
			s.mu.Unlock()
		}
		r.grace = g
		g.release()
	}
	select {
	case <-g.done:
		return nil
	default:
		return g.done
	}
}

// len returns the number of calls in the registry: each shard counted
// under its lock, so a call there for the whole count is counted.
func (r *callRegistry) len() int {
	n := 0
	for i := range r.shards {
		s := &r.shards[i].shardState
		s.mu.Lock()
		n += len(s.calls)
		s.mu.Unlock()
	}
	return n
}

// starts returns the number of calls ever added: it grows with every add
// that happens before the call.
func (r *callRegistry) starts() uint64 {
	var n uint64
	for i := range r.shards {
		n += r.shards[i].starts.Load()
	}
	return n
}
