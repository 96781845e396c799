package subchannel

import (
	"context"
	"errors"
	"io"
	"log/slog"

	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/internal/bufpool"
	"github.com/grpcactor/grpcactor/internal/health"
	"github.com/grpcactor/grpcactor/internal/transport"
	"github.com/grpcactor/grpcactor/internal/wire"
	"github.com/grpcactor/grpcactor/status"
)

// Client-side health checking (gRFC A17), the actor's part: the core
// decides when a Health/Watch stream is opened, cancelled or retried and
// what its answers mean; the actor opens the stream and a reader turns
// what arrives into msgHealthStatus and msgHealthEnded.
//
// The reader is one goroutine per health stream (one per connected
// subchannel with health checking on), parked in Stream.RecvMsg: the
// transport has no notification hook on this branch. It ends with the
// stream, which ends with the connection or when the core cancels it.

// healthWatch is the open health stream.
type healthWatch struct {
	conn   *transport.Conn
	stream *transport.Stream
}

func (a *subActor) startHealth(e effStartHealth) {
	a.cancelHealth("a new health check stream replaced it")
	s, err := e.conn.NewStream(context.Background(), &transport.CallHdr{Method: health.WatchMethod})
	if err != nil {
		// By message, not a nested step: the core's effects of this
		// step are still being performed.
		a.sub.send(msgHealthEnded{conn: e.conn, gen: e.gen, err: status.Convert(err)})
		return
	}
	a.health = &healthWatch{conn: e.conn, stream: s}
	go watchHealth(s, e, a.sub.send)
}

// cancelHealth cancels the open health stream, if any, with why.
func (a *subActor) cancelHealth(why string) {
	if a.health != nil {
		a.health.stream.Cancel(status.New(codes.Canceled, why))
		a.health = nil
	}
}

// watchHealth sends the Watch request and reports every answer and the
// stream's end to the subchannel.
func watchHealth(s *transport.Stream, e effStartHealth, send func(any)) {
	body := health.AppendRequest(nil, e.service)
	buf := append(wire.AppendMsgHeader(make([]byte, 0, wire.MsgHeaderLen+len(body)), false, len(body)), body...)
	// A failed write shows as the stream's end status, read below.
	_ = s.Write(buf, true)
	for {
		m, err := s.RecvMsg()
		if err != nil {
			var st *status.Error
			if !errors.Is(err, io.EOF) {
				st = status.Convert(err)
			}
			send(msgHealthEnded{conn: e.conn, gen: e.gen, err: st})
			return
		}
		if m.Compressed {
			// No grpc-accept-encoding was sent: a compressed answer is
			// the server's error.
			st := status.New(codes.Internal, "health check response is compressed, but the request accepted no compression")
			s.Cancel(st)
			send(msgHealthEnded{conn: e.conn, gen: e.gen, err: st})
			return
		}
		hs, derr := health.DecodeResponse(m.Data)
		bufpool.Put(m.Data)
		if derr != nil {
			st := status.Errorf(codes.Internal, "health check response: %v", derr)
			s.Cancel(st)
			send(msgHealthEnded{conn: e.conn, gen: e.gen, err: st})
			return
		}
		send(msgHealthStatus{conn: e.conn, gen: e.gen, status: hs})
	}
}

// logHealthDisabled logs a server that does not implement the health
// service: the check is off for this connection (A17 asks for an error
// log).
func (a *subActor) logHealthDisabled(err *status.Error) {
	ctx := context.Background()
	if l := a.cfg.Logger; l != nil && l.Enabled(ctx, slog.LevelError) {
		l.LogAttrs(ctx, slog.LevelError, "health check disabled: the server does not implement grpc.health.v1.Health",
			slog.String("address", a.sub.addr), slog.String("error", err.Details()))
	}
}
