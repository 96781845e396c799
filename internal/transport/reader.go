package transport

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/internal/wire"
	"github.com/grpcactor/grpcactor/status"
	"golang.org/x/net/http/httpguts"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// nonGRPCBodyMax is how much of a non-gRPC response body goes into the
// call's error message.
const nonGRPCBodyMax = 1024

// protocolError is a connection error the reader detected: st for the
// calls, code for the GOAWAY that tells the server.
type protocolError struct {
	code http2.ErrCode
	st   *status.Error
}

func (e *protocolError) Error() string { return e.st.Error() }
func (e *protocolError) Unwrap() error { return e.st }

// reader is the connection's frame reader goroutine. It owns the framer's
// read side and the HPACK decoder.
type reader struct {
	c    *Conn
	conn net.Conn
	flow inFlow // the connection's receive window (credited on receipt)
	// With BDP estimation: the DATA bytes read so far, and whether the
	// next DATA frame starts a measurement cycle (until the BDP PING's
	// ack comes back).
	total    uint64
	bdpArmed bool
	bdpLast  time.Time // when the last BDP PING was asked for
	// pr is the socket reader under src when it is a pooledReader (nil
	// for TLS and net.Pipe): end asks it to yield before its next read.
	pr *pooledReader

	// Header blocks are decoded here rather than by the Framer's
	// ReadMetaHeaders, which allocates a frame, a closure and its
	// captured state for every block: the decoder's emit function is set
	// once, and the frame and its field list are reused (r.headers is
	// done with them before the next frame is read).
	hdec *hpack.Decoder
	mh   http2.MetaHeadersFrame
	// A HEADERS frame that holds a whole header block is read here too,
	// into hf and payload (the Framer allocates a HeadersFrame for each,
	// two per call); src is what the Framer reads from.
	src     io.Reader
	hf      http2.HeadersFrame
	payload []byte
	// PING and WINDOW_UPDATE frames are parsed here too, into ping and
	// wu (the Framer allocates a frame for each: about one of each per
	// round trip on a busy stream, with a server's BDP PINGs).
	ping           http2.PingFrame
	wu             http2.WindowUpdateFrame
	maxList        uint32 // the header list limit (SETTINGS_MAX_HEADER_LIST_SIZE)
	headersRemain  uint32
	trailersRemain uint32
	sawRegular     bool
	invalid        error
	// blocks keeps decoded indexed-only header blocks (blockcache.go).
	// For the block readHeaders last read, hit is what blocks held for
	// it, or else key is its bytes if it may be kept once decoded.
	blocks blockCache
	hit    *wire.HeaderBlock
	key    []byte
}

