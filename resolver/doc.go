// Package resolver is the public name-resolver API of grpcactor's channels:
// what turns a channel's target into the addresses it connects to, and
// optionally a service config.
//
// A channel finds its resolver by the scheme of its target: a Builder given
// with channel.WithResolver, else one registered for the scheme with
// Register, else the built-in ones (dns, unix, unix-abstract, ipv4, ipv6,
// passthrough). The channel builds its resolver once, when it is opened
// (Build must not block or do I/O), and starts it when it first leaves IDLE.
// A resolver then talks to the channel by message, in one of three forms
// (the fields of Resolver):
//
//   - Poll: a plain function. The channel calls it on a goroutine of its
//     own (never inside a mailbox) when it first needs addresses and
//     whenever it asks for a re-resolution (after a connection is lost or
//     fails, rate-limited by grpc.dns_min_time_between_resolutions_ms), one
//     call at a time; each result is an Update. The built-in dns scheme is
//     such a resolver.
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
