// Package actorsremote makes a channel a service of a protoactor actor
// system that spans several nodes: an actor on any node calls a gRPC
// backend through a channel that lives on another node, by message, with
// the same replies, streams, demand and deadlines as on a local channel
// (package actors). It runs on protoactor-go's own remote layer; nothing
// here does membership, placement or transport of its own.
//
// On the node that holds the channel, Serve spawns a gateway actor under
// a well-known name:
//
//	ch, _ := channel.Insecure("orders:443")
//	actorsremote.Serve(system, ch, "orders", actorsremote.Allow("/shop.Orders/*"))
//
// On any other node, Remote gives a handle on it, and the forms of
// package actors are made on the handle instead of the channel. Moving
// code from a local channel to a remote one changes one line, the one
// that makes the method:
//
//	get := actors.Unary[*pb.GetOrder, *pb.Order](ch, "/shop.Orders/Get")                // local
//	get := actorsremote.Unary[*pb.GetOrder, *pb.Order](orders, "/shop.Orders/Get")       // remote, orders := actorsremote.Remote(system, "10.0.0.7:8090", "orders")
//
//	get.Send(ctx, &pb.GetOrder{Id: 7}, channel.Timeout(time.Second)) // the same in both
//	case *actors.Reply[*pb.Order]:                                     // the same in both
//
// Both forms satisfy actors.Sender (Unary, ServerStream) or actors.Opener
// (ClientStream, BidiStream), for code that takes either.
//
// The call options that travel with a call are Timeout, Metadata,
// WaitForReady, Compression, MaxSendMessageSize, MaxReceiveMessageSize,
// ContentSubtype and HashKey; the gateway's channel applies them. Call
// credentials (channel.CallCredentials) run on the calling node, when
// the gateway asks: only a gateway whose channel sends call credentials
// (opened with Secure) asks, with its channel's request info (the service
// URL of its authority), and adds the metadata they return to the call's;
// a gateway whose channel is plaintext refuses the call UNAUTHENTICATED
// without asking, as gRPC sends call credentials only on a secure
// channel. Credentials that fail end the call with their status. Their
// metadata (a token) crosses protoactor's remote layer: between nodes on
// a network you do not trust, run it with TLS (remote.WithServerOptions
// and remote.WithDialOptions with grpc-go's TLS credentials). A call's
// timeout counts from its arrival at the gateway, the wait for its
// credentials included.
//
// Serve runs a Gateway (NewGateway) under a fixed name; an actor found
// otherwise, such as a cluster grain (package actorscluster), runs the
// same Gateway, and Locate makes a handle on it from a lookup of its PID.
//
// The messages between the nodes are the protobuf messages of package
// actorspb (UnaryRequest/UnaryResponse for unary calls, StreamOpen,
// StreamMessage, StreamDemand, StreamCredit, StreamHalfClose, CallCancel
// and StreamEnd for streams, CredentialsRequest and CredentialsMetadata
// for call credentials), carried by protoactor's proto serializer.
// Demand and send credit are the gateway channel's own, end to end: a
// stream opened with actors.Demand(n) has at most n responses between the
// gateway and the calling actor, and the gateway's HTTP/2 window opens
// only as the demand does, so a slow remote actor holds the gRPC server
// back; a client- or bidirectional-streaming call's SendCredit is the
// gateway stream's.
//
// What fails, and how:
//   - The gateway allows only the methods given with Allow; any other call
//     ends PERMISSION_DENIED naming the method.
//   - A call's timeout travels with it and is enforced by the gateway's
//     channel; the calling node ends it DEADLINE_EXCEEDED at the same time
//     if no end has come (a gateway that cannot be reached).
//   - Ref.Cancel, or the calling actor's stop, ends the call CANCELLED at
//     once and cancels it on the gateway (RST_STREAM(CANCEL) to the
//     server).
//   - The calling node lost (its actor system stops, its process dies, the
//     network parts): the gateway watches each caller's handle actor and
//     cancels its calls when protoactor reports it terminated.
//   - The gateway lost (stopped, its node gone or unreachable): every call
//     in progress ends UNAVAILABLE on the calling node, whose handle
//     watches the gateway; the next call tries again.
//
// Everything here runs as messages and callbacks: the gateway's calls are
// its channel's started calls (channel's Start form), the caller's are
// entries in its handle actor's table, and deadlines are timers that send
// a message. No goroutine is parked per call on either node.
//
// This package imports protoactor's remote layer only in its tests: Serve
// and Remote need a node whose remote layer was started
// (remote.NewRemote(system, remote.Configure(host, port)).Start()), which
// brings grpc-go; packages actors and channel never import it.
package actorsremote
