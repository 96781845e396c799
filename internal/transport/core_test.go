package transport

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/status"
	"golang.org/x/net/http2"
)

// Tests of the connection core alone: no socket, no actor, no timer. Long
// sequences are golden transcripts in testdata/core_*.txt (each message
// the core stepped on, "> ...", followed by the effects it returned);
// `go test ./transport -run TestCoreGolden -update` rewrites them.

var update = flag.Bool("update", false, "rewrite the golden transcripts in testdata/")

// t0 is the core tests' clock at the start.
var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// coreStream is a stream as NewStream makes it, without a connection.
func coreStream(method string) *Stream {
	return &Stream{
		hdr:        &CallHdr{Method: method},
		fieldsSize: 300,
		sig:        make(chan struct{}, 1),
		done:       make(chan struct{}),
	}
}

// script drives a core and records the transcript.
type script struct {
	t   testing.TB
	c   *connCore
	now time.Time
	b   strings.Builder
}

func newScript(t testing.TB, ka *keepalive) *script {
	sc := &script{t: t, now: t0}
	sc.c = newConnCore(testAddr, ka)
	sc.c.now = func() time.Time { return sc.now }
	return sc
}

// ready steps the server's first SETTINGS.
func (sc *script) ready(settings ...http2.Setting) {
	sc.step(&settingsFrame{settings: settings})
}

func (sc *script) note(format string, args ...any) {
	fmt.Fprintf(&sc.b, "# "+format+"\n", args...)
}

// step steps the core with m, records both, and performs the effects that
// the core's later steps depend on (ending streams), as the actor would.
func (sc *script) step(m coreMsg) []string {
	fmt.Fprintf(&sc.b, "> %s\n", m)
	if seenTypes != nil {
		seenTypes[fmt.Sprintf("%T", m)] = true
	}
	var out []string
	for _, e := range sc.c.step(m) {
		if seenTypes != nil {
			seenTypes[fmt.Sprintf("%T", e)] = true
		}
		s := e.String()
		out = append(out, s)
		fmt.Fprintf(&sc.b, "  %s\n", s)
		if f, ok := e.(*effFinish); ok {
			if f.unsent {
				f.s.finishUnsent(f.st)
			} else {
				f.s.finish(f.st, nil, f.unprocessed, f.local)
			}
		}
	}
	return out
}

// golden compares the transcript with testdata/core_<name>.txt.
func (sc *script) golden(name string) {
	sc.t.Helper()
	path := filepath.Join("testdata", "core_"+name+".txt")
	got := sc.b.String()
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			sc.t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			sc.t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		sc.t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		sc.t.Errorf("transcript differs from %s (run with -update to accept):\n%s", path, diffLines(string(want), got))
	}
}

// diffLines shows the first lines where want and got differ.
func diffLines(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < max(len(w), len(g)); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return fmt.Sprintf("line %d:\n want %q\n  got %q", i+1, wl, gl)
		}
	}
	return "(no difference)"
}

func msg(n int) []byte { return make([]byte, n) }

func testKeepalive(permit bool, maxPings int) *keepalive {
	return &keepalive{time: 10 * time.Second, timeout: 2 * time.Second, permitNoStreams: permit, maxPings: maxPings}
}

