package wire

import (
	"cmp"
	"fmt"
	"net/http"
	"strings"

	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/metadata"
	"github.com/grpcactor/grpcactor/status"
	"golang.org/x/net/http2"
)

// MaxNonGRPCBody is how many bytes of a non-gRPC response's body
// ResponseStatus quotes in the status message; the transport need not
// collect more.
const MaxNonGRPCBody = 1024

// HTTPStatusToCode maps the HTTP status of a response without grpc-status
// to a gRPC code, per gRPC's http-grpc-status-mapping.md: 400 and 431
// INTERNAL, 401 UNAUTHENTICATED, 403 PERMISSION_DENIED, 404 UNIMPLEMENTED,
// 429, 502, 503 and 504 UNAVAILABLE, anything else (200 included) UNKNOWN.
func HTTPStatusToCode(httpStatus int) codes.Code {
	switch httpStatus {
	case http.StatusBadRequest, http.StatusRequestHeaderFieldsTooLarge:
		return codes.Internal
	case http.StatusUnauthorized:
		return codes.Unauthenticated
	case http.StatusForbidden:
		return codes.PermissionDenied
	case http.StatusNotFound:
		return codes.Unimplemented
	case http.StatusTooManyRequests, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return codes.Unavailable
	}
	return codes.Unknown
}

// RSTStreamCode maps the error code of an RST_STREAM the server sent to a
// gRPC code, per the table in gRPC's PROTOCOL-HTTP2.md: REFUSED_STREAM is
// UNAVAILABLE, CANCEL is CANCELLED, ENHANCE_YOUR_CALM is RESOURCE_EXHAUSTED,
// INADEQUATE_SECURITY is PERMISSION_DENIED, and every other code (the table
// lists them, FLOW_CONTROL_ERROR included, or does not know them) is
// INTERNAL. grpc-go differs for FLOW_CONTROL_ERROR (RESOURCE_EXHAUSTED) and
// unknown codes (UNKNOWN); the spec's table is followed here.
func RSTStreamCode(c http2.ErrCode) codes.Code {
	switch c {
	case http2.ErrCodeRefusedStream:
		return codes.Unavailable
	case http2.ErrCodeCancel:
		return codes.Canceled
	case http2.ErrCodeEnhanceYourCalm:
		return codes.ResourceExhausted
	case http2.ErrCodeInadequateSecurity:
		return codes.PermissionDenied
	}
	return codes.Internal
}

// ResponseStatus derives a call's final status from its response header
// blocks, as gRPC's PROTOCOL-HTTP2.md and http-grpc-status-mapping.md
// require; it returns nil for OK.
//
// initial is the response's first HEADERS block (informational 1xx blocks
// skipped), or nil if the only block was the final one. final is the block
// that ended the stream: the trailers, or the only block of a trailers-only
// response; nil if the stream ended with END_STREAM on a DATA frame.
// nonGRPCBody is the start of the body of a non-gRPC response (the first
// MaxNonGRPCBody bytes are quoted in the message).
//
// The rules, in order:
//   - The first block (initial, else final) must be a valid HTTP response:
//     a missing, malformed or repeated :status, or an informational (1xx)
//     one, gives INTERNAL.
//   - The first block decides whether the response is gRPC: it needs a
//     :status of 200 and an application/grpc content-type. If it is not,
//     the code comes from HTTPStatusToCode with a message naming the HTTP
//     status, the content-type and the body, unless a well-formed
//     grpc-status is present (in the first or final block): the spec says a
//     grpc-status must then be used.
//   - No final block: INTERNAL, the server closed the stream without
//     trailers.
//   - A malformed grpc-status in the block that carries the status: UNKNOWN
//     naming the value. Any other malformed element in either block (a -bin
//     value that is not base64): INTERNAL naming it.
//   - No grpc-status in the final block: UNKNOWN.
//   - grpc-status 0: OK (nil). A code above 16: UNKNOWN naming it, with the
//     server's message. Otherwise the code and grpc-message.
//
// The error carries initial's metadata as initial metadata and final's as
// trailing metadata.
func ResponseStatus(initial, final *HeaderBlock, nonGRPCBody []byte) *status.Error {
	if initial == final {
		initial = nil // trailers-only, passed twice
	}
	var initialMD, trailingMD metadata.MD
	if initial != nil {
		initialMD = initial.Metadata
	}
	if final != nil {
		trailingMD = final.Metadata
	}
	first := initial
	if first == nil {
		first = final
	}
	st := responseStatus(first, initial, final, nonGRPCBody)
	if st == nil {
		return nil
	}
	return st.WithMetadata(initialMD, trailingMD)
}

