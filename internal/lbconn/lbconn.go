// Package lbconn joins a balancer.SubConn to the channel that runs it: the
// channel attaches the subchannel's ready connection to the SubConn (and
// detaches it when the subchannel leaves READY), and reads it back for
// the SubConn a picker chose. The functions are set by package balancer's
// init; balancer cannot be imported here (it imports this package).
package lbconn

import "github.com/grpcactor/grpcactor/internal/transport"

var (
	// Attach gives sc (a *balancer.SubConn) its ready connection; a nil
	// conn marks it unusable (not READY). usable tells, on every pick,
	// whether conn still takes new streams.
	Attach func(sc any, conn *transport.Conn, usable func() bool)
	// Conn returns the connection attached to sc, or nil.
	Conn func(sc any) *transport.Conn
)
