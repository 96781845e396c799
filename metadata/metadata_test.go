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
