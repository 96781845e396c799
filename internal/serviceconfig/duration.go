package serviceconfig

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"time"
)

// maxProtoSeconds is the largest number of seconds a google.protobuf.Duration
// may hold (10,000 years).
const maxProtoSeconds = 315576000000

var (
	errNotDuration   = errors.New("not a duration")
	errNegative      = errors.New("negative")
	errDurationRange = errors.New("out of range")
)

// parseDuration parses the protobuf JSON form of a Duration: decimal
// seconds with up to 9 fractional digits and the suffix "s", such as "1.5s",
// "0.000340s", ".1s" or "10s". A negative duration is errNegative. A value
// beyond protobuf's range (315576000000s) is errDurationRange; one within
// it but beyond time.Duration's (about 292 years) is clamped to the largest
// time.Duration.
func parseDuration(s string) (time.Duration, error) {
	body, ok := strings.CutSuffix(s, "s")
	if !ok {
		return 0, errNotDuration
	}
	neg := false
	if rest, ok := strings.CutPrefix(body, "-"); ok {
		neg, body = true, rest
	}
	whole, frac, _ := strings.Cut(body, ".")
	if (whole == "" && frac == "") || !digits(whole) || !digits(frac) || len(frac) > 9 {
		return 0, errNotDuration
	}
	if neg {
		return 0, errNegative
	}
	whole = strings.TrimLeft(whole, "0")
	if len(whole) > len(strconv.Itoa(maxProtoSeconds)) {
		return 0, errDurationRange
	}
	var sec int64
	if whole != "" {
		var err error
		if sec, err = strconv.ParseInt(whole, 10, 64); err != nil {
			return 0, errDurationRange
		}
	}
	var nanos int64
	if frac != "" {
		n, err := strconv.ParseInt(frac+strings.Repeat("0", 9-len(frac)), 10, 64)
		if err != nil {
			return 0, errNotDuration
		}
		nanos = n
	}
	if sec > maxProtoSeconds || sec == maxProtoSeconds && nanos > 0 {
		return 0, errDurationRange
	}
	if sec > (math.MaxInt64-nanos)/int64(time.Second) {
		return math.MaxInt64, nil
	}
	return time.Duration(sec)*time.Second + time.Duration(nanos), nil
}

// digits reports whether s is made of ASCII digits only (true for "").
func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// duration reads a Duration field. positive requires a value > 0.
func duration(path string, v any, positive bool) (time.Duration, error) {
	s, ok := v.(string)
	if !ok {
		return 0, errf(path, "%s is not a duration (want e.g. \"1.5s\")", show(v))
	}
	d, err := parseDuration(s)
	switch {
	case errors.Is(err, errNotDuration):
		return 0, errf(path, "%s is not a duration (want e.g. \"1.5s\")", show(v))
	case errors.Is(err, errNegative):
		return 0, errf(path, "%s is invalid (must not be negative)", show(v))
	case errors.Is(err, errDurationRange):
		return 0, errf(path, "%s is out of range (at most \"315576000000s\")", show(v))
	case positive && d == 0:
		return 0, errf(path, "%s is invalid (must be > 0)", show(v))
	}
	return d, nil
}
