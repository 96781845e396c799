package actorsys_test

import (
	"fmt"

	"github.com/grpcactor/grpcactor/internal/actorsys"
)

// Default is one system for the whole process.
func ExampleDefault() {
	a, b := actorsys.Default(), actorsys.Default()
	fmt.Println(a == b)
	// Output: true
}
