package wire_test

import (
	"fmt"
	"time"

	"github.com/grpcactor/grpcactor/internal/wire"
	"golang.org/x/net/http2/hpack"
)

// Example frames two messages, reads them back from DATA payloads that cut
// them anywhere, and derives the call's status from its trailers.
func Example() {
	var data []byte
	for _, m := range []string{"hello", "gRPC"} {
		data = wire.AppendMsgHeader(data, false, len(m))
		data = append(data, m...)
	}

	d := wire.Deframer{MaxSize: 4 << 20}
	for _, payload := range [][]byte{data[:3], data[3:12], data[12:]} {
		if err := d.Feed(payload, func(m wire.Message) { fmt.Printf("message %q\n", m.Data) }); err != nil {
			fmt.Println(err)
		}
	}

	fmt.Println("grpc-timeout:", wire.EncodeTimeout(1500*time.Millisecond))

	headers := wire.DecodeHeaderBlock([]hpack.HeaderField{
		{Name: ":status", Value: "200"},
		{Name: "content-type", Value: "application/grpc"},
	})
	trailers := wire.DecodeHeaderBlock([]hpack.HeaderField{
		{Name: "grpc-status", Value: "5"},
		{Name: "grpc-message", Value: wire.EncodeGrpcMessage("no such key: ☺")},
	})
	fmt.Println(wire.ResponseStatus(&headers, &trailers, nil))
	// Output:
	// message "hello"
	// message "gRPC"
	// grpc-timeout: 1500000u
	// rpc error: code = NOT_FOUND desc = no such key: ☺
}

// ExampleResponseStatus shows the status of a proxy's HTML error page.
func ExampleResponseStatus() {
	page := wire.DecodeHeaderBlock([]hpack.HeaderField{
		{Name: ":status", Value: "503"},
		{Name: "content-type", Value: "text/html"},
	})
	st := wire.ResponseStatus(&page, nil, []byte("<h1>down</h1>"))
	fmt.Println(st.Code())
	fmt.Println(st.Message())
	// Output:
	// UNAVAILABLE
	// unexpected HTTP status code received from server: 503 (Service Unavailable); transport: received unexpected content-type "text/html"; response body: "<h1>down</h1>"
}
