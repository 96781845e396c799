// Package health is the client side of gRPC's health-checking protocol
// (grpc.health.v1, doc/health-checking.md): the two messages of
// Health/Watch encoded and decoded by hand with protowire.
//
// Nothing here registers grpc/health/v1/health.proto in protobuf's global
// registry, so a program may also import grpc-go's generated health
// package (which does register it) without a conflict at start.
package health

import (
	"fmt"
	"strconv"

	"google.golang.org/protobuf/encoding/protowire"
)

// WatchMethod is the full path of the Watch method: a server stream of
// HealthCheckResponse for one HealthCheckRequest.
const WatchMethod = "/grpc.health.v1.Health/Watch"

// Status is HealthCheckResponse.ServingStatus.
type Status int32

// The serving statuses of grpc.health.v1.HealthCheckResponse.
const (
	Unknown        Status = 0
	Serving        Status = 1
	NotServing     Status = 2
	ServiceUnknown Status = 3 // sent only by Watch
)

// String returns the status's proto enum name, or the number for a value
// the proto does not define.
func (s Status) String() string {
	switch s {
	case Unknown:
		return "UNKNOWN"
	case Serving:
		return "SERVING"
	case NotServing:
		return "NOT_SERVING"
	case ServiceUnknown:
		return "SERVICE_UNKNOWN"
	}
	return "ServingStatus(" + strconv.Itoa(int(s)) + ")"
}

// AppendRequest appends the encoding of HealthCheckRequest{service} to
// dst. An empty service (the server's overall health) encodes as no
// bytes, as proto3 omits default values.
func AppendRequest(dst []byte, service string) []byte {
	if service == "" {
		return dst
	}
	dst = protowire.AppendTag(dst, 1, protowire.BytesType)
	return protowire.AppendString(dst, service)
}

// DecodeResponse decodes a HealthCheckResponse and returns its status.
// Unknown fields are skipped; a repeated status field takes its last
// value, as proto3 has it. Malformed bytes, or a status field of the wrong
// wire type, are an error saying where.
func DecodeResponse(b []byte) (Status, error) {
	var st Status
	for off := 0; len(b) > 0; {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return 0, fmt.Errorf("health: HealthCheckResponse: bad tag at byte %d: %v", off, protowire.ParseError(n))
		}
		b, off = b[n:], off+n
		if num == 1 && typ != protowire.VarintType {
			return 0, fmt.Errorf("health: HealthCheckResponse: field status (1) has wire type %d, want varint", typ)
		}
		if num == 1 {
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return 0, fmt.Errorf("health: HealthCheckResponse: bad status at byte %d: %v", off, protowire.ParseError(n))
			}
			st = Status(int32(v))
			b, off = b[n:], off+n
			continue
		}
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return 0, fmt.Errorf("health: HealthCheckResponse: bad field %d at byte %d: %v", num, off, protowire.ParseError(n))
		}
		b, off = b[n:], off+n
	}
	return st, nil
}
