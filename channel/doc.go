// Package channel is the client's public entry point: channels to a gRPC
// target and the four kinds of calls on them, after Python grpcio's channel
// API.
//
// A Channel is opened with Insecure (grpcio's insecure_channel) or Secure
// (secure_channel, with credentials from package credentials) and shared
// freely: it is safe for any number of goroutines and actors. Calls are
// made through typed multi-callables bound to a method:
//
//	ch, err := channel.Insecure("localhost:50051")
//	sayHello := channel.UnaryUnary[*pb.HelloRequest, *pb.HelloReply](ch, "/helloworld.Greeter/SayHello")
//	reply, err := sayHello.Call(ctx, &pb.HelloRequest{Name: "you"}, channel.Timeout(time.Second))
//
// UnaryUnary, UnaryStream, StreamUnary and StreamStream mirror grpcio's
// multi-callables: Call blocks, WithCall also returns the finished *Call
// (metadata, code, details), Future returns a futures.Future that is also
// the call, and the streaming kinds return streams with Recv/All and, in
// their interactive Open form, Send/CloseSend. Start, on every kind, is
// the callback form: the call starts, Start returns at once, and its
// response (or, for streams, headers, messages within a granted demand,
// send credit and the end; see StreamHandler) reach callbacks run by the
// runtime's goroutines; no goroutine waits for the call meanwhile (on a
// channel from Intercept too, when its interceptors are
// StartInterceptors). Future and package actors are built on it. Every
// failure is a
// *status.Error with the gRPC code and a message that says what happened.
//
// Each channel runs as a protoactor actor (in the user's actor system with
// WithActorSystem, or in a silent default one) that owns one subchannel
// actor per address (internal/subchannel), each the parent of its
// connection actor (internal/transport). A call on a READY channel reads
// the channel's published snapshot and goes straight to the connection
// actor; only a call that has to wait for a connection talks to the
// channel actor.
//
// The channel actor's logic is a plain state machine, core (core.go): its
// step takes one message and returns effects, both sealed interfaces with
// a String (coremsgs.go), and it owns the aggregate connectivity state,
// the load-balancing policy's subchannels, the pending picks, the idle
// timer's state and the name lookups' state (whether one is in flight and
// the rate limit between them). The actor (actor.go) only performs the
// effects and keeps the subscribers; its timers, its stop-on-panic
// supervisor, the backoff and the quiet default actor system come from
// internal/actorsys, as they do for the subchannel and connection actors.
// The cores are table-tested without sockets (core_test.go).
//
// Inside, a call is a callState (call.go) in parts with one owner each:
// its configuration, the current attempt, the retry buffer, the retry
// state (call_retry.go: one decision for transparent and policy retries,
// used by blocking and started calls alike) and its lifetime; the receive
// side (call_recv.go) turns messages into payloads. A Call is one of two
// modes behind one interface: the RPC's own (plainCall) or what an
// interceptor chain returned (interceptedCall). Demand and send credit of
// every started call are one type (flow.go).
package channel
