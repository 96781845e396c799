// Package transport is one HTTP/2 connection to a gRPC server, run as a
// protoactor actor.
//
// It is internal: programs reach it only through package channel. Its
// users in this module are internal/subchannel (which spawns the
// connection actor as its supervised child), channel (which opens streams
// on a READY subchannel's *Conn), balancer and internal/lbconn (which
// carry that *Conn on a SubConn); it exports what they need and no more.
// The actor plumbing it shares with the channel and subchannel actors
// (timers as messages, the stop-on-panic supervisor, the pinned
// dispatcher) is in internal/actorsys.
//
// The connection is split in three parts:
//
//   - The core (connCore, core.go and keepalive.go) is the connection's
//     logic as a plain state machine with no goroutine, socket or timer: the
//     stream table and stream id assignment, the stream quota and the queue
//     of streams waiting for the server's SETTINGS_MAX_CONCURRENT_STREAMS,
//     the send windows, the server's header list limit, GOAWAY and drain,
//     and keepalive. Its step takes one message (a new stream, queued data,
//     a control frame the reader saw, a timer firing) and returns typed
//     effects: frames to write, streams to finish or forget, events for the
//     parent, timers to arm. Time reaches it as data in the messages. It is
//     tested with tables and golden transcripts (testdata/core_*.txt).
//   - The actor (connActor, actor.go) is the only writer of the socket: it
//     hands every message to the core and performs the effects, which is
//     all its I/O: dialing, the preface, the HPACK encoder, the socket's
//     write buffer, the timers and the tables shared with the reader. It
//     flushes its write buffer when its mailbox runs empty, so frames of
//     many calls leave in one write.
//   - One reader goroutine per connection (reader.go) parses frames: DATA
//     and HEADERS go straight to the stream they belong to (where a caller
//     waits), control frames (SETTINGS, PING, GOAWAY, WINDOW_UPDATE,
//     RST_STREAM) become messages to the actor; at most a fixed number of
//     them wait unhandled, so a flood holds up the reader, not memory.
//
// Flow control is two small pure types (flow.go): inFlow, a receive window
// (received, consumed, to credit back), kept by the reader for the
// connection and by each stream for itself; outFlow, a send window, kept
// by the core for the connection and each stream. With Config.BDP the
// receive windows start at 64 KiB and grow with BDP estimation (bdp.go):
// the reader counts DATA bytes and reports the first frame of a cycle and
// the BDP PING's ack; the core's estimator decides when to PING and when
// to grow the windows, which the actor publishes to the reader and the
// streams before it sends the new SETTINGS_INITIAL_WINDOW_SIZE.
//
// Callers use a connection through its *Conn handle: NewStream starts a
// call's stream, Stream.Write queues framed messages, Stream.RecvMsg returns
// whole messages. NewStreamWith starts a stream with its first messages in
// one message to the actor (a unary call's whole request); with
// CallHdr.OneResponse, RecvMsg hands over the one response at the end of
// the stream. Stream.WritePooled and Stream.EnqueuePooled take a buffer
// from bufpool that the caller gives up: the actor gives it back to
// bufpool once its last byte is written (after the flush, for a payload
// written by reference) or dropped. A call that holds no goroutine sets CallHdr.Notify
// instead of waiting: the stream runs it where the reader delivers
// headers, messages and the end, where the actor performs an effFinish,
// and where it performs the effData or effRelease that frees queued
// bytes; the call then polls with TryRecvMsg and queues with
// Stream.Enqueue, which sends the core the same dataReq as Write but does
// not wait for the write quota.
//
// The actor tells its parent about its life with the Event messages
// (EventReady, EventGoAway, EventClosed) and then stops, so a supervising
// parent also sees *actor.Terminated.
//
// Dialing, TLS handshakes and the wait for the server's first SETTINGS happen
// outside the mailbox and report back as messages; the connection counts as
// established only when that SETTINGS frame has arrived.
package transport
