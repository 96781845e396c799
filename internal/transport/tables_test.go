package transport

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/asynkron/protoactor-go/actor"
)

// nopProcess is an actor process that drops what it is sent: the
// connection's send then costs what it costs the callers, without an
// actor behind it.
type nopProcess struct{}

func (nopProcess) SendUserMessage(*actor.PID, any)   {}
func (nopProcess) SendSystemMessage(*actor.PID, any) {}
func (nopProcess) Stop(*actor.PID)                   {}

// newTableConn returns a ready connection with its stream tables and no
// actor, socket or reader: what it is sent is dropped.
func newTableConn(tb testing.TB) *Conn {
	c := &Conn{
		sys: actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
			return slog.New(slog.DiscardHandler)
		})),
		byID:       make(map[uint32]*Stream),
		live:       make(map[*Stream]struct{}),
		ctrlSig:    make(chan struct{}, 1),
		readerDone: make(chan struct{}),
		closedC:    make(chan struct{}),
	}
	pid, ok := c.sys.ProcessRegistry.Add(nopProcess{}, "conn")
	if !ok {
		tb.Fatal("cannot add the connection's process")
	}
	c.pid.Store(pid)
	c.state.Store(int32(Ready))
	return c
}

// BenchmarkStreamTables measures the connection's per-call bookkeeping,
// each part on the goroutine a unary call does it on: the callers admit
// their streams and send the actor their opening; the actor registers
// each stream's id and later forgets it; the reader looks up the stream
// of its response's three frames (HEADERS, DATA, trailers) and sends the
// actor its end. The roles run at once, on batches of 8 streams handed
// from one to the next, and each of the 8 callers (at -cpu 2) waits for
// its batch to come back before it starts the next: 64 calls in flight
// at most, as at 64 callers, and a channel operation per 8 streams and
// role instead of one per stream. The handing over and waiting take
// more time than the bookkeeping; cpu-ns/op, the process's CPU time per
// call, counts what the roles spend, waiting excluded.
func BenchmarkStreamTables(b *testing.B) {
	c := newTableConn(b)
	const batch = 8
	type calls struct {
		ss   []*Stream
		back chan *calls
	}
	opened := make(chan *calls, 64)
	toReader := make(chan *calls, 64)
	ended := make(chan *calls, 64)
	var bad atomic.Int64 // lookups that did not find their stream
	var roles sync.WaitGroup
	roles.Add(2)
	go func() { // the actor
		defer roles.Done()
		nextID := uint32(1)
		for opened != nil || ended != nil {
			select {
			case cs, ok := <-opened:
				if !ok {
					opened = nil
					continue
				}
				for _, s := range cs.ss {
					s.id = nextID
					nextID += 2
					c.register(s)
				}
				toReader <- cs
			case cs, ok := <-ended:
				if !ok {
					ended = nil
					continue
				}
				for _, s := range cs.ss {
					c.forget(s)
				}
				cs.back <- cs
			}
		}
	}()
	go func() { // the reader
		defer roles.Done()
		for cs := range toReader {
			for _, s := range cs.ss {
				for range 3 {
					if c.lookup(s.id) != s {
						bad.Add(1)
					}
				}
				c.send(&s.endMsg)
			}
			ended <- cs
		}
	}()

	b.ReportAllocs()
	b.SetParallelism(4) // 8 callers at -cpu 2
	b.ResetTimer()
	cpu0 := processCPU()
	b.RunParallel(func(pb *testing.PB) {
		cs := &calls{ss: make([]*Stream, 0, batch), back: make(chan *calls, 1)}
		streams := make([]Stream, batch) // reused: no garbage to collect
		flush := func() {
			if len(cs.ss) > 0 {
				opened <- cs
				<-cs.back
				cs.ss = cs.ss[:0]
			}
		}
		for pb.Next() {
			s := &streams[len(cs.ss)]
			*s = Stream{conn: c}
			if _, ok := c.admit(s); !ok {
				panic("connection not ready")
			}
			c.send(&s.endMsg)
			cs.ss = append(cs.ss, s)
			if len(cs.ss) == batch {
				flush()
			}
		}
		flush()
	})
	b.StopTimer()
	b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "cpu-ns/op")
	close(opened)
	close(toReader)
	close(ended)
	roles.Wait()
	if n := bad.Load(); n > 0 {
		b.Fatalf("%d lookups missed their stream", n)
	}
}

// BenchmarkStreamTablesSerial is BenchmarkStreamTables' per-call work on
// one goroutine, one call at a time: the bookkeeping's cost without
// contention.
func BenchmarkStreamTablesSerial(b *testing.B) {
	c := newTableConn(b)
	b.ReportAllocs()
	id := uint32(1)
	s := new(Stream)
	for b.Loop() {
		*s = Stream{conn: c}
		if _, ok := c.admit(s); !ok {
			b.Fatal("connection not ready")
		}
		c.send(&s.endMsg)
		s.id = id
		id += 2
		c.register(s)
		for range 3 {
			if c.lookup(s.id) != s {
				b.Fatal("lookup missed its stream")
			}
		}
		c.send(&s.endMsg)
		c.forget(s)
	}
}