func TestCoreGolden(t *testing.T) {
	tests := []struct {
		name string
		run  func(sc *script)
	}{
		{"handshake", func(sc *script) {
			sc.note("the server's first SETTINGS establish the connection; a later one only changes values")
			sc.ready(http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: 100}, http2.Setting{ID: http2.SettingHeaderTableSize, Val: 1024})
			sc.step(&settingsFrame{settings: []http2.Setting{{ID: http2.SettingMaxFrameSize, Val: 32768}}})
			sc.step(&settingsFrame{ack: true})
			sc.note("an out-of-range value is a connection error")
			sc.step(&settingsFrame{settings: []http2.Setting{{ID: http2.SettingInitialWindowSize, Val: 1 << 31}}})
			sc.step(&newStream{s: coreStream("/late")})
		}},
		{"unary", func(sc *script) {
			sc.ready()
			s := coreStream("/svc/Unary")
			sc.step(&newStream{s: s})
			sc.step(&dataReq{s: s, buf: msg(100), end: true})
			sc.note("the reader credits received bytes back")
			sc.step(&windowUpdate{n: 4096})
			sc.step(&windowUpdate{s: s, n: 1024})
			sc.step(&remoteEnded{s: s})
			sc.note("after the end: a credit for the stream is dropped")
			sc.step(&windowUpdate{s: s, n: 1024})
			sc.note("data queued before the HEADERS go out goes with them")
			s2 := coreStream("/svc/Early")
			s2.outq = append(s2.outq, &dataReq{s: s2, buf: msg(10)})
			s2.endQueued = true
			sc.step(&newStream{s: s2})
			sc.note("the server ends before the client half-closed: RST_STREAM(NO_ERROR)")
			s3 := coreStream("/svc/Stream")
			sc.step(&newStream{s: s3})
			sc.step(&dataReq{s: s3, buf: msg(10)})
			sc.step(&remoteEnded{s: s3})
			sc.step(&dataReq{s: s3, buf: msg(10)})
			sc.note("a unary call opens its stream with its whole request: one message (NewStreamWith)")
			s4 := coreStream("/svc/One")
			sc.step(&dataReq{s: s4, buf: msg(100), end: true, open: true})
			sc.step(&remoteEnded{s: s4})
			sc.note("one whose call ended before the actor saw it: nothing is sent, its bytes are released")
			s5 := coreStream("/svc/Gone")
			s5.finish(status.New(codes.Canceled, "call cancelled"), nil, false, true)
			sc.step(&dataReq{s: s5, buf: msg(100), end: true, open: true})
		}},
		{"deadline", func(sc *script) {
			sc.ready()
			s := coreStream("/svc/Deadline")
			s.hdr.Deadline = t0.Add(1500 * time.Millisecond)
			sc.step(&newStream{s: s})
			sc.note("RST_STREAM(CANCEL) after the deadline is DEADLINE_EXCEEDED")
			sc.now = t0.Add(2 * time.Second)
			sc.step(&rstStreamFrame{id: 1, code: http2.ErrCodeCancel})
			sc.note("a deadline that passed before the HEADERS: nothing is sent")
			s2 := coreStream("/svc/Late")
			s2.hdr.Deadline = t0.Add(time.Second)
			sc.step(&newStream{s: s2})
		}},
		{"quota", func(sc *script) {
			sc.ready(http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: 1})
			a, b, c, d := coreStream("/a"), coreStream("/b"), coreStream("/c"), coreStream("/d")
			sc.step(&newStream{s: a})
			sc.step(&newStream{s: b})
			sc.step(&newStream{s: c})
			sc.step(&newStream{s: d})
			sc.note("data for a waiting stream waits with it")
			sc.step(&dataReq{s: b, buf: msg(5), end: true})
			sc.note("a waiting stream cancelled leaves the queue")
			c.finish(status.New(codes.Canceled, "call cancelled"), nil, false, true)
			sc.step(&cancelStream{s: c})
			sc.note("a's end starts b")
			sc.step(&dataReq{s: a, buf: nil, end: true})
			sc.step(&remoteEnded{s: a})
			sc.note("a larger limit starts the rest")
			sc.step(&settingsFrame{settings: []http2.Setting{{ID: http2.SettingMaxConcurrentStreams, Val: 10}}})
			sc.note("a waiting stream that ended before its turn is skipped")
			sc.step(&settingsFrame{settings: []http2.Setting{{ID: http2.SettingMaxConcurrentStreams, Val: 0}}})
			e, f := coreStream("/e"), coreStream("/f")
			sc.step(&newStream{s: e})
			sc.step(&newStream{s: f})
			e.finish(status.New(codes.Canceled, "call cancelled"), nil, false, true)
			sc.step(&settingsFrame{settings: []http2.Setting{{ID: http2.SettingMaxConcurrentStreams, Val: 10}}})
		}},
		{"windows", func(sc *script) {
			sc.ready(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1000}, http2.Setting{ID: http2.SettingMaxFrameSize, Val: 16384})
			a, b := coreStream("/a"), coreStream("/b")
			sc.step(&newStream{s: a})
			sc.step(&newStream{s: b})
			sc.note("the stream window (1000) bounds a's write")
			sc.step(&dataReq{s: a, buf: msg(1500)})
			sc.step(&windowUpdateFrame{id: 1, incr: 600})
			sc.note("the connection window (65535) runs out: both wait for it")
			sc.step(&windowUpdateFrame{id: 1, incr: 100000})
			sc.step(&windowUpdateFrame{id: 3, incr: 100000})
			sc.step(&dataReq{s: a, buf: msg(70000), end: true})
			sc.step(&dataReq{s: b, buf: msg(3000)})
			sc.step(&windowUpdateFrame{id: 0, incr: 5000})
			sc.note("a window update for a stream the core does not know is ignored")
			sc.step(&windowUpdateFrame{id: 99, incr: 5})
			sc.note("SETTINGS_INITIAL_WINDOW_SIZE moves every open stream's window by the difference")
			sc.step(&settingsFrame{settings: []http2.Setting{{ID: http2.SettingInitialWindowSize, Val: 500}}})
			sc.step(&windowUpdateFrame{id: 0, incr: 100000})
			sc.step(&settingsFrame{settings: []http2.Setting{{ID: http2.SettingInitialWindowSize, Val: 200000}}})
			sc.note("the frame size bounds each DATA frame")
			sc.step(&settingsFrame{settings: []http2.Setting{{ID: http2.SettingMaxFrameSize, Val: 16384}}})
			sc.step(&dataReq{s: b, buf: msg(40000), end: true})
			sc.note("a connection window past 2^31-1 is a connection error")
			sc.step(&windowUpdateFrame{id: 0, incr: maxWindow})
		}},
		{"window_overflow", func(sc *script) {
			sc.ready()
			a, b := coreStream("/a"), coreStream("/b")
			sc.step(&newStream{s: a})
			sc.step(&newStream{s: b})
			sc.note("a stream window past 2^31-1: a stream error, the connection goes on")
			sc.step(&windowUpdateFrame{id: 1, incr: maxWindow})
			sc.step(&windowUpdateFrame{id: 3, incr: maxWindow - 65535})
			sc.note("a SETTINGS_INITIAL_WINDOW_SIZE that takes an open stream's window past 2^31-1: a connection error")
			sc.step(&settingsFrame{settings: []http2.Setting{{ID: http2.SettingInitialWindowSize, Val: 65536}}})
		}},
		{"goaway", func(sc *script) {
			sc.ready(http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: 3})
			s1, s3, s5, w := coreStream("/one"), coreStream("/three"), coreStream("/five"), coreStream("/waiting")
			for _, s := range []*Stream{s1, s3, s5, w} {
				sc.step(&newStream{s: s})
			}
			sc.step(&goAwayFrame{lastID: 3, code: http2.ErrCodeNo, debug: "max age"})
			sc.note("new streams are refused while draining; a second GOAWAY may lower the last id")
			sc.step(&newStream{s: coreStream("/new")})
			sc.step(&goAwayFrame{lastID: 3, code: http2.ErrCodeNo, debug: "again"})
			sc.step(&remoteEnded{s: s1})
			sc.note("the last stream's end closes the connection gracefully")
			sc.step(&dataReq{s: s3, end: true})
			sc.step(&remoteEnded{s: s3})
			sc.step(&goAwayFrame{lastID: 3})
		}},
		{"goaway_raised", func(sc *script) {
			sc.ready()
			sc.step(&newStream{s: coreStream("/one")})
			sc.step(&goAwayFrame{lastID: 1, code: http2.ErrCodeNo})
			sc.note("a second GOAWAY with a larger last stream id is a protocol violation")
			sc.step(&goAwayFrame{lastID: 5, code: http2.ErrCodeNo})
		}},
		{"goaway_idle", func(sc *script) {
			sc.ready()
			sc.note("GOAWAY with no stream open closes at once")
			sc.step(&goAwayFrame{lastID: 0, code: http2.ErrCodeEnhanceYourCalm, debug: "too_many_pings"})
		}},
		{"drain", func(sc *script) {
			sc.ready(http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: 1})
			s, w := coreStream("/busy"), coreStream("/waiting")
			sc.step(&newStream{s: s})
			sc.step(&newStream{s: w})
			sc.step(&drainReq{})
			sc.step(&drainReq{})
			sc.step(&newStream{s: coreStream("/new")})
			sc.step(&cancelStream{s: s})
			sc.note("stream ids running out drain the connection")
			sc2 := newScript(sc.t, nil)
			sc2.ready()
			sc2.c.nextID = maxStreamID
			last := coreStream("/last")
			sc2.step(&newStream{s: last})
			sc2.step(&newStream{s: coreStream("/over")})
			sc2.step(&cancelStream{s: last})
			sc.b.WriteString(sc2.b.String())
		}},
		{"bdp", func(sc *script) {
			sc.c.bdp = newBDPEstimator(&Config{BDP: true, InitialWindowSize: bdpStartWindow, InitialConnWindowSize: bdpStartWindow})
			sc.ready()
			at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
			sc.note("the first DATA of a cycle: a BDP PING")
			sc.step(&bdpData{start: 0, now: at(1000)})
			sc.note("no second PING while one is out")
			sc.step(&bdpData{start: 100, now: at(1001)})
			sc.note("the ack 10 ms later, 60000 bytes received: over 2/3 of the 65535 window at the best bandwidth yet; both windows grow to twice the sample")
			sc.step(&pingFrame{ack: true, data: bdpPing, total: 60000, at: at(1010)})
			sc.note("a keepalive ack is not a BDP ack")
			sc.step(&pingFrame{ack: true, data: keepalivePing})
			sc.note("a small sample (10000 of a 120000 window): the windows stay")
			sc.step(&bdpData{start: 70000, now: at(2000)})
			sc.step(&pingFrame{ack: true, data: bdpPing, total: 80000, at: at(2010)})
			sc.note("a large sample at a lower bandwidth (100 ms round trip): the windows stay")
			sc.step(&bdpData{start: 100000, now: at(3000)})
			sc.step(&pingFrame{ack: true, data: bdpPing, total: 200000, at: at(3100)})
			sc.note("10 MB in 10 ms: the windows grow to the 16 MiB cap")
			sc.step(&bdpData{start: 300000, now: at(4000)})
			sc.step(&pingFrame{ack: true, data: bdpPing, total: 10300000, at: at(4010)})
			sc.note("at the cap: no more BDP PINGs; a stray BDP ack is ignored")
			sc.step(&bdpData{start: 20000000, now: at(5000)})
			sc.step(&pingFrame{ack: true, data: bdpPing, total: 30000000, at: at(5010)})
			sc.note("the server's own PING with the same payload is answered")
			sc.step(&pingFrame{data: bdpPing})
			sc.note("after the close nothing")
			sc.step(&closeReq{})
			sc.step(&bdpData{start: 0, now: at(6000)})
		}},
		{"keepalive", func(sc *script) {
			sc.ready()
			sc.note("idle only 4s at the tick: re-armed for the rest")
			sc.step(&keepaliveTick{gen: 1, now: t0.Add(10 * time.Second), lastRead: t0.Add(6 * time.Second)})
			sc.note("a stale generation is ignored")
			sc.step(&keepaliveTick{gen: 1, now: t0.Add(20 * time.Second), lastRead: t0})
			sc.note("no stream open and no permission: dormant until a stream opens")
			sc.step(&keepaliveTick{gen: 2, now: t0.Add(20 * time.Second), lastRead: t0})
			s := coreStream("/s")
			sc.step(&newStream{s: s})
			sc.step(&keepaliveTick{gen: 3, now: t0.Add(40 * time.Second), lastRead: t0})
			sc.note("the ack re-arms the check")
			sc.step(&pingFrame{ack: true, data: keepalivePing})
			sc.step(&keepaliveTick{gen: 5, now: t0.Add(60 * time.Second), lastRead: t0})
			sc.note("a frame read after the ping counts as an ack")
			sc.step(&keepaliveTimeout{gen: 6, lastRead: t0.Add(61 * time.Second)})
			sc.step(&keepaliveTick{gen: 7, now: t0.Add(80 * time.Second), lastRead: t0.Add(61 * time.Second)})
			sc.note("other PINGs and acks: the server's PING is answered, another ack ignored")
			sc.step(&pingFrame{data: [8]byte{1, 2, 3}})
			sc.step(&pingFrame{ack: true, data: [8]byte{1, 2, 3}})
			sc.note("nothing read since the ping: the connection closes")
			sc.step(&keepaliveTimeout{gen: 8, lastRead: t0.Add(61 * time.Second)})
			sc.step(&keepaliveTick{gen: 8, now: t0.Add(90 * time.Second), lastRead: t0})
		}},
		{"keepalive_maxpings", func(sc *script) {
			sc.c.ka = testKeepalive(true, 1)
			sc.ready()
			sc.step(&keepaliveTick{gen: 1, now: t0.Add(10 * time.Second), lastRead: t0})
			sc.step(&pingFrame{ack: true, data: keepalivePing})
			sc.note("one ping without data allowed: the next tick goes dormant")
			sc.step(&keepaliveTick{gen: 3, now: t0.Add(20 * time.Second), lastRead: t0.Add(10 * time.Second)})
			sc.note("data going out wakes it")
			s := coreStream("/s")
			sc.step(&newStream{s: s})
			sc.step(&dataReq{s: s, buf: msg(10)})
			sc.step(&keepaliveTick{gen: 4, now: t0.Add(40 * time.Second), lastRead: t0.Add(10 * time.Second)})
		}},
		{"streams", func(sc *script) {
			sc.ready()
			s := coreStream("/s")
			sc.step(&newStream{s: s})
			sc.step(&dataReq{s: s, buf: msg(10)})
			sc.note("the reader ends a stream for a violation: RST_STREAM with its code")
			sc.step(&resetStream{s: s, code: http2.ErrCodeFlowControl})
			sc.step(&resetStream{s: s, code: http2.ErrCodeFlowControl})
			sc.note("the server refuses a stream: unprocessed, so the call may retry")
			r := coreStream("/refused")
			sc.step(&newStream{s: r})
			sc.step(&dataReq{s: r, buf: msg(10)})
			sc.step(&rstStreamFrame{id: 3, code: http2.ErrCodeRefusedStream})
			sc.step(&rstStreamFrame{id: 3, code: http2.ErrCodeRefusedStream})
			sc.note("a stream cancelled locally; data written after it is dropped")
			x := coreStream("/cancelled")
			sc.step(&newStream{s: x})
			x.finish(status.New(codes.Canceled, "call cancelled"), nil, false, true)
			sc.step(&cancelStream{s: x})
			sc.step(&dataReq{s: x, buf: msg(7), end: true})
			sc.note("a stream cancelled before it reached the core")
			y := coreStream("/gone")
			y.finish(status.New(codes.Canceled, "call cancelled"), nil, false, true)
			sc.step(&newStream{s: y})
			sc.step(&dataReq{s: y, buf: msg(3), end: true})
			sc.step(&cancelStream{s: y})
		}},
		{"header_list_size", func(sc *script) {
			sc.ready(http2.Setting{ID: http2.SettingMaxHeaderListSize, Val: 1000})
			big := coreStream("/big")
			big.fieldsSize = 1001
			sc.step(&newStream{s: big})
			sc.step(&dataReq{s: big, buf: msg(5), end: true})
			sc.note("the limit counts grpc-timeout too")
			timed := coreStream("/timed")
			timed.fieldsSize = int64(1000 - len("grpc-timeout") - 32 - len("999999u"))
			timed.hdr.Deadline = t0.Add(999999 * time.Microsecond)
			sc.step(&newStream{s: timed})
			timed2 := coreStream("/timed-over")
			timed2.fieldsSize = timed.fieldsSize + 1
			timed2.hdr.Deadline = t0.Add(999999 * time.Microsecond)
			sc.step(&newStream{s: timed2})
			sc.note("a stream within the limit gets the next id")
			sc.step(&newStream{s: coreStream("/small")})
		}},
		{"close", func(sc *script) {
			sc.c.ka = testKeepalive(false, 0)
			sc.ready(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 10})
			s := coreStream("/s")
			sc.step(&newStream{s: s})
			sc.step(&dataReq{s: s, buf: msg(30)})
			sc.note("the reader fails: queued data is released, the connection closes")
			sc.step(&readerFailed{err: io.EOF})
			sc.note("after the close: everything is ignored or refused")
			sc.step(&readerFailed{err: errors.New("again")})
			sc.step(&newStream{s: coreStream("/after")})
			sc.step(&pingFrame{data: [8]byte{9}})
			sc.step(&windowUpdate{n: 100})
			sc.step(&windowUpdateFrame{id: 0, incr: 100})
			sc.step(&settingsFrame{})
			sc.step(&goAwayFrame{})
			sc.step(&keepaliveTick{gen: 1, now: t0.Add(time.Hour), lastRead: t0})
			sc.step(&connectTimeout{after: time.Second})
			sc.step(&drainReq{})
		}},
		{"connect", func(sc *script) {
			sc.note("errors before the server's SETTINGS")
			sc.step(&connectTimeout{after: 20 * time.Second})
			sc2 := newScript(sc.t, nil)
			sc2.step(&readerFailed{err: http2.ConnectionError(http2.ErrCodeProtocol)})
			sc3 := newScript(sc.t, nil)
			sc3.step(&drainReq{})
			sc4 := newScript(sc.t, nil)
			sc4.step(&closeReq{err: status.New(codes.Unavailable, "connection closed by the client")})
			sc5 := newScript(sc.t, nil)
			sc5.ready()
			sc5.step(&connectTimeout{after: 20 * time.Second})
			sc5.step(&closeReq{})
			for _, o := range []*script{sc2, sc3, sc4, sc5} {
				sc.b.WriteString(o.b.String())
			}
		}},
	}
	seenTypes = map[string]bool{}
	defer func() { seenTypes = nil }()
	ran := 0
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ran++
			sc := newScript(t, testKeepalive(false, 0))
			if tt.name != "keepalive" {
				sc.c.ka = nil
			}
			tt.run(sc)
			sc.golden(tt.name)
		})
	}
	if ran < len(tests) {
		return // -run picked some: the coverage check needs them all
	}
	for _, name := range allCoreTypes {
		if !seenTypes[name] {
			t.Errorf("no transcript steps on or returns %s", name)
		}
	}
}

