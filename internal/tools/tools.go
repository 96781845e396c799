//go:build tools

// Package tools pins test and benchmark dependencies in go.mod.
package tools

import (
	_ "go.uber.org/goleak"
	_ "google.golang.org/grpc"
	_ "google.golang.org/grpc/interop"
)
