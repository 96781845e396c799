package wire_test

import (
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/grpcactor/grpcactor/internal/wire"
)

func TestEncodeTimeout(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{math.MinInt64, "0n"},
		{-time.Second, "0n"},
		{0, "0n"},
		{1, "1n"},
		{99_999_999, "99999999n"},
		{100_000_000, "100000u"},
		{100_000_001, "100001u"},
		{99_999_999 * time.Microsecond, "99999999u"},
		{99_999_999*time.Microsecond + 1, "100000m"},
		{99_999_999 * time.Millisecond, "99999999m"},
		{100_000_000 * time.Millisecond, "100000S"},
		{99_999_999 * time.Second, "99999999S"},
		{100_000_000 * time.Second, "1666667M"},
		{99_999_999 * time.Minute, "99999999M"},
		{100_000_000 * time.Minute, "1666667H"},
		{time.Hour, "3600000m"},
		{time.Duration(math.MaxInt64), "2562048H"},
	}
	for _, tt := range tests {
		got := wire.EncodeTimeout(tt.d)
		if got != tt.want {
			t.Errorf("EncodeTimeout(%d) = %q, want %q", int64(tt.d), got, tt.want)
		}
		if len(got) > 9 {
			t.Errorf("EncodeTimeout(%d) = %q: more than 8 digits", int64(tt.d), got)
		}
		back, err := wire.DecodeTimeout(got)
		if err != nil {
			t.Errorf("DecodeTimeout(%q): %v", got, err)
		} else if tt.d > 0 && back < tt.d {
			t.Errorf("DecodeTimeout(EncodeTimeout(%v)) = %v: earlier than the deadline", tt.d, back)
		}
	}
}

func TestDecodeTimeout(t *testing.T) {
	tests := []struct {
		s    string
		want time.Duration
	}{
		{"0n", 0},
		{"1n", 1},
		{"7u", 7 * time.Microsecond},
		{"20m", 20 * time.Millisecond},
		{"1S", time.Second},
		{"00000001S", time.Second},
		{"5M", 5 * time.Minute},
		{"3H", 3 * time.Hour},
		{"99999999n", 99_999_999},
		{"99999999M", 99_999_999 * time.Minute},
		{"2562047H", 2_562_047 * time.Hour},
		{"2562048H", math.MaxInt64},
		{"99999999H", math.MaxInt64},
	}
	for _, tt := range tests {
		got, err := wire.DecodeTimeout(tt.s)
		if err != nil || got != tt.want {
			t.Errorf("DecodeTimeout(%q) = %v, %v; want %v", tt.s, got, err, tt.want)
		}
	}
}

func TestDecodeTimeoutErrors(t *testing.T) {
	for _, s := range []string{
		"", "1", "n", "S", "123456789S", "1x", "-1S", "+1S", " 1S", "1 S", "1.5S",
		"S1", "1s", "1h", "0x1S", "１S", "1\x00",
	} {
		d, err := wire.DecodeTimeout(s)
		if err == nil {
			t.Errorf("DecodeTimeout(%q) = %v, want an error", s, d)
			continue
		}
		if !strings.Contains(err.Error(), strconv.Quote(s)) {
			t.Errorf("DecodeTimeout(%q) error %q does not name the value", s, err)
		}
	}
}
