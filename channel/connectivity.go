package channel

import "fmt"

// Connectivity is a channel's connectivity state, as gRPC's
// connectivity-semantics document defines it (grpcio's ChannelConnectivity).
type Connectivity int

// The five connectivity states.
const (
	// Idle: no connection and no attempt under way; a call or a request
	// to connect starts one.
	Idle Connectivity = iota
	// Connecting: a connection attempt is under way.
	Connecting
	// Ready: a connection is established and calls go out at once.
	Ready
	// TransientFailure: the last attempt failed; the channel retries after
	// a backoff. Calls that do not wait for ready fail UNAVAILABLE.
	TransientFailure
	// Shutdown: the channel was closed.
	Shutdown
)

// String returns the state's canonical name, such as "TRANSIENT_FAILURE".
func (c Connectivity) String() string {
	switch c {
	case Idle:
		return "IDLE"
	case Connecting:
		return "CONNECTING"
	case Ready:
		return "READY"
	case TransientFailure:
		return "TRANSIENT_FAILURE"
	case Shutdown:
		return "SHUTDOWN"
	}
	return fmt.Sprintf("Connectivity(%d)", int(c))
}
