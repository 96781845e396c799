package interceptors

import (
	"context"
	"errors"
	"io"
	"iter"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/status"
	"google.golang.org/protobuf/proto"
)

// LoggingOption configures Logging.
type LoggingOption interface{ applyLogging(*LoggingInterceptor) }

type loggingOptionFunc func(*LoggingInterceptor)

func (f loggingOptionFunc) applyLogging(l *LoggingInterceptor) { f(l) }

// WithLevels chooses the level of each call's line from its code. Default:
// Info for OK, Warn for every other code.
func WithLevels(level func(codes.Code) slog.Level) LoggingOption {
	return loggingOptionFunc(func(l *LoggingInterceptor) { l.level = level })
}

// WithLogMessage sets the message of the lines. Default "grpc call".
func WithLogMessage(msg string) LoggingOption {
	return loggingOptionFunc(func(l *LoggingInterceptor) { l.msg = msg })
}

// LoggingInterceptor writes one structured line per call; Logging makes
// one. It implements the four interceptor interfaces.
type LoggingInterceptor struct {
	logger *slog.Logger
	level  func(codes.Code) slog.Level
	min    slog.Level // the lowest level any call may be logged at
	msg    string
}

// Logging returns an interceptor that logs one line per call when the call
// ends, with the attributes method, code, duration, sent_messages,
// sent_bytes, received_messages, received_bytes (serialized protobuf or
// []byte sizes, before compression), peer (the server address the call
// used, when known) and, for a failed call, error (its details). A
// streaming call's line is written when its response stream ends (Recv
// returns an error, io.EOF included) or is cancelled.
//
// When logger is not enabled for any level a call could be logged at, the
// interceptor passes calls straight on: it allocates nothing and measures
// nothing.
func Logging(logger *slog.Logger, opts ...LoggingOption) *LoggingInterceptor {
	l := &LoggingInterceptor{logger: logger, msg: "grpc call", level: defaultLevel}
	for _, o := range opts {
		o.applyLogging(l)
	}
	l.min = l.level(codes.OK)
	for c := codes.Code(1); c <= 16; c++ {
		l.min = min(l.min, l.level(c))
	}
	return l
}

func defaultLevel(c codes.Code) slog.Level {
	if c == codes.OK {
		return slog.LevelInfo
	}
	return slog.LevelWarn
}

// on reports whether a call may be logged at all.
func (l *LoggingInterceptor) on(ctx context.Context) bool {
	return l.logger != nil && l.logger.Enabled(ctx, l.min)
}

// callLog is what a line reports about one call.
type callLog struct {
	l                   *LoggingInterceptor
	ctx                 context.Context
	method              string
	start               time.Time
	sentMsgs, sentBytes atomic.Int64
	rcvdMsgs, rcvdBytes atomic.Int64
	once                sync.Once
}

func (l *LoggingInterceptor) begin(ctx context.Context, method string) *callLog {
	return &callLog{l: l, ctx: ctx, method: method, start: time.Now()}
}

func (c *callLog) sent(m any) {
	c.sentMsgs.Add(1)
	c.sentBytes.Add(int64(msgSize(m)))
}

func (c *callLog) received(m any) {
	c.rcvdMsgs.Add(1)
	c.rcvdBytes.Add(int64(msgSize(m)))
}

// msgSize is the serialized size of a protobuf message or a []byte, 0 for
// anything else.
func msgSize(m any) int {
	switch m := m.(type) {
	case proto.Message:
		return proto.Size(m)
	case []byte:
		return len(m)
	}
	return 0
}

