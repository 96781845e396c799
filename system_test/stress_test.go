package system_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	grpcmd "google.golang.org/grpc/metadata"
	grpcstatus "google.golang.org/grpc/status"

	"github.com/grpcactor/grpcactor/channel"
	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/futures"
	"github.com/grpcactor/grpcactor/metadata"
	"github.com/grpcactor/grpcactor/status"
)

// TestStressMixedTraffic runs a seeded random mix of the four kinds of
// call on one channel from many goroutines against grpc-go's interop
// server, and checks every call's outcome exactly: payload sizes and bytes
// both ways (the requests carry a pattern the server checks, the responses
// are zeros), CANCELLED for a cancelled call, DEADLINE_EXCEEDED for a call
// whose deadline passes while the server sleeps, an echoed status exactly.
// Some calls race a cancel from another goroutine: a Cancel that returns
// true ends the call CANCELLED, one that returns false left it OK. The run
// must end with the channel still working and nothing leaked (TestMain's
// leak check).
// GRPCACTOR_STRESS_SEED replays a run; GRPCACTOR_STRESS_OPS sets the
// operations per worker.
func TestStressMixedTraffic(t *testing.T) {
	const workers = 16
	ops := 14
	if v := os.Getenv("GRPCACTOR_STRESS_OPS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("GRPCACTOR_STRESS_OPS=%q: want a positive integer", v)
		}
		ops = n
	}
	seed := time.Now().UnixNano()
	if v := os.Getenv("GRPCACTOR_STRESS_SEED"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			t.Fatalf("GRPCACTOR_STRESS_SEED=%q: %v", v, err)
		}
		seed = n
	}
	t.Logf("seed %d (GRPCACTOR_STRESS_SEED=%d replays it), %d workers × %d operations", seed, seed, workers, ops)

	srv := startServer(t, serverConfig{Opts: []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(checkRequestUnary),
		grpc.ChainStreamInterceptor(checkRequestStream),
	}})
	s := dialStubs(t, srv.Addr())

	var wg sync.WaitGroup
	counts := make([]map[string]int, workers)
	for w := range workers {
		counts[w] = map[string]int{}
		wg.Go(func() {
			rng := rand.New(rand.NewSource(seed + int64(w)))
			for i := range ops {
				st := &stressOp{s: s, rng: rng, id: fmt.Sprintf("w%d/op%d", w, i)}
				kind, err := st.run()
				counts[w][kind]++
				if err != nil {
					t.Errorf("seed %d %s %s: %v", seed, st.id, kind, err)
					return
				}
			}
		})
	}
	wg.Wait()
	total := map[string]int{}
	for _, c := range counts {
		for k, n := range c {
			total[k] += n
		}
	}
	t.Logf("operations by kind: %v", total)
	if t.Failed() {
		return
	}

	// The channel still works after all that.
	resp, err := s.unary.Call(tctx(t), &simpleReq{ResponseType: testgrpc.PayloadType_COMPRESSABLE, ResponseSize: 1024, Payload: pattern(1024)})
	if err != nil {
		t.Fatalf("unary call after the stress: %v", err)
	}
	checkPayload(t, "unary call after the stress", resp.GetPayload(), 1024)
	s.ch.Close()
}

// pattern returns a payload of n bytes whose contents depend on n and the
// offset, checked by the server (checkPattern).
func pattern(n int) *testgrpc.Payload {
	b := make([]byte, n)
	for i := range b {
		b[i] = patternByte(n, i)
	}
	return &testgrpc.Payload{Type: testgrpc.PayloadType_COMPRESSABLE, Body: b}
}

func patternByte(n, i int) byte { return byte(1 + (i*131+n*7+i/251)%253) }

// checkPattern returns a DATA_LOSS error if p's body is not pattern(len).
func checkPattern(p *testgrpc.Payload) error {
	b := p.GetBody()
	for i, c := range b {
		if c != patternByte(len(b), i) {
			return grpcstatus.Errorf(grpccodes.DataLoss, "request payload of %d bytes corrupted at byte %d: %#x, want %#x", len(b), i, c, patternByte(len(b), i))
		}
	}
	return nil
}

type payloadHolder interface{ GetPayload() *testgrpc.Payload }

func checkRequestUnary(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	if p, ok := req.(payloadHolder); ok {
		if err := checkPattern(p.GetPayload()); err != nil {
			return nil, err
		}
	}
	return h(ctx, req)
}

// stressHoldKey makes the server hold a streaming call open after its
// handler returned, until the client cancels it.
const stressHoldKey = "x-stress-hold"

func checkRequestStream(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	err := h(srv, checkingStream{ss})
	if md, _ := grpcmd.FromIncomingContext(ss.Context()); err == nil && len(md[stressHoldKey]) > 0 {
		<-ss.Context().Done()
		return grpcstatus.Error(grpccodes.Canceled, "held until cancelled")
	}
	return err
}

type checkingStream struct{ grpc.ServerStream }

func (c checkingStream) RecvMsg(m any) error {
	if err := c.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	if p, ok := m.(payloadHolder); ok {
		return checkPattern(p.GetPayload())
	}
	return nil
}