func (r *reader) run() {
	c := r.c
	defer close(c.readerDone)
	cr := newConnReader(r.conn, c.cfg.BufferSize)
	r.pr, _ = cr.(*pooledReader)
	r.src = newBlockGuard(cr, c.cfg.Address, c.cfg.MaxHeaderListSize)
	fr := http2.NewFramer(nil, r.src)
	r.maxList = c.cfg.MaxHeaderListSize
	if r.maxList == 0 {
		r.maxList = 16 << 20 // the Framer's default
	}
	r.hdec = hpack.NewDecoder(4096, r.emitField)
	if int(r.maxList) > 0 {
		r.hdec.SetMaxStringLength(int(r.maxList))
	}
	// The client advertises no SETTINGS_MAX_FRAME_SIZE, so the server must
	// keep to HTTP/2's default of 16384 bytes (RFC 9113 §4.2). Without
	// this limit the framer accepts frames up to 16 MiB: a non-HTTP/2
	// reply ("HTTP/1.1 400 ..." reads as a 4.7 MB frame header) then left
	// the reader waiting for bytes that never come until the connect
	// timeout, and any server could make the client allocate 16 MiB.
	fr.SetMaxReadFrameSize(defaultMaxFrame)
	fr.SetReuseFrames()

	f, err := fr.ReadFrame()
	if err != nil {
		c.send(&readerFailed{err: err})
		return
	}
	sf, ok := f.(*http2.SettingsFrame)
	if !ok || sf.IsAck() {
		c.send(&readerFailed{err: status.Errorf(codes.Unavailable, "connection to %s: the server's first HTTP/2 frame is %v, not SETTINGS", c.cfg.Address, f.Header().Type)})
		return
	}
	r.settings(sf)
	r.bdpArmed = c.cfg.BDP
	for {
		f, err := r.readFrame(fr)
		if c.cfg.KeepaliveTime > 0 {
			c.lastRead.Store(timeNow().UnixNano())
		}
		if err != nil {
			var se http2.StreamError
			if errors.As(err, &se) {
				if s := c.lookup(se.StreamID); s != nil {
					r.failStream(s, status.Errorf(codes.Internal, "stream %d: HTTP/2 protocol error from the server: %v", se.StreamID, err), se.Code)
				}
				continue
			}
			var ce http2.ConnectionError
			if mh, ok := f.(*http2.MetaHeadersFrame); ok && mh != nil && errors.As(err, &ce) {
				switch {
				case mh.Truncated:
					err = &protocolError{code: http2.ErrCode(ce), st: status.Errorf(codes.Internal, "connection to %s: the server's header block for stream %d runs past the client's limit of %d bytes (SETTINGS_MAX_HEADER_LIST_SIZE; %v)", c.cfg.Address, mh.StreamID, c.cfg.MaxHeaderListSize, ce)}
				case http2.ErrCode(ce) == http2.ErrCodeCompression:
					err = &protocolError{code: http2.ErrCodeCompression, st: status.Errorf(codes.Internal, "connection to %s: the server's header block for stream %d cannot be decoded (%v): bad HPACK, or a field longer than the client's limit of %d bytes", c.cfg.Address, mh.StreamID, ce, c.cfg.MaxHeaderListSize)}
				}
			}
			c.send(&readerFailed{err: err})
			return
		}
		switch f := f.(type) {
		case *http2.DataFrame:
			r.data(f)
		case *http2.MetaHeadersFrame:
			r.headers(f)
		case *http2.SettingsFrame:
			r.settings(f)
		case *http2.PingFrame:
			m := pingFrames.get()
			m.data, m.ack = f.Data, f.IsAck()
			if m.ack && m.data == bdpPing && c.cfg.BDP {
				m.total, m.at = r.total, timeNow()
				r.bdpArmed = true
			}
			c.ctrl(m)
		case *http2.GoAwayFrame:
			c.ctrl(&goAwayFrame{lastID: f.LastStreamID, code: f.ErrCode, debug: string(f.DebugData())})
		case *http2.WindowUpdateFrame:
			m := windowUpdateFrames.get()
			m.id, m.incr = f.StreamID, f.Increment
			c.ctrl(m)
		case *http2.RSTStreamFrame:
			c.ctrl(&rstStreamFrame{id: f.StreamID, code: f.ErrCode})
		case *http2.PushPromiseFrame:
			c.send(&readerFailed{err: &protocolError{code: http2.ErrCodeProtocol, st: status.Errorf(codes.Internal, "connection to %s: server sent PUSH_PROMISE although push is disabled", c.cfg.Address)}})
			return
		}
	}
}

// readFrame reads the next frame, decoding header blocks (readHeaders).
// The frame is valid until the next call.
func (r *reader) readFrame(fr *http2.Framer) (http2.Frame, error) {
	fh, err := fr.ReadFrameHeader() // the size and frame order checks
	if err != nil {
		return nil, err
	}
	switch {
	case fh.Type == http2.FrameHeaders && fh.Flags.Has(http2.FlagHeadersEndHeaders):
		return r.readWholeHeaders(fr, fh)
	case fh.Type == http2.FramePing || fh.Type == http2.FrameWindowUpdate:
		return r.readControl(fh)
	}
	f, err := fr.ReadFrameForHeader(fh)
	if hf, ok := f.(*http2.HeadersFrame); ok && err == nil {
		return r.readHeaders(fr, hf, hf.HeaderBlockFragment())
	}
	return f, err
}