func responseStatus(first, initial, final *HeaderBlock, body []byte) *status.Error {
	if first == nil {
		return status.New(codes.Internal, "server closed the stream without sending headers or trailers")
	}
	if first.HTTPStatus < 200 || first.httpStatusErr != "" {
		// Missing or malformed :status, or an informational one that ended
		// the stream: not a valid HTTP response, whatever else it says.
		return httpStatus(first, body)
	}
	// sb is the block whose grpc-status decides.
	var sb *HeaderBlock
	switch {
	case first.HTTPStatus == http.StatusOK && IsGRPCContentType(first.ContentType):
		if final == nil {
			return status.New(codes.Internal, "server closed the stream without sending trailers")
		}
		sb = final
	case final != nil && validStatus(final):
		// Not a (successful) gRPC response, but a grpc-status says what
		// happened; the spec says it must be used.
		sb = final
	case validStatus(first):
		sb = first
	default:
		return httpStatus(first, body)
	}
	for _, hb := range [...]*HeaderBlock{initial, final} {
		// A grpc-status in the other block means nothing; anything else
		// malformed there fails the call.
		if hb != nil && hb != sb {
			if e := cmp.Or(hb.httpStatusErr, hb.metadataErr); e != "" {
				return status.New(codes.Internal, "server sent "+e)
			}
		}
	}
	return grpcStatus(sb)
}

// validStatus reports whether hb carries a well-formed grpc-status.
func validStatus(hb *HeaderBlock) bool {
	return hb.HasStatus && hb.grpcStatusErr == ""
}

// grpcStatus is the status a block carrying the call's grpc-status gives.
func grpcStatus(hb *HeaderBlock) *status.Error {
	switch {
	case hb.grpcStatusErr != "":
		return status.New(codes.Unknown, "server sent "+hb.grpcStatusErr)
	case hb.Malformed != "":
		return status.New(codes.Internal, "server sent "+hb.Malformed)
	case !hb.HasStatus:
		return status.New(codes.Unknown, "server ended the call without a grpc-status in its trailers")
	case hb.StatusCode == codes.OK:
		return nil
	case !hb.StatusCode.Valid():
		msg := fmt.Sprintf("server sent unknown grpc-status %d", uint32(hb.StatusCode))
		if hb.StatusMessage != "" {
			msg += fmt.Sprintf(" with grpc-message %q", hb.StatusMessage)
		}
		return status.New(codes.Unknown, msg)
	}
	return status.New(hb.StatusCode, hb.StatusMessage)
}

// httpStatus is the status of a response that is not gRPC: its HTTP status
// mapped, and a message saying what was wrong.
func httpStatus(hb *HeaderBlock, body []byte) *status.Error {
	var code codes.Code
	var msg strings.Builder
	switch {
	case hb.httpStatusErr != "":
		code = codes.Internal
		msg.WriteString("server sent " + hb.httpStatusErr)
	case hb.HTTPStatus == 0:
		code = codes.Internal
		msg.WriteString("malformed header: missing HTTP status")
	case hb.HTTPStatus < 200:
		// 1xx blocks are to be skipped; one that ends the stream is an error.
		code = codes.Internal
		fmt.Fprintf(&msg, "unexpected informational HTTP status code received from server: %d (%s)",
			hb.HTTPStatus, http.StatusText(hb.HTTPStatus))
	default:
		code = HTTPStatusToCode(hb.HTTPStatus)
		text := http.StatusText(hb.HTTPStatus)
		if text == "" {
			text = "unknown"
		}
		fmt.Fprintf(&msg, "unexpected HTTP status code received from server: %d (%s)", hb.HTTPStatus, text)
	}
	switch {
	case hb.ContentType == "":
		msg.WriteString("; malformed header: missing HTTP content-type")
	case !IsGRPCContentType(hb.ContentType):
		msg.WriteString("; transport: received unexpected content-type " + quoteTrunc(hb.ContentType))
	}
	if len(body) > 0 {
		if len(body) > MaxNonGRPCBody {
			body = body[:MaxNonGRPCBody]
		}
		fmt.Fprintf(&msg, "; response body: %q", body)
	}
	return status.New(code, msg.String())
}
