package wire_test

import (
	"strings"
	"testing"

	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/internal/wire"
	"github.com/grpcactor/grpcactor/metadata"
	"golang.org/x/net/http2"
)

func TestHTTPStatusToCode(t *testing.T) {
	tests := []struct {
		http int
		want codes.Code
	}{
		{400, codes.Internal},
		{401, codes.Unauthenticated},
		{403, codes.PermissionDenied},
		{404, codes.Unimplemented},
		{429, codes.Unavailable},
		{431, codes.Internal},
		{502, codes.Unavailable},
		{503, codes.Unavailable},
		{504, codes.Unavailable},
		{200, codes.Unknown},
		{201, codes.Unknown},
		{302, codes.Unknown},
		{405, codes.Unknown},
		{415, codes.Unknown},
		{500, codes.Unknown},
		{0, codes.Unknown},
	}
	for _, tt := range tests {
		if got := wire.HTTPStatusToCode(tt.http); got != tt.want {
			t.Errorf("HTTPStatusToCode(%d) = %v, want %v", tt.http, got, tt.want)
		}
	}
}

func TestRSTStreamCode(t *testing.T) {
	tests := []struct {
		rst  http2.ErrCode
		want codes.Code
	}{
		{http2.ErrCodeNo, codes.Internal},
		{http2.ErrCodeProtocol, codes.Internal},
		{http2.ErrCodeInternal, codes.Internal},
		{http2.ErrCodeFlowControl, codes.Internal},
		{http2.ErrCodeSettingsTimeout, codes.Internal},
		{http2.ErrCodeStreamClosed, codes.Internal},
		{http2.ErrCodeFrameSize, codes.Internal},
		{http2.ErrCodeRefusedStream, codes.Unavailable},
		{http2.ErrCodeCancel, codes.Canceled},
		{http2.ErrCodeCompression, codes.Internal},
		{http2.ErrCodeConnect, codes.Internal},
		{http2.ErrCodeEnhanceYourCalm, codes.ResourceExhausted},
		{http2.ErrCodeInadequateSecurity, codes.PermissionDenied},
		{http2.ErrCodeHTTP11Required, codes.Internal},
		{0xe, codes.Internal},
		{0xffffffff, codes.Internal},
	}
	for _, tt := range tests {
		if got := wire.RSTStreamCode(tt.rst); got != tt.want {
			t.Errorf("RSTStreamCode(%v) = %v, want %v", tt.rst, got, tt.want)
		}
	}
}

// block decodes a header list given as name, value, ...
func block(kv ...string) *wire.HeaderBlock {
	hb := wire.DecodeHeaderBlock(fields(kv...))
	return &hb
}

