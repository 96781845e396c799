package actors

import (
	"github.com/asynkron/protoactor-go/actor"
	"github.com/grpcactor/grpcactor/channel"
	"github.com/grpcactor/grpcactor/credentials"
)

// Spawn opens a plaintext channel to target (as channel.Insecure does)
// whose actor is a child of the actor whose context ctx is, in that actor's
// system. The channel stops with its parent: when the parent stops, the
// channel's calls end CANCELLED and its connections close, as if Close had
// been called (Close may still be called, before or after; it waits for
// the rest of the shutdown). With WatchConnectivity among opts the parent
// receives a *channel.ConnectivityChanged on every change of the channel's
// state. Call Spawn from the parent's Receive: it performs no I/O.
func Spawn(ctx actor.Context, target string, opts ...channel.Option) (*channel.Channel, error) {
	return channel.Insecure(target, childOptions(ctx, opts)...)
}

// SpawnSecure is Spawn for a channel secured by creds, as channel.Secure.
func SpawnSecure(ctx actor.Context, target string, creds *credentials.ChannelCredentials, opts ...channel.Option) (*channel.Channel, error) {
	return channel.Secure(target, creds, childOptions(ctx, opts)...)
}

// WatchConnectivity is a Spawn option: the parent actor receives a
// *channel.ConnectivityChanged with the channel's state at once and on
// every change, until the channel closes (SHUTDOWN is the last). Default:
// off.
func WatchConnectivity() channel.Option { return channel.NotifyParent() }

func childOptions(ctx actor.Context, opts []channel.Option) []channel.Option {
	return append(append([]channel.Option(nil), opts...), channel.WithParent(ctx))
}