// end writes the call's line once; err nil or io.EOF is OK.
func (c *callLog) end(err error, call Call) {
	c.once.Do(func() {
		code, details := codes.OK, ""
		if err != nil && !errors.Is(err, io.EOF) {
			st := status.Convert(err)
			code, details = st.Code(), st.Details()
		}
		level := c.l.level(code)
		if !c.l.logger.Enabled(c.ctx, level) {
			return
		}
		attrs := make([]slog.Attr, 0, 10)
		attrs = append(attrs,
			slog.String("method", c.method),
			slog.String("code", code.String()),
			slog.Duration("duration", time.Since(c.start)),
			slog.Int64("sent_messages", c.sentMsgs.Load()),
			slog.Int64("sent_bytes", c.sentBytes.Load()),
			slog.Int64("received_messages", c.rcvdMsgs.Load()),
			slog.Int64("received_bytes", c.rcvdBytes.Load()))
		if p, ok := call.(interface{ Peer() string }); ok && call != nil {
			if peer := p.Peer(); peer != "" {
				attrs = append(attrs, slog.String("peer", peer))
			}
		}
		if code != codes.OK {
			attrs = append(attrs, slog.String("error", details))
		}
		c.l.logger.LogAttrs(context.WithoutCancel(c.ctx), level, c.l.msg, attrs...)
	})
}

// counted yields reqs, counting them.
func (c *callLog) counted(reqs iter.Seq[any]) iter.Seq[any] {
	return func(yield func(any) bool) {
		for r := range reqs {
			c.sent(r)
			if !yield(r) {
				return
			}
		}
	}
}

// InterceptUnaryUnary logs a unary call.
func (l *LoggingInterceptor) InterceptUnaryUnary(ctx context.Context, d *ClientCallDetails, req any, next UnaryInvoker) (any, Call, error) {
	if !l.on(ctx) {
		return next(ctx, d, req)
	}
	c := l.begin(ctx, d.Method)
	c.sent(req)
	resp, call, err := next(ctx, d, req)
	if err == nil {
		c.received(resp)
	}
	c.end(err, call)
	return resp, call, err
}

// InterceptStreamUnary logs a client-streaming call.
func (l *LoggingInterceptor) InterceptStreamUnary(ctx context.Context, d *ClientCallDetails, reqs iter.Seq[any], next StreamUnaryInvoker) (any, Call, error) {
	if !l.on(ctx) {
		return next(ctx, d, reqs)
	}
	c := l.begin(ctx, d.Method)
	resp, call, err := next(ctx, d, c.counted(reqs))
	if err == nil {
		c.received(resp)
	}
	c.end(err, call)
	return resp, call, err
}

// InterceptUnaryStream logs a server-streaming call when it ends.
func (l *LoggingInterceptor) InterceptUnaryStream(ctx context.Context, d *ClientCallDetails, req any, next UnaryStreamInvoker) (ClientStream, error) {
	if !l.on(ctx) {
		return next(ctx, d, req)
	}
	c := l.begin(ctx, d.Method)
	c.sent(req)
	s, err := next(ctx, d, req)
	if err != nil {
		c.end(err, nil)
		return nil, err
	}
	return &loggedStream{ClientStream: s, c: c}, nil
}

// InterceptStreamStream logs a bidirectional-streaming call when it ends.
func (l *LoggingInterceptor) InterceptStreamStream(ctx context.Context, d *ClientCallDetails, reqs iter.Seq[any], next StreamStreamInvoker) (ClientStream, error) {
	if !l.on(ctx) {
		return next(ctx, d, reqs)
	}
	c := l.begin(ctx, d.Method)
	s, err := next(ctx, d, c.counted(reqs))
	if err != nil {
		c.end(err, nil)
		return nil, err
	}
	return &loggedStream{ClientStream: s, c: c}, nil
}

// loggedStream counts responses and logs the call at its end.
type loggedStream struct {
	ClientStream
	c *callLog
}

func (s *loggedStream) Recv() (any, error) {
	m, err := s.ClientStream.Recv()
	if err != nil {
		s.c.end(err, s.ClientStream)
		return m, err
	}
	s.c.received(m)
	return m, nil
}

func (s *loggedStream) Cancel() bool {
	ok := s.ClientStream.Cancel()
	if ok {
		s.c.end(status.New(codes.Canceled, "call cancelled"), s.ClientStream)
	}
	return ok
}

// Peer passes on the stream's peer.
func (s *loggedStream) Peer() string {
	if p, ok := s.ClientStream.(interface{ Peer() string }); ok {
		return p.Peer()
	}
	return ""
}