func TestResponseStatus(t *testing.T) {
	okHeaders := []string{":status", "200", "content-type", "application/grpc"}
	with := func(base []string, kv ...string) []string { return append(append([]string(nil), base...), kv...) }
	tests := []struct {
		name    string
		initial *wire.HeaderBlock
		final   *wire.HeaderBlock
		body    string
		ok      bool
		code    codes.Code
		msg     string // the whole message, if it starts with "="; else a part of it
		initMD  metadata.MD
		trailMD metadata.MD
		same    bool // pass initial as final too
	}{
		{
			name:  "trailers-only OK",
			final: block(with(okHeaders, "grpc-status", "0")...),
			ok:    true,
		},
		{
			name:    "trailers-only error",
			final:   block(with(okHeaders, "grpc-status", "5", "grpc-message", "no%20such%20thing", "x-t", "1")...),
			code:    codes.NotFound,
			msg:     "=no such thing",
			trailMD: metadata.Pairs("x-t", "1"),
		},
		{
			name:    "headers, trailers OK",
			initial: block(with(okHeaders, "x-i", "1")...),
			final:   block("grpc-status", "0", "x-t", "2"),
			ok:      true,
		},
		{
			name:    "headers, trailers error, metadata carried",
			initial: block(with(okHeaders, "x-i", "1", "i-bin", "AAE")...),
			final:   block("grpc-status", "3", "grpc-message", "bad %E2%98%BA", "x-t", "2", "grpc-status-details-bin", "AQID"),
			code:    codes.InvalidArgument,
			msg:     "=bad ☺",
			initMD:  metadata.MD{"x-i": {"1"}, "i-bin": {"\x00\x01"}},
			trailMD: metadata.MD{"x-t": {"2"}, "grpc-status-details-bin": {"\x01\x02\x03"}},
		},
		{
			name:    "trailers-only error with grpc-status-details-bin",
			final:   block(with(okHeaders, "grpc-status", "5", "grpc-status-details-bin", "CAU")...),
			code:    codes.NotFound,
			msg:     "=",
			trailMD: metadata.MD{"grpc-status-details-bin": {"\x08\x05"}},
		},
		{
			name:    "trailers-only passed as both blocks",
			initial: block(with(okHeaders, "grpc-status", "9", "x-t", "1")...),
			same:    true,
			code:    codes.FailedPrecondition,
			trailMD: metadata.Pairs("x-t", "1"),
		},
		{
			name:    "missing grpc-status",
			initial: block(okHeaders...),
			final:   block("x-t", "1"),
			code:    codes.Unknown,
			msg:     "without a grpc-status",
			initMD:  metadata.MD{},
			trailMD: metadata.Pairs("x-t", "1"),
		},
		{
			name:  "trailers-only without grpc-status",
			final: block(okHeaders...),
			code:  codes.Unknown,
			msg:   "without a grpc-status",
		},
		{
			name:    "malformed grpc-status",
			initial: block(okHeaders...),
			final:   block("grpc-status", "OK"),
			code:    codes.Unknown,
			msg:     `malformed grpc-status "OK"`,
		},
		{
			name:    "malformed grpc-status wins over a bad -bin",
			initial: block(okHeaders...),
			final:   block("a-bin", "!", "grpc-status", "1x"),
			code:    codes.Unknown,
			msg:     `malformed grpc-status "1x"`,
		},
		{
			name:    "bad -bin in trailers",
			initial: block(okHeaders...),
			final:   block("grpc-status", "0", "trace-bin", "%%%"),
			code:    codes.Internal,
			msg:     `trace-bin value: invalid base64 "%%%"`,
		},
		{
			name:    "bad -bin in headers",
			initial: block(with(okHeaders, "trace-bin", "%%%")...),
			final:   block("grpc-status", "0"),
			code:    codes.Internal,
			msg:     `trace-bin`,
		},
		{
			name:    "grpc-status in headers is ignored",
			initial: block(with(okHeaders, "grpc-status", "zz")...),
			final:   block("grpc-status", "0"),
			ok:      true,
		},
		{
			name:  "unknown grpc-status",
			final: block(with(okHeaders, "grpc-status", "99", "grpc-message", "what")...),
			code:  codes.Unknown,
			msg:   `=server sent unknown grpc-status 99 with grpc-message "what"`,
		},
		{
			name:  "unknown grpc-status without message",
			final: block(with(okHeaders, "grpc-status", "17")...),
			code:  codes.Unknown,
			msg:   `=server sent unknown grpc-status 17`,
		},
		{
			name:    "END_STREAM on DATA without trailers",
			initial: block(with(okHeaders, "x-i", "1")...),
			code:    codes.Internal,
			msg:     "=server closed the stream without sending trailers",
			initMD:  metadata.Pairs("x-i", "1"),
		},
		{
			name: "no blocks at all",
			code: codes.Internal,
			msg:  "without sending headers",
		},
		{
			name:    "HTML 503",
			initial: block(":status", "503", "content-type", "text/html; charset=UTF-8", "server", "proxy"),
			body:    "<html>\n<h1>down</h1>\n</html>",
			code:    codes.Unavailable,
			msg:     `=unexpected HTTP status code received from server: 503 (Service Unavailable); transport: received unexpected content-type "text/html; charset=UTF-8"; response body: "<html>\n<h1>down</h1>\n</html>"`,
			initMD:  metadata.Pairs("server", "proxy"),
		},
		{
			name:  "404 without content-type, trailers-only",
			final: block(":status", "404"),
			code:  codes.Unimplemented,
			msg:   "=unexpected HTTP status code received from server: 404 (Not Found); malformed header: missing HTTP content-type",
		},
		{
			name:  "502 with grpc-status 3",
			final: block(":status", "502", "grpc-status", "3", "grpc-message", "bad arg"),
			code:  codes.InvalidArgument,
			msg:   "=bad arg",
		},
		{
			name:  "502 with grpc-status 0",
			final: block(":status", "502", "content-type", "text/plain", "grpc-status", "0"),
			ok:    true,
		},
		{
			name:  "503 with a malformed grpc-status",
			final: block(":status", "503", "grpc-status", "x"),
			code:  codes.Unavailable,
			msg:   "503 (Service Unavailable)",
		},
		{
			name:    "non-gRPC headers, then trailers with grpc-status",
			initial: block(":status", "503", "content-type", "text/html"),
			final:   block("grpc-status", "14", "grpc-message", "draining"),
			code:    codes.Unavailable,
			msg:     "=draining",
		},
		{
			name:  "gRPC content-type but 503",
			final: block(":status", "503", "content-type", "application/grpc"),
			code:  codes.Unavailable,
			msg:   "=unexpected HTTP status code received from server: 503 (Service Unavailable)",
		},
		{
			name:    "200 with text/plain",
			initial: block(":status", "200", "content-type", "text/plain"),
			body:    "hello",
			code:    codes.Unknown,
			msg:     `=unexpected HTTP status code received from server: 200 (OK); transport: received unexpected content-type "text/plain"; response body: "hello"`,
		},
		{
			name:    "unusual status",
			initial: block(":status", "599", "content-type", "text/plain"),
			code:    codes.Unknown,
			msg:     "599 (unknown)",
		},
		{
			name:  "431",
			final: block(":status", "431"),
			code:  codes.Internal,
			msg:   "431 (Request Header Fields Too Large)",
		},
		{
			name:  "missing :status",
			final: block("content-type", "application/grpc", "grpc-status", "0"),
			code:  codes.Internal,
			msg:   "=malformed header: missing HTTP status",
		},
		{
			name:  "malformed :status",
			final: block(":status", "abc", "content-type", "application/grpc", "grpc-status", "0"),
			code:  codes.Internal,
			msg:   `server sent malformed :status "abc"`,
		},
		{
			name:  "repeated :status",
			final: block(":status", "200", ":status", "200", "content-type", "application/grpc", "grpc-status", "0"),
			code:  codes.Internal,
			msg:   `repeated :status`,
		},
		{
			name:  "informational status ending the stream",
			final: block(":status", "100"),
			code:  codes.Internal,
			msg:   "100 (Continue)",
		},
		{
			name:    "long body is cut",
			initial: block(":status", "500", "content-type", "text/plain"),
			body:    strings.Repeat("a", 2000),
			code:    codes.Unknown,
			msg:     `response body: "` + strings.Repeat("a", 1024) + `"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			final := tt.final
			if tt.same {
				final = tt.initial
			}
			var body []byte
			if tt.body != "" {
				body = []byte(tt.body)
			}
			st := wire.ResponseStatus(tt.initial, final, body)
			if tt.ok {
				if st != nil {
					t.Fatalf("ResponseStatus = %v, want OK", st)
				}
				return
			}
			if st == nil {
				t.Fatalf("ResponseStatus = OK, want %v", tt.code)
			}
			if st.Code() != tt.code {
				t.Errorf("code = %v, want %v (%v)", st.Code(), tt.code, st)
			}
			if whole, ok := strings.CutPrefix(tt.msg, "="); ok {
				if st.Message() != whole {
					t.Errorf("message = %q\nwant      %q", st.Message(), whole)
				}
			} else if !strings.Contains(st.Message(), tt.msg) {
				t.Errorf("message = %q, want it to contain %q", st.Message(), tt.msg)
			}
			if tt.initMD != nil && st.InitialMetadata().String() != tt.initMD.String() {
				t.Errorf("initial metadata = %v, want %v", st.InitialMetadata(), tt.initMD)
			}
			if tt.trailMD != nil && st.TrailingMetadata().String() != tt.trailMD.String() {
				t.Errorf("trailing metadata = %v, want %v", st.TrailingMetadata(), tt.trailMD)
			}
			if tt.initial == nil || tt.initial == final {
				if st.InitialMetadata() != nil {
					t.Errorf("initial metadata = %v, want none for a trailers-only response", st.InitialMetadata())
				}
			}
		})
	}
}