// seenTypes collects the message and effect types TestCoreGolden's
// transcripts contain (nil outside it).
var seenTypes map[string]bool

// allCoreTypes lists every message the core steps on and every effect it
// returns: the transcripts must show each at least once.
var allCoreTypes = []string{
	"*transport.newStream", "*transport.dataReq", "*transport.cancelStream", "*transport.windowUpdate",
	"*transport.closeReq", "*transport.drainReq", "*transport.connectTimeout", "*transport.keepaliveTick",
	"*transport.keepaliveTimeout", "*transport.settingsFrame", "*transport.pingFrame", "*transport.bdpData", "*transport.effRecvWindows", "*transport.goAwayFrame",
	"*transport.windowUpdateFrame", "*transport.rstStreamFrame", "*transport.remoteEnded", "*transport.resetStream",
	"*transport.readerFailed",
	"transport.effHeaders", "*transport.effData", "*transport.effWindowUpdate", "*transport.effRST",
	"*transport.effPing", "transport.effSettingsAck", "*transport.effHeaderTableSize", "*transport.effRelease",
	"*transport.effFinish", "transport.effForget", "transport.effState", "transport.effReady",
	"*transport.effGoAway", "*transport.effArm", "transport.effStopTimer", "*transport.effClose",
}

func TestCoreRSTStreamCodes(t *testing.T) {
	tests := []struct {
		code        http2.ErrCode
		deadline    bool // the stream's deadline has passed
		want        codes.Code
		unprocessed bool
	}{
		{http2.ErrCodeNo, false, codes.Internal, false},
		{http2.ErrCodeProtocol, false, codes.Internal, false},
		{http2.ErrCodeInternal, false, codes.Internal, false},
		{http2.ErrCodeFlowControl, false, codes.Internal, false},
		{http2.ErrCodeRefusedStream, false, codes.Unavailable, true},
		{http2.ErrCodeCancel, false, codes.Canceled, false},
		{http2.ErrCodeCancel, true, codes.DeadlineExceeded, false},
		{http2.ErrCodeEnhanceYourCalm, false, codes.ResourceExhausted, false},
		{http2.ErrCodeInadequateSecurity, false, codes.PermissionDenied, false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%v deadline=%v", tt.code, tt.deadline), func(t *testing.T) {
			sc := newScript(t, nil)
			sc.ready()
			s := coreStream("/s")
			if tt.deadline {
				s.hdr.Deadline = t0.Add(time.Second)
			}
			sc.step(&newStream{s: s})
			sc.now = t0.Add(time.Second)
			effs := sc.c.step(&rstStreamFrame{id: s.id, code: tt.code})
			f, ok := effs[0].(*effFinish)
			if !ok {
				t.Fatalf("effects %v: want a finish first", effs)
			}
			if f.st.Code() != tt.want || f.unprocessed != tt.unprocessed || f.local {
				t.Errorf("finish %v, want code %v unprocessed %v, not local", f, tt.want, tt.unprocessed)
			}
			if len(sc.c.streams) != 0 {
				t.Errorf("stream still in the table")
			}
		})
	}
}

