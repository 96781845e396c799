package channel_test

import (
	"context"
	"strings"
	"testing"

	"github.com/grpcactor/grpcactor/channel"
	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/credentials"
	"github.com/grpcactor/grpcactor/interceptors"
	"github.com/grpcactor/grpcactor/metadata"
	"github.com/grpcactor/grpcactor/status"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
)

// Every string that goes into a header, and every target, is checked where
// it is given: Insecure and Secure refuse a bad one with an error that
// names it and the rule it breaks, instead of a channel whose calls fail
// later at the server (issue 8: WithUserAgent("a\nb") made every call fail
// INTERNAL with the server's RST_STREAM PROTOCOL_ERROR).
func TestOpenRefusesInvalidValues(t *testing.T) {
	tests := []struct {
		name   string
		target string
		opts   []channel.Option
		want   []string // parts of the error; nil = accepted
	}{
		{"port out of range", "127.0.0.1:99999", nil, []string{`"127.0.0.1:99999"`, "port 99999 is out of range (1-65535)"}},
		{"port 0", "localhost:0", nil, []string{"port 0 is out of range"}},
		{"port too long", "localhost:123456789012345678901234567890", nil, []string{"out of range"}},
		{"ipv4 port out of range", "ipv4:127.0.0.1:65536", nil, []string{"port 65536 is out of range"}},
		{"ipv6 port out of range", "ipv6:[::1]:70000", nil, []string{"port 70000 is out of range"}},
		{"dns:/// port out of range", "dns:///example.com:99999", nil, []string{"port 99999 is out of range"}},
		{"space in the host", "local host:50051", nil, []string{`host "local host" has ' ' at 5`, "a host name may hold only"}},
		{"space in a dns:/// host", "dns:///my host:443", nil, []string{`host "my host"`}},
		{"newline in the host", "a\nb:80", nil, []string{`host "a\nb" has '\n' at 1`}},
		{"space in a passthrough address", "passthrough:///a b:80", nil, []string{`address "a b:80" has ' ' at 1`, "RFC 3986"}},
		{"highest port", "localhost:65535", nil, nil},
		{"IPv6 with a zone", "[fe80::1%eth0]:80", nil, nil},
		{"IPv6 literal", "[::1]:80", nil, nil},
		{"unix path with a space", "unix:///tmp/a b.sock", nil, nil},
		{"user agent with LF", "localhost:1", []channel.Option{channel.WithUserAgent("a\nb", "")},
			[]string{`WithUserAgent: primary user agent "a\nb" has the byte 0x0a at 1`, "printable ASCII (0x20-0x7E), no CR, LF or NUL"}},
		{"secondary user agent with NUL", "localhost:1", []channel.Option{channel.WithUserAgent("", "x\x00")}, []string{`secondary user agent "x\x00" has the byte 0x00 at 1`}},
		{"user agent with CR", "localhost:1", []channel.Option{channel.WithUserAgent("ok/1\r", "")}, []string{"byte 0x0d at 4"}},
		{"user agent non-ASCII", "localhost:1", []channel.Option{channel.WithUserAgent("é", "")}, []string{"byte 0xc3 at 0"}},
		{"user agents fine", "localhost:1", []channel.Option{channel.WithUserAgent("app/1.0 (linux)", "extra")}, nil},
		{"grpc.primary_user_agent with LF", "localhost:1", []channel.Option{channel.WithOption("grpc.primary_user_agent", "a\nb")}, []string{`grpc.primary_user_agent: "a\nb" has the byte 0x0a`}},
		{"grpc.secondary_user_agent with CR", "localhost:1", []channel.Option{channel.WithOption("grpc.secondary_user_agent", "a\r")}, []string{`grpc.secondary_user_agent: "a\r" has the byte 0x0d`}},
		{"authority with a space", "localhost:1", []channel.Option{channel.WithAuthority("a b")}, []string{`WithAuthority: authority "a b" has ' ' at 1`, "RFC 3986"}},
		{"authority with LF", "localhost:1", []channel.Option{channel.WithAuthority("a\n")}, []string{`has '\n' at 1`}},
		{"authority with a slash", "localhost:1", []channel.Option{channel.WithAuthority("a/b")}, []string{`has '/' at 1`}},
		{"grpc.default_authority with a space", "localhost:1", []channel.Option{channel.WithOption("grpc.default_authority", "x y:1")}, []string{`grpc.default_authority: "x y:1" has ' ' at 1`}},
		{"authority fine", "localhost:1", []channel.Option{channel.WithAuthority("user@[::1]:443")}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opens := map[string]func() (*channel.Channel, error){
				"Insecure": func() (*channel.Channel, error) { return channel.Insecure(tt.target, tt.opts...) },
				"Secure": func() (*channel.Channel, error) {
					return channel.Secure(tt.target, credentials.Local(credentials.LocalTCP), tt.opts...)
				},
			}
			for name, open := range opens {
				ch, err := open()
				if ch != nil {
					ch.Close()
				}
				if tt.want == nil {
					if err != nil {
						t.Fatalf("%s: %v, want the channel", name, err)
					}
					continue
				}
				if err == nil {
					t.Fatalf("%s(%q) accepted, want an error containing %q", name, tt.target, tt.want)
				}
				for _, w := range tt.want {
					if !strings.Contains(err.Error(), w) {
						t.Fatalf("%s: error %q does not contain %q", name, err, w)
					}
				}
			}
		})
	}
}