// readControl reads the payload of a PING or WINDOW_UPDATE frame into
// the reader's own frame, with the checks and errors of the Framer's
// parsing: a payload of the wrong length is a FRAME_SIZE_ERROR, a PING on
// a stream or a zero increment on the connection a PROTOCOL_ERROR
// connection error, a zero increment on a stream a PROTOCOL_ERROR stream
// error. (ReadFrameHeader has made the frame order checks.)
func (r *reader) readControl(fh http2.FrameHeader) (http2.Frame, error) {
	if cap(r.payload) < int(fh.Length) {
		r.payload = make([]byte, fh.Length) // up to the frame size limit
	}
	p := r.payload[:fh.Length]
	if _, err := io.ReadFull(r.src, p); err != nil {
		return nil, err
	}
	if fh.Type == http2.FramePing {
		if len(p) != 8 {
			return nil, http2.ConnectionError(http2.ErrCodeFrameSize)
		}
		if fh.StreamID != 0 {
			return nil, http2.ConnectionError(http2.ErrCodeProtocol)
		}
		r.ping = http2.PingFrame{FrameHeader: fh}
		copy(r.ping.Data[:], p)
		return &r.ping, nil
	}
	if len(p) != 4 {
		return nil, http2.ConnectionError(http2.ErrCodeFrameSize)
	}
	inc := binary.BigEndian.Uint32(p) & 0x7fffffff // the reserved bit masked off
	if inc == 0 {
		if fh.StreamID == 0 {
			return nil, http2.ConnectionError(http2.ErrCodeProtocol)
		}
		return nil, http2.StreamError{StreamID: fh.StreamID, Code: http2.ErrCodeProtocol}
	}
	r.wu = http2.WindowUpdateFrame{FrameHeader: fh, Increment: inc}
	return &r.wu, nil
}

// readWholeHeaders reads the payload of a HEADERS frame with END_HEADERS
// and decodes its header block, with the checks and errors of the
// Framer's own parsing: stream 0 is a PROTOCOL_ERROR connection error, a
// payload too short for its padding or priority fields a read error,
// padding longer than the rest a PROTOCOL_ERROR stream error.
func (r *reader) readWholeHeaders(fr *http2.Framer, fh http2.FrameHeader) (http2.Frame, error) {
	if cap(r.payload) < int(fh.Length) {
		r.payload = make([]byte, fh.Length) // up to the frame size limit
	}
	p := r.payload[:fh.Length]
	if _, err := io.ReadFull(r.src, p); err != nil {
		return nil, err
	}
	if fh.StreamID == 0 {
		return nil, http2.ConnectionError(http2.ErrCodeProtocol)
	}
	r.hf = http2.HeadersFrame{FrameHeader: fh}
	var pad int
	if fh.Flags.Has(http2.FlagHeadersPadded) {
		if len(p) < 1 {
			return nil, io.ErrUnexpectedEOF
		}
		pad, p = int(p[0]), p[1:]
	}
	if fh.Flags.Has(http2.FlagHeadersPriority) {
		if len(p) < 5 {
			return nil, io.ErrUnexpectedEOF
		}
		v := binary.BigEndian.Uint32(p)
		r.hf.Priority = http2.PriorityParam{StreamDep: v & 0x7fffffff, Exclusive: v&0x80000000 != 0, Weight: p[4]}
		p = p[5:]
	}
	if len(p) < pad {
		return nil, http2.StreamError{StreamID: fh.StreamID, Code: http2.ErrCodeProtocol}
	}
	return r.readHeaders(fr, &r.hf, p[:len(p)-pad])
}