// TestCoreHeaderListSizeBoundary: a header list exactly at the server's
// limit goes out; one byte more fails the call alone, sending nothing.
func TestCoreHeaderListSizeBoundary(t *testing.T) {
	tests := []struct {
		limit, size int64
		sent        bool
	}{
		{1000, 999, true},
		{1000, 1000, true},
		{1000, 1001, false},
		{0, 1, false},
		{-1, 1 << 30, true}, // no limit advertised
	}
	for _, tt := range tests {
		sc := newScript(t, nil)
		if tt.limit >= 0 {
			sc.ready(http2.Setting{ID: http2.SettingMaxHeaderListSize, Val: uint32(tt.limit)})
		} else {
			sc.ready()
		}
		s := coreStream("/s")
		s.fieldsSize = tt.size
		out := sc.step(&newStream{s: s})
		if sent := len(out) > 0 && strings.HasPrefix(out[0], "HEADERS"); sent != tt.sent {
			t.Errorf("limit %d, size %d: effects %q, want sent=%v", tt.limit, tt.size, out, tt.sent)
		}
		if !tt.sent {
			st, _ := s.Status()
			want := fmt.Sprintf("header list size to send violates the maximum size (%d bytes)", tt.limit)
			if st == nil || st.Code() != codes.Internal || st.Details() != want || s.Unprocessed() {
				t.Errorf("limit %d: status %v (unprocessed %v), want INTERNAL %q, not retryable", tt.limit, st, s.Unprocessed(), want)
			}
			if sc.c.nextID != 1 {
				t.Errorf("a stream id was used up: next %d", sc.c.nextID)
			}
		}
	}
}

