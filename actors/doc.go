// Package actors is the actor face of grpcactor: calls and streams made
// by sending a message from a protoactor actor, their responses, streamed
// messages, ends and send credit delivered to its mailbox, with demand
// for back-pressure and no goroutine per call.
//
//	what the actor does                          what arrives in its mailbox
//	actors.Unary[Req, Resp](ch, m).Send(ctx, req)    one *actors.Reply[Resp] (value or Err, metadata, code, details)
//	actors.ServerStream[Req, Resp](ch, m).Send(ctx, req, actors.Demand(n))
//	                                                  *actors.Message[Resp] (at most the demand granted), then one *actors.End
//	actors.ClientStream[Req, Resp](ch, m).Open(ctx)   *actors.SendCredit, then (after ref.CloseSend) one *actors.Reply[Resp]
//	actors.BidiStream[Req, Resp](ch, m).Open(ctx)     *actors.SendCredit and *actors.Message[Resp] interleaved, then one *actors.End
//	ref.Send(req), ref.CloseSend()                    (a request needs credit: *actors.SendCredit says how many more)
//	ref.Request(k)                                    k more *actors.Message
//	ref.Cancel()                                      the Reply or End, CANCELLED
//
// Every message carries the call's *Ref, so one actor can run many calls
// at once. The outcome goes to the actor that sent the call (ctx.Self())
// or to the PID given with ReplyTo, which is how an actor.SenderContext
// without a Self (the root context) makes calls. Options go in one list
// with the channel's call options (channel.Timeout, channel.Metadata,
// channel.WaitForReady, channel.Compression, channel.CallCredentials).
//
// Demand: a server- or bidirectional-streaming call delivers at most as
// many Messages as the actor granted, Demand(n) when it starts and
// ref.Request(k) later (Reactive Streams' request(n)). The stream's HTTP/2
// receive window is credited back only as messages are delivered, so a
// slow actor back-pressures the server once the window (4 MiB) is full,
// and its mailbox never holds more Messages than its demand. Without
// Demand, every message is delivered as it arrives (DefaultDemand).
//
// Send credit: a client- or bidirectional-streaming call's actor receives
// *SendCredit{N} when it may send N more requests; ref.Send without credit
// is refused (RESOURCE_EXHAUSTED, nothing sent, the call goes on). Credit
// comes while fewer than 64 KiB of the stream's bytes wait to be written,
// so a server that stops reading stops the credit and nothing is buffered
// without bound. No request may be sent before the first credit.
//
// Lifetime: when the actor that started a call stops, its calls are
// cancelled (one watcher actor per calling actor, not a goroutine per
// call). Deadlines (channel.Timeout) end calls DEADLINE_EXCEEDED.
//
// The calls are channel's Start form underneath: no goroutine waits for a
// call; the outcome goes from the connection's frame reader straight into
// the target's mailbox. An actor that holds only a channel's PID can use
// the untyped protocol instead: ch.PID() answers an
// *actorspb.UnaryRequest sent with ctx.Request with an
// *actorspb.UnaryResponse.
//
// The package also puts the rest of a channel's life in an actor system:
// Spawn and SpawnSecure open a channel whose actor is a child of the
// calling actor (WatchConnectivity tells the parent of its state), Await
// runs a continuation with a future's outcome inside the actor, and
// Interceptor makes an actor a channel's middleware (it answers each
// call's *Intercept with *Proceed or *Reject, and receives a *CallDone
// when the call ends if it asked for one).
package actors
