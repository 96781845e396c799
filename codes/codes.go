// Package codes defines the gRPC status codes, 0 to 16, as grpc-go names
// them, with String giving the canonical upper-case names that grpcio's
// StatusCode uses (OK, CANCELLED, ...).
package codes

import "strconv"

// Code is a gRPC status code.
type Code uint32

// The gRPC status codes, from gRPC's statuscodes document.
const (
	// OK is returned on success.
	OK Code = 0
	// Canceled means the operation was cancelled, typically by the caller.
	Canceled Code = 1
	// Unknown is an error whose cause is not known, or a status from
	// another address space that this one does not know.
	Unknown Code = 2
	// InvalidArgument means the client gave an invalid argument.
	InvalidArgument Code = 3
	// DeadlineExceeded means the deadline expired before the operation
	// could complete.
	DeadlineExceeded Code = 4
	// NotFound means a requested entity was not found.
	NotFound Code = 5
	// AlreadyExists means an entity the client tried to create exists.
	AlreadyExists Code = 6
	// PermissionDenied means the caller may not do what it asked.
	PermissionDenied Code = 7
	// ResourceExhausted means a resource ran out, such as a quota or a
	// message size limit.
	ResourceExhausted Code = 8
	// FailedPrecondition means the system is not in a state the operation
	// needs.
	FailedPrecondition Code = 9
	// Aborted means the operation was aborted, typically by a concurrency
	// conflict.
	Aborted Code = 10
	// OutOfRange means the operation went past the valid range.
	OutOfRange Code = 11
	// Unimplemented means the operation is not implemented or supported.
	Unimplemented Code = 12
	// Internal means an invariant the system relies on was broken.
	Internal Code = 13
	// Unavailable means the service is unavailable at the moment; the
	// call may be retried.
	Unavailable Code = 14
	// DataLoss means unrecoverable data loss or corruption.
	DataLoss Code = 15
	// Unauthenticated means the request lacks valid credentials.
	Unauthenticated Code = 16
)

var names = [...]string{
	"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED",
	"NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED",
	"FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED",
	"INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
}

// String returns the canonical name of c, such as "CANCELLED", or
// "CODE(n)" for a value outside 0 to 16.
func (c Code) String() string {
	if int(c) < len(names) {
		return names[c]
	}
	return "CODE(" + strconv.FormatUint(uint64(c), 10) + ")"
}

// Parse returns the code for a canonical name such as "UNAVAILABLE" (the
// form service configs use) and whether the name is known.
func Parse(name string) (Code, bool) {
	for i, n := range names {
		if n == name {
			return Code(i), true
		}
	}
	return 0, false
}

// Valid reports whether c is one of the 17 codes gRPC defines.
func (c Code) Valid() bool { return int(c) < len(names) }
