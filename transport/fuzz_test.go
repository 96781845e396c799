package transport

import (
	"bytes"
	"io"
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
