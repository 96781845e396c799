package resolver

import (
	"context"
	"sync"

	"github.com/asynkron/protoactor-go/actor"
)

// Manual is a resolver whose addresses a test or a program pushes: it is a
// Builder to give to channel.WithResolver (or Register), and Update sends
// its channel a new address list, service config or error at any time.
// It is a push resolver of the Props form: the channel spawns its actor
// when it first leaves IDLE, and an update pushed before that is delivered
// then. It counts the re-resolution requests the channel sends it.
//
// A Manual serves one channel at a time: the last one that started it.
// Its methods are safe for concurrent use.
type Manual struct {
	mu         sync.Mutex
	last       *Update            // the latest update, sent on Start
	channel    *actor.PID         // the channel that started the actor; nil before and after
	sys        *actor.ActorSystem // the system of the actor
	self       *actor.PID         // the actor, while it runs
	target     Target
	resolveNow int
	changed    chan struct{} // closed and replaced on every Start and ResolveNow
}

// NewManual returns a Manual with no addresses yet.
func NewManual() *Manual {
	return &Manual{changed: make(chan struct{})}
}

// Build returns the resolver of one channel: an actor (the Props form) that
// delivers the latest update when the channel starts it.
func (m *Manual) Build(Target) (Resolver, error) {
	return Resolver{Props: actor.PropsFromProducer(func() actor.Actor { return &manualActor{m: m} })}, nil
}

// Update sends u to the channel, or keeps it for the channel's start if
// the channel has not started the resolver yet (only the latest is kept).
func (m *Manual) Update(u Update) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.last = &u
	if m.channel != nil {
		// Under the lock, so that this and the update sent on Start
		// reach the channel's mailbox in the order they were made.
		m.sys.Root.Send(m.channel, &u)
	}
}

// ReportError sends the channel a resolution error: Update(Update{Err: err}).
func (m *Manual) ReportError(err error) { m.Update(Update{Err: err}) }

// ResolveNowCount returns how many re-resolution requests (*ResolveNow)
// the resolver has received.
func (m *Manual) ResolveNowCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.resolveNow
}

// WaitResolveNow waits until the resolver has received at least n
// re-resolution requests, or ctx ends (its error is returned).
func (m *Manual) WaitResolveNow(ctx context.Context, n int) error {
	return m.wait(ctx, func() bool { return m.resolveNow >= n })
}

// WaitStarted waits until a channel has started the resolver and returns
// the target it was started for, or ctx's error.
func (m *Manual) WaitStarted(ctx context.Context) (Target, error) {
	err := m.wait(ctx, func() bool { return m.channel != nil })
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.target, err
}

// wait waits until cond, called with m.mu held, holds.
func (m *Manual) wait(ctx context.Context, cond func() bool) error {
	for {
		m.mu.Lock()
		ok, changed := cond(), m.changed
		m.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Stop stops the resolver's actor, as a resolver that crashed would stop:
// its channel then fails every call UNAVAILABLE, saying its resolver
// stopped. It does nothing if no channel has started the resolver.
func (m *Manual) Stop() {
	m.mu.Lock()
	self, sys := m.self, m.sys
	m.mu.Unlock()
	if self != nil {
		sys.Root.Stop(self)
	}
}

// signalLocked wakes the waiters; m.mu is held.
func (m *Manual) signalLocked() {
	close(m.changed)
	m.changed = make(chan struct{})
}

// manualActor is a Manual's actor: it learns the channel's PID and counts
// re-resolution requests; updates go from Manual.Update straight to the
// channel.
type manualActor struct{ m *Manual }

// Receive handles the channel's messages.
func (a *manualActor) Receive(ctx actor.Context) {
	m := a.m
	switch msg := ctx.Message().(type) {
	case *Start:
		m.mu.Lock()
		m.channel, m.sys, m.self, m.target = msg.Channel, ctx.ActorSystem(), ctx.Self(), msg.Target
		if m.last != nil {
			u := *m.last
			ctx.Send(msg.Channel, &u)
		}
		m.signalLocked()
		m.mu.Unlock()
	case *ResolveNow:
		m.mu.Lock()
		m.resolveNow++
		m.signalLocked()
		m.mu.Unlock()
	case *actor.Stopping:
		m.mu.Lock()
		if m.self != nil && m.self.Equal(ctx.Self()) {
			m.channel, m.self = nil, nil
		}
		m.mu.Unlock()
	}
}
