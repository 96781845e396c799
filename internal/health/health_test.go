package health

import (
	"strings"
	"testing"

	"github.com/grpcactor/grpcactor/internal/leakcheck"
	"google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// This test binary links grpc-go's generated health package, which
// registers grpc/health/v1/health.proto: that it starts at all shows this
// package registers no second copy.
func TestMain(m *testing.M) { leakcheck.VerifyTestMain(m) }

func TestRequestMatchesProto(t *testing.T) {
	for _, svc := range []string{"", "x", "grpc.health.v1.Health", strings.Repeat("s", 300)} {
		got := AppendRequest(nil, svc)
		var req grpc_health_v1.HealthCheckRequest
		if err := proto.Unmarshal(got, &req); err != nil {
			t.Fatalf("AppendRequest(%q): proto.Unmarshal: %v", svc, err)
		}
		if req.Service != svc {
			t.Errorf("AppendRequest(%q) decodes as service %q", svc, req.Service)
		}
		want, _ := proto.MarshalOptions{Deterministic: true}.Marshal(&grpc_health_v1.HealthCheckRequest{Service: svc})
		if string(got) != string(want) {
			t.Errorf("AppendRequest(%q) = %x, proto.Marshal = %x", svc, got, want)
		}
	}
}

func TestDecodeResponse(t *testing.T) {
	marshal := func(s grpc_health_v1.HealthCheckResponse_ServingStatus) []byte {
		b, err := proto.Marshal(&grpc_health_v1.HealthCheckResponse{Status: s})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	var unknownField []byte
	unknownField = protowire.AppendTag(unknownField, 7, protowire.BytesType)
	unknownField = protowire.AppendString(unknownField, "extra")
	unknownField = append(unknownField, marshal(grpc_health_v1.HealthCheckResponse_NOT_SERVING)...)
	tests := []struct {
		name    string
		in      []byte
		want    Status
		wantErr string
	}{
		{"empty is UNKNOWN", nil, Unknown, ""},
		{"serving", marshal(grpc_health_v1.HealthCheckResponse_SERVING), Serving, ""},
		{"not serving", marshal(grpc_health_v1.HealthCheckResponse_NOT_SERVING), NotServing, ""},
		{"service unknown", marshal(grpc_health_v1.HealthCheckResponse_SERVICE_UNKNOWN), ServiceUnknown, ""},
		{"unknown field skipped", unknownField, NotServing, ""},
		{"last status wins", append(marshal(1), marshal(2)...), NotServing, ""},
		{"value outside the enum", []byte{0x08, 0x09}, Status(9), ""},
		{"truncated varint", []byte{0x08, 0x80}, 0, "bad status at byte 1"},
		{"wrong wire type", []byte{0x0a, 0x01, 0x01}, 0, "wire type 2, want varint"},
		{"bad tag", []byte{0x80}, 0, "bad tag at byte 0"},
		{"truncated unknown field", []byte{0x3a, 0x05, 0x01}, 0, "bad field 7 at byte 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeResponse(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("DecodeResponse(%x) error = %v, want one containing %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("DecodeResponse(%x) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestStatusString(t *testing.T) {
	for s, want := range map[Status]string{Unknown: "UNKNOWN", Serving: "SERVING", NotServing: "NOT_SERVING", ServiceUnknown: "SERVICE_UNKNOWN", 7: "ServingStatus(7)"} {
		if got := s.String(); got != want {
			t.Errorf("Status(%d).String() = %q, want %q", int32(s), got, want)
		}
		if s <= ServiceUnknown {
			if got := grpc_health_v1.HealthCheckResponse_ServingStatus(s).String(); got != want {
				t.Errorf("proto name of %d is %q, ours %q", int32(s), got, want)
			}
		}
	}
}

// FuzzDecodeResponse checks that DecodeResponse never panics and agrees
// with the generated code on every input both accept.
func FuzzDecodeResponse(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0x08, 0x01})
	f.Add([]byte{0x3a, 0x01, 0x00, 0x08, 0x02})
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := DecodeResponse(b)
		var resp grpc_health_v1.HealthCheckResponse
		perr := proto.Unmarshal(b, &resp)
		if err == nil && perr == nil && int32(got) != int32(resp.Status) {
			t.Fatalf("DecodeResponse(%x) = %d, proto says %d", b, got, resp.Status)
		}
	})
}