// readHeaders reads the rest of the header block that hf starts (its
// CONTINUATION frames) and decodes it, with the checks and the errors of
// the Framer's ReadMetaHeaders: a field that is not valid HTTP/2 or bad
// pseudo-headers are a stream error, a block that cannot be decoded a
// COMPRESSION_ERROR, one far over the header list limit a PROTOCOL_ERROR;
// a list over the limit is Truncated. The frame it returns is r's, valid
// until the next call.
func (r *reader) readHeaders(fr *http2.Framer, hf *http2.HeadersFrame, frag []byte) (http2.Frame, error) {
	mh := &r.mh
	clear(mh.Fields)
	*mh = http2.MetaHeadersFrame{HeadersFrame: hf, Fields: mh.Fields[:0]}
	r.headersRemain, r.trailersRemain = r.maxList, r.maxList
	r.sawRegular, r.invalid = false, nil
	ended := hf.HeadersEnded()
	r.hit, r.key = nil, nil
	switch {
	case ended && cacheable(frag):
		if r.hit = r.blocks.get(frag); r.hit != nil {
			return mh, nil // decoded before, with the same table
		}
		r.key = frag // r.headers keeps it if it decodes cleanly
	case !ended || !allIndexed(frag):
		r.blocks.reset()
	}
	r.hdec.SetEmitEnabled(true)
	for {
		// A fragment over twice what the list may still hold, or one
		// after an invalid field, closes the connection (as the Framer).
		if int64(len(frag)) > 2*(int64(r.headersRemain)+int64(r.trailersRemain)) || r.invalid != nil {
			return mh, http2.ConnectionError(http2.ErrCodeProtocol)
		}
		if _, err := r.hdec.Write(frag); err != nil {
			return mh, http2.ConnectionError(http2.ErrCodeCompression)
		}
		if ended {
			break
		}
		f, err := fr.ReadFrame()
		if err != nil {
			return nil, err
		}
		cf := f.(*http2.ContinuationFrame) // the Framer checks the order
		frag, ended = cf.HeaderBlockFragment(), cf.HeadersEnded()
	}
	if err := r.hdec.Close(); err != nil {
		return mh, http2.ConnectionError(http2.ErrCodeCompression)
	}
	if r.invalid != nil {
		return nil, http2.StreamError{StreamID: hf.StreamID, Code: http2.ErrCodeProtocol, Cause: r.invalid}
	}
	if err := checkPseudos(mh.Fields); err != nil {
		return nil, http2.StreamError{StreamID: hf.StreamID, Code: http2.ErrCodeProtocol, Cause: err}
	}
	return mh, nil
}

// emitField is the HPACK decoder's emit function (see readHeaders).
func (r *reader) emitField(hf hpack.HeaderField) {
	if !httpguts.ValidHeaderFieldValue(hf.Value) {
		r.invalid = fmt.Errorf("invalid header field value for %q", hf.Name)
	}
	if strings.HasPrefix(hf.Name, ":") {
		if r.sawRegular {
			r.invalid = errors.New("pseudo header field after regular")
		}
	} else {
		r.sawRegular = true
		if !validFieldName(hf.Name) {
			r.invalid = fmt.Errorf("invalid header field name %q", hf.Name)
		}
	}
	if r.invalid != nil {
		r.hdec.SetEmitEnabled(false)
		return
	}
	remain, size := &r.headersRemain, hf.Size()
	if hf.Name == "trailer" {
		remain = &r.trailersRemain
		n := strings.Count(hf.Value, ",") + 1
		size = uint32(len(hf.Value)-n+1) + uint32(n)*hpack.HeaderField{}.Size()
	}
	if size > *remain {
		r.hdec.SetEmitEnabled(false)
		r.mh.Truncated = true
		r.headersRemain, r.trailersRemain = 0, 0
		return
	}
	*remain -= size
	r.mh.Fields = append(r.mh.Fields, hf)
}

// validFieldName reports whether v is a valid HTTP/2 field name: a token
// without upper-case letters.
func validFieldName(v string) bool {
	if v == "" {
		return false
	}
	for _, c := range v {
		if !httpguts.IsTokenRune(c) || 'A' <= c && c <= 'Z' {
			return false
		}
	}
	return true
}

// checkPseudos checks a block's pseudo-header fields (which come first):
// known names, no repeats, not both request and response ones.
func checkPseudos(fields []hpack.HeaderField) error {
	var isRequest, isResponse bool
	for i, f := range fields {
		if !strings.HasPrefix(f.Name, ":") {
			break
		}
		switch f.Name {
		case ":method", ":path", ":scheme", ":authority", ":protocol":
			isRequest = true
		case ":status":
			isResponse = true
		default:
			return fmt.Errorf("invalid pseudo-header %q", f.Name)
		}
		for _, g := range fields[:i] {
			if f.Name == g.Name {
				return fmt.Errorf("duplicate pseudo-header %q", f.Name)
			}
		}
	}
	if isRequest && isResponse {
		return errors.New("mix of request and response pseudo headers")
	}
	return nil
}

func (r *reader) settings(f *http2.SettingsFrame) {
	m := &settingsFrame{ack: f.IsAck()}
	if !m.ack {
		_ = f.ForeachSetting(func(s http2.Setting) error {
			m.settings = append(m.settings, s)
			return nil
		})
	}
	r.c.ctrl(m)
}