// stressOp is one random operation.
type stressOp struct {
	s   *stubs
	rng *rand.Rand
	id  string
}

var (
	unarySizes  = []int{0, 1024, 100 * 1024, 2 << 20}
	streamSizes = []int{0, 1, 1024, 16 * 1024, 100 * 1024}
)

func (o *stressOp) unarySize() int {
	// 2 MiB rarely: it dominates the run's time under -race.
	if o.rng.Intn(12) == 0 {
		return unarySizes[3]
	}
	return unarySizes[o.rng.Intn(3)]
}

func (o *stressOp) streamSize() int { return streamSizes[o.rng.Intn(len(streamSizes))] }

// opts returns random call options that do not change the outcome: gzip,
// wait-for-ready, echoed metadata (echo reports whether it was added).
func (o *stressOp) opts() (opts []channel.CallOption, echo bool) {
	if o.rng.Intn(3) == 0 {
		opts = append(opts, channel.CompressionGzip())
	}
	if o.rng.Intn(3) == 0 {
		opts = append(opts, channel.WaitForReady(true))
	}
	if o.rng.Intn(3) == 0 {
		opts = append(opts, channel.Metadata(metadata.MD{initialMetadataKey: {initialMetadataVal}, trailingMetadataKey: {trailingMetadataVal}}))
		echo = true
	}
	return opts, echo
}

// ctx returns a context bounded by testTimeout.
func (o *stressOp) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), testTimeout)
}

func (o *stressOp) run() (string, error) {
	switch n := o.rng.Intn(100); {
	case n < 18:
		return "unary", o.unary()
	case n < 24:
		return "unary-status", o.unaryStatus()
	case n < 29:
		return "unary-short-deadline", o.unaryShortDeadline()
	case n < 34:
		return "unary-cancel", o.unaryCancel()
	case n < 46:
		return "server-stream", o.serverStream()
	case n < 49:
		return "server-stream-cancel", o.serverStreamCancel()
	case n < 51:
		return "server-stream-break", o.serverStreamBreak()
	case n < 55:
		return "server-stream-deadline", o.serverStreamDeadline()
	case n < 58:
		return "server-stream-start", o.serverStreamStart()
	case n < 60:
		return "server-stream-start-cancel", o.serverStreamStartCancel()
	case n < 70:
		return "client-stream", o.clientStream()
	case n < 74:
		return "client-stream-cancel", o.clientStreamCancel()
	case n < 86:
		return "bidi", o.bidi()
	case n < 90:
		return "bidi-cancel", o.bidiCancel()
	case n < 93:
		return "bidi-status", o.bidiStatus()
	case n < 96:
		return "bidi-deadline", o.bidiDeadline()
	case n < 98:
		return "client-stream-racing-cancel", o.clientStreamRacingCancel()
	default:
		return "bidi-racing-cancel", o.bidiRacingCancel()
	}
}

// checkZeros checks that p is a COMPRESSABLE payload of n zero bytes.
func checkZeros(what string, p *testgrpc.Payload, n int) error {
	b := p.GetBody()
	if len(b) != n {
		return fmt.Errorf("%s: payload of %d bytes, want %d", what, len(b), n)
	}
	if p.GetType() != testgrpc.PayloadType_COMPRESSABLE {
		return fmt.Errorf("%s: payload type %v", what, p.GetType())
	}
	for i, c := range b {
		if c != 0 {
			return fmt.Errorf("%s: payload of %d bytes has %#x at byte %d, want zeros", what, n, c, i)
		}
	}
	return nil
}

// codeIs checks the code a call ended with.
func codeIs(got, want codes.Code) error {
	if got != want {
		return fmt.Errorf("Code %v, want %v", got, want)
	}
	return nil
}

// isStatus checks that err is a *status.Error with code and, if msg is not
// "", that message.
func isStatus(what string, err error, code codes.Code, msg string) error {
	if err == nil {
		return fmt.Errorf("%s: succeeded, want %v", what, code)
	}
	st, ok := status.FromError(err)
	if !ok || st == nil {
		return fmt.Errorf("%s: error %v (%T) is not a *status.Error, want %v", what, err, err, code)
	}
	if st.Code() != code || (msg != "" && st.Details() != msg) {
		return fmt.Errorf("%s: %v %q, want %v %q", what, st.Code(), st.Details(), code, msg)
	}
	return nil
}

func checkEchoMD(what string, initial, trailing metadata.MD) error {
	if got := initial[initialMetadataKey]; len(got) != 1 || got[0] != initialMetadataVal {
		return fmt.Errorf("%s: initial metadata %v", what, initial)
	}
	if got := trailing[trailingMetadataKey]; len(got) != 1 || got[0] != trailingMetadataVal {
		return fmt.Errorf("%s: trailing metadata %v", what, trailing)
	}
	return nil
}

func (o *stressOp) simpleReq() (*simpleReq, int) {
	respSize := o.unarySize()
	return &simpleReq{ResponseType: testgrpc.PayloadType_COMPRESSABLE, ResponseSize: int32(respSize), Payload: pattern(o.unarySize())}, respSize
}

