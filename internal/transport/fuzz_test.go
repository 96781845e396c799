package transport

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// fuzzSeeds returns server byte streams that follow a valid SETTINGS on a
// connection with stream 1 open: well-formed responses and some of the
// ways a response goes wrong.
func fuzzSeeds() [][]byte {
	build := func(fn func(fr *http2.Framer, enc func(kv ...string) []byte)) []byte {
		var b, hb bytes.Buffer
		fr := http2.NewFramer(&b, nil)
		fr.AllowIllegalWrites = true
		henc := hpack.NewEncoder(&hb)
		enc := func(kv ...string) []byte {
			hb.Reset()
			for i := 0; i+1 < len(kv); i += 2 {
				henc.WriteField(hpack.HeaderField{Name: kv[i], Value: kv[i+1]})
			}
			return append([]byte(nil), hb.Bytes()...)
		}
		fn(fr, enc)
		return b.Bytes()
	}
	hdr := func(fr *http2.Framer, block []byte, end bool) {
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block, EndHeaders: true, EndStream: end})
	}
	return [][]byte{
		nil,
		build(func(fr *http2.Framer, enc func(...string) []byte) {
			hdr(fr, enc(":status", "200", "content-type", "application/grpc"), false)
			fr.WriteData(1, false, grpcFrame([]byte("hello")))
			hdr(fr, enc("grpc-status", "0", "x-bin", "AAE"), true)
		}),
		build(func(fr *http2.Framer, enc func(...string) []byte) {
			hdr(fr, enc(":status", "200", "content-type", "application/grpc", "grpc-status", "5", "grpc-message", "%E2%98%BA"), true)
		}),
		build(func(fr *http2.Framer, enc func(...string) []byte) {
			hdr(fr, enc(":status", "200", "content-type", "application/grpc"), false)
			msg := grpcFrame([]byte("padded response"))
			for len(msg) > 0 {
				n := min(5, len(msg))
				fr.WriteDataPadded(1, false, msg[:n], make([]byte, 255))
				msg = msg[n:]
			}
			hdr(fr, enc("grpc-status", "0"), true)
		}),
		build(func(fr *http2.Framer, enc func(...string) []byte) {
			fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: enc(":status", "200")})
			fr.WriteContinuation(1, true, enc("content-type", "application/grpc"))
			fr.WriteData(1, false, []byte{0, 0xff, 0xff, 0xff, 0xff, 1, 2, 3})
		}),
		build(func(fr *http2.Framer, enc func(...string) []byte) {
			hdr(fr, enc(":status", "503", "content-type", "text/html"), false)
			fr.WriteData(1, true, []byte("<html>busy</html>"))
		}),
		build(func(fr *http2.Framer, enc func(...string) []byte) {
			fr.WritePing(false, [8]byte{1, 2, 3})
			fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 0}, http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: 0})
			fr.WriteWindowUpdate(0, 1)
			fr.WriteWindowUpdate(1, 1)
			fr.WriteRSTStream(1, http2.ErrCodeCancel)
			fr.WriteGoAway(0, http2.ErrCodeEnhanceYourCalm, []byte("too_many_pings"))
		}),
		build(func(fr *http2.Framer, enc func(...string) []byte) {
			hdr(fr, enc(":status", "200", "content-type", "application/grpc"), false)
			fr.WriteData(1, false, grpcFrame(make([]byte, 40000)))
			fr.WritePing(true, bdpPing)
			fr.WriteData(1, false, grpcFrame(make([]byte, 40000)))
			fr.WritePing(true, bdpPing)
			fr.WriteData(1, true, nil)
		}),
		build(func(fr *http2.Framer, enc func(...string) []byte) {
			hdr(fr, enc(":status", "200", "content-type", "application/grpc"), false)
			fr.WriteData(1, false, grpcFrame(make([]byte, 100))[:50])
			fr.WriteRSTStream(1, http2.ErrCodeNo)
		}),
	}
}

