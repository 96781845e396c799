package subchannel

import "github.com/grpcactor/grpcactor/internal/actorsys"

// Backoff is gRPC's connection backoff (connection-backoff document): the
// first delay Initial, then ×1.6 per attempt, capped at Max, each delay
// jittered by ±20 %. It is the runtime's one backoff, shared with the
// channel's re-resolution.
type Backoff = actorsys.Backoff
