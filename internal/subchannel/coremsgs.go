package subchannel

import "fmt"

// The core's messages and effects (declared in core.go) as closed sets
// with a String each: effects read as the table tests expect them.

func (msgConnect) coreMsg()      {}
func (msgResetBackoff) coreMsg() {}
func (msgBackoffDone) coreMsg()  {}
func (msgSetKeepalive) coreMsg() {}
func (msgConnReady) coreMsg()    {}
func (msgConnGoAway) coreMsg()   {}
func (msgConnClosed) coreMsg()   {}
func (msgShutdown) coreMsg()     {}
func (msgStopNow) coreMsg()      {}
func (msgHealthStatus) coreMsg() {}
func (msgHealthEnded) coreMsg()  {}
func (msgHealthRetry) coreMsg()  {}

func (msgConnect) String() string        { return "connect" }
func (msgResetBackoff) String() string   { return "reset backoff" }
func (m msgBackoffDone) String() string  { return fmt.Sprintf("backoff done gen=%d", m.gen) }
func (m msgSetKeepalive) String() string { return "set keepalive " + m.d.String() }
func (msgConnReady) String() string      { return "connection ready" }
func (m msgConnGoAway) String() string {
	return fmt.Sprintf("connection GOAWAY %v %q", m.Code, m.Debug)
}
func (m msgConnClosed) String() string {
	if m.Err != nil {
		return "connection closed: " + m.Err.Code().String() + ": " + m.Err.Details()
	}
	return "connection closed"
}
func (msgShutdown) String() string { return "shutdown" }
func (msgStopNow) String() string  { return "stop now" }
func (m msgHealthStatus) String() string {
	return fmt.Sprintf("health gen=%d says %v", m.gen, m.status)
}
func (m msgHealthEnded) String() string {
	if m.err != nil {
		return fmt.Sprintf("health gen=%d ended: %v: %s", m.gen, m.err.Code(), m.err.Details())
	}
	return fmt.Sprintf("health gen=%d ended OK", m.gen)
}
func (m msgHealthRetry) String() string { return fmt.Sprintf("health retry gen=%d", m.gen) }

func (effDial) effect()           {}
func (effCloseConn) effect()      {}
func (effDrainConn) effect()      {}
func (effStopSelf) effect()       {}
func (effTimer) effect()          {}
func (effReport) effect()         {}
func (effTooManyPings) effect()   {}
func (effStartHealth) effect()    {}
func (effStopHealth) effect()     {}
func (effHealthTimer) effect()    {}
func (effHealthDisabled) effect() {}

func (e effDial) String() string    { return "dial " + e.connectTimeout.String() }
func (effCloseConn) String() string { return "close" }
func (effDrainConn) String() string { return "drain" }
func (effStopSelf) String() string  { return "stop" }
func (e effTimer) String() string   { return "timer " + e.d.String() }
func (e effReport) String() string {
	s := "report " + e.state.String()
	if e.err != nil {
		s += " " + e.err.Code().String()
	}
	return s
}
func (e effTooManyPings) String() string { return "too_many_pings " + e.keepalive.String() }
func (e effStartHealth) String() string {
	return fmt.Sprintf("watch health %q gen=%d", e.service, e.gen)
}
func (effStopHealth) String() string     { return "cancel health" }
func (e effHealthTimer) String() string  { return "health timer " + e.d.String() }
func (effHealthDisabled) String() string { return "health disabled" }
