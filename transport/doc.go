// Package transport is one HTTP/2 connection to a gRPC server, run as a
// protoactor actor.
//
// The connection actor is the only writer of the socket: it owns the HPACK
// encoder, the stream table's id assignment, the send flow-control windows
// and the GOAWAY state, and it flushes its write buffer when its mailbox runs
// empty, so frames of many calls leave in one write. One reader goroutine
// per connection parses frames: DATA and HEADERS go straight to the stream
// they belong to (where a caller waits), control frames (SETTINGS, PING,
// GOAWAY, WINDOW_UPDATE, RST_STREAM) become messages to the actor.
//
// Callers use a connection through its *Conn handle: NewStream starts a
// call's stream, Stream.Write queues framed messages, Stream.RecvMsg returns
// whole messages. The actor tells its parent about its life with the Event
// messages (EventReady, EventGoAway, EventClosed) and then stops, so a
// supervising parent also sees *actor.Terminated.
//
// Dialing, TLS handshakes and the wait for the server's first SETTINGS happen
// outside the mailbox and report back as messages; the connection counts as
// established only when that SETTINGS frame has arrived.
package transport