func (r *reader) failStream(s *Stream, st *status.Error, code http2.ErrCode) {
	if s.finish(st, nil, false, false) {
		r.c.send(&resetStream{s: s, code: code})
	}
}

func (r *reader) data(f *http2.DataFrame) {
	c := r.c
	if n := int64(f.Length); n > 0 {
		if c.cfg.BDP {
			if w := c.connRecvWin.Load(); w > r.flow.window {
				r.flow.window = w // grown by BDP estimation
			}
			r.total += uint64(n)
			if r.bdpArmed && r.bdpDue(timeNow()) {
				r.bdpArmed = false
				// As grpc-go: the connection credit held back for a
				// batch goes out with the BDP PING.
				if credit := r.flow.flush(); credit > 0 {
					c.send(newWindowUpdate(nil, uint32(credit)))
				}
				m := bdpSamples.get()
				m.start = r.total - uint64(n)
				c.send(m)
			}
		}
		if !r.flow.receive(n) {
			c.send(&readerFailed{err: &protocolError{code: http2.ErrCodeFlowControl, st: status.Errorf(codes.Internal, "connection to %s: server violated connection flow control (%d bytes unacknowledged, window %d)", c.cfg.Address, r.flow.received, r.flow.window)}})
			return
		}
		if credit := r.flow.consume(n); credit > 0 {
			c.send(newWindowUpdate(nil, uint32(credit)))
		}
	}
	s := c.lookup(f.StreamID)
	if s == nil {
		return
	}
	if !s.gotHeaders {
		r.failStream(s, status.Errorf(codes.Internal, "stream %d: server sent DATA before HEADERS", f.StreamID), http2.ErrCodeProtocol)
		return
	}
	if ng := s.nonGRPC(); ng != nil {
		if room := nonGRPCBodyMax - len(ng.body); room > 0 {
			d := f.Data()
			if len(d) > room {
				d = d[:room]
			}
			ng.body = append(ng.body, d...)
		}
		if f.StreamEnded() {
			r.end(s, wire.ResponseStatus(ng.headers, nil, ng.body), nil)
		} else if len(ng.body) >= nonGRPCBodyMax {
			r.failStream(s, wire.ResponseStatus(ng.headers, nil, ng.body), http2.ErrCodeCancel)
		}
		return
	}
	credit, got, err := s.deliverData(f.Data(), int(f.Length))
	if err != nil {
		var se *wire.SizeError
		var st *status.Error
		// FLOW_CONTROL_ERROR only for a flow-control violation (the
		// status deliverData returns); a malformed or oversized message
		// is the client giving up on the stream: CANCEL, as grpc-go.
		code := http2.ErrCodeCancel
		switch {
		case err == ErrManyResponses:
			st = ErrManyResponses
		case errors.As(err, &se):
			st = status.Errorf(codes.ResourceExhausted, "grpc: received message larger than max (%d vs. %d)", se.Size, se.Max)
		case errors.As(err, &st):
			code = http2.ErrCodeFlowControl
		default:
			st = status.Errorf(codes.Internal, "grpc: malformed message from the server: %v", err)
		}
		r.failStream(s, st, code)
		return
	}
	if got && !s.hdr.OneResponse && r.pr != nil {
		r.pr.yieldNext = true // a RecvMsg may be waiting for it
	}
	if credit > 0 {
		c.send(newWindowUpdate(s, uint32(credit)))
	}
	if f.StreamEnded() {
		var ib wire.HeaderBlock
		r.end(s, wire.ResponseStatus(initialBlock(s, &ib), nil, nil), nil)
	}
}

// bdpDue reports whether a BDP PING may go out at now: at most one per
// bdpMinInterval. Without the bound a connection of short calls sends one
// PING per round trip (a call at a time: one per call), and the server
// one ack, for samples of a few hundred bytes that cannot grow a 64 KiB
// window; with it a bulk transfer still doubles its window every
// millisecond, a 16 MiB window within 10 ms.
func (r *reader) bdpDue(now time.Time) bool {
	if !r.bdpLast.IsZero() && now.Sub(r.bdpLast) < bdpMinInterval {
		return false
	}
	r.bdpLast = now
	return true
}