// FuzzReader feeds arbitrary bytes to the client as the server's side of a
// connection that completed its handshake and has a stream open, then
// closes the socket. Whatever the bytes, the client must not panic (a
// panic in the reader crashes the test; one in the actor restarts it,
// which dials again or ends with "connection actor stopped"), and the
// stream and the connection must end.
func FuzzReader(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		// Odd lengths with BDP estimation (the reader counts DATA and
		// reads BDP PING acks).
		ct := startReady(t, Config{MaxReceiveMessageSize: 1 << 16, BDP: len(data)%2 == 1})
		p := ct.peer
		s := ct.unary([]byte("req"))
		p.wantHeaders()
		p.discard.Store(true)
		r := startRecv(s)
		_ = p.writeRaw(data) // the client may hang up first
		p.nc.Close()
		r.wait(t)
		ev := ct.closedEvent()
		if ev.Err == nil && !hasEvent[*EventGoAway](ct.ev) {
			t.Fatalf("EventClosed.Err = nil for a connection the server dropped without GOAWAY")
		}
		if ev.Err != nil && strings.Contains(ev.Err.Error(), "connection actor stopped") {
			t.Fatalf("the connection actor stopped abnormally: %v", ev.Err)
		}
		if n := ct.dials.Load(); n != 1 {
			t.Fatalf("%d dials: the actor restarted", n)
		}
	})
}

// FuzzBlockGuard: the guard sees the same frames, and fails at the same
// frame, however the socket splits the bytes into reads.
func FuzzBlockGuard(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s, uint8(1))
	}
	var flood bytes.Buffer
	fr := http2.NewFramer(&flood, nil)
	fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: []byte{0x88}})
	for range 40 {
		fr.WriteContinuation(1, false, nil)
	}
	f.Add(flood.Bytes(), uint8(3))
	f.Fuzz(func(t *testing.T, data []byte, split uint8) {
		whole := guardRead(data, len(data)+1)
		parts := guardRead(data, int(split%16)+1)
		if whole != parts {
			t.Fatalf("one read: %q; reads of %d bytes: %q", whole, split%16+1, parts)
		}
	})
}

// guardRead reads data through a blockGuard (limit 16 KiB: 18 frames) in
// reads of at most chunk bytes; it returns the error that ended the reads
// ("" at the end of data) and, the same for any split, the stream and
// frame count in it.
func guardRead(data []byte, chunk int) string {
	g := newBlockGuard(bytes.NewReader(data), "fuzz", 16<<10)
	buf := make([]byte, chunk)
	for {
		_, err := g.Read(buf)
		if err == io.EOF {
			return ""
		}
		if err != nil {
			return err.Error()
		}
	}
}

// FuzzReadHeaders: the reader's own header-block reading and decoding
// (readFrame, readWholeHeaders, readHeaders) agrees with the Framer's
// ReadMetaHeaders, which it replaces, on any block split into a HEADERS
// and CONTINUATION frames, padded or not, with a priority or not: the
// same fields, truncation, and kind of error.
func FuzzReadHeaders(f *testing.F) {
	var enc bytes.Buffer
	he := hpack.NewEncoder(&enc)
	for _, kv := range [][2]string{{":status", "200"}, {"content-type", "application/grpc"}, {"x-a", "b"}, {"trailer", "a, b"}} {
		he.WriteField(hpack.HeaderField{Name: kv[0], Value: kv[1]})
	}
	f.Add(enc.Bytes(), uint8(3), uint16(0), true, uint8(0), false)
	f.Add(enc.Bytes(), uint8(0), uint16(40), false, uint8(0), false)
	f.Add(enc.Bytes(), uint8(255), uint16(0), true, uint8(7), true)
	f.Add([]byte{0x82, 0x88, 0x88}, uint8(1), uint16(0), true, uint8(0), false)
	f.Add([]byte("\x40\x03Foo\x01x"), uint8(2), uint16(10), false, uint8(1), false)
	f.Fuzz(func(t *testing.T, block []byte, split uint8, maxList uint16, end bool, pad uint8, prio bool) {
		var wire bytes.Buffer
		w := http2.NewFramer(&wire, nil)
		cut := min(int(split), len(block))
		hp := http2.HeadersFrameParam{StreamID: 1, BlockFragment: block[:cut], EndHeaders: cut == len(block), EndStream: end, PadLength: pad}
		if prio {
			hp.Priority = http2.PriorityParam{StreamDep: 3, Exclusive: true, Weight: 9}
		}
		w.WriteHeaders(hp)
		if cut < len(block) {
			w.WriteContinuation(1, true, block[cut:])
		}
		type outcome struct {
			fields    []hpack.HeaderField
			truncated bool
			err       string
		}
		describe := func(fr http2.Frame, err error) outcome {
			var o outcome
			if mh, ok := fr.(*http2.MetaHeadersFrame); ok && mh != nil {
				o.fields, o.truncated = append([]hpack.HeaderField(nil), mh.Fields...), mh.Truncated
			}
			var se http2.StreamError
			var ce http2.ConnectionError
			switch {
			case err == nil:
			case errors.As(err, &se):
				o.err = fmt.Sprintf("stream error %v: %v", se.Code, se.Cause)
			case errors.As(err, &ce):
				o.err = fmt.Sprintf("connection error %v", http2.ErrCode(ce))
			default:
				o.err = err.Error()
			}
			return o
		}
		theirs := http2.NewFramer(nil, bytes.NewReader(wire.Bytes()))
		theirs.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
		theirs.MaxHeaderListSize = uint32(maxList)
		want := describe(theirs.ReadFrame())

		r := &reader{maxList: uint32(maxList), src: bytes.NewReader(wire.Bytes())}
		ours := http2.NewFramer(nil, r.src)
		if r.maxList == 0 {
			r.maxList = 16 << 20
		}
		r.hdec = hpack.NewDecoder(4096, r.emitField)
		r.hdec.SetMaxStringLength(int(r.maxList))
		got := describe(r.readFrame(ours))
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("readHeaders: %+v\nReadMetaHeaders: %+v", got, want)
		}
	})
}

