package wire_test

import (
	"testing"

	"github.com/grpcactor/grpcactor/internal/wire"
)

// interopMessage is the status message of grpc's interop special_status_message
// test case.
const interopMessage = "\t\ntest with whitespace\r\nand Unicode BMP ☺ and non-BMP 😈\t\n"

func TestEncodeGrpcMessage(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"plain message: ok ~!", "plain message: ok ~!"},
		{"%", "%25"},
		{"100%", "100%25"},
		{"\x00\x1f\x7f\xff", "%00%1F%7F%FF"},
		{interopMessage, "%09%0Atest with whitespace%0D%0Aand Unicode BMP %E2%98%BA and non-BMP %F0%9F%98%88%09%0A"},
		{"bad utf-8 \xc3", "bad utf-8 %C3"},
	}
	for _, tt := range tests {
		got := wire.EncodeGrpcMessage(tt.in)
		if got != tt.want {
			t.Errorf("EncodeGrpcMessage(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if back := wire.DecodeGrpcMessage(got); back != tt.in {
			t.Errorf("DecodeGrpcMessage(%q) = %q, want %q", got, back, tt.in)
		}
	}
}

func TestDecodeGrpcMessage(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"no escapes", "no escapes"},
		{"%", "%"},
		{"%4", "%4"},
		{"%zz", "%zz"},
		{"%4z", "%4z"},
		{"%z4", "%z4"},
		{"a%", "a%"},
		{"a%2", "a%2"},
		{"%%41", "%A"},
		{"%41%", "A%"},
		{"%41%4", "A%4"},
		{"%e2%98%ba", "☺"},
		{"%E2%98%BA", "☺"},
		{"%25", "%"},
		{"%2541", "%41"},
		{"raw ☺ and %E2%98%BA", "raw ☺ and ☺"},
		{"raw \t tab", "raw \t tab"},
		{"%FF", "\xff"},
	}
	for _, tt := range tests {
		if got := wire.DecodeGrpcMessage(tt.in); got != tt.want {
			t.Errorf("DecodeGrpcMessage(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
