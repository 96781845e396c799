// Package actorscluster makes channels the grains of a protoactor-go
// cluster: a cluster kind ("grpc-channel" by default) whose grains are
// channels keyed by target. Any member asks for the channel to
// "dns:///orders:443" and reaches the one member that holds it, which
// protoactor's cluster activates on the first call (its identity lookup,
// e.g. identitylookup/disthash, picks the member). Nothing here does
// membership, placement or transport: protoactor's cluster and remote
// layers do.
//
// Every member that may hold channels registers the kind, made by NewKind
// with the function that opens a target's channel (its credentials and
// options are the member's) and two allow-lists, of targets and of
// methods:
//
//	kind, _ := actorscluster.NewKind(func(target string) (*channel.Channel, error) {
//		return channel.Insecure(target)
//	}, actorscluster.AllowTargets("dns:///orders:443"), actorscluster.Allow("/shop.Orders/*"))
//	c := cluster.New(system, cluster.Configure("shop", provider, disthash.New(), remote.Configure(host, port), cluster.WithKinds(kind)))
//	c.StartMember()
//
// Any member (or cluster client) calls through a handle that Channel
// returns, with the forms of package actorsremote, as on a channel on one
// fixed node:
//
//	orders := actorscluster.Channel(c, "dns:///orders:443")
//	get := actorsremote.Unary[*pb.GetOrder, *pb.Order](orders, "/shop.Orders/Get")
//	get.Send(ctx, &pb.GetOrder{Id: 7}, channel.Timeout(time.Second)) // *actors.Reply[*pb.Order] arrives
//
// A grain is actorsremote's gateway (the same Gateway code and the wire
// protocol of package actorspb), so replies, streams, demand, send credit,
// deadlines and cancellation behave as through actorsremote.Serve. The
// handle looks the grain's PID up (cluster.Get) when its first call needs
// it, on a goroutine of its own (the lookup blocks; the calls wait in the
// handle), and then watches it:
//   - The member holding the grain dies, leaves or cannot be reached:
//     protoactor reports the grain's PID terminated (its endpoint lost, or
//     the member gone from the topology), every call in progress on it
//     ends UNAVAILABLE at once, and the next call looks the grain up
//     again, which activates it on a member still in the topology.
//   - The grain moves (a member joins and the identity lookup places the
//     target elsewhere: protoactor stops the old activation): the same.
//   - A target the kind does not allow: every call ends PERMISSION_DENIED
//     naming the target; a method it does not allow, PERMISSION_DENIED
//     naming the method. A target the Opener cannot open: INVALID_ARGUMENT
//     with its error.
//   - No member answers the lookup (five tries): the calls waiting end
//     UNAVAILABLE.
//
// This package imports protoactor's cluster layer, and so its remote layer
// and grpc-go; packages actors, channel and actorsremote do not.
package actorscluster
