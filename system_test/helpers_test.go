package system_test

// The test fixtures every file of this package uses (the small helpers,
// stubs and bounds are in main_test.go): restartable grpc-go interop
// servers with call counters and hooks (the probe server among them), a
// recorder of connectivity states that checks gRPC's allowed transitions,
// a log of the HTTP/2 frames a chaos.Proxy carries, a tiny DNS server and
// a dialer that records its dials.

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"iter"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
	"google.golang.org/grpc"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	grpcmd "google.golang.org/grpc/metadata"
	grpcstatus "google.golang.org/grpc/status"

	"github.com/grpcactor/grpcactor/channel"
	"github.com/grpcactor/grpcactor/system_test/chaos"
	"github.com/grpcactor/grpcactor/system_test/peers"
)

// ---------------------------------------------------------------------
// Servers

// serverConfig describes a testServer.
type serverConfig struct {
	// Addr is the address to listen on; "" for a fresh loopback port.
	Addr string
	// Opts are extra grpc.ServerOptions, after the raised message size
	// limits of peers.NewGoInterop (so they can override them).
	Opts []grpc.ServerOption
	// Hook, if set, runs before every handler; an error fails the call.
	Hook func(ctx context.Context, method string) error
	// Register, if set, registers more services on each incarnation of
	// the server (grpc-go's health service, say).
	Register func(*grpc.Server)
}

// testServer is grpc-go's interop TestService server (peers.NewGoInterop)
// in this process: the one way this package starts a server of its own
// (the other peers are in package peers, the chaos tests' child servers in
// package chaos). It can be stopped and started again on the same port,
// and counts the calls it handles.
type testServer struct {
	t     testing.TB
	cfg   serverConfig
	addr  string
	calls atomic.Int64 // calls that reached the handler chain, every incarnation

	mu     sync.Mutex
	srv    *grpc.Server
	served chan struct{}
}

// startServer starts a testServer; it is stopped when the test ends.
func startServer(t testing.TB, cfg serverConfig) *testServer {
	t.Helper()
	s := &testServer{t: t, cfg: cfg, addr: cfg.Addr}
	if s.addr == "" {
		s.addr = "127.0.0.1:0"
	}
	s.Start()
	t.Cleanup(s.Stop)
	return s
}

// Start starts the server again on its address (after Stop).
func (s *testServer) Start() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		s.t.Fatalf("testServer %s: already running", s.addr)
	}
	lis, err := net.Listen("tcp", s.addr)
	if err != nil {
		s.t.Fatalf("testServer: listen on %s: %v", s.addr, err)
	}
	s.addr = lis.Addr().String()
	observe := func(ctx context.Context, method string) error {
		s.calls.Add(1)
		if s.cfg.Hook != nil {
			return s.cfg.Hook(ctx, method)
		}
		return nil
	}
	srv := peers.NewGoInterop(append(observing(observe), s.cfg.Opts...)...)
	if s.cfg.Register != nil {
		s.cfg.Register(srv)
	}
	served := make(chan struct{})
	go func() {
		defer close(served)
		if err := srv.Serve(lis); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			s.t.Errorf("testServer %s: Serve: %v", s.addr, err)
		}
	}()
	s.srv, s.served = srv, served
}

// Addr returns "127.0.0.1:<port>".
func (s *testServer) Addr() string { return s.addr }

// take detaches the running server, if any.
func (s *testServer) take() (*grpc.Server, chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	srv, served := s.srv, s.served
	s.srv, s.served = nil, nil
	return srv, served
}

// Stop stops the server at once (connections closed, no GOAWAY drain).
func (s *testServer) Stop() {
	if srv, served := s.take(); srv != nil {
		srv.Stop()
		<-served
	}
}

// GracefulStop stops the server with GOAWAY, waiting for the calls in
// progress to finish.
func (s *testServer) GracefulStop() {
	if srv, served := s.take(); srv != nil {
		srv.GracefulStop()
		<-served
	}
}

// threeServers starts three servers and returns them with the ipv4:
// target naming them in order.
func threeServers(t *testing.T) ([]*testServer, string) {
	t.Helper()
	var srvs []*testServer
	target := "ipv4:"
	for i := range 3 {
		s := startServer(t, serverConfig{})
		srvs = append(srvs, s)
		if i > 0 {
			target += ","
		}
		target += s.Addr()
	}
	return srvs, target
}

