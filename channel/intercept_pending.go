package channel

// Calls an intercepted call stands for before, or instead of, the RPC's
// own: a chain still running (pendingCall), or one that made no RPC
// (finished).

import (
	"context"
	"time"

	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/metadata"
	"github.com/grpcactor/grpcactor/status"
)

// pendingCall is the call of an Open on an intercepted client-streaming
// channel until the chain has returned: accessors wait for the chain, then
// ask the call it returned.
type pendingCall struct {
	ctx      context.Context
	cancel   context.CancelFunc
	ready    chan struct{}
	call     *Call
	finished chan struct{} // closed once the chain returned and its call ended
}

func newPendingCall(ctx context.Context, cancel context.CancelFunc) *pendingCall {
	return &pendingCall{ctx: ctx, cancel: cancel, ready: make(chan struct{}), finished: make(chan struct{})}
}

func (p *pendingCall) set(c *Call) {
	p.call = c
	close(p.ready)
	select {
	case <-c.Done(): // the usual case: a client-streaming call is over when its chain returns
		close(p.finished)
		p.cancel()
	default:
		go func() {
			<-c.Done()
			close(p.finished)
			p.cancel()
		}()
	}
}

func (p *pendingCall) wait() *Call { <-p.ready; return p.call }

func (p *pendingCall) InitialMetadata() metadata.MD  { return p.wait().InitialMetadata() }
func (p *pendingCall) TrailingMetadata() metadata.MD { return p.wait().TrailingMetadata() }
func (p *pendingCall) Code() codes.Code              { return p.wait().Code() }
func (p *pendingCall) Details() string               { return p.wait().Details() }
func (p *pendingCall) Done() <-chan struct{}         { return p.finished }

func (p *pendingCall) Cancel() bool {
	select {
	case <-p.finished:
		return false
	default:
	}
	p.cancel()
	select {
	case <-p.ready:
		return p.call.Cancel()
	default:
		return true
	}
}

func (p *pendingCall) IsActive() bool {
	select {
	case <-p.ready:
		return p.call.IsActive()
	default:
		return true
	}
}

func (p *pendingCall) TimeRemaining() (time.Duration, bool) {
	select {
	case <-p.ready:
		return p.call.TimeRemaining()
	default:
	}
	d, ok := p.ctx.Deadline()
	if !ok {
		return 0, false
	}
	return max(time.Until(d), 0), true
}

// finished is a call that ended before it began: what a chain that made no
// RPC reports.
type finished struct {
	st   *status.Error
	done chan struct{}
}

func finishedCall(err error) *finished {
	f := &finished{done: make(chan struct{})}
	close(f.done)
	if err != nil {
		f.st = status.Convert(err)
	}
	return f
}

func (f *finished) InitialMetadata() metadata.MD {
	if f.st != nil && f.st.InitialMetadata() != nil {
		return f.st.InitialMetadata()
	}
	return metadata.MD{}
}

func (f *finished) TrailingMetadata() metadata.MD {
	if f.st != nil {
		return f.st.TrailingMetadata()
	}
	return nil
}

func (f *finished) Code() codes.Code {
	if f.st == nil {
		return codes.OK
	}
	return f.st.Code()
}

func (f *finished) Details() string {
	if f.st == nil {
		return ""
	}
	return f.st.Details()
}

func (f *finished) Cancel() bool                         { return false }
func (f *finished) IsActive() bool                       { return false }
func (f *finished) Done() <-chan struct{}                { return f.done }
func (f *finished) TimeRemaining() (time.Duration, bool) { return 0, false }
