package wire

import (
	"strings"

	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/metadata"
	"golang.org/x/net/http2/hpack"
)

// HeaderBlock is what a client needs from one HEADERS block of a response
// (the response headers, the trailers, or a trailers-only response), as
// decoded by DecodeHeaderBlock.
type HeaderBlock struct {
	// HTTPStatus is the :status, or 0 if it was absent (as in trailers) or
	// not a 3-digit number from 100 up (Malformed then says so).
	HTTPStatus int
	// ContentType is the first content-type value, "" if absent.
	ContentType string
	// Encoding is grpc-encoding: the compression of the response messages.
	Encoding string
	// AcceptEncoding is grpc-accept-encoding: the compressions the server
	// accepts, comma-separated.
	AcceptEncoding string
	// Metadata is the application metadata: every field but pseudo-headers,
	// content-type, te, user-agent and the grpc- headers the protocol itself
	// uses (grpc-status, grpc-message, grpc-encoding, grpc-accept-encoding,
	// grpc-timeout, grpc-message-type). Values of "-bin" keys are
	// base64-decoded, after splitting on ','; grpc-status-details-bin is kept
	// here. It is nil when there is none.
	Metadata metadata.MD
	// HasStatus reports whether grpc-status was present.
	HasStatus bool
	// StatusCode is the grpc-status value, meaningful when HasStatus and
	// Malformed does not name grpc-status. It may be above 16: a code this
	// client does not know.
	StatusCode codes.Code
	// StatusMessage is grpc-message, percent-decoded.
	StatusMessage string
	// Malformed describes the first malformed element, "" if none: a bad or
	// repeated :status, a non-numeric or repeated grpc-status, a -bin value
	// that is not base64.
	Malformed string

	// The first problem of each kind, for ResponseStatus to rank them.
	httpStatusErr string // :status malformed or repeated
	grpcStatusErr string // grpc-status malformed or repeated
	metadataErr   string // a -bin value that is not base64
}

// DecodeHeaderBlock decodes the fields of one response HEADERS block. It
// never fails: problems are reported in Malformed, and ResponseStatus turns
// them into a status. Field names are lower-cased if they are not already.
func DecodeHeaderBlock(fields []hpack.HeaderField) HeaderBlock {
	var hb HeaderBlock
	seenHTTPStatus, seenContentType := false, false
	for _, f := range fields {
		name := strings.ToLower(f.Name)
		if strings.HasPrefix(name, ":") {
			if name == ":status" {
				if seenHTTPStatus {
					hb.malformed(&hb.httpStatusErr, "repeated :status "+quoteTrunc(f.Value))
					continue
				}
				seenHTTPStatus = true
				if n, ok := parseHTTPStatus(f.Value); ok {
					hb.HTTPStatus = n
				} else {
					hb.malformed(&hb.httpStatusErr, "malformed :status "+quoteTrunc(f.Value))
				}
			}
			continue
		}
		switch name {
		case "content-type":
			if !seenContentType {
				seenContentType = true
				hb.ContentType = f.Value
			}
		case "grpc-status":
			if hb.HasStatus {
				hb.malformed(&hb.grpcStatusErr, "repeated grpc-status "+quoteTrunc(f.Value))
				continue
			}
			hb.HasStatus = true
			if c, ok := parseGRPCStatus(f.Value); ok {
				hb.StatusCode = c
			} else {
				hb.StatusCode = codes.Unknown
				hb.malformed(&hb.grpcStatusErr, "malformed grpc-status "+quoteTrunc(f.Value))
			}
		case "grpc-message":
			hb.StatusMessage = DecodeGrpcMessage(f.Value)
		case "grpc-encoding":
			hb.Encoding = f.Value
		case "grpc-accept-encoding":
			hb.AcceptEncoding = f.Value
		case "te", "user-agent", "grpc-timeout", "grpc-message-type":
		default:
			hb.addMetadata(name, f.Value)
		}
	}
	return hb
}

// addMetadata adds one application field, base64-decoding -bin values.
func (hb *HeaderBlock) addMetadata(name, value string) {
	if hb.Metadata == nil {
		hb.Metadata = make(metadata.MD, 4)
	}
	if !metadata.IsBinaryKey(name) {
		hb.Metadata[name] = append(hb.Metadata[name], value)
		return
	}
	// An intermediary may have joined repeated values with ','; base64
	// never contains one, so the spec asks to split before decoding.
	for part := range strings.SplitSeq(value, ",") {
		b, err := DecodeBinHeader(strings.TrimSpace(part))
		if err != nil {
			hb.malformed(&hb.metadataErr, "malformed "+name+" value: "+err.Error())
			return
		}
		hb.Metadata[name] = append(hb.Metadata[name], string(b))
	}
}

// malformed records a malformed element in Malformed and in the field of its
// kind, unless an earlier one was recorded there.
func (hb *HeaderBlock) malformed(kind *string, desc string) {
	if hb.Malformed == "" {
		hb.Malformed = desc
	}
	if *kind == "" {
		*kind = desc
	}
}

// parseHTTPStatus parses a :status value: exactly three digits.
func parseHTTPStatus(s string) (int, bool) {
	if len(s) != 3 {
		return 0, false
	}
	n := 0
	for i := 0; i < 3; i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, n >= 100
}

// parseGRPCStatus parses a grpc-status value: decimal digits that fit in a
// uint32. Leading zeros are accepted, as grpc-go does.
func parseGRPCStatus(s string) (codes.Code, bool) {
	if s == "" || len(s) > 10 {
		return 0, false
	}
	var n uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	if n > 1<<32-1 {
		return 0, false
	}
	return codes.Code(n), true
}

// IsGRPCContentType reports whether ct is a gRPC content type:
// "application/grpc" alone or followed by '+' (a subtype such as "+proto")
// or ';' (parameters), compared case-insensitively.
func IsGRPCContentType(ct string) bool {
	const base = "application/grpc"
	if len(ct) < len(base) || !strings.EqualFold(ct[:len(base)], base) {
		return false
	}
	return len(ct) == len(base) || ct[len(base)] == '+' || ct[len(base)] == ';'
}