// serverCalls returns each server's call count.
func serverCalls(srvs []*testServer) []int64 {
	out := make([]int64, len(srvs))
	for i, s := range srvs {
		out[i] = s.calls.Load()
	}
	return out
}

// callsSince returns a - b, element by element (calls per server since
// a count taken earlier).
func callsSince(a, b []int64) []int64 {
	out := make([]int64, len(a))
	for i := range a {
		out[i] = a[i] - b[i]
	}
	return out
}

// lbWarmUp makes calls until every server has seen one (every subchannel
// is READY and in the policy's picker).
func lbWarmUp(t *testing.T, ch *channel.Channel, srvs []*testServer) {
	t.Helper()
	empty := newStubs(ch).empty
	for i := 0; ; i++ {
		c := serverCalls(srvs)
		if c[0] > 0 && c[1] > 0 && c[2] > 0 {
			return
		}
		if i == 1000 {
			t.Fatalf("after %d calls, calls per server %v: the policy does not reach every server", i, c)
		}
		if _, err := empty.Call(tctx(t), &testgrpc.Empty{}, channel.WaitForReady(true)); err != nil {
			t.Fatal(err)
		}
	}
}

// observing returns server options whose interceptors call observe before
// every unary and streaming call; an error from observe fails the call.
func observing(observe func(ctx context.Context, method string) error) []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.UnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			if err := observe(ctx, info.FullMethod); err != nil {
				return nil, err
			}
			return h(ctx, req)
		}),
		grpc.StreamInterceptor(func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			if err := observe(ss.Context(), info.FullMethod); err != nil {
				return err
			}
			return h(srv, ss)
		}),
	}
}

// Metadata keys that the probe server (startProbeServer) acts on.
const (
	// holdKey makes the probe server hold the call until it is cancelled
	// by the client (or the server stops), after reporting its arrival.
	holdKey = "x-test-hold"
	// probeKey makes the probe server report what it saw of the call.
	probeKey = "x-test-probe"
)

// seen is what the probe server saw of one call.
type seen struct {
	method      string
	probe       string
	deadline    time.Time
	hasDeadline bool
}

// probeServer is a testServer whose hook reports and holds calls on
// request.
type probeServer struct {
	*testServer
	arrived chan seen // calls carrying holdKey, once they are held
	probes  chan seen // calls carrying probeKey
}

// startProbeServer starts a testServer that reports calls with probeKey
// metadata on probes and holds calls with holdKey metadata (reporting them
// on arrived) until the client cancels them.
func startProbeServer(t testing.TB) *probeServer {
	t.Helper()
	ps := &probeServer{arrived: make(chan seen, 1024), probes: make(chan seen, 1024)}
	ps.testServer = startServer(t, serverConfig{Hook: ps.observe})
	return ps
}

func (ps *probeServer) observe(ctx context.Context, method string) error {
	md, _ := grpcmd.FromIncomingContext(ctx)
	s := seen{method: method}
	s.deadline, s.hasDeadline = ctx.Deadline()
	if v := md.Get(probeKey); len(v) > 0 {
		s.probe = v[0]
		ps.probes <- s
	}
	if len(md.Get(holdKey)) > 0 {
		ps.arrived <- s
		<-ctx.Done()
		return grpcstatus.FromContextError(ctx.Err()).Err()
	}
	return nil
}

// held returns the metadata option that makes the probe server hold a call.
func held() channel.CallOption {
	return channel.Metadata(map[string][]string{holdKey: {"1"}})
}

// probed returns the metadata option that makes the probe server report a
// call under name.
func probed(name string) channel.CallOption {
	return channel.Metadata(map[string][]string{probeKey: {name}})
}

