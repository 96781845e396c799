package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"

	"github.com/grpcactor/grpcactor/channel"
	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/metadata"
	"github.com/grpcactor/grpcactor/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"

	_ "google.golang.org/genproto/googleapis/rpc/errdetails" // the standard error details, for printing them
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
)

// env is an open channel with its descriptor source.
type env struct {
	ch   *channel.Channel
	src  source
	opts []channel.CallOption
}

func (e *env) close() {
	e.src.Close()
	e.ch.Close()
}

// open dials addr and picks the descriptor source; it returns nil and the
// exit code on failure.
func (c *cli) open(ctx context.Context, addr string) (*env, int) {
	md, err := c.metadata()
	if err != nil {
		return nil, c.usageErr("%v", err)
	}
	ch, err := c.dial(addr)
	if err != nil {
		return nil, c.fail("%v", err)
	}
	e := &env{ch: ch}
	if len(md) > 0 {
		e.opts = append(e.opts, channel.Metadata(md))
	}
	if len(c.cfg.protos) > 0 || len(c.cfg.protosets) > 0 {
		fs, err := newFileSource(ctx, c.cfg.protos, c.cfg.importPaths, c.cfg.protosets)
		if err != nil {
			ch.Close()
			return nil, c.fail("%v", err)
		}
		e.src = fs
	} else {
		e.src = newReflectSource(ch, e.opts)
	}
	if c.cfg.connTimeout > 0 {
		cctx, cancel := context.WithTimeout(ctx, c.cfg.connTimeout)
		_, err := channel.ReadyFuture(ch).Result(cctx)
		cancel()
		if err != nil {
			state := ch.State(false)
			e.close()
			return nil, c.fail("could not connect to %s within %v (channel %s)", addr, c.cfg.connTimeout, state)
		}
	}
	return e, 0
}

// splitMethod accepts "pkg.Service/Method", "/pkg.Service/Method" and
// "pkg.Service.Method".
func splitMethod(s string) (svc, method string, ok bool) {
	s = strings.TrimPrefix(s, "/")
	if i := strings.LastIndexByte(s, '/'); i > 0 {
		return s[:i], s[i+1:], i+1 < len(s)
	}
	if i := strings.LastIndexByte(s, '.'); i > 0 {
		return s[:i], s[i+1:], i+1 < len(s)
	}
	return "", "", false
}