// Invalid metadata fails the call INTERNAL at once, before it waits for a
// connection (here there is none, and the call waits for ready), whether
// it came from a call option or an interceptor; the message names the key
// and the rule.
func TestCallRefusesInvalidMetadata(t *testing.T) {
	tests := []struct {
		name string
		md   metadata.MD
		want string
	}{
		{"LF in a value", metadata.Pairs("x-a", "1\n2"), `invalid metadata: metadata value for "x-a" has a non-printable byte 0x0a at 1 of 3`},
		{"NUL in a value", metadata.Pairs("x-a", "\x00"), "byte 0x00 at 0"},
		{"upper case key", metadata.MD{"X-A": {"1"}}, `metadata key "X-A" has an invalid character 'X' at 0 (keys may hold only 0-9 a-z _ - .)`},
		{"space in a key", metadata.MD{"x a": {"1"}}, `invalid character ' ' at 1`},
		{"pseudo-header", metadata.MD{":path": {"/x"}}, `":path" is an HTTP/2 pseudo-header`},
		{"reserved user-agent", metadata.Pairs("user-agent", "me"), `metadata key "user-agent" is reserved`},
		{"reserved grpc-timeout", metadata.Pairs("grpc-timeout", "1S"), `"grpc-timeout" is reserved`},
		{"connection-specific header", metadata.Pairs("transfer-encoding", "chunked"), "RFC 9113"},
	}
	// Nothing listens on port 1: a valid call would wait for ready until
	// its context ends; an invalid one must not wait at all.
	ch, err := channel.Insecure("127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	var setMD metadata.MD
	icept, err := channel.Intercept(ch, interceptors.UnaryUnaryFunc(func(ctx context.Context, d *interceptors.ClientCallDetails, req any, next interceptors.UnaryInvoker) (any, interceptors.Call, error) {
		d.Metadata = metadata.Join(d.Metadata, setMD)
		return next(ctx, d, req)
	}))
	if err != nil {
		t.Fatal(err)
	}
	plain := channel.UnaryUnary[*testgrpc.Empty, *testgrpc.Empty](ch, svc+"EmptyCall")
	viaInterceptor := channel.UnaryUnary[*testgrpc.Empty, *testgrpc.Empty](icept, svc+"EmptyCall")
	streaming := channel.UnaryStream[*testgrpc.StreamingOutputCallRequest, *testgrpc.StreamingOutputCallResponse](ch, svc+"StreamingOutputCall")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The test's context never ends: a call that waited would hang
			// (and the test time out), not pass.
			ctx := context.Background()
			check := func(form string, err error) {
				t.Helper()
				st, ok := status.FromError(err)
				if err == nil || !ok || st.Code() != codes.Internal || !strings.Contains(st.Details(), tt.want) {
					t.Fatalf("%s: %v, want INTERNAL containing %q", form, err, tt.want)
				}
			}
			_, err := plain.Call(ctx, &testgrpc.Empty{}, channel.Metadata(tt.md), channel.WaitForReady(true))
			check("call option", err)
			setMD = tt.md
			_, err = viaInterceptor.Call(ctx, &testgrpc.Empty{}, channel.WaitForReady(true))
			setMD = nil
			check("interceptor", err)
			s, err := streaming.Call(ctx, &testgrpc.StreamingOutputCallRequest{}, channel.Metadata(tt.md), channel.WaitForReady(true))
			if err == nil {
				_, err = s.Recv()
			}
			check("unary-stream", err)
		})
	}
}

// A method name that cannot be a :path fails the call INTERNAL at once,
// whether the callable was made with it or an interceptor changed it.
func TestCallRefusesInvalidMethod(t *testing.T) {
	ch, err := channel.Insecure("127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	ctx := context.Background()
	for _, tt := range []struct{ method, want string }{
		{"/pkg.Svc/Do it", `method name "/pkg.Svc/Do it" has the byte 0x20 at 11: it goes into the :path header and may hold only visible ASCII (0x21-0x7E)`},
		{"/pkg.Svc/Do\nit", `method name "/pkg.Svc/Do\nit" has the byte 0x0a at 11`},
		{"", `empty method name`},
	} {
		_, err := channel.UnaryUnary[*testgrpc.Empty, *testgrpc.Empty](ch, tt.method).Call(ctx, &testgrpc.Empty{}, channel.WaitForReady(true))
		if st, ok := status.FromError(err); err == nil || !ok || st.Code() != codes.Internal || !strings.HasPrefix(st.Details(), tt.want) {
			t.Errorf("method %q: %v, want INTERNAL %q", tt.method, err, tt.want)
		}
		ic, err := channel.Intercept(ch, interceptors.UnaryUnaryFunc(func(ctx context.Context, d *interceptors.ClientCallDetails, req any, next interceptors.UnaryInvoker) (any, interceptors.Call, error) {
			d.Method = tt.method
			return next(ctx, d, req)
		}))
		if err != nil {
			t.Fatal(err)
		}
		_, err = channel.UnaryUnary[*testgrpc.Empty, *testgrpc.Empty](ic, svc+"EmptyCall").Call(ctx, &testgrpc.Empty{}, channel.WaitForReady(true))
		if st, ok := status.FromError(err); err == nil || !ok || st.Code() != codes.Internal || !strings.HasPrefix(st.Details(), tt.want) {
			t.Errorf("method %q set by an interceptor: %v, want INTERNAL %q", tt.method, err, tt.want)
		}
	}
}