// FuzzReadFrame: on any bytes, the reader's readFrame (which reads a
// HEADERS frame holding a whole block itself) and the Framer with
// ReadMetaHeaders read the same first frame or fail the same way:
// malformed padding and priority fields, stream 0, short payloads.
func FuzzReadFrame(f *testing.F) {
	frame := func(typ http2.FrameType, flags http2.Flags, id uint32, payload ...byte) []byte {
		var b bytes.Buffer
		http2.NewFramer(&b, nil).WriteRawFrame(typ, flags, id, payload)
		return b.Bytes()
	}
	eh := http2.FlagHeadersEndHeaders
	f.Add(frame(http2.FrameHeaders, eh, 1, 0x88))
	f.Add(frame(http2.FrameHeaders, eh|http2.FlagHeadersEndStream, 0, 0x88))
	f.Add(frame(http2.FrameHeaders, eh|http2.FlagHeadersPadded, 1, 5, 0x88))
	f.Add(frame(http2.FrameHeaders, eh|http2.FlagHeadersPadded, 1))
	f.Add(frame(http2.FrameHeaders, eh|http2.FlagHeadersPriority, 1, 0, 0, 0))
	f.Add(frame(http2.FrameHeaders, eh|http2.FlagHeadersPriority|http2.FlagHeadersPadded, 1, 1, 0x80, 0, 0, 3, 7, 0x88, 0))
	f.Add(frame(http2.FrameHeaders, 0, 1, 0x88))
	f.Add(frame(http2.FrameData, 0, 1, 1, 2, 3))
	f.Fuzz(func(t *testing.T, raw []byte) {
		describe := func(fr http2.Frame, err error) string {
			var out string
			switch fr := fr.(type) {
			case *http2.MetaHeadersFrame:
				out = fmt.Sprintf("headers stream=%d end=%v prio=%+v fields=%v truncated=%v", fr.StreamID, fr.StreamEnded(), fr.Priority, fr.Fields, fr.Truncated)
			case nil:
			default:
				out = fmt.Sprintf("%v stream=%d", fr.Header().Type, fr.Header().StreamID)
			}
			var se http2.StreamError
			var ce http2.ConnectionError
			switch {
			case err == nil:
			case errors.As(err, &se):
				out += fmt.Sprintf(" stream error %d %v: %v", se.StreamID, se.Code, se.Cause)
			case errors.As(err, &ce):
				out += fmt.Sprintf(" connection error %v", http2.ErrCode(ce))
			default:
				out += " " + err.Error()
			}
			return out
		}
		theirs := http2.NewFramer(nil, bytes.NewReader(raw))
		theirs.SetMaxReadFrameSize(defaultMaxFrame)
		theirs.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
		theirs.MaxHeaderListSize = 16 << 20
		want := describe(theirs.ReadFrame())

		r := &reader{maxList: 16 << 20, src: bytes.NewReader(raw)}
		ours := http2.NewFramer(nil, r.src)
		ours.SetMaxReadFrameSize(defaultMaxFrame)
		r.hdec = hpack.NewDecoder(4096, r.emitField)
		r.hdec.SetMaxStringLength(int(r.maxList))
		if got := describe(r.readFrame(ours)); got != want {
			t.Fatalf("readFrame: %s\nReadFrame: %s", got, want)
		}
	})
}
