// Package metadata holds gRPC metadata: a multimap from lower-case keys to
// values, sent as HTTP/2 headers. Keys ending in "-bin" carry binary values,
// which the transport base64-encodes on the wire and decodes on receipt.
package metadata

import (
	"fmt"
	"sort"
	"strings"
)

// MD is gRPC metadata: lower-case keys, each with one or more values in the
// order they were added or received.
type MD map[string][]string

// New returns metadata holding the pairs of m, keys lower-cased.
func New(m map[string]string) MD {
	md := make(MD, len(m))
	for k, v := range m {
		k = strings.ToLower(k)
		md[k] = append(md[k], v)
	}
	return md
}

// Pairs returns metadata built from key, value, key, value, ...; keys are
// lower-cased and repeated keys keep every value. It panics on an odd number
// of arguments, as it is meant for literal lists.
func Pairs(kv ...string) MD {
	if len(kv)%2 == 1 {
		panic(fmt.Sprintf("metadata: Pairs got an odd number of arguments (%d)", len(kv)))
	}
	md := make(MD, len(kv)/2)
	for i := 0; i < len(kv); i += 2 {
		k := strings.ToLower(kv[i])
		md[k] = append(md[k], kv[i+1])
	}
	return md
}

// Len returns the number of keys in md.
func (md MD) Len() int { return len(md) }

// Get returns the values for key (any case).
func (md MD) Get(key string) []string { return md[strings.ToLower(key)] }

// Set replaces the values for key (any case).
func (md MD) Set(key string, vals ...string) {
	if len(vals) == 0 {
		return
	}
	md[strings.ToLower(key)] = vals
}

// Append adds values for key (any case) after those already there.
func (md MD) Append(key string, vals ...string) {
	if len(vals) == 0 {
		return
	}
	k := strings.ToLower(key)
	md[k] = append(md[k], vals...)
}

// Delete removes key (any case).
func (md MD) Delete(key string) { delete(md, strings.ToLower(key)) }

// Copy returns a deep copy of md.
func (md MD) Copy() MD {
	out := make(MD, len(md))
	for k, v := range md {
		out[k] = append([]string(nil), v...)
	}
	return out
}

// Join returns the union of several metadata, values of the same key
// concatenated in argument order.
func Join(mds ...MD) MD {
	out := MD{}
	for _, md := range mds {
		for k, v := range md {
			out[k] = append(out[k], v...)
		}
	}
	return out
}

// String renders md with sorted keys, for logs and tests.
func (md MD) String() string {
	keys := make([]string, 0, len(md))
	for k := range md {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString("MD{")
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s=%q", k, md[k])
	}
	b.WriteString("}")
	return b.String()
}

// IsBinaryKey reports whether key names a binary header (ends in "-bin").
func IsBinaryKey(key string) bool { return strings.HasSuffix(key, "-bin") }

// ValidKey reports whether key may be sent as custom metadata: non-empty,
// only 0-9 a-z _ - . (after lower-casing), and not starting with ':'.
// Keys starting with "grpc-" are reserved for gRPC itself.
func ValidKey(key string) error {
	if key == "" {
		return fmt.Errorf("metadata key is empty")
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.' {
			continue
		}
		return fmt.Errorf("metadata key %q has an invalid character %q at %d (keys may hold only 0-9 a-z _ - .)", key, c, i)
	}
	return nil
}

// ValidValue reports whether v may be sent as the value of the ASCII key
// key: printable ASCII (0x20 to 0x7E) only. Values of "-bin" keys may hold
// any bytes.
func ValidValue(key, v string) error {
	if IsBinaryKey(key) {
		return nil
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 || c > 0x7e {
			// The value itself is not quoted: it may be a credential.
			return fmt.Errorf("metadata value for %q has a non-printable byte 0x%02x at %d of %d (values of ASCII keys may hold only printable ASCII 0x20-0x7E, no CR, LF or NUL; use a -bin key for binary values)", key, c, i, len(v))
		}
	}
	return nil
}

// reserved are the keys that gRPC or HTTP/2 set themselves, with the way
// to set what they carry.
var reserved = map[string]string{
	"content-type":               "gRPC sets it",
	"te":                         "gRPC sets it",
	"user-agent":                 "set it with the channel's user agent option",
	"grpc-timeout":               "it carries the call's deadline: set a timeout",
	"grpc-encoding":              "it carries the call's compression",
	"grpc-accept-encoding":       "gRPC sets it",
	"grpc-message":               "servers send it",
	"grpc-status":                "servers send it",
	"grpc-previous-rpc-attempts": "gRPC's retries set it",
	"host":                       "HTTP/2 carries it as :authority: set the channel's authority",
	"connection":                 "connection-specific headers are forbidden in HTTP/2 (RFC 9113 section 8.2.2)",
	"keep-alive":                 "connection-specific headers are forbidden in HTTP/2 (RFC 9113 section 8.2.2)",
	"proxy-connection":           "connection-specific headers are forbidden in HTTP/2 (RFC 9113 section 8.2.2)",
	"transfer-encoding":          "connection-specific headers are forbidden in HTTP/2 (RFC 9113 section 8.2.2)",
	"upgrade":                    "connection-specific headers are forbidden in HTTP/2 (RFC 9113 section 8.2.2)",
}

// Validate reports the first key or value of md that cannot be sent as a
// call's custom metadata: a key that ValidKey refuses (upper case
// included: use New, Pairs, Set or Append, which lower-case keys), a
// pseudo-header (":path"), a key gRPC or HTTP/2 reserve ("grpc-timeout",
// "user-agent", "connection", ...), or a value that ValidValue refuses.
// Keys are checked in sorted order, so the error is always the same.
func Validate(md MD) error {
	keys := make([]string, 0, len(md))
	for k := range md {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if strings.HasPrefix(k, ":") {
			return fmt.Errorf("metadata key %q is an HTTP/2 pseudo-header, which gRPC sets itself", k)
		}
		if err := ValidKey(k); err != nil {
			return err
		}
		if why, ok := reserved[k]; ok {
			return fmt.Errorf("metadata key %q is reserved (%s)", k, why)
		}
		for _, v := range md[k] {
			if err := ValidValue(k, v); err != nil {
				return err
			}
		}
	}
	return nil
}
