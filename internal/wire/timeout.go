package wire

import (
	"fmt"
	"math"
	"strconv"
	"time"
)

// maxTimeoutValue is the largest TimeoutValue the spec allows: 8 digits.
const maxTimeoutValue = 99_999_999

// timeoutUnits lists the grpc-timeout units from finest to coarsest.
var timeoutUnits = [...]struct {
	unit byte
	d    time.Duration
}{
	{'n', time.Nanosecond},
	{'u', time.Microsecond},
	{'m', time.Millisecond},
	{'S', time.Second},
	{'M', time.Minute},
	{'H', time.Hour},
}

// EncodeTimeout returns the grpc-timeout header value for d: the finest unit
// (n, u, m, S, M, H) in which d, rounded up, fits in 8 digits, so that the
// server never sees a deadline earlier than the client's. A d of zero or
// less gives "0n", as grpc-go sends for an expired deadline.
func EncodeTimeout(d time.Duration) string {
	var buf [MaxTimeoutLen]byte
	return string(AppendTimeout(buf[:0], d))
}

// MaxTimeoutLen is the longest grpc-timeout value: 8 digits and a unit.
const MaxTimeoutLen = 9

// AppendTimeout appends EncodeTimeout(d) to dst.
func AppendTimeout(dst []byte, d time.Duration) []byte {
	if d <= 0 {
		return append(dst, "0n"...)
	}
	for _, u := range timeoutUnits {
		v := d / u.d
		if d%u.d != 0 {
			v++
		}
		if v <= maxTimeoutValue {
			return append(strconv.AppendInt(dst, int64(v), 10), u.unit)
		}
	}
	// Unreachable: math.MaxInt64 nanoseconds is about 2.6 million hours.
	panic("wire: duration too large for grpc-timeout")
}

// DecodeTimeout parses a grpc-timeout header value: 1 to 8 ASCII digits and
// one of the units H, M, S, m, u, n. A value in hours too large for a
// time.Duration is clamped to the largest one.
func DecodeTimeout(s string) (time.Duration, error) {
	if len(s) < 2 {
		return 0, fmt.Errorf("malformed grpc-timeout %q: want 1 to 8 digits and a unit", s)
	}
	if len(s) > 9 {
		return 0, fmt.Errorf("malformed grpc-timeout %q: more than 8 digits", s)
	}
	var unit time.Duration
	switch s[len(s)-1] {
	case 'H':
		unit = time.Hour
	case 'M':
		unit = time.Minute
	case 'S':
		unit = time.Second
	case 'm':
		unit = time.Millisecond
	case 'u':
		unit = time.Microsecond
	case 'n':
		unit = time.Nanosecond
	default:
		return 0, fmt.Errorf("malformed grpc-timeout %q: unknown unit %q", s, s[len(s)-1])
	}
	var v int64
	for i := 0; i < len(s)-1; i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("malformed grpc-timeout %q: %q is not a digit", s, c)
		}
		v = v*10 + int64(c-'0')
	}
	if v > math.MaxInt64/int64(unit) {
		return time.Duration(math.MaxInt64), nil
	}
	return time.Duration(v) * unit, nil
}
