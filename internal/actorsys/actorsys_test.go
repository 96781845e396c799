package actorsys_test

import (
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/grpcactor/grpcactor/internal/actorsys"
)

func TestTimers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var got []any
		tm := actorsys.NewTimers[string](func(m any) {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, m)
		})
		check := func(step string, want ...any) {
			t.Helper()
			synctest.Wait()
			mu.Lock()
			defer mu.Unlock()
			if len(got) != len(want) {
				t.Fatalf("%s: got %v, want %v", step, got, want)
			}
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("%s: got %v, want %v", step, got, want)
				}
			}
		}
		tm.Arm("idle", time.Second, "first")
		tm.Arm("idle", 2*time.Second, "second") // replaces "first"
		tm.Arm("resolve", time.Second, "resolve")
		tm.Stop("resolve")
		tm.Stop("never armed")
		time.Sleep(3 * time.Second)
		check("after replace and stop", "second")

		tm.Arm("idle", time.Second, "third")
		tm.Arm("resolve", time.Second, "fourth")
		tm.StopAll()
		time.Sleep(2 * time.Second)
		check("after StopAll", "second")

		tm.Arm("idle", 0, "fifth") // usable after StopAll
		check("after re-arm", "second", "fifth")
	})
}

// A child of an actor spawned with StopOnPanic that panics is stopped
// (its parent sees Terminated), not restarted.
func TestStopOnPanic(t *testing.T) {
	sys := actorsys.NewQuiet()
	started := make(chan struct{}, 4)
	terminated := make(chan struct{})
	var child *actor.PID
	parent := sys.Root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
		switch c.Message().(type) {
		case *actor.Started:
			child = c.Spawn(actor.PropsFromFunc(func(c actor.Context) {
				switch c.Message().(type) {
				case *actor.Started:
					started <- struct{}{}
				case string:
					panic("boom")
				}
			}))
			c.Send(child, "panic now")
		case *actor.Terminated:
			close(terminated)
		}
	}, actorsys.StopOnPanic()))
	defer sys.Root.Stop(parent)
	select {
	case <-terminated:
	case <-time.After(time.Minute): // a failure bound only
		t.Fatal("the child that panicked was not stopped")
	}
	if n := len(started); n != 1 {
		t.Fatalf("the child started %d times, want 1 (no restart)", n)
	}
}

// A pinned dispatcher runs every scheduled function, before and after Stop
// (afterwards each on a goroutine of its own); its worker exits (TestMain's
// leak check).
func TestPinnedDispatcher(t *testing.T) {
	d := actorsys.NewPinnedDispatcher()
	ran := make(chan int, 6)
	for i := range 3 {
		d.Schedule(func() { ran <- i })
	}
	d.Stop()
	d.Stop() // idempotent
	for i := 3; i < 6; i++ {
		d.Schedule(func() { ran <- i })
	}
	seen := map[int]bool{}
	for range 6 {
		select {
		case i := <-ran:
			seen[i] = true
		case <-time.After(time.Minute): // a failure bound only
			t.Fatalf("ran %v, want 0..5", seen)
		}
	}
	if len(seen) != 6 {
		t.Fatalf("ran %v, want 0..5", seen)
	}
}

// An actor on a pinned dispatcher receives its messages.
func TestPinnedDispatcherActor(t *testing.T) {
	sys := actorsys.NewQuiet()
	d := actorsys.NewPinnedDispatcher()
	got := make(chan string, 1)
	pid := sys.Root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
		switch m := c.Message().(type) {
		case string:
			got <- m
		case *actor.Stopped:
			d.Stop()
		}
	}, actor.WithDispatcher(d)))
	sys.Root.Send(pid, "hello")
	if m := <-got; m != "hello" {
		t.Fatalf("got %q", m)
	}
	if err := sys.Root.StopFuture(pid).Wait(); err != nil {
		t.Fatal(err)
	}
}
