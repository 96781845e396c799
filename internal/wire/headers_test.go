package wire_test

import (
	"strings"
	"testing"

	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/internal/wire"
	"github.com/grpcactor/grpcactor/metadata"
	"golang.org/x/net/http2/hpack"
)

// fields builds a header list from name, value, name, value, ...
func fields(kv ...string) []hpack.HeaderField {
	var fs []hpack.HeaderField
	for i := 0; i < len(kv); i += 2 {
		fs = append(fs, hpack.HeaderField{Name: kv[i], Value: kv[i+1]})
	}
	return fs
}

func TestDecodeHeaderBlock(t *testing.T) {
	hb := wire.DecodeHeaderBlock(fields(
		":status", "200",
		"content-type", "application/grpc+proto",
		"content-type", "text/plain",
		"grpc-encoding", "gzip",
		"grpc-accept-encoding", "gzip,identity",
		"grpc-status", "7",
		"grpc-message", "no%20way",
		"te", "trailers",
		"user-agent", "server/1",
		"grpc-timeout", "1S",
		"grpc-message-type", "x",
		"X-Custom", "A",
		"x-custom", "b",
		"trace-bin", "AAEC",
		"multi-bin", "AQ==, Ag,Aw",
		"grpc-status-details-bin", encodeBin("details"),
		"empty-bin", "",
		"grpc-retry-pushback-ms", "10",
		":path", "/ignored",
	))
	want := wire.HeaderBlock{
		HTTPStatus:     200,
		ContentType:    "application/grpc+proto",
		Encoding:       "gzip",
		AcceptEncoding: "gzip,identity",
		HasStatus:      true,
		StatusCode:     codes.PermissionDenied,
		StatusMessage:  "no way",
		Metadata: metadata.MD{
			"x-custom":                {"A", "b"},
			"trace-bin":               {"\x00\x01\x02"},
			"multi-bin":               {"\x01", "\x02", "\x03"},
			"grpc-status-details-bin": {"details"},
			"empty-bin":               {""},
			"grpc-retry-pushback-ms":  {"10"},
		},
	}
	if hb.HTTPStatus != want.HTTPStatus || hb.ContentType != want.ContentType ||
		hb.Encoding != want.Encoding || hb.AcceptEncoding != want.AcceptEncoding ||
		hb.HasStatus != want.HasStatus || hb.StatusCode != want.StatusCode ||
		hb.StatusMessage != want.StatusMessage || hb.Malformed != "" {
		t.Errorf("DecodeHeaderBlock = %+v\nwant %+v", hb, want)
	}
	if hb.Metadata.String() != want.Metadata.String() {
		t.Errorf("Metadata = %v\nwant %v", hb.Metadata, want.Metadata)
	}
}

func encodeBin(s string) string { return wire.EncodeBinHeader([]byte(s)) }

func TestDecodeHeaderBlockEmpty(t *testing.T) {
	hb := wire.DecodeHeaderBlock(nil)
	if hb.HTTPStatus != 0 || hb.HasStatus || hb.Metadata != nil || hb.Malformed != "" {
		t.Errorf("DecodeHeaderBlock(nil) = %+v", hb)
	}
	hb = wire.DecodeHeaderBlock(fields("grpc-status", "0"))
	if !hb.HasStatus || hb.StatusCode != codes.OK || hb.Malformed != "" || hb.HTTPStatus != 0 {
		t.Errorf("trailers = %+v", hb)
	}
}

func TestDecodeHeaderBlockMalformed(t *testing.T) {
	tests := []struct {
		name   string
		fields []hpack.HeaderField
		want   string // in Malformed
		status int
	}{
		{"bad -bin", fields(":status", "200", "a-bin", "!!"), `a-bin value: invalid base64 "!!"`, 200},
		{"bad part of -bin", fields(":status", "200", "a-bin", "AQ,!!"), `a-bin`, 200},
		{"letters in grpc-status", fields("grpc-status", "abc"), `malformed grpc-status "abc"`, 0},
		{"negative grpc-status", fields("grpc-status", "-1"), `"-1"`, 0},
		{"empty grpc-status", fields("grpc-status", ""), `grpc-status ""`, 0},
		{"grpc-status overflows uint32", fields("grpc-status", "4294967296"), `"4294967296"`, 0},
		{"repeated grpc-status", fields("grpc-status", "0", "grpc-status", "1"), `repeated grpc-status "1"`, 0},
		{":status not a number", fields(":status", "2OO"), `malformed :status "2OO"`, 0},
		{":status too long", fields(":status", "2000"), `"2000"`, 0},
		{":status below 100", fields(":status", "099"), `"099"`, 0},
		{"repeated :status", fields(":status", "200", ":status", "500"), `repeated :status "500"`, 200},
		{"first wins", fields("x-bin", "*", "grpc-status", "x"), `x-bin`, 0},
		{"long value cut", fields("x-bin", strings.Repeat("*", 1000)), `"...`, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hb := wire.DecodeHeaderBlock(tt.fields)
			if !strings.Contains(hb.Malformed, tt.want) {
				t.Errorf("Malformed = %q, want it to contain %q", hb.Malformed, tt.want)
			}
			if hb.HTTPStatus != tt.status {
				t.Errorf("HTTPStatus = %d, want %d", hb.HTTPStatus, tt.status)
			}
			if len(hb.Malformed) > 200 {
				t.Errorf("Malformed is %d bytes long", len(hb.Malformed))
			}
		})
	}
}

func TestDecodeHeaderBlockStatusCodes(t *testing.T) {
	for _, tt := range []struct {
		v    string
		want codes.Code
	}{{"0", 0}, {"16", 16}, {"07", 7}, {"99", 99}, {"4294967295", 1<<32 - 1}} {
		hb := wire.DecodeHeaderBlock(fields("grpc-status", tt.v))
		if !hb.HasStatus || hb.StatusCode != tt.want || hb.Malformed != "" {
			t.Errorf("grpc-status %q: %+v, want code %d", tt.v, hb, tt.want)
		}
	}
}

func TestIsGRPCContentType(t *testing.T) {
	tests := []struct {
		ct   string
		want bool
	}{
		{"application/grpc", true},
		{"application/grpc+proto", true},
		{"application/grpc+json", true},
		{"application/grpc;charset=utf-8", true},
		{"Application/GRPC", true},
		{"APPLICATION/GRPC+PROTO", true},
		{"", false},
		{"application/grp", false},
		{"application/grpcx", false},
		{"application/grpc-web", false},
		{"application/json", false},
		{"text/html", false},
		{" application/grpc", false},
	}
	for _, tt := range tests {
		if got := wire.IsGRPCContentType(tt.ct); got != tt.want {
			t.Errorf("IsGRPCContentType(%q) = %v, want %v", tt.ct, got, tt.want)
		}
	}
}