// openLive opens a FullDuplexCall and makes one round trip on it (req,
// then one response), so that the call is known to be live at the server.
func openLive(t testing.TB, ctx context.Context, duplex *channel.StreamStreamCallable[*outReq, *outResp], req *outReq, opts ...channel.CallOption) *channel.BidiStream[*outReq, *outResp] {
	t.Helper()
	bs, err := duplex.Open(ctx, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := bs.Send(req); err != nil {
		t.Fatal(err)
	}
	if _, err := bs.Recv(); err != nil {
		t.Fatal(err)
	}
	return bs
}

// allPayloads reads a response stream to its end (its All) and returns the
// payload of each response, failing the test on an error.
func allPayloads(t testing.TB, all iter.Seq2[*outResp, error]) []*testgrpc.Payload {
	t.Helper()
	var ps []*testgrpc.Payload
	for r, err := range all {
		if err != nil {
			t.Fatalf("All: %v", err)
		}
		ps = append(ps, r.GetPayload())
	}
	return ps
}

// payloadSizes is allPayloads' payload sizes.
func payloadSizes(t testing.TB, all iter.Seq2[*outResp, error]) []int {
	t.Helper()
	var sizes []int
	for _, p := range allPayloads(t, all) {
		sizes = append(sizes, len(p.GetBody()))
	}
	return sizes
}

// ---------------------------------------------------------------------
// Connectivity recording and the allowed transitions

// allowedNext lists, for each state, the states a channel may move to next,
// exactly as gRPC's connectivity-semantics document has them:
// IDLE→CONNECTING; CONNECTING→READY, TRANSIENT_FAILURE or IDLE; READY→IDLE
// or TRANSIENT_FAILURE; TRANSIENT_FAILURE→CONNECTING; anything→SHUTDOWN.
// (A sticky TRANSIENT_FAILURE, gRFC A62, is reported through CONNECTING.)
var allowedNext = map[channel.Connectivity][]channel.Connectivity{
	channel.Idle:             {channel.Connecting, channel.Shutdown},
	channel.Connecting:       {channel.Ready, channel.TransientFailure, channel.Idle, channel.Shutdown},
	channel.Ready:            {channel.Idle, channel.TransientFailure, channel.Shutdown},
	channel.TransientFailure: {channel.Connecting, channel.Shutdown},
	channel.Shutdown:         {},
}

// checkSequence checks that seq starts with first, never repeats a state
// twice in a row, only makes allowed transitions and, if shutdownLast,
// ends with SHUTDOWN.
func checkSequence(t testing.TB, what string, seq []channel.Connectivity, first channel.Connectivity, shutdownLast bool) {
	t.Helper()
	if len(seq) == 0 {
		t.Fatalf("%s: no state delivered", what)
	}
	if seq[0] != first {
		t.Errorf("%s: first state %v, want %v (sequence %v)", what, seq[0], first, seq)
	}
	for i := 1; i < len(seq); i++ {
		from, to := seq[i-1], seq[i]
		if from == to {
			t.Errorf("%s: %v delivered twice in a row at %d (sequence %v)", what, to, i, seq)
			continue
		}
		ok := false
		for _, a := range allowedNext[from] {
			ok = ok || a == to
		}
		if !ok {
			t.Errorf("%s: transition %v → %v at %d is not allowed (sequence %v)", what, from, to, i, seq)
		}
	}
	if shutdownLast && seq[len(seq)-1] != channel.Shutdown {
		t.Errorf("%s: last state %v, want SHUTDOWN (sequence %v)", what, seq[len(seq)-1], seq)
	}
}

// stateRecorder records the states a subscriber receives.
type stateRecorder struct {
	mu     sync.Mutex
	states []channel.Connectivity
	wake   chan struct{} // closed and replaced on every state
}

func newStateRecorder() *stateRecorder { return &stateRecorder{wake: make(chan struct{})} }

// subscribeStates subscribes a new recorder to ch (Subscribe(rec.Add,
// tryToConnect)) and returns it.
func subscribeStates(ch *channel.Channel, tryToConnect bool) *stateRecorder {
	r := newStateRecorder()
	ch.Subscribe(r.Add, tryToConnect)
	return r
}

// closeAndCheck closes ch, waits up to d for the recorder to get SHUTDOWN
// (delivered on the subscription's goroutine, maybe after Close returns)
// and checks the whole sequence: from IDLE, allowed transitions only,
// SHUTDOWN last.
func (r *stateRecorder) closeAndCheck(t testing.TB, ch *channel.Channel, d time.Duration) {
	t.Helper()
	ch.Close()
	r.WaitFor(t, channel.Shutdown, d)
	checkSequence(t, "subscriber", r.States(), channel.Idle, true)
}

// Add records s (the subscription callback).
func (r *stateRecorder) Add(s channel.Connectivity) {
	r.mu.Lock()
	r.states = append(r.states, s)
	close(r.wake)
	r.wake = make(chan struct{})
	r.mu.Unlock()
}

// States returns a copy of what was recorded.
func (r *stateRecorder) States() []channel.Connectivity {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]channel.Connectivity(nil), r.states...)
}

// WaitFor waits until the recorder holds the state want, failing the test
// after d.
func (r *stateRecorder) WaitFor(t testing.TB, want channel.Connectivity, d time.Duration) {
	t.Helper()
	r.WaitAfter(t, 0, want, d)
}

