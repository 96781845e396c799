package transport

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/grpcactor/grpcactor/codes"
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

// TestIDTable: ids map to their streams whether in the ring or spilled
// (a slot an older stream holds), removal frees the slot or the spill
// entry, ids never added (even, zero, another stream's slot) find
// nothing, and clear empties both.
func TestIDTable(t *testing.T) {
	type op struct {
		add, remove []uint32 // ids
		want        []uint32 // ids get must find
		wantNone    []uint32 // ids get must not find
		wantSpill   int32
	}
	slotMate := func(id uint32) uint32 { return id + 2*idRing } // the same slot, a later id
	for _, tc := range []struct {
		name string
		ops  []op
	}{
		{"ring", []op{
			{add: []uint32{1, 3, 5}, want: []uint32{1, 3, 5}, wantNone: []uint32{0, 2, 7, slotMate(1)}},
			{remove: []uint32{3}, want: []uint32{1, 5}, wantNone: []uint32{3}},
			{remove: []uint32{1, 5}, wantNone: []uint32{1, 3, 5}},
		}},
		{"spill", []op{
			{add: []uint32{1, slotMate(1), slotMate(slotMate(1))}, want: []uint32{1, slotMate(1), slotMate(slotMate(1))}, wantSpill: 2},
			// The ring's stream goes: the spilled ones are still found.
			{remove: []uint32{1}, want: []uint32{slotMate(1), slotMate(slotMate(1))}, wantNone: []uint32{1}, wantSpill: 2},
			// A newer stream takes the free slot; the spill stays.
			{add: []uint32{slotMate(slotMate(slotMate(1)))}, want: []uint32{slotMate(1), slotMate(slotMate(slotMate(1)))}, wantSpill: 2},
			{remove: []uint32{slotMate(1), slotMate(slotMate(1))}, want: []uint32{slotMate(slotMate(slotMate(1)))}, wantNone: []uint32{slotMate(1), slotMate(slotMate(1))}, wantSpill: 0},
		}},
		{"remove twice or never added", []op{
			{add: []uint32{9}, remove: []uint32{9, 9, 11}, wantNone: []uint32{9, 11}},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var tab idTable
			streams := map[uint32]*Stream{}
			stream := func(id uint32) *Stream {
				if streams[id] == nil {
					streams[id] = &Stream{id: id}
				}
				return streams[id]
			}
			for i, o := range tc.ops {
				for _, id := range o.add {
					tab.add(stream(id))
				}
				for _, id := range o.remove {
					tab.remove(stream(id))
				}
				for _, id := range o.want {
					if got := tab.get(id); got != stream(id) {
						t.Errorf("op %d: get(%d) = %v, want its stream", i, id, got)
					}
				}
				for _, id := range o.wantNone {
					if got := tab.get(id); got != nil {
						t.Errorf("op %d: get(%d) = stream %d, want none", i, id, got.id)
					}
				}
				if n := tab.spillN.Load(); n != o.wantSpill {
					t.Errorf("op %d: %d spilled, want %d", i, n, o.wantSpill)
				}
			}
			tab.clear()
			for id := range streams {
				if got := tab.get(id); got != nil {
					t.Errorf("after clear: get(%d) found its stream", id)
				}
			}
		})
	}
}

// TestLiveSet: a stream is in the set from add until remove, whether the
// actor took it from the pending stack before or takes it on remove;
// removing twice, or a stream never added, changes nothing; close
// returns the streams in the set, pending and known, and no add succeeds
// after it.
func TestLiveSet(t *testing.T) {
	var l liveSet
	ss := make([]*Stream, 6)
	for i := range ss {
		ss[i] = new(Stream)
	}
	for _, s := range ss[:4] {
		if !l.add(s) {
			t.Fatal("add refused before close")
		}
	}
	l.remove(ss[1]) // takes the four, removes one
	if len(l.known) != 3 || l.pending.Load() != nil {
		t.Fatalf("after the first remove: %d known, pending %v; want 3 known, none pending", len(l.known), l.pending.Load())
	}
	l.remove(ss[1])
	l.remove(new(Stream)) // never added
	if !l.add(ss[4]) {
		t.Fatal("add refused before close")
	}
	l.remove(ss[0]) // known: ss[4] stays pending
	if l.has(ss[0]) || l.has(ss[1]) || !l.has(ss[2]) || !l.has(ss[4]) {
		t.Errorf("has: %v %v %v %v, want false false true true", l.has(ss[0]), l.has(ss[1]), l.has(ss[2]), l.has(ss[4]))
	}
	for i, s := range l.known {
		if int(s.liveIdx) != i+1 {
			t.Errorf("known[%d].liveIdx = %d", i, s.liveIdx)
		}
	}
	got := map[*Stream]bool{}
	for _, s := range l.close() {
		if got[s] {
			t.Errorf("close returned a stream twice")
		}
		got[s] = true
	}
	if len(got) != 3 || !got[ss[2]] || !got[ss[3]] || !got[ss[4]] {
		t.Errorf("close returned %d streams, want ss[2], ss[3], ss[4]", len(got))
	}
	if l.add(ss[5]) {
		t.Error("add succeeded after close")
	}
	if l.has(ss[2]) {
		t.Error("has after close")
	}
	l.remove(ss[2]) // after close: nothing to do
	if l.close() != nil {
		t.Error("a second close returned streams")
	}
}

