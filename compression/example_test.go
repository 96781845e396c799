package compression_test

import (
	"fmt"
	"strings"

	"github.com/grpcactor/grpcactor/compression"
)

// Example compresses a message with the compressor a grpc-encoding header
// names and reads it back under a size limit.
func Example() {
	c, ok := compression.Get("gzip")
	if !ok {
		panic("gzip is always registered")
	}
	msg := []byte(strings.Repeat("hello, gRPC! ", 100))
	z, err := c.Compress(nil, msg)
	if err != nil {
		panic(err)
	}
	fmt.Println("compressed smaller:", len(z) < len(msg))

	out, err := c.Decompress(z, 4<<20)
	fmt.Println(len(out), err)

	_, err = c.Decompress(z, 100)
	fmt.Println(err)

	// Output:
	// compressed smaller: true
	// 1300 <nil>
	// decompressed message larger than max (100)
}