func (o *stressOp) unary() error {
	req, respSize := o.simpleReq()
	opts, echo := o.opts()
	ctx, cancel := o.ctx()
	defer cancel()
	var (
		resp *simpleResp
		call *channel.Call
		err  error
		form string
	)
	switch o.rng.Intn(4) {
	case 0:
		form = "Call"
		resp, err = o.s.unary.Call(ctx, req, opts...)
		echo = false
	case 1:
		form = "WithCall"
		resp, call, err = o.s.unary.WithCall(ctx, req, opts...)
	case 2:
		form = "Future"
		f := o.s.unary.Future(ctx, req, opts...)
		resp, err = f.Result(ctx)
		call = f.Call()
	case 3:
		form = "Start"
		done := make(chan struct{})
		call = o.s.unary.Start(ctx, req, func(r *simpleResp, _ *channel.Call, e error) {
			resp, err = r, e
			close(done)
		}, opts...)
		select {
		case <-done:
		case <-ctx.Done():
			return fmt.Errorf("Start: done not called within %v", testTimeout)
		}
	}
	if err != nil {
		return fmt.Errorf("%s (req %d B, resp %d B): %v", form, len(req.GetPayload().GetBody()), respSize, err)
	}
	if err := checkZeros(form, resp.GetPayload(), respSize); err != nil {
		return err
	}
	if call != nil {
		if c := call.Code(); c != codes.OK {
			return fmt.Errorf("%s: Call.Code %v after success", form, c)
		}
		if echo {
			return checkEchoMD(form, call.InitialMetadata(), call.TrailingMetadata())
		}
	}
	return nil
}

// echoStatus returns a status for the server to echo: any non-OK code,
// which the client passes on as it is (no retry policy is configured), and
// a message with characters that grpc-message percent-encodes.
func (o *stressOp) echoStatus() *testgrpc.EchoStatus {
	code := 1 + o.rng.Intn(16) // CANCELLED .. UNAUTHENTICATED
	return &testgrpc.EchoStatus{Code: int32(code), Message: fmt.Sprintf("%s: status %d ☺\t\n%%", o.id, code)}
}

func (o *stressOp) unaryStatus() error {
	es := o.echoStatus()
	req, _ := o.simpleReq()
	req.ResponseStatus = es
	opts, echo := o.opts()
	ctx, cancel := o.ctx()
	defer cancel()
	_, call, err := o.s.unary.WithCall(ctx, req, opts...)
	return endedWith("WithCall", err, call, es, echo)
}

// endedCall is what a finished call reports of its end (a *channel.Call,
// a stream).
type endedCall interface {
	Code() codes.Code
	Details() string
	InitialMetadata() metadata.MD
	TrailingMetadata() metadata.MD
}

// endedWith checks that a call asked to end with es did: its error err
// and the call itself say es's code and message, and with echo its
// metadata came back.
func endedWith(what string, err error, call endedCall, es *testgrpc.EchoStatus, echo bool) error {
	if err := isStatus(what, err, codes.Code(es.Code), es.Message); err != nil {
		return err
	}
	if call.Code() != codes.Code(es.Code) || call.Details() != es.Message {
		return fmt.Errorf("%s: the call says %v %q, want %v %q", what, call.Code(), call.Details(), codes.Code(es.Code), es.Message)
	}
	if echo {
		return checkEchoMD(what, call.InitialMetadata(), call.TrailingMetadata())
	}
	return nil
}