// WaitAfter waits until a state want was recorded at an index >= from,
// failing the test after d. It returns that index.
func (r *stateRecorder) WaitAfter(t testing.TB, from int, want channel.Connectivity, d time.Duration) int {
	t.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		r.mu.Lock()
		for i := from; i < len(r.states); i++ {
			if r.states[i] == want {
				r.mu.Unlock()
				return i
			}
		}
		wake := r.wake
		got := append([]channel.Connectivity(nil), r.states...)
		r.mu.Unlock()
		select {
		case <-wake:
		case <-timer.C:
			t.Fatalf("subscriber: no %v (from index %d) within %v; got %v", want, from, d, got)
		}
	}
}

// Len returns how many states were recorded.
func (r *stateRecorder) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.states)
}

// ---------------------------------------------------------------------
// HTTP/2 frames seen by a proxy (chaos.Proxy, which also stalls)

// h2Frame is an HTTP/2 frame header (and GOAWAY contents) seen by a
// frameLog.
type h2Frame struct {
	toServer bool
	typ      byte
	flags    byte
	stream   uint32
	goAway   uint32 // GOAWAY error code
	debug    string // GOAWAY debug data
}

// HTTP/2 frame types the tests look for.
const (
	framePing   = 0x6
	frameGoAway = 0x7
)

// frameLog records the header of every HTTP/2 frame of the connections a
// chaos.Proxy accepts (forwarded or held by a stall), and the contents of
// GOAWAY frames.
type frameLog struct {
	mu     sync.Mutex
	frames []h2Frame
	wake   chan struct{} // closed and replaced on every frame
}

// sniffFrames taps p's connections from now on and returns their log.
func sniffFrames(p *chaos.Proxy) *frameLog {
	l := &frameLog{wake: make(chan struct{})}
	p.SetTap(func() (fromClient, fromServer func([]byte)) {
		c := &frameSniffer{toServer: true, skip: len("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), record: l.record}
		s := &frameSniffer{toServer: false, record: l.record}
		return c.feed, s.feed
	})
	return l
}

func (l *frameLog) record(f h2Frame) {
	l.mu.Lock()
	l.frames = append(l.frames, f)
	close(l.wake)
	l.wake = make(chan struct{})
	l.mu.Unlock()
}

// Frames returns the frames seen so far.
func (l *frameLog) Frames() []h2Frame {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]h2Frame(nil), l.frames...)
}

// WaitFrame waits for a frame that match accepts, failing the test after d.
func (l *frameLog) WaitFrame(t testing.TB, what string, d time.Duration, match func(h2Frame) bool) h2Frame {
	t.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	seen := 0
	for {
		l.mu.Lock()
		for ; seen < len(l.frames); seen++ {
			if match(l.frames[seen]) {
				f := l.frames[seen]
				l.mu.Unlock()
				return f
			}
		}
		wake := l.wake
		l.mu.Unlock()
		select {
		case <-wake:
		case <-timer.C:
			t.Fatalf("proxy: no %s within %v", what, d)
		}
	}
}

// frameSniffer parses HTTP/2 frame headers out of one direction of a
// connection.
type frameSniffer struct {
	toServer bool
	skip     int // bytes of client preface still to skip
	buf      []byte
	record   func(h2Frame)
}

func (s *frameSniffer) feed(b []byte) {
	if s.skip > 0 {
		n := min(s.skip, len(b))
		s.skip -= n
		b = b[n:]
	}
	s.buf = append(s.buf, b...)
	for len(s.buf) >= 9 {
		length := int(s.buf[0])<<16 | int(s.buf[1])<<8 | int(s.buf[2])
		if len(s.buf) < 9+length {
			return
		}
		f := h2Frame{toServer: s.toServer, typ: s.buf[3], flags: s.buf[4], stream: binary.BigEndian.Uint32(s.buf[5:9]) & 0x7fffffff}
		payload := s.buf[9 : 9+length]
		if f.typ == frameGoAway && len(payload) >= 8 {
			f.goAway = binary.BigEndian.Uint32(payload[4:8])
			f.debug = string(payload[8:])
		}
		s.record(f)
		s.buf = s.buf[9+length:]
	}
}

// ---------------------------------------------------------------------
// A tiny DNS server

