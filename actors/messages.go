package actors

import (
	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/metadata"
	"github.com/grpcactor/grpcactor/status"
)

// Reply is the outcome of a unary or client-streaming call, delivered
// exactly once.
type Reply[Resp any] struct {
	// Ref is the call's reference, as Send or Open returned it.
	Ref *Ref
	// Value is the response (the zero value if the call failed).
	Value Resp
	// Err is nil on success, else a *status.Error.
	Err error
	// Code and Details are the call's status.
	Code    codes.Code
	Details string
	// Header and Trailer are the call's initial and trailing metadata.
	Header  metadata.MD
	Trailer metadata.MD
}

// Message is one response of a server- or bidirectional-streaming call.
type Message[Resp any] struct {
	Ref   *Ref
	Value Resp
}

// End is the end of a server- or bidirectional-streaming call, delivered
// exactly once, after its last Message.
type End struct {
	Ref *Ref
	// Err is nil when the call ended OK, else a *status.Error.
	Err error
	// Code and Details are the call's status.
	Code    codes.Code
	Details string
	// Header and Trailer are the call's initial and trailing metadata.
	Header  metadata.MD
	Trailer metadata.MD
}

// SendCredit tells a client- or bidirectional-streaming call's actor that
// it may Send N more requests.
type SendCredit struct {
	Ref *Ref
	N   int
}

// statusOf fills a status's fields from the finished call's error.
func statusOf(err error) (codes.Code, string) {
	if err == nil {
		return codes.OK, ""
	}
	st := status.Convert(err)
	return st.Code(), st.Details()
}
