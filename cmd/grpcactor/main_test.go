package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/grpcactor/grpcactor/internal/leakcheck"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	grpccreds "google.golang.org/grpc/credentials"
	"google.golang.org/grpc/interop"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	grpcmd "google.golang.org/grpc/metadata"
	"google.golang.org/grpc/reflection"
	v1alphagrpc "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"
	grpcstatus "google.golang.org/grpc/status"
	"google.golang.org/grpc/testdata"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
)

func TestMain(m *testing.M) { leakcheck.VerifyTestMain(m) }

// serverKind says how the test server offers reflection.
type serverKind int

const (
	reflectV1AndAlpha serverKind = iota
	reflectAlphaOnly
	noReflection
)

// startServer starts grpc-go's interop TestService with reflection as
// kind says, and an interceptor that fails EmptyCall with rich error
// details when the call has metadata "x-want-details".
func startServer(t *testing.T, kind serverKind, opts ...grpc.ServerOption) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	opts = append(opts, grpc.UnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		if md, _ := grpcmd.FromIncomingContext(ctx); len(md.Get("x-want-details")) > 0 {
			st, err := grpcstatus.New(codes.InvalidArgument, "bad request").WithDetails(&errdetails.BadRequest{
				FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: "name", Description: "must not be empty"}},
			})
			if err != nil {
				return nil, err
			}
			return nil, st.Err()
		}
		return h(ctx, req)
	}))
	srv := grpc.NewServer(opts...)
	testgrpc.RegisterTestServiceServer(srv, interop.NewTestServer())
	switch kind {
	case reflectV1AndAlpha:
		reflection.Register(srv)
	case reflectAlphaOnly:
		v1alphagrpc.RegisterServerReflectionServer(srv, reflection.NewServer(reflection.ServerOptions{Services: srv}))
	}
	done := make(chan struct{})
	go func() { defer close(done); srv.Serve(lis) }()
	t.Cleanup(func() { srv.Stop(); <-done })
	return lis.Addr().String()
}

// result is one run of the command.
type result struct {
	code           int
	stdout, stderr string
}

func runCmd(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	var out, errb strings.Builder
	code := run(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	return result{code, out.String(), errb.String()}
}

func (r result) want(t *testing.T, code int, parts ...string) {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, code, r.stdout, r.stderr)
	}
	// protojson and prototext add a second space here and there, the same
	// in every run of one binary but different between builds: compare
	// with runs of spaces squeezed to one.
	all := squeezeSpaces(r.stdout + r.stderr)
	for _, p := range parts {
		if !strings.Contains(all, squeezeSpaces(p)) {
			t.Fatalf("output lacks %q\nstdout:\n%s\nstderr:\n%s", p, r.stdout, r.stderr)
		}
	}
}