// TestCoreHotPathAllocations: a call's steps (new stream, its data, its
// end) allocate nothing in the core; the effects come from its arenas.
func TestCoreHotPathAllocations(t *testing.T) {
	sc := newScript(t, nil)
	sc.ready()
	const runs = 200
	streams := make([]*Stream, runs+1)
	news := make([]*newStream, runs+1)
	datas := make([]*dataReq, runs+1)
	ends := make([]*remoteEnded, runs+1)
	for i := range streams {
		s := coreStream("/s")
		s.outq = make([]*dataReq, 0, 1)
		streams[i], news[i], ends[i] = s, &newStream{s: s}, &remoteEnded{s: s}
		datas[i] = &dataReq{s: s, buf: msg(100), end: true}
	}
	i := 0
	allocs := testing.AllocsPerRun(runs, func() {
		sc.c.step(news[i])
		sc.c.step(datas[i])
		sc.c.step(ends[i])
		i++
	})
	if allocs != 0 {
		t.Errorf("%v allocations per call in the core, want 0", allocs)
	}
	// A unary call's opening with its request (NewStreamWith).
	for j := range streams {
		s := coreStream("/s")
		s.outq = make([]*dataReq, 0, 1)
		datas[j], ends[j] = &dataReq{s: s, buf: msg(100), end: true, open: true}, &remoteEnded{s: s}
	}
	i = 0
	allocs = testing.AllocsPerRun(runs, func() {
		sc.c.step(datas[i])
		sc.c.step(ends[i])
		i++
	})
	if allocs != 0 {
		t.Errorf("%v allocations per unary call opened with its request in the core, want 0", allocs)
	}
	// Message after message on one long-lived stream (a bidirectional
	// call's sends), each written before the next comes.
	long := coreStream("/s")
	sc.c.step(&newStream{s: long})
	for j := range datas {
		datas[j] = &dataReq{s: long, buf: msg(100)}
	}
	i = 0
	allocs = testing.AllocsPerRun(runs, func() {
		sc.c.step(datas[i])
		i++
	})
	if allocs != 0 {
		t.Errorf("%v allocations per message on a stream in the core, want 0", allocs)
	}
	ping := &pingFrame{data: [8]byte{1}}
	if a := testing.AllocsPerRun(runs, func() { sc.c.step(ping) }); a != 0 {
		t.Errorf("%v allocations per PING answered, want 0", a)
	}
}