// initialBlock returns what ResponseStatus reads of s's response headers,
// in *hb, or nil if no valid gRPC response headers arrived (s.initialOK):
// their :status was 200 and their content-type gRPC's, and only their
// metadata may still differ from one response to another.
func initialBlock(s *Stream, hb *wire.HeaderBlock) *wire.HeaderBlock {
	if !s.initialOK {
		return nil
	}
	// The metadata delivered with them (deliverHeaders), unless the
	// stream had ended before: then the end this is for changes nothing.
	md, _ := s.HeaderIfReady()
	*hb = wire.HeaderBlock{HTTPStatus: 200, ContentType: "application/grpc", Metadata: md}
	return hb
}

// end finishes s from the server side and tells the actor.
func (r *reader) end(s *Stream, st *status.Error, trailer map[string][]string) {
	if st != nil && st.Code() == codes.OK {
		st = nil
	}
	if s.partial() && st == nil {
		st = status.New(codes.Internal, "server ended the stream in the middle of a message")
	}
	// The actor hears of the end before the caller wakes: the caller,
	// readied last, runs next on this processor (the reader yields before
	// its next read), and its next call finds the actor already
	// scheduled. Nothing depends on the order: the actor ends no stream
	// it forgets, and the reader still holds s.
	r.c.send(&s.endMsg)
	if s.finish(st, trailer, false, false) && r.pr != nil {
		r.pr.yieldNext = true
	}
}

// block is what the header block readHeaders just read says: kept from
// an earlier block of the same bytes (r.hit), or decoded from its fields
// and kept if it may be.
func (r *reader) block(f *http2.MetaHeadersFrame) wire.HeaderBlock {
	if r.hit != nil {
		return *r.hit
	}
	block := wire.DecodeHeaderBlock(f.Fields)
	if r.key != nil && block.Metadata == nil && block.Malformed == "" {
		r.blocks.put(r.key, &block)
	}
	return block
}

func (r *reader) headers(f *http2.MetaHeadersFrame) {
	c := r.c
	s := c.lookup(f.StreamID)
	if s == nil {
		return
	}
	if f.Truncated {
		r.failStream(s, status.Errorf(codes.Internal, "stream %d: response header list larger than the limit of %d bytes", f.StreamID, c.cfg.MaxHeaderListSize), http2.ErrCodeFrameSize)
		return
	}
	block := r.block(f)
	end := f.StreamEnded()
	if !s.gotHeaders {
		if block.HTTPStatus >= 100 && block.HTTPStatus < 200 {
			if end {
				r.failStream(s, status.Errorf(codes.Internal, "stream %d: informational HTTP status %d with END_STREAM", f.StreamID, block.HTTPStatus), http2.ErrCodeProtocol)
			}
			return
		}
		s.gotHeaders = true
		if end {
			st := wire.ResponseStatus(nil, &block, nil)
			r.end(s, st, block.Metadata)
			return
		}
		if block.HTTPStatus != 200 || !wire.IsGRPCContentType(block.ContentType) {
			ib := new(wire.HeaderBlock)
			*ib = block
			s.resp.Store(&respExtra{nonGRPC: &nonGRPCResponse{headers: ib}})
			return
		}
		if block.Malformed != "" {
			r.failStream(s, status.Errorf(codes.Internal, "stream %d: malformed response headers: %s", f.StreamID, block.Malformed), http2.ErrCodeProtocol)
			return
		}
		s.initialOK = true
		if block.Encoding != "" {
			s.resp.Store(&respExtra{enc: block.Encoding})
		}
		s.deliverHeaders(block.Metadata)
		return
	}
	if !end {
		r.failStream(s, status.Errorf(codes.Internal, "stream %d: a HEADERS frame cannot appear in the middle of a stream", f.StreamID), http2.ErrCodeProtocol)
		return
	}
	if ng := s.nonGRPC(); ng != nil {
		r.end(s, wire.ResponseStatus(ng.headers, &block, ng.body), nil)
		return
	}
	var ib wire.HeaderBlock
	r.end(s, wire.ResponseStatus(initialBlock(s, &ib), &block, nil), block.Metadata)
}
