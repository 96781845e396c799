// Command protoc-gen-go-grpcactor is a protoc plugin that generates, for
// each service of a .proto file, a typed client (a "stub", as grpcio
// names it) bound to a grpcactor *channel.Channel, with one Go method per
// RPC in each form the channel has:
//
//   - unary: SayHello (blocking), SayHelloWithCall (with the finished
//     *channel.Call), SayHelloFuture (a *channel.CallFuture);
//   - server streaming: LotsOfReplies, returning a *channel.ResponseStream;
//   - client streaming: LotsOfGreetings (requests from an iter.Seq),
//     LotsOfGreetingsWithCall, LotsOfGreetingsFuture and
//     LotsOfGreetingsOpen (a *channel.ClientStream for Send and
//     CloseAndRecv);
//   - bidirectional streaming: BidiHello (requests from an iter.Seq, a
//     *channel.ResponseStream back) and BidiHelloOpen (a
//     *channel.BidiStream);
//   - and for every kind the callback form, SayHelloStart(ctx, req, done)
//     and LotsOfRepliesStart(ctx, req, h) (a channel.StreamHandler; the
//     client- and bidirectional-streaming ones take no request and return
//     a *channel.StreamCall to Send on): no goroutine waits for the call.
//
// For actors it generates a second type per service, the actor stub
// (GreeterActorStub, NewGreeterActorStub), with one method per RPC named
// after it that makes the call by message through package actors and
// returns the call's *actors.Ref at once; what happens arrives in the
// mailbox of the calling actor (or of actors.ReplyTo's PID):
//
//   - unary: SayHello(ctx actor.SenderContext, req, opts...) delivers one
//     *actors.Reply[*HelloReply];
//   - server streaming: LotsOfReplies(ctx, req, opts...) delivers
//     *actors.Message[*HelloReply] within the demand (actors.Demand,
//     Ref.Request), then one *actors.End;
//   - client streaming: LotsOfGreetings(ctx, opts...) delivers
//     *actors.SendCredit (the actor sends with Ref.Send, ends with
//     Ref.CloseSend), then one *actors.Reply[*HelloReply];
//   - bidirectional streaming: BidiHello(ctx, opts...) delivers
//     *actors.SendCredit and *actors.Message[*HelloReply], then one
//     *actors.End.
//
// It also generates the service's full name and its full method names as
// exported constants, and carries the .proto's comments and deprecations
// onto the generated names. The names (GreeterStub, NewGreeterStub,
// GreeterActorStub, GreeterSayHelloMethod, ...) do not collide with those
// of protoc-gen-go-grpc, so both can generate into one package.
//
// Run it with buf (buf.gen.yaml: a "local: protoc-gen-go-grpcactor"
// plugin) or protoc (--go-grpcactor_out=.), beside protoc-gen-go, which
// generates the messages. Parameters, given as protoc's
// --go-grpcactor_opt or buf's opt:
//
//   - paths=import|source_relative, module=..., M...=...: protogen's own,
//     as for protoc-gen-go;
//   - package_suffix=S: generate into a package of its own, named the
//     messages' package name followed by S, in a directory of that name
//     beside the messages (for example helloworld/helloworldactor), which
//     imports the messages. The default is the messages' own package;
//   - actors=false: no actor stubs (the generated file then imports
//     neither package actors nor protoactor). Default: true.
package main

import (
	"flag"
	"fmt"
	"os"

	"google.golang.org/protobuf/compiler/protogen"
)

// version is the generator's version, written into each generated file.
const version = "0.1.0"

func main() {
	if len(os.Args) == 2 && os.Args[1] == "--version" {
		fmt.Println("protoc-gen-go-grpcactor", version)
		return
	}
	var flags flag.FlagSet
	cfg := config{}
	cfg.register(&flags)
	protogen.Options{ParamFunc: flags.Set}.Run(func(gen *protogen.Plugin) error {
		return generate(gen, cfg)
	})
}