// TestCoreDropsQueuedOfUnstartedStream: a stream dropped before its
// HEADERS went out (waiting for a slot under MAX_CONCURRENT_STREAMS, or
// refused or failed as it would start) releases the data queued on it in
// the step that drops it: every byte, each pooled buffer to recycle, after
// its finish and before its forget (or before the close that ends it), so
// that it ends Drained and its requests and buffers go back to their pools.
func TestCoreDropsQueuedOfUnstartedStream(t *testing.T) {
	// waiting: a limit of one stream, /a open, s waiting with its data:
	// a pooled message of 100 bytes that opened it (NewStreamWith), then
	// a plain one of 30.
	waiting := func(sc *script, s *Stream, settings ...http2.Setting) (a *Stream, q []queuedData) {
		sc.ready(append([]http2.Setting{{ID: http2.SettingMaxConcurrentStreams, Val: 1}}, settings...)...)
		a = coreStream("/a")
		sc.step(&newStream{s: a})
		q = append(q, queueData(sc, s, 100, true, true), queueData(sc, s, 30, false, false))
		if s.started || len(s.outq) != 2 {
			sc.t.Fatalf("setup: started %v, %d queued messages, want waiting with 2", s.started, len(s.outq))
		}
		return a, q
	}
	cancelled := status.New(codes.Canceled, "call cancelled")
	tests := []struct {
		name string
		// setup queues data on s, returns it and the message whose step
		// drops s.
		setup  func(sc *script, s *Stream) ([]queuedData, coreMsg)
		finish string // the finish the step emits for s ("": none), a prefix
		close  bool   // effClose, not the core, ends s (no forget)
	}{
		{"goaway refuses a waiting stream", func(sc *script, s *Stream) ([]queuedData, coreMsg) {
			_, q := waiting(sc, s)
			return q, &goAwayFrame{lastID: 1, code: http2.ErrCodeNo}
		}, "finish /s UNAVAILABLE: the server sent GOAWAY", false},
		{"drain refuses a waiting stream", func(sc *script, s *Stream) ([]queuedData, coreMsg) {
			_, q := waiting(sc, s)
			return q, &drainReq{}
		}, "finish /s UNAVAILABLE: connection to scripted-peer:50051 is draining", false},
		{"close drops the waiting streams", func(sc *script, s *Stream) ([]queuedData, coreMsg) {
			_, q := waiting(sc, s)
			return q, &readerFailed{err: io.EOF}
		}, "", true},
		{"close request drops the waiting streams", func(sc *script, s *Stream) ([]queuedData, coreMsg) {
			_, q := waiting(sc, s)
			return q, &closeReq{err: status.New(codes.Unavailable, "connection closed by the client")}
		}, "", true},
		{"cancel of a waiting stream", func(sc *script, s *Stream) ([]queuedData, coreMsg) {
			_, q := waiting(sc, s)
			s.finish(cancelled, nil, false, true)
			return q, &cancelStream{s: s}
		}, "", false},
		{"a waiting stream ended before its turn", func(sc *script, s *Stream) ([]queuedData, coreMsg) {
			a, q := waiting(sc, s)
			s.finish(cancelled, nil, false, true) // its cancelStream not yet stepped
			sc.step(&dataReq{s: a, end: true})
			return q, &remoteEnded{s: a}
		}, "", false},
		{"deadline passed while waiting", func(sc *script, s *Stream) ([]queuedData, coreMsg) {
			s.hdr.Deadline = t0.Add(time.Second)
			a, q := waiting(sc, s)
			sc.step(&dataReq{s: a, end: true})
			sc.now = t0.Add(2 * time.Second)
			return q, &remoteEnded{s: a}
		}, "finish /s DEADLINE_EXCEEDED: deadline exceeded before the call was sent", false},
		{"header list too large when it starts", func(sc *script, s *Stream) ([]queuedData, coreMsg) {
			s.fieldsSize = 1001
			a, q := waiting(sc, s, http2.Setting{ID: http2.SettingMaxHeaderListSize, Val: 1000})
			sc.step(&dataReq{s: a, end: true})
			return q, &remoteEnded{s: a}
		}, "finish /s INTERNAL: header list size to send violates the maximum size", false},
		{"opened on a draining connection", func(sc *script, s *Stream) ([]queuedData, coreMsg) {
			sc.ready()
			sc.step(&newStream{s: coreStream("/a")})
			sc.step(&drainReq{})
			s.queued.Add(100)
			buf := msg(100)
			return []queuedData{{100, buf}}, &dataReq{s: s, buf: buf, pooled: true, end: true, open: true}
		}, "finish /s UNAVAILABLE: connection to scripted-peer:50051 is draining", false},
		{"opened when the stream ids ran out", func(sc *script, s *Stream) ([]queuedData, coreMsg) {
			sc.ready()
			sc.c.nextID = maxStreamID + 2
			s.queued.Add(100)
			buf := msg(100)
			return []queuedData{{100, buf}}, &dataReq{s: s, buf: buf, pooled: true, end: true, open: true}
		}, "finish /s UNAVAILABLE: connection to scripted-peer:50051 is draining", false},
		{"ended between its data and its opening", func(sc *script, s *Stream) ([]queuedData, coreMsg) {
			// NewStreamWith's request is queued (onData), then the call
			// ends on its goroutine before onNewStream reads finishedFast.
			sc.ready()
			buf := msg(100)
			s.queued.Add(100)
			s.outq = append(s.outq, &dataReq{s: s, buf: buf, pooled: true, end: true})
			s.endQueued = true
			s.finish(cancelled, nil, false, true)
			return []queuedData{{100, buf}}, &newStream{s: s}
		}, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc := newScript(t, nil)
			s := coreStream("/s")
			s.conn = &Conn{cfg: Config{WriteQuota: DefaultWriteQuota}}
			q, m := tt.setup(sc, s)
			effs := stepPerforming(sc, m)
			var finish, forget, closed = -1, -1, -1
			var releases []*effRelease
			for i, e := range effs {
				switch e := e.(type) {
				case *effFinish:
					if e.s == s {
						finish = i
					}
				case effForget:
					if e.s == s {
						forget = i
					}
				case *effClose:
					closed = i
				case *effRelease:
					if e.s != s {
						continue
					}
					if forget >= 0 || closed >= 0 || (tt.finish != "" && finish < 0) {
						t.Errorf("effect %d %v: want it after the finish and before the forget or close", i, e)
					}
					releases = append(releases, e)
				}
			}
			if len(releases) != len(q) {
				t.Fatalf("effects %v: %d releases of /s, want %d", effs, len(releases), len(q))
			}
			for i, r := range releases {
				if r.n != q[i].n {
					t.Errorf("release %d: %d bytes, want %d", i, r.n, q[i].n)
				}
				if (r.recycle == nil) != (q[i].pooled == nil) || r.recycle != nil && &r.recycle[0] != &q[i].pooled[0] {
					t.Errorf("release %d: recycle %p (len %d), want the pooled buffer %p (len %d)", i, r.recycle, len(r.recycle), q[i].pooled, len(q[i].pooled))
				}
			}
			if tt.finish != "" && (finish < 0 || !strings.HasPrefix(effs[finish].String(), tt.finish)) {
				t.Errorf("effects %v: want %q", effs, tt.finish)
			}
			if tt.close && closed < 0 || !tt.close && forget < 0 {
				t.Errorf("effects %v: want a close (%v), else a forget of /s", effs, tt.close)
			}
			if len(s.outq) != 0 || !s.Drained() || s.Queued() != 0 {
				t.Errorf("after the step: %d messages in outq, Queued %d, Drained %v; want none, 0, true", len(s.outq), s.Queued(), s.Drained())
			}
			if slices.Contains(sc.c.waiting, s) {
				t.Errorf("stream still waiting")
			}
		})
	}
}

// queuedData is a message queued on a stream: its size and, if pooled,
// its buffer.
type queuedData struct {
	n      int
	pooled []byte
}

// queueData queues n bytes on s as its writer does (Write, or
// NewStreamWith with open): counted in Queued, then stepped.
func queueData(sc *script, s *Stream, n int, pooled, open bool) queuedData {
	buf := msg(n)
	s.queued.Add(int64(n))
	sc.step(&dataReq{s: s, buf: buf, pooled: pooled, open: open})
	q := queuedData{n: n}
	if pooled {
		q.pooled = buf
	}
	return q
}

// stepPerforming steps the core with m and performs, as the actor would,
// the effects that the tests read back: finishes and releases. It returns
// a copy of the effects (the core reuses its slice).
func stepPerforming(sc *script, m coreMsg) []effect {
	effs := slices.Clone(sc.c.step(m))
	for _, e := range effs {
		switch e := e.(type) {
		case *effFinish:
			if e.unsent {
				e.s.finishUnsent(e.st)
			} else {
				e.s.finish(e.st, nil, e.unprocessed, e.local)
			}
		case *effRelease:
			e.s.wrote(e.n)
		}
	}
	return effs
}
