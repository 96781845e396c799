package transport

import (
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/internal/actorsys"
	"github.com/grpcactor/grpcactor/internal/bufpool"
	"github.com/grpcactor/grpcactor/internal/wire"
	"github.com/grpcactor/grpcactor/metadata"
	"github.com/grpcactor/grpcactor/status"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// State is a connection's life stage.
type State int32

// Connection states.
const (
	// Connecting: dialing, handshaking or waiting for the server's SETTINGS.
	Connecting State = iota
	// Ready: established; new streams are accepted.
	Ready
	// Draining: a GOAWAY arrived (or stream ids ran out); streams in
	// progress finish, new ones are refused as unprocessed.
	Draining
	// Closed: the socket is closed and every stream has ended.
	Closed
)

// String returns the state's name.
func (s State) String() string {
	switch s {
	case Connecting:
		return "CONNECTING"
	case Ready:
		return "READY"
	case Draining:
		return "DRAINING"
	case Closed:
		return "CLOSED"
	}
	return fmt.Sprintf("State(%d)", int32(s))
}

// EventReady tells the parent that the connection is established: the
// server's first SETTINGS arrived.
type EventReady struct{ Conn *Conn }

// EventGoAway tells the parent that the server sent GOAWAY: the connection
// takes no new streams and closes when those in progress end.
type EventGoAway struct {
	Conn  *Conn
	Code  http2.ErrCode
	Debug string
}

// EventClosed tells the parent that the connection has closed, and why.
// Err is nil after a graceful drain.
type EventClosed struct {
	Conn *Conn
	Err  *status.Error
	// Established reports whether the connection had become ready.
	Established bool
}

// Conn is the handle of one connection actor. Its methods are safe for
// concurrent use and never block on the network.
type Conn struct {
	cfg   Config
	sys   *actor.ActorSystem
	pid   atomic.Pointer[actor.PID]
	state atomic.Int32

	fieldsMu    sync.RWMutex // guards fieldsCache
	fieldsCache map[fieldsKey]*reqHeaders

	// mu guards closeErr and netConn, and orders closed with them and
	// with send's posts: the dial goroutine, Close and closeConn take it
	// to write; send, on the per-call paths, only to read.
	mu sync.RWMutex
	// closed is set, under mu, when the connection closes.
	closed   atomic.Bool
	closeErr *status.Error
	netConn  net.Conn

	// ids mirrors the core's stream set (connCore.streams) for the
	// reader goroutine, which looks up every frame's stream and cannot
	// read the core; the actor writes it (effHeaders, effForget).
	ids idTable
	// live holds every stream NewStream handed out and the actor has not
	// forgotten, including those still in the mailbox, which the core has
	// not seen: closing ends them all, and NewStream adds to it only
	// while it is open (closing closes it), so none is missed.
	live liveSet

	lastRead atomic.Int64 // unix nanos of the last frame read (reader)
	// recvWin and connRecvWin are the stream and connection receive
	// windows; BDP estimation grows them (the actor writes them before
	// it tells the server).
	recvWin     atomic.Int64
	connRecvWin atomic.Int64
	ctrlPending atomic.Int32
	ctrlSig     chan struct{}
	readerDone  chan struct{}
	closedC     chan struct{} // closed when the connection has closed
	// closeReason is the status Close asked for; the actor uses it when
	// the socket Close shut fails the write it was blocked in.
	closeReason atomic.Pointer[status.Error]
	goroutines  sync.WaitGroup // the dial goroutine and the reader
}

// Wait blocks until the connection has closed and its dial and reader
// goroutines have exited.
func (c *Conn) Wait() {
	<-c.closedC
	c.goroutines.Wait()
}

// Spawn starts a connection actor as a child of spawner (an actor's context,
// or an actor system's Root) and begins dialing. Its events go to the
// spawner's actor (if it has one) and to cfg.OnEvent.
func Spawn(spawner actor.SpawnerContext, cfg Config) (*Conn, error) {
	if cfg.Address == "" {
		return nil, status.New(codes.InvalidArgument, "transport: empty address")
	}
	c := &Conn{
		cfg:        cfg.withDefaults(),
		sys:        spawner.ActorSystem(),
		ctrlSig:    make(chan struct{}, 1),
		readerDone: make(chan struct{}),
		closedC:    make(chan struct{}),
	}
	c.recvWin.Store(int64(c.cfg.InitialWindowSize))
	c.connRecvWin.Store(int64(c.cfg.InitialConnWindowSize))
	a := &connActor{c: c, disp: actorsys.NewPinnedDispatcher(), timers: actorsys.NewTimers[timerKind](c.send)}
	props := actor.PropsFromProducer(func() actor.Actor { return a },
		actor.WithDispatcher(a.disp),
		actor.WithMailbox(func() actor.Mailbox {
			mb := actor.Unbounded()()
			a.mailbox = mb
			return mb
		}),
		actorsys.StopOnPanic(),
	)
	c.pid.Store(spawner.Spawn(props))
	return c, nil
}

// PID returns the connection actor's PID.
func (c *Conn) PID() *actor.PID { return c.pid.Load() }

// Address returns the address the connection dials.
func (c *Conn) Address() string { return c.cfg.Address }

// State returns the connection's current state.
func (c *Conn) State() State { return State(c.state.Load()) }

// Close closes the connection: streams in progress end UNAVAILABLE with
// err's message (or "connection closed"), and the actor stops.
func (c *Conn) Close(reason string) {
	if reason == "" {
		reason = "connection closed by the client"
	}
	st := status.New(codes.Unavailable, reason)
	c.closeReason.CompareAndSwap(nil, st)
	c.send(&closeReq{err: st})
	// The actor may be blocked in a socket write to a server that stopped
	// reading, with closeReq stuck in its mailbox behind: closing the
	// socket here fails that write, and check closes with st. Nothing is
	// lost, as closing with an error writes no more frames anyway.
	c.mu.RLock()
	nc := c.netConn
	c.mu.RUnlock()
	if nc != nil {
		nc.Close()
	}
}

// Drain stops new streams and closes the connection when the streams in
// progress have ended.
func (c *Conn) Drain() { c.send(&drainReq{}) }

// send posts msg to the actor, unless the connection has closed (the
// actor is then stopping or gone, and the message would be a dead letter).
// The post happens under mu's read lock, and closeConn sets closed under
// its write lock: a message either is in the mailbox before the actor
// closes, or is not sent. (With an atomic check alone, a Close racing
// the actor's own close posted a closeReq to the stopped actor: a dead
// letter, which TestCloseSendsNoDeadLetters caught.) Only closeConn, Close
// and the dial goroutine take the write lock, so the read lock is not
// contended on the per-call path.
func (c *Conn) send(msg any) {
	c.mu.RLock()
	if !c.closed.Load() {
		c.sys.Root.Send(c.pid.Load(), msg)
	}
	c.mu.RUnlock()
}

// NewStream starts a stream for a call. It does not wait for the network:
// the HEADERS frame is written by the actor (later, if the server's
// concurrent-stream limit is reached). It fails at once, with an
// unprocessed UNAVAILABLE stream error, if the connection is not ready.
func (c *Conn) NewStream(ctx context.Context, hdr *CallHdr) (*Stream, error) {
	return c.newStream(ctx, hdr, nil, false, false)
}

// NewStreamWith is NewStream followed by Write(buf, end), in one message
// to the connection actor instead of two (a unary call opens its stream
// and sends its whole request with end set), and without waiting for
// write quota. As for NewStream, the stream may have ended already (the
// connection was not ready: NeverSent then reports it); buf was then not
// queued.
func (c *Conn) NewStreamWith(ctx context.Context, hdr *CallHdr, buf []byte, end bool) (*Stream, error) {
	return c.newStream(ctx, hdr, buf, end, true)
}

// newStream makes the stream and sends the actor its newStream, or with
// data its first dataReq, which opens it.
func (c *Conn) newStream(ctx context.Context, hdr *CallHdr, buf []byte, end, data bool) (*Stream, error) {
	rh, err := c.requestFields(hdr)
	if err != nil {
		return nil, err
	}
	s := &Stream{
		conn: c,
		ctx:  ctx,
		hdr:  hdr,
		rh:   rh,
	}
	s.endMsg.s = s
	if hdr.Notify == nil && !hdr.OneResponse {
		// A stream with Notify is polled: it needs no wake-up channels,
		// nor does one whose RecvMsg waits for the end. (Those for
		// Write's quota and Header are made when first waited on.)
		s.sig = make(chan struct{}, 1)
	}
	s.fieldsSize = rh.size
	s.recvFlow = newInFlow(c.recvWin.Load())
	s.deframer.MaxSize = c.cfg.MaxReceiveMessageSize
	s.deframer.Alloc = bufpool.Get
	if hdr.OwnMaxReceive {
		s.deframer.MaxSize = hdr.MaxReceiveMessageSize
	}
	if state, ok := c.admit(s); !ok {
		s.finishUnsent(c.refusal(state))
		return s, nil
	}
	if data {
		s.queued.Add(int64(len(buf)))
		m := s.dataReq(buf, end, false)
		m.open = true
		c.send(m)
		return s, nil
	}
	m := newStreams.Get().(*newStream)
	m.s = s
	c.send(m)
	return s, nil
}

// admit adds s to the streams closing ends, if the connection is ready
// and not closed: NewStream then hands it to the actor. It returns the
// state it saw.
func (c *Conn) admit(s *Stream) (State, bool) {
	state := State(c.state.Load())
	if state != Ready {
		return state, false
	}
	if !c.live.add(s) {
		return Closed, false
	}
	return state, true
}

// refusal is the status of a stream that admit refused in state.
func (c *Conn) refusal(state State) *status.Error {
	c.mu.RLock()
	st := c.closeErr
	c.mu.RUnlock()
	if st == nil {
		st = status.Errorf(codes.Unavailable, "connection to %s is %s", c.cfg.Address, state)
	}
	return st
}

var reservedHeaders = map[string]bool{
	"content-type": true, "te": true, "user-agent": true, "grpc-timeout": true,
	"grpc-encoding": true, "grpc-accept-encoding": true, "grpc-message": true,
	"grpc-status": true, "grpc-previous-rpc-attempts": true, "host": true,
	"connection": true, "transfer-encoding": true, "upgrade": true,
	"keep-alive": true, "proxy-connection": true, "grpc-status-details-bin": false,
}

// requestFields builds the request header list (without grpc-timeout,
// which the actor adds when it writes the frame) in the order grpc-go
// sends them. A call without metadata gets its method's shared list;
// others a list of their own.
func (c *Conn) requestFields(hdr *CallHdr) (*reqHeaders, error) {
	// Calls without metadata share their method's header list (read only),
	// a few hundred bytes less per call in flight, and its encoded block
	// (see reqHeaders).
	var key fieldsKey
	cacheable := len(hdr.Metadata) == 0 && hdr.PreviousAttempts == 0
	if cacheable {
		key = fieldsKey{hdr.Method, hdr.Authority, hdr.SendCompress, hdr.AcceptEncoding, hdr.ContentSubtype}
		c.fieldsMu.RLock()
		rh, ok := c.fieldsCache[key] // a map, not a sync.Map: no boxed key per call
		c.fieldsMu.RUnlock()
		if ok {
			return rh, nil
		}
	}
	f, err := c.buildFields(hdr)
	if err != nil {
		return nil, err
	}
	own := &reqHeaders{fields: f, size: fieldsSize(f)}
	if !cacheable {
		return own, nil
	}
	c.fieldsMu.Lock()
	defer c.fieldsMu.Unlock()
	if rh, ok := c.fieldsCache[key]; ok {
		return rh, nil
	}
	if len(c.fieldsCache) >= maxCachedFields {
		return own, nil
	}
	if c.fieldsCache == nil {
		c.fieldsCache = make(map[fieldsKey]*reqHeaders)
	}
	own.shared = true
	c.fieldsCache[key] = own
	return own, nil
}

// maxCachedFields bounds a connection's cache of header lists.
const maxCachedFields = 256

type fieldsKey struct{ method, authority, compress, accept, subtype string }

// reqHeaders is a header list shared by the calls of one method (and
// authority, encodings and content subtype) on one connection. Its
// HPACK-encoded block is kept too, owned by the connection actor: once
// every field of the list is in the encoder's dynamic table, encoding it
// gives the same bytes for as long as that table does not change, so the
// actor reuses them instead of searching the table for every field of
// every call (see connActor.headerBlock).
type reqHeaders struct {
	fields []hpack.HeaderField
	size   int64 // the list's size as SETTINGS_MAX_HEADER_LIST_SIZE counts it
	shared bool  // in the connection's cache (its block is worth keeping)

	// Owned by the connection actor.
	block []byte // the encoded list, all indexed representations
	gen   uint64 // the encoder table's generation block was encoded in
}

// fieldsSize is a header list's size as HTTP/2 counts it for
// SETTINGS_MAX_HEADER_LIST_SIZE.
func fieldsSize(fields []hpack.HeaderField) int64 {
	var n int64
	for _, f := range fields {
		n += int64(len(f.Name) + len(f.Value) + hpackFieldOverhead)
	}
	return n
}

func (c *Conn) buildFields(hdr *CallHdr) ([]hpack.HeaderField, error) {
	authority := c.cfg.Authority
	if hdr.Authority != "" {
		authority = hdr.Authority
	}
	ct := "application/grpc"
	if hdr.ContentSubtype != "" {
		ct += "+" + hdr.ContentSubtype
	}
	f := make([]hpack.HeaderField, 0, 8+len(hdr.Metadata))
	f = append(f,
		hpack.HeaderField{Name: ":method", Value: "POST"},
		hpack.HeaderField{Name: ":scheme", Value: c.cfg.Scheme},
		hpack.HeaderField{Name: ":path", Value: hdr.Method},
		hpack.HeaderField{Name: ":authority", Value: authority},
		hpack.HeaderField{Name: "content-type", Value: ct},
		hpack.HeaderField{Name: "user-agent", Value: c.cfg.UserAgent},
		hpack.HeaderField{Name: "te", Value: "trailers"},
	)
	if hdr.PreviousAttempts > 0 {
		f = append(f, hpack.HeaderField{Name: "grpc-previous-rpc-attempts", Value: fmt.Sprint(hdr.PreviousAttempts)})
	}
	if hdr.SendCompress != "" && hdr.SendCompress != "identity" {
		f = append(f, hpack.HeaderField{Name: "grpc-encoding", Value: hdr.SendCompress})
	}
	if hdr.AcceptEncoding != "" {
		f = append(f, hpack.HeaderField{Name: "grpc-accept-encoding", Value: hdr.AcceptEncoding})
	}
	for k, vs := range hdr.Metadata {
		if reservedHeaders[k] || len(k) > 0 && k[0] == ':' {
			continue
		}
		if err := metadata.ValidKey(k); err != nil {
			return nil, status.Errorf(codes.Internal, "invalid metadata: %v", err)
		}
		bin := metadata.IsBinaryKey(k)
		for _, v := range vs {
			if bin {
				v = wire.EncodeBinHeader([]byte(v))
			} else if err := metadata.ValidValue(k, v); err != nil {
				return nil, status.Errorf(codes.Internal, "invalid metadata: %v", err)
			}
			f = append(f, hpack.HeaderField{Name: k, Value: v})
		}
	}
	return f, nil
}

// register enters a stream under its id in the reader's table, unless it
// is no longer live (the connection closed) (actor).
func (c *Conn) register(s *Stream) bool {
	if !c.live.has(s) {
		return false
	}
	c.ids.add(s)
	return true
}

// forget removes a stream from the tables (actor).
func (c *Conn) forget(s *Stream) {
	if s.id != 0 && c.live.has(s) {
		c.ids.remove(s)
	}
	c.live.remove(s)
}

// lookup returns the stream with id, or nil (reader).
func (c *Conn) lookup(id uint32) *Stream { return c.ids.get(id) }

// ctrl sends a control frame's message to the actor (reader goroutine),
// waiting while maxControlBacklog of them are unhandled: a flood of PINGs
// or SETTINGS holds up the reader, not memory.
func (c *Conn) ctrl(msg coreMsg) {
	for c.ctrlPending.Load() >= maxControlBacklog {
		select {
		case <-c.ctrlSig:
		case <-c.closedC:
			return
		}
	}
	c.ctrlPending.Add(1)
	c.send(msg)
}

// Closed is closed when the connection has closed.
func (c *Conn) Closed() <-chan struct{} { return c.closedC }

var timeNow = time.Now

func (c *Conn) ctrlHandled() {
	if c.ctrlPending.Add(-1) < maxControlBacklog {
		select {
		case c.ctrlSig <- struct{}{}:
		default:
		}
	}
}

func (c *Conn) lastReadTime() time.Time { return time.Unix(0, c.lastRead.Load()) }