func (c *cli) call(ctx context.Context, addr, full string) int {
	svcName, mName, ok := splitMethod(full)
	if !ok {
		return c.usageErr("method %q: want pkg.Service/Method", full)
	}
	e, code := c.open(ctx, addr)
	if e == nil {
		return code
	}
	defer e.close()
	d, err := e.src.Find(ctx, svcName)
	if err != nil {
		return c.rpcError(err)
	}
	sd, ok := d.(protoreflect.ServiceDescriptor)
	if !ok {
		return c.fail("%s is a %s, not a service", svcName, kindOf(d))
	}
	md := sd.Methods().ByName(protoreflect.Name(mName))
	if md == nil {
		return c.fail("service %s has no method %q", svcName, mName)
	}
	types := e.src.Types()
	mio := &msgIO{
		in:      md.Input(),
		outDesc: md.Output(),
		text:    c.cfg.format == "text",
		un:      protojson.UnmarshalOptions{Resolver: types},
		tun:     prototext.UnmarshalOptions{Resolver: types},
		out:     c.stdout,
		mar:     protojson.MarshalOptions{Resolver: types, EmitUnpopulated: c.cfg.emitDefaults},
		tmar:    prototext.MarshalOptions{Resolver: types, Multiline: true, Indent: "  "},
	}
	var reqs requests
	switch {
	case c.cfg.dataSet && c.cfg.data == "@":
		reqs = mio.reader(c.stdin)
	case c.cfg.dataSet:
		reqs = mio.reader(strings.NewReader(c.cfg.data))
	case md.IsStreamingClient():
		reqs = mio.reader(c.stdin)
	default:
		reqs = &oneEmpty{text: mio.text}
	}
	path := "/" + string(sd.FullName()) + "/" + mName
	var hdr, trl metadata.MD
	var callErr error
	switch {
	case !md.IsStreamingClient() && !md.IsStreamingServer():
		req, _, err := mio.next(reqs)
		if err != nil {
			return c.fail("%v", err)
		}
		if _, extra, _ := mio.next(reqs); extra {
			return c.fail("-d: %s takes one request, got more", path)
		}
		resp, call, err := channel.UnaryUnary[[]byte, []byte](e.ch, path).WithCall(ctx, req, e.opts...)
		if call != nil {
			hdr, trl = call.InitialMetadata(), call.TrailingMetadata()
		}
		if err == nil {
			err = mio.print(resp)
		}
		callErr = err
	case !md.IsStreamingClient():
		req, _, err := mio.next(reqs)
		if err != nil {
			return c.fail("%v", err)
		}
		rs, err := channel.UnaryStream[[]byte, []byte](e.ch, path).Call(ctx, req, e.opts...)
		if err != nil {
			callErr = err
			break
		}
		for resp, err := range rs.All() {
			if err != nil {
				callErr = err
				break
			}
			if err := mio.print(resp); err != nil {
				callErr = err
				break
			}
		}
		hdr, trl = rs.InitialMetadata(), rs.TrailingMetadata()
	case !md.IsStreamingServer():
		cctx, cancel := context.WithCancel(ctx)
		defer cancel()
		s, err := channel.StreamUnary[[]byte, []byte](e.ch, path).Open(cctx, e.opts...)
		if err != nil {
			callErr = err
			break
		}
		var readErr error
		for {
			req, ok, err := mio.next(reqs)
			if err != nil {
				readErr = err
				break
			}
			if !ok || s.Send(req) != nil {
				break
			}
		}
		if readErr != nil {
			cancel()
			s.CloseAndRecv()
			return c.fail("%v", readErr)
		}
		resp, err := s.CloseAndRecv()
		if err == nil {
			err = mio.print(resp)
		}
		callErr = err
	default:
		cctx, cancel := context.WithCancel(ctx)
		defer cancel()
		s, err := channel.StreamStream[[]byte, []byte](e.ch, path).Open(cctx, e.opts...)
		if err != nil {
			callErr = err
			break
		}
		// Requests are read and sent on their own goroutine, so that
		// responses print as they arrive. A reader still blocked on
		// standard input when the call ends is left behind: the command
		// exits.
		readDone := make(chan error, 1)
		go func() {
			for {
				req, ok, err := mio.next(reqs)
				if err != nil {
					readDone <- err
					cancel()
					return
				}
				if !ok || s.Send(req) != nil {
					s.CloseSend()
					readDone <- nil
					return
				}
			}
		}()
		for resp, err := range s.All() {
			if err != nil {
				callErr = err
				break
			}
			if err := mio.print(resp); err != nil {
				callErr = err
				cancel()
				break
			}
		}
		select {
		case err := <-readDone:
			if err != nil {
				return c.fail("%v", err)
			}
		default:
		}
		hdr, trl = s.InitialMetadata(), s.TrailingMetadata()
	}
	if c.cfg.verbose {
		fmt.Fprintf(c.stderr, "Response headers:\n%s", mdLines(hdr))
		fmt.Fprintf(c.stderr, "Response trailers:\n%s", mdLines(trl))
	}
	if callErr != nil {
		return c.rpcError(callErr)
	}
	return 0
}

// recordSeparator separates text-format requests in the input, and
// text-format responses after the first in the output (as grpcurl does).
const recordSeparator = 0x1E

// requests is a source of request documents: JSON values, or text-format
// messages separated by recordSeparator.
type requests interface {
	// next returns the next document; ok is false at the end of the input.
	next() (doc []byte, ok bool, err error)
}

// jsonDocs reads concatenated JSON values.
type jsonDocs struct{ d *json.Decoder }

func (j jsonDocs) next() ([]byte, bool, error) {
	var raw json.RawMessage
	if err := j.d.Decode(&raw); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, false, nil
		}
		return nil, false, fmt.Errorf("reading request JSON: %v", err)
	}
	return raw, true, nil
}

// textDocs reads text-format messages separated by recordSeparator: no
// input is no message, and a separator at the end is followed by a last,
// empty message (as grpcurl reads them). Each message is read as soon as
// its separator arrives.
type textDocs struct {
	r    *bufio.Reader
	sep  bool // a separator has been read
	done bool
}

func (t *textDocs) next() ([]byte, bool, error) {
	if t.done {
		return nil, false, nil
	}
	b, err := t.r.ReadBytes(recordSeparator)
	switch {
	case err == nil:
		t.sep = true
		return b[:len(b)-1], true, nil
	case errors.Is(err, io.EOF):
		t.done = true
		if len(b) == 0 && !t.sep {
			return nil, false, nil
		}
		return b, true, nil
	}
	return nil, false, fmt.Errorf("reading request text: %v", err)
}

// oneEmpty gives one empty request: what a call without -d sends.
type oneEmpty struct {
	text bool
	done bool
}

func (o *oneEmpty) next() ([]byte, bool, error) {
	if o.done {
		return nil, false, nil
	}
	o.done = true
	if o.text {
		return []byte{}, true, nil
	}
	return []byte("{}"), true, nil
}