// dnsServer answers A queries for the names in hosts over UDP, AAAA
// queries for them with no records, and NXDOMAIN for every other name.
type dnsServer struct {
	pc      net.PacketConn
	hosts   map[string]net.IP // fully qualified, lower case ("grpcactor.test.")
	queries atomic.Int64      // queries for a name in hosts
	done    chan struct{}
}

// startDNS starts a DNS server on a loopback UDP port; it stops when the
// test ends.
func startDNS(t testing.TB, hosts map[string]string) *dnsServer {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &dnsServer{pc: pc, hosts: map[string]net.IP{}, done: make(chan struct{})}
	for name, ip := range hosts {
		s.hosts[strings.ToLower(strings.TrimSuffix(name, "."))+"."] = net.ParseIP(ip).To4()
	}
	go s.serve()
	t.Cleanup(func() {
		pc.Close()
		<-s.done
	})
	return s
}

// Addr returns "127.0.0.1:<port>".
func (s *dnsServer) Addr() string { return s.pc.LocalAddr().String() }

func (s *dnsServer) serve() {
	defer close(s.done)
	buf := make([]byte, 1500)
	for {
		n, from, err := s.pc.ReadFrom(buf)
		if err != nil {
			return
		}
		if resp, ok := s.answer(buf[:n]); ok {
			_, _ = s.pc.WriteTo(resp, from)
		}
	}
}

func (s *dnsServer) answer(query []byte) ([]byte, bool) {
	var p dnsmessage.Parser
	h, err := p.Start(query)
	if err != nil {
		return nil, false
	}
	q, err := p.Question()
	if err != nil {
		return nil, false
	}
	ip, known := s.hosts[strings.ToLower(q.Name.String())]
	rh := dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RecursionDesired: h.RecursionDesired, RecursionAvailable: true}
	if !known {
		rh.RCode = dnsmessage.RCodeNameError
	} else {
		s.queries.Add(1)
	}
	b := dnsmessage.NewBuilder(nil, rh)
	b.EnableCompression()
	if b.StartQuestions() != nil || b.Question(q) != nil || b.StartAnswers() != nil {
		return nil, false
	}
	if known && q.Type == dnsmessage.TypeA && q.Class == dnsmessage.ClassINET {
		var a dnsmessage.AResource
		copy(a.A[:], ip)
		if b.AResource(dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 1}, a) != nil {
			return nil, false
		}
	}
	out, err := b.Finish()
	return out, err == nil
}

// ---------------------------------------------------------------------
// Misc

// drainStream reads a response stream to its end and returns the number of
// messages and the final error (nil for a clean end).
func drainStream[T any](s interface{ Recv() (T, error) }) (int, error) {
	n := 0
	for {
		_, err := s.Recv()
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		n++
	}
}

// dialRecorder wraps a net.Dialer and records when each dial started.
type dialRecorder struct {
	mu    sync.Mutex
	times []time.Time
	wake  chan struct{}
}

func newDialRecorder() *dialRecorder { return &dialRecorder{wake: make(chan struct{})} }

// Dial is a channel.WithDialer function.
func (d *dialRecorder) Dial(ctx context.Context, network, address string) (net.Conn, error) {
	d.mu.Lock()
	d.times = append(d.times, time.Now())
	close(d.wake)
	d.wake = make(chan struct{})
	d.mu.Unlock()
	var nd net.Dialer
	return nd.DialContext(ctx, network, address)
}

// Count returns how many dials started.
func (d *dialRecorder) Count() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.times)
}

// Times returns the start times of the dials.
func (d *dialRecorder) Times() []time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]time.Time(nil), d.times...)
}

// WaitCount waits until at least n dials started, failing the test after
// dur.
func (d *dialRecorder) WaitCount(t testing.TB, n int, dur time.Duration) {
	t.Helper()
	timer := time.NewTimer(dur)
	defer timer.Stop()
	for {
		d.mu.Lock()
		got, wake := len(d.times), d.wake
		d.mu.Unlock()
		if got >= n {
			return
		}
		select {
		case <-wake:
		case <-timer.C:
			t.Fatalf("dialer: %d dials within %v, want at least %d", got, dur, n)
		}
	}
}

// serveUnknown starts a grpc-go server on loopback whose every method goes
// to handler (a raw stream handler for tests that script their own
// server), stopped when the test ends, and returns its address.
func serveUnknown(t testing.TB, handler grpc.StreamHandler, opts ...grpc.ServerOption) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(append(opts, grpc.UnknownServiceHandler(handler))...)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return lis.Addr().String()
}