// TestLiveSetShrinks: after a burst of streams, known gives its large
// backing array back.
func TestLiveSetShrinks(t *testing.T) {
	var l liveSet
	ss := make([]*Stream, 4096)
	for i := range ss {
		ss[i] = new(Stream)
		l.add(ss[i])
	}
	l.take()
	for _, s := range ss[:len(ss)-10] {
		l.remove(s)
	}
	if c := cap(l.known); c > 1024 {
		t.Errorf("known has a capacity of %d for %d streams", c, len(l.known))
	}
	for _, s := range ss[len(ss)-10:] {
		if !l.has(s) || l.known[s.liveIdx-1] != s {
			t.Fatal("a stream left the set when it shrank")
		}
	}
}

// TestLiveSetConcurrentClose: streams added from many goroutines while
// the actor's goroutine removes those whose messages it received, and
// then closes the set, are each either removed or returned by close,
// once; those in the mailbox when it closes are among them; no add
// succeeds after close returns.
func TestLiveSetConcurrentClose(t *testing.T) {
	var l liveSet
	const adders, each = 8, 2000
	mailbox := make(chan *Stream, adders*each)
	var added sync.Map
	var wg sync.WaitGroup
	closed := make(chan struct{})
	var afterClose atomic.Int32
	for range adders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				s := new(Stream)
				select {
				case <-closed:
					if l.add(s) {
						afterClose.Add(1)
					}
					return
				default:
				}
				if l.add(s) {
					added.Store(s, true)
					mailbox <- s
				}
			}
		}()
	}
	ended := map[*Stream]int{}
	for range adders * each / 4 {
		s := <-mailbox
		l.remove(s)
		ended[s]++
	}
	for _, s := range l.close() {
		ended[s]++
	}
	close(closed)
	wg.Wait()
	if n := afterClose.Load(); n > 0 {
		t.Errorf("%d adds succeeded after close", n)
	}
	n := 0
	added.Range(func(k, _ any) bool {
		n++
		if c := ended[k.(*Stream)]; c != 1 {
			t.Errorf("a stream added before close was removed or closed %d times, want once", c)
		}
		return true
	})
	if n != len(ended) {
		t.Errorf("%d streams added, %d removed or closed", n, len(ended))
	}
}

// TestCloseEndsConcurrentStreams: streams that callers start while the
// connection closes all end, those that the closed connection refused as
// never sent; once closed, a new stream is refused at once.
func TestCloseEndsConcurrentStreams(t *testing.T) {
	ct := startReady(t, Config{})
	const callers = 8
	var wg sync.WaitGroup
	var mu sync.Mutex
	var streams []*Stream
	started := make(chan struct{}, callers)
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			first := true
			for {
				s, err := ct.conn.NewStreamWith(context.Background(), &CallHdr{Method: "/grpc.testing.TestService/UnaryCall", OneResponse: true}, grpcFrame([]byte("req")), true)
				if err != nil {
					t.Errorf("NewStreamWith: %v", err)
					return
				}
				mu.Lock()
				streams = append(streams, s)
				mu.Unlock()
				if first {
					started <- struct{}{}
					first = false
				}
				if s.NeverSent() {
					return // refused: the connection has closed, or is closing
				}
			}
		}()
	}
	for range callers {
		<-started
	}
	ct.conn.Close("closing under the callers")
	wg.Wait()
	<-ct.conn.Closed()
	for _, s := range streams {
		waitDone(t, s)
		if st, _ := s.Status(); st.Code() != codes.Unavailable {
			t.Fatalf("a stream ended with %v, want UNAVAILABLE", st)
		}
	}
	s := ct.newStream(context.Background(), nil)
	if st, done := s.Status(); !done || !s.NeverSent() || st.Code() != codes.Unavailable {
		t.Errorf("a stream after close: status %v, ended %v, never sent %v; want UNAVAILABLE, ended, never sent", st, done, s.NeverSent())
	}
}
