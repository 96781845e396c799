package wire

import "strings"

const hexDigits = "0123456789ABCDEF"

// needsPercent reports whether grpc-message must percent-encode byte c: all
// bytes outside space to '~' (0x20-0x7E), and '%' itself.
func needsPercent(c byte) bool { return c < 0x20 || c > 0x7e || c == '%' }

// EncodeGrpcMessage percent-encodes msg for the grpc-message header: each
// byte outside 0x20-0x7E, and '%', becomes "%XX" (upper-case hex); other
// bytes are kept. UTF-8 is thus encoded byte by byte, and every byte string,
// valid UTF-8 or not, survives DecodeGrpcMessage unchanged.
func EncodeGrpcMessage(msg string) string {
	n := 0
	for i := 0; i < len(msg); i++ {
		if needsPercent(msg[i]) {
			n++
		}
	}
	if n == 0 {
		return msg
	}
	var b strings.Builder
	b.Grow(len(msg) + 2*n)
	for i := 0; i < len(msg); i++ {
		c := msg[i]
		if needsPercent(c) {
			b.WriteByte('%')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&0xf])
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// unhex returns the value of hex digit c (either case) and whether it is one.
func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// DecodeGrpcMessage undoes the percent-encoding of a grpc-message value. As
// the spec asks (and as grpc-go does), it never fails: a '%' not followed by
// two hex digits is kept literally, and bytes that were sent raw, such as
// UTF-8 from a lenient server, pass through. The result is the decoded
// bytes, which need not be valid UTF-8 if the server sent invalid UTF-8.
func DecodeGrpcMessage(s string) string {
	i := strings.IndexByte(s, '%')
	if i < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	b.WriteString(s[:i])
	for ; i < len(s); i++ {
		c := s[i]
		if c == '%' && i+2 < len(s) {
			hi, ok1 := unhex(s[i+1])
			lo, ok2 := unhex(s[i+2])
			if ok1 && ok2 {
				b.WriteByte(hi<<4 | lo)
				i += 2
				continue
			}
		}
		b.WriteByte(c)
	}
	return b.String()
}
