package channel

import (
	"context"
	"io"
	"iter"
	"sync"

	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/status"
)

// reqPipe carries the requests of an Open call on an intercepted channel
// from Send to the iterator the chain consumes. Send never blocks past the
// end of the call, its context, or the iterator's consumer giving up.
type reqPipe struct {
	ch        chan any
	closed    chan struct{} // CloseSend
	closeOnce sync.Once
	ctxDone   <-chan struct{}
	stopMu    sync.Mutex
	stop      chan struct{} // the call is over
	stopped   bool
	gone      chan struct{} // the iterator's consumer stopped
	goneOnce  sync.Once
}

func newReqPipe(ctx context.Context) *reqPipe {
	return &reqPipe{ch: make(chan any), closed: make(chan struct{}), ctxDone: ctx.Done(), stop: make(chan struct{}), gone: make(chan struct{})}
}

// end tells the pipe the call is over.
func (p *reqPipe) end() {
	p.stopMu.Lock()
	if !p.stopped {
		p.stopped = true
		close(p.stop)
	}
	p.stopMu.Unlock()
}

var errSendAfterClose = status.New(codes.Internal, "Send called after CloseSend")

func (p *reqPipe) send(v any) error {
	// A call that is over gives io.EOF, as Send does without
	// interceptors, even after CloseSend.
	select {
	case <-p.gone:
		return io.EOF
	case <-p.stop:
		return io.EOF
	case <-p.ctxDone:
		return io.EOF
	default:
	}
	select {
	case <-p.closed:
		return errSendAfterClose
	default:
	}
	select {
	case p.ch <- v:
		return nil
	case <-p.closed:
		return errSendAfterClose
	case <-p.gone:
		return io.EOF
	case <-p.stop:
		return io.EOF
	case <-p.ctxDone:
		return io.EOF
	}
}

func (p *reqPipe) close() { p.closeOnce.Do(func() { close(p.closed) }) }

func (p *reqPipe) seq() iter.Seq[any] {
	return func(yield func(any) bool) {
		defer p.goneOnce.Do(func() { close(p.gone) })
		for {
			select {
			case v := <-p.ch:
				if !yield(v) {
					return
				}
			case <-p.closed:
				return
			case <-p.stop:
				return
			case <-p.ctxDone:
				return
			}
		}
	}
}
