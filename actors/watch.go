package actors

import (
	"sync"

	"github.com/asynkron/protoactor-go/actor"
)

// When an actor that started calls stops, its calls are cancelled. The
// registry keeps, per calling actor, the calls in progress and one small
// watcher actor (Watch on the caller, no goroutine while idle) that
// cancels them on Terminated. The watcher lives as long as its caller.

type ownerKey struct {
	sys     *actor.ActorSystem
	address string
	id      string
}

// owner is one calling actor's calls in progress: an intrusive list of
// their Refs (no allocation per call), under the owner's own lock, so
// that actors making calls at once do not contend on one lock.
type owner struct {
	mu      sync.Mutex
	head    *Ref // calls in progress, linked through Ref.prev and Ref.next
	stopped bool
}

// registry maps a calling actor to its owner. Reads (every call after
// the actor's first) take no lock; mu orders the creation of an owner
// and its watcher.
var registry struct {
	mu     sync.Mutex
	owners sync.Map // ownerKey -> *owner
}

// track registers ref as a call of o's owner; ref.untrack forgets it
// (call it when the call has ended).
func (o *sendOptions) track(ref *Ref) {
	if o.owner == nil {
		return
	}
	key := ownerKey{o.sys, o.owner.Address, o.owner.Id}
	v, ok := registry.owners.Load(key)
	if !ok {
		v = newOwner(o.sys, o.owner, key)
	}
	w := v.(*owner)
	w.mu.Lock()
	if w.stopped {
		w.mu.Unlock()
		ref.Cancel()
		return
	}
	ref.own, ref.linked = w, true
	ref.next = w.head
	if w.head != nil {
		w.head.prev = ref
	}
	w.head = ref
	w.mu.Unlock()
}

// newOwner returns key's owner, making it and its watcher (Watch on the
// caller, no goroutine while idle) if there is none yet.
func newOwner(sys *actor.ActorSystem, pid *actor.PID, key ownerKey) any {
	registry.mu.Lock()
	defer registry.mu.Unlock()
	if v, ok := registry.owners.Load(key); ok {
		return v
	}
	w := &owner{}
	registry.owners.Store(key, w)
	sys.Root.Spawn(actor.PropsFromFunc(func(ctx actor.Context) {
		switch m := ctx.Message().(type) {
		case *actor.Started:
			ctx.Watch(pid)
		case *actor.Terminated:
			if m.Who.Equal(pid) {
				ownerStopped(key)
				ctx.Stop(ctx.Self())
			}
		}
	}))
	return w
}

// untrack forgets the ended call r (a no-op if it was not tracked, or
// its owner stopped). r.own is set before the call starts and never
// changes; linked and the links are under r.own.mu.
func (r *Ref) untrack() {
	w := r.own
	if w == nil {
		return
	}
	w.mu.Lock()
	if r.linked { // not yet taken by ownerStopped
		if r.prev != nil {
			r.prev.next = r.next
		} else {
			w.head = r.next
		}
		if r.next != nil {
			r.next.prev = r.prev
		}
		r.prev, r.next, r.linked = nil, nil, false
	}
	w.mu.Unlock()
}

// ownerStopped cancels the calls of an actor that stopped.
func ownerStopped(key ownerKey) {
	registry.mu.Lock()
	v, ok := registry.owners.LoadAndDelete(key)
	registry.mu.Unlock()
	if !ok {
		return
	}
	w := v.(*owner)
	var refs []*Ref
	w.mu.Lock()
	w.stopped = true
	for r := w.head; r != nil; {
		next := r.next
		r.prev, r.next, r.linked = nil, nil, false
		refs = append(refs, r)
		r = next
	}
	w.head = nil
	w.mu.Unlock()
	for _, r := range refs {
		r.Cancel()
	}
}
