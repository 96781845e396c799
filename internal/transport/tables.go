package transport

import (
	"slices"
	"sync"
	"sync/atomic"
)

// liveSet holds every stream NewStream handed out that the connection
// actor has not forgotten, those still in the actor's mailbox (which the
// core has not seen) included: closing ends them all. A call adds its
// stream with one compare-and-swap, without a lock: the callers push
// onto a stack (pending) that the actor empties into a list of its own
// (known) when it forgets a stream it has not yet taken. Closing swaps
// in closedLive, on which no push succeeds, so no stream is added after
// the close, and every stream admitted before it is either pending or
// known.
type liveSet struct {
	// pending are the streams admitted since the actor last took them,
	// newest first, linked through Stream.nextLive; closedLive once the
	// connection has closed.
	pending atomic.Pointer[Stream]

	// Owned by the connection actor.
	known  []*Stream // taken from pending, not forgotten; Stream.liveIdx is each one's index + 1
	closed bool
}

// closedLive marks a closed liveSet's pending stack.
var closedLive = new(Stream)

// add adds s, unless the set has closed (any goroutine). s must be new,
// and its message to the actor not yet sent.
func (l *liveSet) add(s *Stream) bool {
	for {
		h := l.pending.Load()
		if h == closedLive {
			s.nextLive = nil
			return false
		}
		s.nextLive = h
		if l.pending.CompareAndSwap(h, s) {
			return true
		}
	}
}

// take moves the pending streams to known (actor).
func (l *liveSet) take() { l.takeList(l.pending.Swap(nil)) }

// takeList moves the streams of a pending stack taken from l.pending to
// known (actor).
func (l *liveSet) takeList(s *Stream) {
	for s != nil {
		next := s.nextLive
		s.nextLive = nil
		if s.liveIdx == 0 {
			l.known = append(l.known, s)
			s.liveIdx = int32(len(l.known))
		}
		s = next
	}
}

// remove removes s (actor). A stream the actor hears of was added before
// the message that brought it was sent, so if s is not known yet it is
// pending.
func (l *liveSet) remove(s *Stream) {
	if l.closed {
		return
	}
	if s.liveIdx == 0 {
		l.take()
	}
	i := int(s.liveIdx) - 1
	if i < 0 {
		return // never added, or removed already
	}
	last := len(l.known) - 1
	if i != last {
		m := l.known[last]
		l.known[i] = m
		m.liveIdx = int32(i + 1)
	}
	l.known[last] = nil
	l.known = l.known[:last]
	s.liveIdx = -1
	if c := cap(l.known); c > 1024 && len(l.known) < c/4 {
		l.known = slices.Clip(slices.Clone(l.known)) // after a burst of streams
	}
}

// has reports whether s is in the set (actor).
func (l *liveSet) has(s *Stream) bool { return !l.closed && s.liveIdx >= 0 }

// close closes the set and returns the streams in it (actor): no add
// succeeds after it.
func (l *liveSet) close() []*Stream {
	if l.closed {
		return nil
	}
	l.takeList(l.pending.Swap(closedLive))
	l.closed = true
	all := l.known
	l.known = nil
	return all
}

// idRing is the number of slots of an idTable's ring (a power of two).
const idRing = 256

// idTable maps the ids of the streams whose HEADERS went out to the
// streams, for the reader goroutine, which looks up the stream of every
// frame and cannot read the core's stream set. The actor alone writes it
// (add, remove, clear), the reader alone reads it (get), without a lock:
// client stream ids are odd and increasing, so the streams in progress
// mostly have distinct slots in a ring indexed by id/2; a stream whose
// slot an older one still holds goes to a map beside it (spill), which
// has a lock of its own and which get reads only when it is not empty.
type idTable struct {
	ring    [idRing]atomic.Pointer[Stream]
	spillN  atomic.Int32 // len(spill), for get
	spillMu sync.Mutex   // guards spill
	spill   map[uint32]*Stream
}

func (t *idTable) slot(id uint32) *atomic.Pointer[Stream] { return &t.ring[(id>>1)%idRing] }

// add adds s under s.id (actor). Its id must be set, and not in the
// table.
func (t *idTable) add(s *Stream) {
	if p := t.slot(s.id); p.Load() == nil {
		p.Store(s)
		return
	}
	t.spillMu.Lock()
	if t.spill == nil {
		t.spill = make(map[uint32]*Stream)
	}
	t.spill[s.id] = s
	t.spillN.Store(int32(len(t.spill)))
	t.spillMu.Unlock()
}

// remove removes s, if it is in the table (actor).
func (t *idTable) remove(s *Stream) {
	if p := t.slot(s.id); p.Load() == s {
		p.Store(nil)
		return
	}
	if t.spillN.Load() == 0 {
		return
	}
	t.spillMu.Lock()
	if t.spill[s.id] == s {
		delete(t.spill, s.id)
		t.spillN.Store(int32(len(t.spill)))
	}
	t.spillMu.Unlock()
}

// get returns the stream with id, or nil (reader).
func (t *idTable) get(id uint32) *Stream {
	if s := t.slot(id).Load(); s != nil && s.id == id {
		return s
	}
	if t.spillN.Load() == 0 {
		return nil
	}
	t.spillMu.Lock()
	s := t.spill[id]
	t.spillMu.Unlock()
	return s
}

// clear empties the table (actor).
func (t *idTable) clear() {
	for i := range t.ring {
		t.ring[i].Store(nil)
	}
	t.spillMu.Lock()
	t.spill = nil
	t.spillN.Store(0)
	t.spillMu.Unlock()
}