// unaryShortDeadline: a deadline of a few milliseconds that may or may not
// pass before the response arrives (truly racy: both outcomes allowed).
func (o *stressOp) unaryShortDeadline() error {
	req, respSize := o.simpleReq()
	opts, _ := o.opts()
	d := time.Duration(1+o.rng.Intn(5)) * time.Millisecond
	ctx := context.Background()
	if o.rng.Intn(2) == 0 {
		opts = append(opts, channel.Timeout(d))
	} else {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	resp, err := o.s.unary.Call(ctx, req, opts...)
	if err != nil {
		return isStatus(fmt.Sprintf("Call with deadline %v", d), err, codes.DeadlineExceeded, "")
	}
	return checkZeros("Call", resp.GetPayload(), respSize)
}

// unaryCancel cancels a unary call at once or after a random short
// pause; a call that Cancel found running ends CANCELLED.
func (o *stressOp) unaryCancel() error {
	req, respSize := o.simpleReq()
	opts, _ := o.opts()
	ctx, cancel := o.ctx()
	defer cancel()
	if o.rng.Intn(2) == 0 {
		f := o.s.unary.Future(ctx, req, opts...)
		if o.rng.Intn(2) == 0 {
			runtimeYield(o.rng.Intn(50))
		}
		cancelled := f.Cancel()
		resp, err := f.Result(ctx)
		if cancelled {
			if !errors.Is(err, futures.ErrCancelled) {
				return fmt.Errorf("Future.Result after a Cancel that returned true: %v, want futures.ErrCancelled", err)
			}
			if !f.Cancelled() {
				return errors.New("Future.Cancelled is false after a Cancel that returned true")
			}
			if c := f.Call(); c != nil {
				<-c.Done()
				// A call that ended on its own first refuses the cancel.
				if code := c.Code(); code != codes.Canceled {
					return fmt.Errorf("call code after a Future.Cancel that returned true: %v, want CANCELLED", code)
				}
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("Future.Result after a Cancel that returned false: %v", err)
		}
		return checkZeros("Future", resp.GetPayload(), respSize)
	}
	var (
		resp *simpleResp
		err  error
		done = make(chan struct{})
	)
	call := o.s.unary.Start(ctx, req, func(r *simpleResp, _ *channel.Call, e error) {
		resp, err = r, e
		close(done)
	}, opts...)
	if o.rng.Intn(2) == 0 {
		runtimeYield(o.rng.Intn(50))
	}
	cancelled := call.Cancel()
	select {
	case <-done:
	case <-ctx.Done():
		return fmt.Errorf("Start: done not called within %v", testTimeout)
	}
	if cancelled {
		if err := isStatus("Start after a Cancel that returned true", err, codes.Canceled, ""); err != nil {
			return err
		}
		if call.Code() != codes.Canceled {
			return fmt.Errorf("Call.Code %v after Cancel, want CANCELLED", call.Code())
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("Start after a Cancel that returned false: %v", err)
	}
	return checkZeros("Start", resp.GetPayload(), respSize)
}

// runtimeYield lets other goroutines run n times (a random point in a
// call's life, without sleeping).
func runtimeYield(n int) {
	for range n {
		runtime.Gosched()
	}
}

func (o *stressOp) streamSizes(n int) []int {
	sizes := make([]int, n)
	for i := range sizes {
		sizes[i] = o.streamSize()
	}
	return sizes
}

func (o *stressOp) outReq(sizes []int, interval time.Duration) *outReq {
	req := &outReq{ResponseType: testgrpc.PayloadType_COMPRESSABLE}
	for _, n := range sizes {
		req.ResponseParameters = append(req.ResponseParameters, &testgrpc.ResponseParameters{Size: int32(n), IntervalUs: int32(interval / time.Microsecond)})
	}
	if o.rng.Intn(2) == 0 {
		req.Payload = pattern(o.streamSize())
	}
	return req
}

func (o *stressOp) serverStream() error {
	sizes := o.streamSizes(1 + o.rng.Intn(50))
	opts, _ := o.opts() // grpc-go's StreamingOutputCall echoes no metadata
	ctx, cancel := o.ctx()
	defer cancel()
	rs, err := o.s.streamOut.Call(ctx, o.outReq(sizes, 0), opts...)
	if err != nil {
		return fmt.Errorf("Call: %v", err)
	}
	if o.rng.Intn(2) == 0 {
		i := 0
		for resp, err := range rs.All() {
			if err != nil {
				return fmt.Errorf("All after %d of %d responses: %v", i, len(sizes), err)
			}
			if i >= len(sizes) {
				return fmt.Errorf("All: more than %d responses", len(sizes))
			}
			if err := checkZeros(fmt.Sprintf("response %d", i), resp.GetPayload(), sizes[i]); err != nil {
				return err
			}
			i++
		}
		if i != len(sizes) {
			return fmt.Errorf("All: %d responses, want %d", i, len(sizes))
		}
	} else {
		for i, n := range sizes {
			resp, err := rs.Recv()
			if err != nil {
				return fmt.Errorf("Recv %d of %d: %v", i, len(sizes), err)
			}
			if err := checkZeros(fmt.Sprintf("response %d", i), resp.GetPayload(), n); err != nil {
				return err
			}
		}
		if _, err := rs.Recv(); err != io.EOF {
			return fmt.Errorf("Recv after %d responses: %v, want io.EOF", len(sizes), err)
		}
	}
	return codeIs(rs.Code(), codes.OK)
}

// cancelNow cancels a call through its context or its Cancel.
func (o *stressOp) cancelNow(cancel context.CancelFunc, call interface{ Cancel() bool }) error {
	if o.rng.Intn(2) == 0 {
		cancel()
		return nil
	}
	if !call.Cancel() {
		return errors.New("Cancel of a call in progress returned false")
	}
	return nil
}

func (o *stressOp) serverStreamCancel() error {
	sizes := o.streamSizes(2 + o.rng.Intn(49))
	k := o.rng.Intn(len(sizes)) // responses read before the cancel
	opts, _ := o.opts()
	ctx, cancel := o.ctx()
	defer cancel()
	// The server holds the call open after its responses until the
	// client cancels it, so that it is in progress when cancelled.
	opts = append(opts, channel.Metadata(metadata.MD{stressHoldKey: {"1"}}))
	rs, err := o.s.streamOut.Call(ctx, o.outReq(sizes, 0), opts...)
	if err != nil {
		return fmt.Errorf("Call: %v", err)
	}
	for i := range k {
		resp, err := rs.Recv()
		if err != nil {
			return fmt.Errorf("Recv %d of %d: %v", i, len(sizes), err)
		}
		if err := checkZeros(fmt.Sprintf("response %d", i), resp.GetPayload(), sizes[i]); err != nil {
			return err
		}
	}
	if err := o.cancelNow(cancel, rs); err != nil {
		return err
	}
	_, err = rs.Recv()
	if err := isStatus(fmt.Sprintf("Recv after cancel after %d of %d responses", k, len(sizes)), err, codes.Canceled, ""); err != nil {
		return err
	}
	if c := rs.Code(); c != codes.Canceled {
		return fmt.Errorf("Code %v after cancel, want CANCELLED", c)
	}
	return nil
}

// serverStreamDeadline: the server sleeps between responses longer in all
// than the deadline, so the call ends DEADLINE_EXCEEDED after the
// responses that came before it.
func (o *stressOp) serverStreamDeadline() error {
	sizes := o.streamSizes(3 + o.rng.Intn(5))
	interval := 20 * time.Millisecond
	d := time.Duration(1+o.rng.Intn(40)) * time.Millisecond // < 3 × interval
	opts, _ := o.opts()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	rs, err := o.s.streamOut.Call(ctx, o.outReq(sizes, interval), opts...)
	if err != nil {
		return isStatus("Call", err, codes.DeadlineExceeded, "")
	}
	for i := 0; ; i++ {
		resp, err := rs.Recv()
		if err != nil {
			if err := isStatus(fmt.Sprintf("Recv %d with deadline %v", i, d), err, codes.DeadlineExceeded, ""); err != nil {
				return err
			}
			break
		}
		if i >= len(sizes) {
			return errors.New("more responses than asked for")
		}
		if err := checkZeros(fmt.Sprintf("response %d", i), resp.GetPayload(), sizes[i]); err != nil {
			return err
		}
	}
	return codeIs(rs.Code(), codes.DeadlineExceeded)
}

// serverStreamStart: the callback form, with or without demand; the
// responses are checked in OnMessage (on the runtime's goroutine, while
// the connection's buffers are live).
func (o *stressOp) serverStreamStart() error {
	sizes := o.streamSizes(1 + o.rng.Intn(50))
	opts, _ := o.opts() // grpc-go's StreamingOutputCall echoes no metadata
	ctx, cancel := o.ctx()
	defer cancel()
	demand := 0
	if o.rng.Intn(2) == 0 {
		demand = 1 + o.rng.Intn(4)
	}
	var (
		mu      sync.Mutex
		got     int
		bad     error
		endErr  error
		header  bool
		ended   = make(chan struct{})
		more    = make(chan struct{}, 64)
		granted = demand
	)
	h := channel.StreamHandler[*outResp]{
		Demand:   demand,
		OnHeader: func(metadata.MD) { header = true },
		OnMessage: func(r *outResp) {
			mu.Lock()
			defer mu.Unlock()
			if got >= len(sizes) {
				bad = fmt.Errorf("OnMessage: more than %d responses", len(sizes))
			} else if err := checkZeros(fmt.Sprintf("response %d", got), r.GetPayload(), sizes[got]); err != nil && bad == nil {
				bad = err
			}
			got++
			if demand > 0 && got == granted {
				more <- struct{}{}
			}
		},
		OnEnd: func(_ *channel.Call, err error) {
			endErr = err
			close(ended)
		},
	}
	sc := o.s.streamOut.Start(ctx, o.outReq(sizes, 0), h, opts...)
	for {
		select {
		case <-more:
			mu.Lock()
			granted += demand
			mu.Unlock()
			sc.Request(demand)
			continue
		case <-ended:
		case <-ctx.Done():
			return fmt.Errorf("OnEnd not called within %v", testTimeout)
		}
		break
	}
	mu.Lock()
	defer mu.Unlock()
	if bad != nil {
		return bad
	}
	if endErr != nil {
		return fmt.Errorf("OnEnd after %d of %d responses (demand %d): %v", got, len(sizes), demand, endErr)
	}
	if got != len(sizes) {
		return fmt.Errorf("%d responses, want %d", got, len(sizes))
	}
	if !header {
		return errors.New("OnHeader not called")
	}
	return codeIs(sc.Code(), codes.OK)
}

func (o *stressOp) inReqs(n int) ([]*inReq, int) {
	reqs := make([]*inReq, n)
	sum := 0
	for i := range reqs {
		size := o.streamSize()
		if o.rng.Intn(20) == 0 {
			size = unarySizes[3]
		}
		sum += size
		reqs[i] = &inReq{Payload: pattern(size)}
	}
	return reqs, sum
}

func (o *stressOp) clientStream() error {
	reqs, sum := o.inReqs(o.rng.Intn(11))
	opts, _ := o.opts()
	ctx, cancel := o.ctx()
	defer cancel()
	var (
		resp *inResp
		err  error
		form string
	)
	seq := func(yield func(*inReq) bool) {
		for _, r := range reqs {
			if !yield(r) {
				return
			}
		}
	}
	switch o.rng.Intn(3) {
	case 0:
		form = "Open"
		cs, oerr := o.s.streamIn.Open(ctx, opts...)
		if oerr != nil {
			return fmt.Errorf("Open: %v", oerr)
		}
		for i, r := range reqs {
			if err := cs.Send(r); err != nil {
				return fmt.Errorf("Send %d: %v", i, err)
			}
		}
		resp, err = cs.CloseAndRecv()
	case 1:
		form = "Call"
		resp, err = o.s.streamIn.Call(ctx, seq, opts...)
	case 2:
		form = "Future"
		resp, err = o.s.streamIn.Future(ctx, seq, opts...).Result(ctx)
	}
	if err != nil {
		return fmt.Errorf("%s with %d requests: %v", form, len(reqs), err)
	}
	if got := int(resp.GetAggregatedPayloadSize()); got != sum {
		return fmt.Errorf("%s: aggregated size %d, want %d", form, got, sum)
	}
	return nil
}

func (o *stressOp) clientStreamCancel() error {
	reqs, _ := o.inReqs(o.rng.Intn(11))
	k := 0
	if len(reqs) > 0 {
		k = o.rng.Intn(len(reqs) + 1)
	}
	opts, _ := o.opts()
	ctx, cancel := o.ctx()
	defer cancel()
	cs, err := o.s.streamIn.Open(ctx, opts...)
	if err != nil {
		return fmt.Errorf("Open: %v", err)
	}
	for i := range k {
		if err := cs.Send(reqs[i]); err != nil {
			return fmt.Errorf("Send %d: %v", i, err)
		}
	}
	if err := o.cancelNow(cancel, cs); err != nil {
		return err
	}
	_, err = cs.CloseAndRecv()
	if err := isStatus(fmt.Sprintf("CloseAndRecv after cancel after %d requests", k), err, codes.Canceled, ""); err != nil {
		return err
	}
	return codeIs(cs.Code(), codes.Canceled)
}

func (o *stressOp) pingReq(respSize int, interval time.Duration) *outReq {
	return &outReq{
		ResponseType:       testgrpc.PayloadType_COMPRESSABLE,
		ResponseParameters: []*testgrpc.ResponseParameters{{Size: int32(respSize), IntervalUs: int32(interval / time.Microsecond)}},
		Payload:            pattern(o.streamSize()),
	}
}

// pingPong makes rounds round trips on bs, one request and its response
// (of a random size, checked) at a time.
func (o *stressOp) pingPong(bs *channel.BidiStream[*outReq, *outResp], rounds int) error {
	for i := range rounds {
		n := o.streamSize()
		if err := bs.Send(o.pingReq(n, 0)); err != nil {
			return fmt.Errorf("Send %d: %v", i, err)
		}
		resp, err := bs.Recv()
		if err != nil {
			return fmt.Errorf("Recv %d: %v", i, err)
		}
		if err := checkZeros(fmt.Sprintf("response %d", i), resp.GetPayload(), n); err != nil {
			return err
		}
	}
	return nil
}

func (o *stressOp) bidi() error {
	rounds := o.rng.Intn(20)
	opts, echo := o.opts()
	ctx, cancel := o.ctx()
	defer cancel()
	bs, err := o.s.duplex.Open(ctx, opts...)
	if err != nil {
		return fmt.Errorf("Open: %v", err)
	}
	if err := o.pingPong(bs, rounds); err != nil {
		return err
	}
	if err := bs.CloseSend(); err != nil {
		return fmt.Errorf("CloseSend after %d rounds: %v", rounds, err)
	}
	if _, err := bs.Recv(); err != io.EOF {
		return fmt.Errorf("Recv after CloseSend: %v, want io.EOF", err)
	}
	if err := codeIs(bs.Code(), codes.OK); err != nil {
		return err
	}
	if echo {
		return checkEchoMD("bidi", bs.InitialMetadata(), bs.TrailingMetadata())
	}
	return nil
}

func (o *stressOp) bidiCancel() error {
	k := o.rng.Intn(10)
	opts, _ := o.opts()
	ctx, cancel := o.ctx()
	defer cancel()
	bs, err := o.s.duplex.Open(ctx, opts...)
	if err != nil {
		return fmt.Errorf("Open: %v", err)
	}
	if err := o.pingPong(bs, k); err != nil {
		return err
	}
	if o.rng.Intn(2) == 0 {
		// A request in flight whose response is not awaited.
		if err := bs.Send(o.pingReq(o.streamSize(), 0)); err != nil {
			return fmt.Errorf("Send %d: %v", k, err)
		}
	}
	if err := o.cancelNow(cancel, bs); err != nil {
		return err
	}
	_, err = bs.Recv()
	if err := isStatus(fmt.Sprintf("Recv after cancel after %d rounds", k), err, codes.Canceled, ""); err != nil {
		return err
	}
	return codeIs(bs.Code(), codes.Canceled)
}

func (o *stressOp) bidiStatus() error {
	k := o.rng.Intn(5)
	es := o.echoStatus()
	opts, echo := o.opts()
	ctx, cancel := o.ctx()
	defer cancel()
	bs, err := o.s.duplex.Open(ctx, opts...)
	if err != nil {
		return fmt.Errorf("Open: %v", err)
	}
	if err := o.pingPong(bs, k); err != nil {
		return err
	}
	req := o.pingReq(o.streamSize(), 0)
	req.ResponseStatus = es
	if err := bs.Send(req); err != nil && err != io.EOF {
		return fmt.Errorf("Send of the status request: %v", err)
	}
	_, err = bs.Recv()
	return endedWith(fmt.Sprintf("bidi: Recv after the status request after %d rounds", k), err, bs, es, echo)
}

// bidiDeadline: after k rounds (which may already meet the deadline on a
// loaded machine) the server sleeps longer than the deadline, so the call
// ends DEADLINE_EXCEEDED.
func (o *stressOp) bidiDeadline() error {
	k := o.rng.Intn(4)
	opts, _ := o.opts()
	d := time.Duration(10+o.rng.Intn(90)) * time.Millisecond
	ctx := context.Background()
	if o.rng.Intn(2) == 0 {
		opts = append(opts, channel.Timeout(d))
	} else {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	what := fmt.Sprintf("deadline %v", d)
	bs, err := o.s.duplex.Open(ctx, opts...)
	if err != nil {
		return isStatus("Open with "+what, err, codes.DeadlineExceeded, "")
	}
	for i := range k {
		n := o.streamSize()
		if err := bs.Send(o.pingReq(n, 0)); err != nil {
			if errors.Is(err, io.EOF) {
				break // the call ended: Recv tells how
			}
			return isStatus(fmt.Sprintf("Send %d with %s", i, what), err, codes.DeadlineExceeded, "")
		}
		resp, err := bs.Recv()
		if err != nil {
			return isStatus(fmt.Sprintf("Recv %d with %s", i, what), err, codes.DeadlineExceeded, "")
		}
		if err := checkZeros(fmt.Sprintf("response %d", i), resp.GetPayload(), n); err != nil {
			return err
		}
	}
	if err := bs.Send(o.pingReq(o.streamSize(), 2*d)); err != nil && !errors.Is(err, io.EOF) {
		if err := isStatus("Send of the sleeping request with "+what, err, codes.DeadlineExceeded, ""); err != nil {
			return err
		}
	}
	_, err = bs.Recv()
	if err := isStatus("Recv of the sleeping request with "+what, err, codes.DeadlineExceeded, ""); err != nil {
		return err
	}
	return codeIs(bs.Code(), codes.DeadlineExceeded)
}

// serverStreamBreak leaves All's loop after k responses, which cancels
// the call (held open by the server, so it is in progress).
func (o *stressOp) serverStreamBreak() error {
	sizes := o.streamSizes(1 + o.rng.Intn(30))
	k := 1 + o.rng.Intn(len(sizes))
	opts, _ := o.opts()
	opts = append(opts, channel.Metadata(metadata.MD{stressHoldKey: {"1"}}))
	ctx, cancel := o.ctx()
	defer cancel()
	rs, err := o.s.streamOut.Call(ctx, o.outReq(sizes, 0), opts...)
	if err != nil {
		return fmt.Errorf("Call: %v", err)
	}
	i := 0
	for resp, err := range rs.All() {
		if err != nil {
			return fmt.Errorf("All after %d responses: %v", i, err)
		}
		if err := checkZeros(fmt.Sprintf("response %d", i), resp.GetPayload(), sizes[i]); err != nil {
			return err
		}
		i++
		if i == k {
			break
		}
	}
	if c := rs.Code(); c != codes.Canceled {
		return fmt.Errorf("Code %v after leaving All after %d of %d responses, want CANCELLED", c, k, len(sizes))
	}
	return nil
}

// serverStreamStartCancel: the callback form with demand granted from
// inside OnMessage, cancelled (StreamCall.Cancel) from outside after k
// responses; the server holds the call open, so OnEnd says CANCELLED.
func (o *stressOp) serverStreamStartCancel() error {
	sizes := o.streamSizes(1 + o.rng.Intn(30))
	k := o.rng.Intn(len(sizes) + 1)
	opts, _ := o.opts()
	opts = append(opts, channel.Metadata(metadata.MD{stressHoldKey: {"1"}}))
	ctx, cancel := o.ctx()
	defer cancel()
	var (
		mu      sync.Mutex
		got     int
		bad     error
		endErr  error
		ended   = make(chan struct{})
		reached = make(chan struct{})
		scp     atomic.Pointer[channel.StreamCall[*outReq, *outResp]]
		started = make(chan struct{})
	)
	if k == 0 {
		close(reached)
	}
	h := channel.StreamHandler[*outResp]{
		Demand: 1,
		OnMessage: func(r *outResp) {
			mu.Lock()
			if got >= len(sizes) {
				bad = fmt.Errorf("OnMessage: more than %d responses", len(sizes))
			} else if err := checkZeros(fmt.Sprintf("response %d", got), r.GetPayload(), sizes[got]); err != nil && bad == nil {
				bad = err
			}
			got++
			n := got
			mu.Unlock()
			if n == k {
				close(reached)
			}
			<-started
			scp.Load().Request(1) // from inside the callback
		},
		OnEnd: func(_ *channel.Call, err error) {
			endErr = err
			close(ended)
		},
	}
	sc := o.s.streamOut.Start(ctx, o.outReq(sizes, 0), h, opts...)
	scp.Store(sc)
	close(started)
	select {
	case <-reached:
	case <-ended:
		return fmt.Errorf("OnEnd before the cancel after %d of %d responses: %v", k, len(sizes), endErr)
	case <-ctx.Done():
		return fmt.Errorf("%d responses not received within %v", k, testTimeout)
	}
	if !sc.Cancel() {
		return errors.New("Cancel of a call in progress returned false")
	}
	select {
	case <-ended:
	case <-ctx.Done():
		return fmt.Errorf("OnEnd not called within %v", testTimeout)
	}
	mu.Lock()
	defer mu.Unlock()
	if bad != nil {
		return bad
	}
	if err := isStatus(fmt.Sprintf("OnEnd after cancel after %d of %d responses", k, len(sizes)), endErr, codes.Canceled, ""); err != nil {
		return err
	}
	return codeIs(sc.Code(), codes.Canceled)
}

// clientStreamRacingCancel: large requests sent while another goroutine
// cancels the call at a random point. If Cancel found the call in
// progress, it ends CANCELLED (Sends after it return io.EOF); if not, it
// had ended OK with the right sum.
func (o *stressOp) clientStreamRacingCancel() error {
	n := 1 + o.rng.Intn(6)
	reqs := make([]*inReq, n)
	sum := 0
	for i := range reqs {
		size := []int{100 * 1024, 512 * 1024, 2 << 20}[o.rng.Intn(3)]
		sum += size
		reqs[i] = &inReq{Payload: pattern(size)}
	}
	pause := o.rng.Intn(200)
	opts, _ := o.opts()
	ctx, cancel := o.ctx()
	defer cancel()
	cs, err := o.s.streamIn.Open(ctx, opts...)
	if err != nil {
		return fmt.Errorf("Open: %v", err)
	}
	cancelled := make(chan bool, 1)
	go func() {
		runtimeYield(pause)
		cancelled <- cs.Cancel()
	}()
	var sendErr error
	sent := 0
	for _, r := range reqs {
		if sendErr = cs.Send(r); sendErr != nil {
			break
		}
		sent++
	}
	resp, err := cs.CloseAndRecv()
	was := <-cancelled
	what := fmt.Sprintf("%d of %d requests sent, Cancel returned %v", sent, n, was)
	if sendErr != nil && !errors.Is(sendErr, io.EOF) {
		return fmt.Errorf("%s: Send: %v, want nil or io.EOF", what, sendErr)
	}
	if was {
		return isStatus("CloseAndRecv: "+what, err, codes.Canceled, "")
	}
	if err != nil || sendErr != nil {
		return fmt.Errorf("%s: Send %v, CloseAndRecv %v, want success", what, sendErr, err)
	}
	if got := int(resp.GetAggregatedPayloadSize()); got != sum {
		return fmt.Errorf("%s: aggregated size %d, want %d", what, got, sum)
	}
	return nil
}

// bidiRacingCancel: ping-pong while another goroutine cancels the call at
// a random point (through its context or Cancel).
func (o *stressOp) bidiRacingCancel() error {
	rounds := 1 + o.rng.Intn(10)
	sizes := o.streamSizes(rounds)
	pause := o.rng.Intn(200)
	byCtx := o.rng.Intn(2) == 0
	opts, _ := o.opts()
	ctx, cancel := o.ctx()
	defer cancel()
	bs, err := o.s.duplex.Open(ctx, opts...)
	if err != nil {
		return fmt.Errorf("Open: %v", err)
	}
	cancelled := make(chan bool, 1)
	go func() {
		runtimeYield(pause)
		if byCtx {
			cancel()
			cancelled <- true // unknown: the call may have ended first
			return
		}
		cancelled <- bs.Cancel()
	}()
	var failed error
	done := 0
	for i, n := range sizes {
		if err := bs.Send(o.pingReq(n, 0)); err != nil {
			if !errors.Is(err, io.EOF) {
				return fmt.Errorf("Send %d: %v, want nil or io.EOF", i, err)
			}
			break
		}
		resp, err := bs.Recv()
		if err != nil {
			failed = err
			break
		}
		if err := checkZeros(fmt.Sprintf("response %d", i), resp.GetPayload(), n); err != nil {
			return err
		}
		done++
	}
	if failed == nil {
		if err := bs.CloseSend(); err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("CloseSend: %v", err)
		}
		if _, err := bs.Recv(); err != io.EOF {
			failed = err
		}
	}
	was := <-cancelled
	what := fmt.Sprintf("%d of %d rounds done, by context %v, Cancel returned %v", done, rounds, byCtx, was)
	if failed != nil {
		if err := isStatus(what, failed, codes.Canceled, ""); err != nil {
			return err
		}
		if c := bs.Code(); c != codes.Canceled {
			return fmt.Errorf("%s: Code %v, want CANCELLED", what, c)
		}
		return nil
	}
	if was && !byCtx {
		return fmt.Errorf("%s: the call ended OK after a Cancel that found it in progress", what)
	}
	if c := bs.Code(); c != codes.OK {
		return fmt.Errorf("%s: Code %v after a clean end, want OK", what, c)
	}
	return nil
}