// squeezeSpaces replaces each run of spaces in s with one space.
func squeezeSpaces(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == ' ' && i > 0 && s[i-1] == ' ' {
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func TestListAndDescribe(t *testing.T) {
	for _, kind := range []serverKind{reflectV1AndAlpha, reflectAlphaOnly} {
		t.Run(fmt.Sprint(kind), func(t *testing.T) {
			addr := startServer(t, kind)
			r := runCmd(t, "", "-plaintext", "list", addr)
			r.want(t, 0, "grpc.testing.TestService\n")
			if kind == reflectV1AndAlpha && !strings.Contains(r.stdout, "grpc.reflection.v1.ServerReflection\n") {
				t.Fatalf("list: %s", r.stdout)
			}
			runCmd(t, "", "list", addr, "grpc.testing.TestService", "-plaintext").want(t, 0,
				"grpc.testing.TestService.UnaryCall\n", "grpc.testing.TestService.FullDuplexCall\n")
			runCmd(t, "", "-plaintext", "describe", addr, "grpc.testing.TestService").want(t, 0,
				"grpc.testing.TestService is a service:",
				"rpc StreamingOutputCall ( .grpc.testing.StreamingOutputCallRequest ) returns ( stream .grpc.testing.StreamingOutputCallResponse );",
				"rpc FullDuplexCall ( stream .grpc.testing.StreamingOutputCallRequest ) returns ( stream .grpc.testing.StreamingOutputCallResponse );")
			runCmd(t, "", "-plaintext", "describe", addr, "grpc.testing.SimpleRequest").want(t, 0,
				"grpc.testing.SimpleRequest is a message:", "message SimpleRequest {", "int32 response_size = 2;", ".grpc.testing.Payload payload = 3;")
			runCmd(t, "", "-plaintext", "describe", addr, "grpc.testing.TestService.UnaryCall").want(t, 0,
				"is a method:", "rpc UnaryCall ( .grpc.testing.SimpleRequest ) returns ( .grpc.testing.SimpleResponse );")
			runCmd(t, "", "-plaintext", "describe", addr, "grpc.testing.PayloadType").want(t, 0, "enum PayloadType {", "COMPRESSABLE = 0;")
			runCmd(t, "", "-plaintext", "describe", addr, "no.such.Thing").want(t, 64+5, "Code: NOT_FOUND", "no.such.Thing")
		})
	}
}

func TestCallKinds(t *testing.T) {
	addr := startServer(t, reflectV1AndAlpha)
	// Unary, with metadata the server echoes and -v printing it.
	runCmd(t, "", "-plaintext", "-v", "-H", "x-grpc-test-echo-initial: hello", "call", addr, "grpc.testing.TestService/UnaryCall",
		"-d", `{"responseSize": 3, "fillUsername": false}`).want(t, 0,
		`"body": "AAAA"`, "Response headers:", "x-grpc-test-echo-initial: hello")
	// Server streaming: every response, in order.
	r := runCmd(t, "", "-plaintext", "call", addr, "/grpc.testing.TestService/StreamingOutputCall",
		"-d", `{"responseParameters": [{"size": 1}, {"size": 2}, {"size": 3}]}`)
	r.want(t, 0)
	if i, j, k := strings.Index(r.stdout, `"AA=="`), strings.Index(r.stdout, `"AAA="`), strings.Index(r.stdout, `"AAAA"`); i < 0 || !(i < j && j < k) {
		t.Fatalf("server streaming output:\n%s", r.stdout)
	}
	// Client streaming from standard input lines.
	runCmd(t, "{\"payload\": {\"body\": \"AAAA\"}}\n{\"payload\": {\"body\": \"AA==\"}}\n",
		"-plaintext", "call", addr, "grpc.testing.TestService.StreamingInputCall").want(t, 0, `"aggregatedPayloadSize": 4`)
	// The same with -d @.
	runCmd(t, "{\"payload\": {\"body\": \"AAAA\"}}\n", "-plaintext", "-d", "@", "call", addr, "grpc.testing.TestService/StreamingInputCall").want(t, 0, `"aggregatedPayloadSize": 3`)
	// Unary with no -d sends an empty request.
	runCmd(t, "", "-plaintext", "call", addr, "grpc.testing.TestService/EmptyCall").want(t, 0, "{}")
}

// lineWriter collects output and lets a test wait for a substring.
type lineWriter struct {
	mu      sync.Mutex
	b       strings.Builder
	changed chan struct{}
}

func newLineWriter() *lineWriter { return &lineWriter{changed: make(chan struct{})} }

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.b.Write(p)
	close(w.changed)
	w.changed = make(chan struct{})
	return len(p), nil
}

func (w *lineWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// wait returns once the output holds n occurrences of s.
func (w *lineWriter) wait(t *testing.T, s string, n int) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		w.mu.Lock()
		got, ch := strings.Count(w.b.String(), s), w.changed
		w.mu.Unlock()
		if got >= n {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("output never held %d of %q:\n%s", n, s, w.String())
		}
	}
}

func TestBidiPrintsAsItArrives(t *testing.T) {
	addr := startServer(t, reflectV1AndAlpha)
	inR, inW := io.Pipe()
	out, errb := newLineWriter(), newLineWriter()
	code := make(chan int, 1)
	go func() {
		code <- run(context.Background(), []string{"-plaintext", "call", addr, "grpc.testing.TestService/FullDuplexCall"}, inR, out, errb)
	}()
	// Each response must be printed before the next request is written.
	for i := 1; i <= 3; i++ {
		fmt.Fprintf(inW, "{\"responseParameters\": [{\"size\": %d}]}\n", i)
		out.wait(t, `"payload"`, i)
	}
	inW.Close()
	if c := <-code; c != 0 {
		t.Fatalf("exit %d: %s", c, errb.String())
	}
}

