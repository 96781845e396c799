// Package resolver is the public name-resolver API of grpcactor's channels:
// what turns a channel's target into the addresses it connects to, and
// optionally a service config.
//
// A channel finds its resolver by the scheme of its target: a Builder given
// with channel.WithResolver, else the one registered for the scheme. The
// built-in schemes (dns, unix, unix-abstract, ipv4, ipv6, passthrough) are
// registered builders like any other: Schemes lists them, Get returns them,
// Register replaces them (as in grpc-go, the last builder registered for a
// scheme wins) and Builtin returns the originals. A target without a scheme
// is a dns one. The channel builds its resolver once, when it is opened
// (Build must not block or do I/O), and starts it when it first leaves
// IDLE. A resolver then talks to the channel by message, in one of four
// forms (the fields of Resolver):
//
//   - Poll: a plain function. The channel calls it on a goroutine of its
//     own (never inside a mailbox) when it first needs addresses and
//     whenever it asks for a re-resolution (after a connection is lost or
//     fails, rate-limited by grpc.dns_min_time_between_resolutions_ms), one
//     call at a time; each result is an Update. With a PollInterval (PollFunc
//     with Every) the channel also polls it periodically while the channel is
//     out of IDLE: a timer of the channel actor, a message in its mailbox,
//     stopped when the channel goes IDLE or closes. The built-in dns scheme
//     is a Poll resolver without an interval: like grpc-go's and grpcio's dns
//     resolvers it resolves again only when the channel asks, never on a
//     timer.
//   - Props: an actor the channel spawns as its child. It receives *Start
//     (the target and the channel's PID) and then *ResolveNow whenever the
//     channel asks for a re-resolution, and sends *Update messages to the
//     channel's PID whenever it likes: a push resolver, for a watch on
//     Kubernetes, Consul or a protoactor cluster's membership. The channel
//     stops it when the channel closes. Manual is such a resolver.
//   - PID: an actor of the user's own system, shared by any number of
//     channels. It receives *Start, *ResolveNow and, when a channel closes,
//     *Stop, each naming the channel's PID, and sends *Update messages to
//     that PID. The channel watches it.
//   - Static: a fixed address list, known when the resolver is built; the
//     channel never resolves again. The built-in unix, unix-abstract, ipv4,
//     ipv6 and passthrough schemes are such resolvers.
//
// An Update carries an address list (each Address with an optional Weight
// and Attributes for load-balancing policies), a service config (JSON,
// validated by the channel: an invalid one is logged at Warn on the
// channel's logger and the last good one stays in force), or an error (the
// channel keeps the addresses it has; with none, it goes TRANSIENT_FAILURE
// and asks again after a backoff).
//
// A resolver actor that stops (Props or PID) leaves its channel unable to
// learn addresses: the channel goes TRANSIENT_FAILURE for good and fails
// every call, waiting ones included, UNAVAILABLE with an error that names
// the target and says its resolver stopped.
package resolver
