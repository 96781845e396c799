package futures_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/grpcactor/grpcactor/futures"
)

// spawnSink spawns an actor that forwards every *futures.Outcome[string] it
// receives to the returned channel, and stops it when the test ends.
func spawnSink(t *testing.T, sys *actor.ActorSystem) (*actor.PID, <-chan *futures.Outcome[string]) {
	t.Helper()
	got := make(chan *futures.Outcome[string], 16)
	pid := sys.Root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
		if o, ok := c.Message().(*futures.Outcome[string]); ok {
			got <- o
		}
	}))
	t.Cleanup(func() {
		if err := sys.Root.StopFuture(pid).Wait(); err != nil {
			t.Errorf("stopping the sink actor: %v", err)
		}
	})
	return pid, got
}

func TestPipeTo(t *testing.T) {
	sys := newSystem()
	tests := []struct {
		name      string
		settle    func(p *futures.Promise[string])
		want      string
		wantErr   error
		doneFirst bool
	}{
		{name: "value", settle: func(p *futures.Promise[string]) { p.Complete("hi", nil) }, want: "hi"},
		{name: "value, piped after completion", settle: func(p *futures.Promise[string]) { p.Complete("late", nil) }, want: "late", doneFirst: true},
		{name: "error", settle: func(p *futures.Promise[string]) { p.Fail(errBoom) }, wantErr: errBoom},
		{name: "cancelled", settle: func(p *futures.Promise[string]) { p.Cancel() }, wantErr: futures.ErrCancelled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pid1, got1 := spawnSink(t, sys)
			pid2, got2 := spawnSink(t, sys)
			p := futures.New[string](sys)
			if tc.doneFirst {
				tc.settle(p)
			}
			p.PipeTo(pid1)
			p.PipeTo(pid2)
			if !tc.doneFirst {
				tc.settle(p)
			}
			for _, got := range []<-chan *futures.Outcome[string]{got1, got2} {
				o := <-got
				if o.Value != tc.want || !errors.Is(o.Err, tc.wantErr) || (tc.wantErr == nil && o.Err != nil) {
					t.Errorf("actor received {%q, %v}, want {%q, %v}", o.Value, o.Err, tc.want, tc.wantErr)
				}
			}
		})
	}
}

func TestPipeToThen(t *testing.T) {
	sys := newSystem()
	pid, got := spawnSink(t, sys)
	p := futures.New[int](sys)
	futures.Then(p, func(v int) (string, error) { return strings.Repeat("x", v), nil }).PipeTo(pid)
	p.Complete(3, nil)
	if o := <-got; o.Value != "xxx" || o.Err != nil {
		t.Errorf("actor received {%q, %v}, want {\"xxx\", nil}", o.Value, o.Err)
	}
}

func TestPipeToNilPIDPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("PipeTo(nil) did not panic")
		}
	}()
	futures.New[int](newSystem()).PipeTo(nil)
}

func TestPipeToWithoutSystemPanics(t *testing.T) {
	sys := newSystem()
	pid := sys.NewLocalPID("nobody")
	for name, f := range map[string]futures.Future[int]{
		"New(nil)":  futures.New[int](nil),
		"Completed": futures.Completed(1, nil),
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				r := recover()
				if s, _ := r.(string); !strings.Contains(s, "actor system") {
					t.Errorf("PipeTo panicked with %v, want a message about the missing actor system", r)
				}
			}()
			f.PipeTo(pid)
		})
	}
}

// recordingHandler is a slog.Handler that keeps the messages it is given.
type recordingHandler struct {
	mu   sync.Mutex
	msgs []string
}

func (h *recordingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *recordingHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.msgs = append(h.msgs, r.Message)
	return nil
}
func (h *recordingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *recordingHandler) WithGroup(string) slog.Handler      { return h }

func TestCallbackPanicIsLogged(t *testing.T) {
	h := &recordingHandler{}
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(h)
	}))
	p := futures.New[int](sys)
	p.AddDoneCallback(func(futures.Future[int]) { panic("callback") })
	done := make(chan struct{})
	p.AddDoneCallback(func(futures.Future[int]) { close(done) })
	p.Complete(1, nil)
	<-done
	h.mu.Lock()
	defer h.mu.Unlock()
	found := false
	for _, m := range h.msgs {
		found = found || strings.Contains(m, "callback panicked")
	}
	if !found {
		t.Errorf("logged %q, want a record of the callback's panic", h.msgs)
	}
}