func TestErrors(t *testing.T) {
	addr := startServer(t, reflectV1AndAlpha)
	runCmd(t, "", "-plaintext", "call", addr, "grpc.testing.TestService/UnaryCall",
		"-d", `{"responseStatus": {"code": 5, "message": "nothing here"}}`).want(t, 64+5, "Code: NOT_FOUND", "Message: nothing here")
	runCmd(t, "", "-plaintext", "-H", "x-want-details: 1", "call", addr, "grpc.testing.TestService/EmptyCall").want(t, 64+3,
		"Code: INVALID_ARGUMENT", "Message: bad request", "Details:", "type.googleapis.com/google.rpc.BadRequest", "must not be empty")
	runCmd(t, "", "-plaintext", "call", addr, "grpc.testing.TestService/Nope").want(t, 1, `no method "Nope"`)
	runCmd(t, "", "-plaintext", "call", addr, "grpc.testing.TestService/UnaryCall", "-d", `{"noSuchField": 1}`).want(t, 1, "not a valid grpc.testing.SimpleRequest")
	runCmd(t, "", "-plaintext", "list").want(t, 2, "need a command and an address")
	runCmd(t, "", "-plaintext", "frobnicate", addr).want(t, 2, `unknown command "frobnicate"`)
	runCmd(t, "", "-plaintext", "-H", "novalue", "list", addr).want(t, 2, "want 'key: value'")
	// Nothing listens: UNAVAILABLE with the connection error.
	lis, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := lis.Addr().String()
	lis.Close()
	runCmd(t, "", "-plaintext", "list", dead).want(t, 64+14, "Code: UNAVAILABLE", "refused")
	// -connect-timeout: the first connection never comes.
	runCmd(t, "", "-plaintext", "-connect-timeout", "0.2", "list", dead).want(t, 1, "could not connect to "+dead+" within 200ms")
}

func TestMaxTime(t *testing.T) {
	addr := startServer(t, reflectV1AndAlpha)
	inR, inW := io.Pipe()
	defer inW.Close()
	var out, errb strings.Builder
	// A bidirectional call whose requests never end: the deadline ends it.
	c := run(context.Background(), []string{"-plaintext", "-max-time", "0.3", "call", addr, "grpc.testing.TestService/FullDuplexCall"}, inR, &out, &errb)
	if c != 64+4 || !strings.Contains(errb.String(), "DEADLINE_EXCEEDED") {
		t.Fatalf("exit %d, stderr %s", c, errb.String())
	}
}

