package channel

import "github.com/grpcactor/grpcactor/connectivity"

// Connectivity is a channel's connectivity state, as gRPC's
// connectivity-semantics document defines it (grpcio's ChannelConnectivity).
// String gives IDLE, CONNECTING, READY, TRANSIENT_FAILURE, SHUTDOWN.
type Connectivity = connectivity.State

// The five connectivity states.
const (
	// Idle: no connection and no attempt under way; a call or a request
	// to connect starts one.
	Idle = connectivity.Idle
	// Connecting: a connection attempt is under way.
	Connecting = connectivity.Connecting
	// Ready: a connection is established and calls go out at once.
	Ready = connectivity.Ready
	// TransientFailure: the last attempt failed; the channel retries after
	// a backoff. Calls that do not wait for ready fail UNAVAILABLE.
	TransientFailure = connectivity.TransientFailure
	// Shutdown: the channel was closed.
	Shutdown = connectivity.Shutdown
)
