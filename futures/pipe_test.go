package futures_test

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/futures"
	"github.com/grpcactor/grpcactor/internal/actorsys"
	"github.com/grpcactor/grpcactor/status"
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

// TestPipeToWithoutSystem: a future made without an actor system (New(nil),
// Completed) pipes through the system given with Through, or else through
// the library's default system.
func TestPipeToWithoutSystem(t *testing.T) {
	sys := newSystem()
	for name, f := range map[string]func() futures.Future[string]{
		"New(nil)": func() futures.Future[string] {
			p := futures.New[string](nil)
			p.Complete("v", nil)
			return p
		},
		"Completed": func() futures.Future[string] { return futures.Completed("v", nil) },
	} {
		t.Run(name+"/Through", func(t *testing.T) {
			pid, got := spawnSink(t, sys)
			f().PipeTo(pid, futures.Through(sys), futures.Tag(7))
			if o := <-got; o.Value != "v" || o.Err != nil || o.Tag != 7 {
				t.Errorf("actor received %+v, want {v <nil> 7}", *o)
			}
		})
		t.Run(name+"/default system", func(t *testing.T) {
			pid, got := spawnSink(t, actorsys.Default())
			f().PipeTo(pid)
			if o := <-got; o.Value != "v" || o.Err != nil || o.Tag != nil {
				t.Errorf("actor received %+v, want {v <nil> <nil>}", *o)
			}
		})
	}
}

// TestPipeToTag: each outcome carries the tag of its own PipeTo, so an actor
// with many futures in flight matches outcomes to requests.
func TestPipeToTag(t *testing.T) {
	sys := newSystem()
	pid, got := spawnSink(t, sys)
	const n = 50
	ps := make([]*futures.Promise[string], n)
	for i := range ps {
		ps[i] = futures.New[string](sys)
		ps[i].PipeTo(pid, futures.Tag(i))
	}
	for i := n - 1; i >= 0; i-- { // settle in reverse order
		ps[i].Complete(strconv.Itoa(i), nil)
	}
	seen := map[int]bool{}
	for range n {
		o := <-got
		i, ok := o.Tag.(int)
		if !ok || o.Value != strconv.Itoa(i) || seen[i] {
			t.Fatalf("outcome %+v: tag does not match its value, or seen twice", *o)
		}
		seen[i] = true
	}
}

// TestCancelledIsStatus: a cancelled future's error is a *status.Error with
// code CANCELLED that also matches ErrCancelled, also when piped.
func TestCancelledIsStatus(t *testing.T) {
	sys := newSystem()
	pid, got := spawnSink(t, sys)
	p := futures.New[string](sys)
	p.PipeTo(pid, futures.Tag("req-1"))
	p.Cancel()
	_, err := p.Result(context.Background())
	o := <-got
	for _, e := range []error{err, o.Err, futures.Cancelled()} {
		st, ok := status.FromError(e)
		if !ok || st.Code() != codes.Canceled || !errors.Is(e, futures.ErrCancelled) {
			t.Errorf("error %v: status %v (ok %v), want a CANCELLED *status.Error matching ErrCancelled", e, st, ok)
		}
		if errors.Is(e, futures.ErrTimeout) {
			t.Errorf("error %v matches ErrTimeout", e)
		}
	}
	if o.Tag != "req-1" {
		t.Errorf("outcome tag %v, want req-1", o.Tag)
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