func TestLocalDescriptors(t *testing.T) {
	addr := startServer(t, noReflection)
	runCmd(t, "", "-plaintext", "list", addr).want(t, 64+12, "Code: UNIMPLEMENTED", "no reflection service", "-proto or -protoset")

	// -protoset: the interop service's files as protoc -o would write them.
	set := &descriptorpb.FileDescriptorSet{}
	seen := map[string]bool{}
	var add func(fd protoreflect.FileDescriptor)
	add = func(fd protoreflect.FileDescriptor) {
		if seen[fd.Path()] {
			return
		}
		seen[fd.Path()] = true
		for i := range fd.Imports().Len() {
			add(fd.Imports().Get(i).FileDescriptor)
		}
		set.File = append(set.File, protodesc.ToFileDescriptorProto(fd))
	}
	add(testgrpc.File_grpc_testing_test_proto)
	b, err := proto.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	protoset := filepath.Join(dir, "test.protoset")
	if err := os.WriteFile(protoset, b, 0o644); err != nil {
		t.Fatal(err)
	}
	runCmd(t, "", "-plaintext", "-protoset", protoset, "call", addr, "grpc.testing.TestService/UnaryCall", "-d", `{"responseSize": 3}`).want(t, 0, `"body": "AAAA"`)
	runCmd(t, "", "-plaintext", "-protoset", protoset, "list", addr).want(t, 0, "grpc.testing.TestService\n")

	// -proto: a .proto file of our own, wire-compatible with the server's.
	src := `syntax = "proto3";
package grpc.testing;
import "google/protobuf/empty.proto";
message Payload { bytes body = 2; }
message SimpleRequest { int32 response_size = 2; }
message SimpleResponse { Payload payload = 1; }
service TestService {
  rpc UnaryCall(SimpleRequest) returns (SimpleResponse);
  rpc EmptyCall(google.protobuf.Empty) returns (google.protobuf.Empty);
}
`
	if err := os.WriteFile(filepath.Join(dir, "mini.proto"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	runCmd(t, "", "-plaintext", "-import-path", dir, "-proto", "mini.proto", "call", addr, "grpc.testing.TestService/UnaryCall", "-d", `{"responseSize": 2}`).want(t, 0, `"body": "AAA="`)
	runCmd(t, "", "-plaintext", "-import-path", dir, "-proto", "mini.proto", "describe", addr, "grpc.testing.SimpleResponse").want(t, 0, ".grpc.testing.Payload payload = 1;")
	runCmd(t, "", "-plaintext", "-import-path", dir, "-proto", "missing.proto", "list", addr).want(t, 1, "missing.proto")
}

func TestTLS(t *testing.T) {
	cert, err := tls.LoadX509KeyPair(testdata.Path("x509/server1_cert.pem"), testdata.Path("x509/server1_key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	clientCA, err := os.ReadFile(testdata.Path("x509/client_ca_cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(clientCA)
	addr := startServer(t, reflectV1AndAlpha, grpc.Creds(grpccreds.NewTLS(&tls.Config{
		Certificates: []tls.Certificate{cert}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert,
	})))
	ca := testdata.Path("x509/server_ca_cert.pem")
	mtls := []string{"-cacert", ca, "-servername", "x.test.example.com",
		"-cert", testdata.Path("x509/client1_cert.pem"), "-key", testdata.Path("x509/client1_key.pem")}
	runCmd(t, "", append(mtls, "list", addr)...).want(t, 0, "grpc.testing.TestService\n")
	runCmd(t, "", append(mtls, "call", addr, "grpc.testing.TestService/UnaryCall", "-d", `{"responseSize": 3}`)...).want(t, 0, `"body": "AAAA"`)
	// No client certificate: the server refuses the handshake.
	runCmd(t, "", "-cacert", ca, "-servername", "x.test.example.com", "list", addr).want(t, 64+14, "Code: UNAVAILABLE")
	// The wrong name: the certificate does not match.
	runCmd(t, "", append(mtls[:len(mtls):len(mtls)], "-servername", "wrong.example.org", "list", addr)...).want(t, 64+14, "Code: UNAVAILABLE", "wrong.example.org")
	// Plaintext to a TLS server fails; TLS flags with -plaintext are refused.
	runCmd(t, "", "-plaintext", "-cacert", ca, "list", addr).want(t, 1, "-plaintext cannot be used")
	runCmd(t, "", "-plaintext", "-insecure", "list", addr).want(t, 1, "-plaintext cannot be used with -insecure")
	// Without -cacert the system's roots do not know the test CA; with
	// -insecure the certificate is not checked (neither its authority
	// nor its name: 127.0.0.1 is not in it).
	keyPair := []string{"-cert", testdata.Path("x509/client1_cert.pem"), "-key", testdata.Path("x509/client1_key.pem")}
	runCmd(t, "", append(keyPair, "list", addr)...).want(t, 64+14, "Code: UNAVAILABLE", "certificate")
	runCmd(t, "", append(keyPair, "-insecure", "list", addr)...).want(t, 0, "grpc.testing.TestService\n")
	runCmd(t, "", append(keyPair, "-insecure", "call", addr, "grpc.testing.TestService/UnaryCall", "-d", `{"responseSize": 3}`)...).want(t, 0, `"body": "AAAA"`)
	runCmd(t, "", append(keyPair, "-insecure", "-cacert", ca, "list", addr)...).want(t, 1, "-insecure cannot be used with -cacert")
}

func TestWatch(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	testgrpc.RegisterTestServiceServer(srv, interop.NewTestServer())
	served := make(chan struct{})
	go func() { defer close(served); srv.Serve(lis) }()
	addr := lis.Addr().String()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out, errb := newLineWriter(), newLineWriter()
	code := make(chan int, 1)
	go func() { code <- run(ctx, []string{"-plaintext", "watch", addr}, strings.NewReader(""), out, errb) }()
	out.wait(t, "watching "+addr+" (IDLE)", 1)
	out.wait(t, " CONNECTING\n", 1)
	out.wait(t, " READY\n", 1)
	// The server goes away: GOAWAY, IDLE, and the reconnection fails.
	srv.GracefulStop()
	<-served
	out.wait(t, "GOAWAY from "+addr, 1)
	out.wait(t, " IDLE\n", 1)
	out.wait(t, " TRANSIENT_FAILURE  cause: ", 1)
	out.wait(t, "connection failed "+addr+": ", 1)
	out.wait(t, "refused", 1)
	cancel()
	if c := <-code; c != 0 {
		t.Fatalf("exit %d: %s", c, errb.String())
	}
	// A subchannel still dialing as the channel closes may report after
	// the SHUTDOWN line: the line must be there, not necessarily last.
	if !strings.Contains(out.String(), " SHUTDOWN\n") {
		t.Fatalf("watch output lacks SHUTDOWN:\n%s", out.String())
	}
	t.Logf("watch output:\n%s", out.String())
}

func TestCallFormats(t *testing.T) {
	addr := startServer(t, reflectV1AndAlpha)
	unary := "grpc.testing.TestService/UnaryCall"

	// The text format both ways, parsed back (prototext, like protojson,
	// varies its whitespace).
	r := runCmd(t, "", "-plaintext", "-format", "text", "call", addr, unary, "-d", `response_size: 3 fill_username: false`)
	r.want(t, 0)
	var resp testgrpc.SimpleResponse
	if err := prototext.Unmarshal([]byte(r.stdout), &resp); err != nil || len(resp.GetPayload().GetBody()) != 3 {
		t.Fatalf("text response %q: %v, %d payload bytes, want 3", r.stdout, err, len(resp.GetPayload().GetBody()))
	}

	// Server streaming: the responses, separated by 0x1E.
	r = runCmd(t, "", "-plaintext", "-format", "text", "call", addr, "grpc.testing.TestService/StreamingOutputCall",
		"-d", `response_parameters {size: 1} response_parameters {size: 2} response_parameters {size: 3}`)
	r.want(t, 0)
	parts := strings.Split(r.stdout, "\x1e")
	if len(parts) != 3 {
		t.Fatalf("server streaming in text: %d parts, want 3:\n%q", len(parts), r.stdout)
	}
	for i, p := range parts {
		var m testgrpc.StreamingOutputCallResponse
		if err := prototext.Unmarshal([]byte(p), &m); err != nil || len(m.GetPayload().GetBody()) != i+1 {
			t.Fatalf("response %d %q: %v, want %d payload bytes", i, p, err, i+1)
		}
	}

	// Client streaming from standard input, requests separated by 0x1E.
	runCmd(t, "payload {body: \"AAAA\"}\x1epayload {body: \"AA\"}\n", "-plaintext", "-format", "text", "call", addr,
		"grpc.testing.TestService/StreamingInputCall").want(t, 0, "aggregated_payload_size: 6")

	// Unary without -d: one empty request.
	runCmd(t, "", "-plaintext", "-format", "text", "call", addr, "grpc.testing.TestService/EmptyCall").want(t, 0)

	// A request that is not the method's message.
	runCmd(t, "", "-plaintext", "-format", "text", "call", addr, unary, "-d", `no_such_field: 1`).want(t, 1,
		"request is not a valid grpc.testing.SimpleRequest")

	// -emit-defaults prints the fields that hold their default values.
	r = runCmd(t, "", "-plaintext", "call", addr, unary, "-d", `{}`)
	r.want(t, 0)
	if strings.Contains(r.stdout, `"username"`) {
		t.Fatalf("without -emit-defaults: %s", r.stdout)
	}
	runCmd(t, "", "-plaintext", "-emit-defaults", "call", addr, unary, "-d", `{}`).want(t, 0, `"username": ""`, `"oauthScope": ""`)

	// Bad combinations are usage errors.
	runCmd(t, "", "-plaintext", "-format", "xml", "call", addr, unary).want(t, 2, `-format "xml": want json or text`)
	runCmd(t, "", "-plaintext", "-format", "text", "-emit-defaults", "call", addr, unary).want(t, 2, "-emit-defaults applies to -format json only")
}

// textDocs splits its input at record separators as grpcurl does: no input
// is no request, and a separator at the end is followed by an empty one.
func TestTextDocs(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"a: 1", []string{"a: 1"}},
		{"a: 1\x1eb: 2", []string{"a: 1", "b: 2"}},
		{"a: 1\x1e", []string{"a: 1", ""}},
		{"\x1e", []string{"", ""}},
		{"\n", []string{"\n"}},
	} {
		src := &textDocs{r: bufio.NewReader(strings.NewReader(tc.in))}
		var got []string
		for {
			doc, ok, err := src.next()
			if err != nil {
				t.Fatalf("%q: %v", tc.in, err)
			}
			if !ok {
				break
			}
			got = append(got, string(doc))
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%q: %q, want %q", tc.in, got, tc.want)
		}
		if _, ok, _ := src.next(); ok {
			t.Errorf("%q: a document after the end", tc.in)
		}
	}
}
