package wire

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
)

// EncodeBinHeader returns the value of a "-bin" metadata header carrying v:
// standard base64 without padding, as the spec asks senders to emit.
func EncodeBinHeader(v []byte) string {
	return base64.RawStdEncoding.EncodeToString(v)
}

// DecodeBinHeader decodes one "-bin" header value, padded or unpadded
// standard base64 (the spec requires accepting both). It does not split on
// ','; DecodeHeaderBlock does that for values joined by an intermediary.
func DecodeBinHeader(v string) ([]byte, error) {
	// The base64 package skips CR and LF; a header value must not hold them.
	if i := strings.IndexAny(v, "\r\n"); i >= 0 {
		return nil, fmt.Errorf("invalid base64 %s: line break at offset %d", quoteTrunc(v), i)
	}
	enc := base64.RawStdEncoding
	if len(v)%4 == 0 && strings.HasSuffix(v, "=") {
		enc = base64.StdEncoding
	}
	b, err := enc.DecodeString(v)
	if err != nil {
		return nil, fmt.Errorf("invalid base64 %s: %w", quoteTrunc(v), err)
	}
	return b, nil
}

// maxQuoted bounds how much of a peer's value an error message quotes.
const maxQuoted = 64

// quoteTrunc quotes s for an error message, cut to maxQuoted bytes.
func quoteTrunc(s string) string {
	if len(s) <= maxQuoted {
		return strconv.Quote(s)
	}
	return strconv.Quote(s[:maxQuoted]) + "..."
}
