package channel

import (
	"fmt"
	"strings"
)

// The core's messages and effects (declared in core.go) as closed sets
// with a String each: effects read as the table tests expect them.

func (msgPick) coreMsg()         {}
func (msgAbandoned) coreMsg()    {}
func (msgConnect) coreMsg()      {}
func (msgClose) coreMsg()        {}
func (msgEnterIdle) coreMsg()    {}
func (msgResetBoff) coreMsg()    {}
func (msgResolveNow) coreMsg()   {}
func (msgResolved) coreMsg()     {}
func (msgSubState) coreMsg()     {}
func (msgIdleCheck) coreMsg()    {}
func (msgDoResolve) coreMsg()    {}
func (msgResolverGone) coreMsg() {}

func (m msgPick) String() string {
	if m.req.waitForReady {
		return "pick wait_for_ready"
	}
	return "pick"
}
func (msgAbandoned) String() string    { return "abandoned" }
func (msgConnect) String() string      { return "connect" }
func (msgClose) String() string        { return "close" }
func (msgEnterIdle) String() string    { return "enter idle" }
func (msgResetBoff) String() string    { return "reset backoff" }
func (m msgResolveNow) String() string { return fmt.Sprintf("resolve now gen=%d", m.gen) }
func (m msgResolved) String() string {
	if m.err != nil {
		return "resolved " + m.err.Code().String() + ": " + m.err.Details()
	}
	var b strings.Builder
	if m.res.cfgOnly {
		return "resolved config only"
	}
	b.WriteString("resolved [")
	for i, a := range m.addrs {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(a.addr)
	}
	b.WriteByte(']')
	return b.String()
}
func (m msgSubState) String() string {
	s := fmt.Sprintf("sub %d %v", m.id, m.state)
	if m.err != nil {
		s += " " + m.err.Code().String()
	}
	return s
}
func (m msgIdleCheck) String() string {
	return fmt.Sprintf("idle check gen=%d active=%d starts=%d (armed at %d)", m.gen, m.active, m.starts, m.armedStarts)
}
func (msgDoResolve) String() string      { return "do resolve" }
func (m msgResolverGone) String() string { return "resolver gone: " + m.err.Details() }

func (effResolve) effect()          {}
func (effResolveLater) effect()     {}
func (effIdleTimer) effect()        {}
func (effNewSub) effect()           {}
func (effConnectSub) effect()       {}
func (effShutdownSub) effect()      {}
func (effResetSubs) effect()        {}
func (effReply) effect()            {}
func (effResolveTimer) effect()     {}
func (effState) effect()            {}
func (effServiceConfig) effect()    {}
func (effBadServiceConfig) effect() {}

func (effResolve) String() string        { return "resolve" }
func (e effResolveLater) String() string { return "resolve-later " + e.d.String() }
func (e effIdleTimer) String() string    { return fmt.Sprintf("idle-timer %v gen=%d", e.d, e.gen) }
func (e effNewSub) String() string       { return fmt.Sprintf("new %d %s", e.id, e.addr.addr) }
func (e effConnectSub) String() string   { return fmt.Sprintf("connect %d", e.id) }
func (e effShutdownSub) String() string  { return fmt.Sprintf("shutdown %d", e.id) }
func (e effResetSubs) String() string    { return fmt.Sprintf("reset %v", e.ids) }
func (e effReply) String() string {
	if e.res.err != nil {
		return "reply " + e.res.err.Code().String()
	}
	return "reply conn"
}
func (e effResolveTimer) String() string     { return "resolve-timer " + e.d.String() }
func (e effState) String() string            { return e.from.String() + "->" + e.to.String() }
func (effServiceConfig) String() string      { return "service config" }
func (e effBadServiceConfig) String() string { return "bad service config: " + e.err.Error() }
