package wire_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/grpcactor/grpcactor/internal/wire"
)

func TestEncodeBinHeader(t *testing.T) {
	tests := []struct {
		in   []byte
		want string
	}{
		{nil, ""},
		{[]byte{0xff}, "/w"},
		{[]byte("ab"), "YWI"},
		{[]byte("abc"), "YWJj"},
		{[]byte{0xfb, 0xff}, "+/8"},
	}
	for _, tt := range tests {
		if got := wire.EncodeBinHeader(tt.in); got != tt.want {
			t.Errorf("EncodeBinHeader(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestDecodeBinHeader(t *testing.T) {
	tests := []struct {
		in   string
		want []byte
	}{
		{"", []byte{}},
		{"/w", []byte{0xff}},
		{"/w==", []byte{0xff}},
		{"YWI", []byte("ab")},
		{"YWI=", []byte("ab")},
		{"YWJj", []byte("abc")},
		{"+/8", []byte{0xfb, 0xff}},
		{"+/8=", []byte{0xfb, 0xff}},
	}
	for _, tt := range tests {
		got, err := wire.DecodeBinHeader(tt.in)
		if err != nil || !bytes.Equal(got, tt.want) {
			t.Errorf("DecodeBinHeader(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	for _, in := range []string{"!", "Y", "YQ=", "YQ===", "Y===", "-_8", "YW\nI", "YWJj\r\n", "YW I", "YWJ,"} {
		got, err := wire.DecodeBinHeader(in)
		if err == nil {
			t.Errorf("DecodeBinHeader(%q) = %q, want an error", in, got)
			continue
		}
		if !strings.Contains(err.Error(), "invalid base64") {
			t.Errorf("DecodeBinHeader(%q) error = %q", in, err)
		}
	}
}
