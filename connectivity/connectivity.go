// Package connectivity defines the five connectivity states of gRPC's
// connectivity-semantics document, shared by channels and subchannels.
// Package channel re-exports them as channel.Idle, channel.Ready, ...
package connectivity

import "fmt"

// State is a connectivity state.
type State int

// The five connectivity states.
const (
	// Idle: no connection and no attempt under way; a call or a request to
	// connect starts one.
	Idle State = iota
	// Connecting: a connection attempt is under way.
	Connecting
	// Ready: a connection is established; calls go out at once.
	Ready
	// TransientFailure: the last attempt failed; a new one follows a
	// backoff. Calls that do not wait for ready fail UNAVAILABLE.
	TransientFailure
	// Shutdown: closed for good.
	Shutdown
)

// String returns the canonical name, such as "TRANSIENT_FAILURE".
func (s State) String() string {
	switch s {
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
	return fmt.Sprintf("State(%d)", int(s))
}
