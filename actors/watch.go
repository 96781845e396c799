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

type owner struct {
	refs    map[*Ref]struct{}
	stopped bool
}

var registry = struct {
	mu     sync.Mutex
	owners map[ownerKey]*owner
}{owners: map[ownerKey]*owner{}}

// track registers ref as a call of o's owner; the returned function
// forgets it (call it when the call has ended).
func (o *sendOptions) track(ref *Ref) func() {
	if o.owner == nil {
		return func() {}
	}
	key := ownerKey{o.sys, o.owner.Address, o.owner.Id}
	registry.mu.Lock()
	w := registry.owners[key]
	if w == nil {
		w = &owner{refs: map[*Ref]struct{}{}}
		registry.owners[key] = w
		registry.mu.Unlock()
		pid := o.owner
		o.sys.Root.Spawn(actor.PropsFromFunc(func(ctx actor.Context) {
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
		registry.mu.Lock()
	}
	if w.stopped {
		registry.mu.Unlock()
		ref.Cancel()
		return func() {}
	}
	w.refs[ref] = struct{}{}
	registry.mu.Unlock()
	return func() {
		registry.mu.Lock()
		delete(w.refs, ref)
		registry.mu.Unlock()
	}
}

// ownerStopped cancels the calls of an actor that stopped.
func ownerStopped(key ownerKey) {
	registry.mu.Lock()
	w := registry.owners[key]
	delete(registry.owners, key)
	var refs []*Ref
	if w != nil {
		w.stopped = true
		for r := range w.refs {
			refs = append(refs, r)
		}
		clear(w.refs)
	}
	registry.mu.Unlock()
	for _, r := range refs {
		r.Cancel()
	}
}