// msgIO turns request documents into request messages and responses into
// JSON or, with text set (-format text), the protobuf text format.
type msgIO struct {
	in      protoreflect.MessageDescriptor
	outDesc protoreflect.MessageDescriptor
	text    bool
	un      protojson.UnmarshalOptions
	tun     prototext.UnmarshalOptions
	mu      sync.Mutex
	out     io.Writer
	mar     protojson.MarshalOptions
	tmar    prototext.MarshalOptions
	printed bool // a response has been printed (text: the next is separated)
}

// reader returns the request documents r holds, in j's format.
func (j *msgIO) reader(r io.Reader) requests {
	if j.text {
		return &textDocs{r: bufio.NewReader(r)}
	}
	return jsonDocs{json.NewDecoder(r)}
}

// next reads the next request and serializes it; ok is false at the end
// of the input.
func (j *msgIO) next(src requests) (req []byte, ok bool, err error) {
	doc, ok, err := src.next()
	if !ok || err != nil {
		return nil, false, err
	}
	m := dynamicpb.NewMessage(j.in)
	if j.text {
		err = j.tun.Unmarshal(doc, m)
	} else {
		err = j.un.Unmarshal(doc, m)
	}
	if err != nil {
		return nil, false, fmt.Errorf("request is not a valid %s: %v", j.in.FullName(), err)
	}
	b, err := proto.Marshal(m)
	if err != nil {
		return nil, false, fmt.Errorf("serializing %s: %v", j.in.FullName(), err)
	}
	return b, true, nil
}

// print writes a serialized response as JSON, or in the text format.
func (j *msgIO) print(resp []byte) error {
	m := dynamicpb.NewMessage(j.outDesc)
	if err := proto.Unmarshal(resp, m); err != nil {
		return status.Errorf(codes.Internal, "response is not a valid %s: %v", j.outDesc.FullName(), err)
	}
	var out bytes.Buffer
	if j.text {
		b, err := j.tmar.Marshal(m)
		if err != nil {
			return status.Errorf(codes.Internal, "printing response as text: %v", err)
		}
		out.Write(b)
		if len(b) > 0 && b[len(b)-1] != '\n' {
			out.WriteByte('\n')
		}
	} else {
		b, err := j.mar.Marshal(m)
		if err != nil {
			return status.Errorf(codes.Internal, "printing response as JSON: %v", err)
		}
		// protojson varies its whitespace on purpose; indent it ourselves
		// so that the output is stable.
		if err := json.Indent(&out, b, "", "  "); err != nil {
			return status.Errorf(codes.Internal, "printing response as JSON: %v", err)
		}
		out.WriteByte('\n')
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.text && j.printed {
		if _, err := j.out.Write([]byte{recordSeparator}); err != nil {
			return err
		}
	}
	j.printed = true
	_, err := j.out.Write(out.Bytes())
	return err
}

func mdLines(md metadata.MD) string {
	keys := make([]string, 0, len(md))
	for k := range md {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		for _, v := range md[k] {
			if metadata.IsBinaryKey(k) {
				v = base64.StdEncoding.EncodeToString([]byte(v))
			}
			fmt.Fprintf(&b, "  %s: %s\n", k, v)
		}
	}
	return b.String()
}

// rpcError prints a failed call's code, message and details and returns
// 64 + its code.
func (c *cli) rpcError(err error) int {
	st, ok := status.FromError(err)
	if !ok || st == nil {
		st = status.Convert(err)
	}
	fmt.Fprintf(c.stderr, "ERROR:\n  Code: %s\n  Message: %s\n", st.Code(), st.Details())
	if det := st.TrailingMetadata().Get("grpc-status-details-bin"); len(det) > 0 {
		var sp rpcstatus.Status
		if err := proto.Unmarshal([]byte(det[0]), &sp); err != nil {
			fmt.Fprintf(c.stderr, "  Details: malformed grpc-status-details-bin: %v\n", err)
		} else if len(sp.GetDetails()) > 0 {
			fmt.Fprintf(c.stderr, "  Details:\n")
			mar := protojson.MarshalOptions{Resolver: protoregistry.GlobalTypes}
			for i, a := range sp.GetDetails() {
				b, err := mar.Marshal(a)
				var compact bytes.Buffer
				if err == nil && json.Compact(&compact, b) == nil {
					b = compact.Bytes()
				} else {
					b = []byte(fmt.Sprintf("%s (%d bytes)", a.GetTypeUrl(), len(a.GetValue())))
				}
				fmt.Fprintf(c.stderr, "  %d) %s\n", i+1, b)
			}
		}
	}
	return exitRPCBase + int(st.Code())
}
