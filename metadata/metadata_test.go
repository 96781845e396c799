package metadata_test

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/grpcactor/grpcactor/metadata"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestPairsLowercasesAndKeepsOrder(t *testing.T) {
	md := metadata.Pairs("Key", "a", "key", "b", "other-bin", "\x00\x01")
	if got := md.Get("KEY"); !reflect.DeepEqual(got, []string{"a", "b"}) {
		t.Fatalf("Get = %q", got)
	}
	if md.Len() != 2 {
		t.Fatalf("Len = %d", md.Len())
	}
	c := md.Copy()
	c.Append("key", "c")
	if len(md.Get("key")) != 2 {
		t.Fatal("Copy shares slices")
	}
	md.Set("Key", "z")
	md.Delete("other-bin")
	if got := md.String(); got != `MD{key=["z"]}` {
		t.Fatalf("String = %s", got)
	}
	j := metadata.Join(metadata.Pairs("a", "1"), metadata.Pairs("a", "2", "b", "3"))
	if !reflect.DeepEqual(j, metadata.MD{"a": {"1", "2"}, "b": {"3"}}) {
		t.Fatalf("Join = %v", j)
	}
	if n := metadata.New(map[string]string{"X-Y": "v"}); n.Get("x-y")[0] != "v" {
		t.Fatalf("New = %v", n)
	}
}

func TestPairsOddPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic")
		}
	}()
	odd := strings.Fields("a") // a literal odd list would be caught by vet
	metadata.Pairs(odd...)
}

func TestValidKeyAndValue(t *testing.T) {
	tests := []struct {
		key, val string
		keyOK    bool
		valOK    bool
	}{
		{"x-custom", "hello world", true, true},
		{"x_custom.1", "~", true, true},
		{"", "", false, true},
		{"X-Upper", "v", false, true},
		{":path", "v", false, true},
		{"x-bad", "tab\there", true, false},
		{"x-bad-bin", "\x00\xff", true, true},
		{"x-bad", "é", true, false},
	}
	for _, tt := range tests {
		if err := metadata.ValidKey(tt.key); (err == nil) != tt.keyOK {
			t.Errorf("ValidKey(%q) = %v", tt.key, err)
		}
		if err := metadata.ValidValue(tt.key, tt.val); (err == nil) != tt.valOK {
			t.Errorf("ValidValue(%q, %q) = %v", tt.key, tt.val, err)
		}
	}
}

func ExamplePairs() {
	md := metadata.Pairs("X-Request-Id", "42", "trace-bin", "\x01\x02")
	fmt.Println(md.Get("x-request-id"), metadata.IsBinaryKey("trace-bin"))
	// Output: [42] true
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		md   metadata.MD
		want string // "" = valid; else a part of the error
	}{
		{"empty", nil, ""},
		{"plain", metadata.Pairs("x-id", "42", "x-trace-bin", "\x00\x01"), ""},
		{"grpc- custom keys are allowed", metadata.Pairs("grpc-trace-bin", "\x01"), ""},
		{"upper case key", metadata.MD{"X-Id": {"1"}}, `metadata key "X-Id" has an invalid character 'X' at 0 (keys may hold only 0-9 a-z _ - .)`},
		{"space in key", metadata.MD{"x id": {"1"}}, `invalid character ' ' at 1`},
		{"empty key", metadata.MD{"": {"1"}}, "metadata key is empty"},
		{"pseudo-header", metadata.MD{":authority": {"x"}}, `metadata key ":authority" is an HTTP/2 pseudo-header`},
		{"user-agent", metadata.Pairs("user-agent", "x"), `metadata key "user-agent" is reserved (set it with the channel's user agent option)`},
		{"grpc-timeout", metadata.Pairs("grpc-timeout", "1S"), `"grpc-timeout" is reserved`},
		{"connection", metadata.Pairs("connection", "close"), `RFC 9113`},
		{"content-type", metadata.Pairs("content-type", "x"), `"content-type" is reserved`},
		{"LF in value", metadata.Pairs("x-a", "a\nb"), `metadata value for "x-a" has a non-printable byte 0x0a at 1 of 3 (values of ASCII keys may hold only printable ASCII 0x20-0x7E, no CR, LF or NUL`},
		{"CR in value", metadata.Pairs("x-a", "a\r"), `byte 0x0d at 1`},
		{"NUL in value", metadata.Pairs("x-a", "\x00"), `byte 0x00 at 0`},
		{"NUL in a -bin value", metadata.Pairs("x-a-bin", "\x00\r\n"), ""},
		{"second value bad", metadata.Pairs("x-a", "ok", "x-a", "bad\n"), `byte 0x0a at 3`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := metadata.Validate(tt.md)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate(%v) = %v, want nil", tt.md, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate(%v) = %v, want an error containing %q", tt.md, err, tt.want)
			}
		})
	}
}
