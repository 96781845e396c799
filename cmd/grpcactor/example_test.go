package main

import (
	"context"
	"os"
	"path/filepath"
)

// The command describes a message from a .proto file, with no server:
// "grpcactor -plaintext -proto greet.proto describe localhost:50051
// helloworld.HelloRequest".
func Example() {
	dir, _ := os.MkdirTemp("", "grpcactor-example")
	defer os.RemoveAll(dir)
	os.WriteFile(filepath.Join(dir, "greet.proto"), []byte(`syntax = "proto3";
package helloworld;
message HelloRequest { string name = 1; repeated string tags = 2; }
`), 0o644)
	run(context.Background(), []string{"-plaintext", "-import-path", dir, "-proto", "greet.proto",
		"describe", "localhost:50051", "helloworld.HelloRequest"}, os.Stdin, os.Stdout, os.Stderr)
	// Output:
	// helloworld.HelloRequest is a message:
	// message HelloRequest {
	//   string name = 1;
	//   repeated string tags = 2;
	// }
}
