// Package wire holds the pure functions of the gRPC-over-HTTP/2 protocol
// that the transport needs: the grpc-timeout and grpc-message header
// encodings, base64 for "-bin" metadata, the 5-byte message prefix and a
// streaming Deframer, and the rules that turn a response's header blocks,
// HTTP status and RST_STREAM codes into a gRPC status.
//
// Nothing here does I/O, keeps global state or starts goroutines; every
// function is safe for concurrent use, and a Deframer belongs to one stream.
//
// The references are gRPC's PROTOCOL-HTTP2.md and
// http-grpc-status-mapping.md, with grpc-go's behaviour where the documents
// leave a choice.
package wire
