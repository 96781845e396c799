package proxy_test

import (
	"fmt"

	"github.com/grpcactor/grpcactor/internal/proxy"
)

// Which targets go through the proxy of an environment.
func Example() {
	environ := map[string]string{
		"HTTPS_PROXY": "http://alice:secret@proxy.corp:3128",
		"NO_PROXY":    ".internal.corp,10.0.0.0/8",
	}
	s, err := proxy.FromEnvironment(func(k string) string { return environ[k] })
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, target := range []string{"api.example.com:443", "db.internal.corp:5432", "10.1.2.3:50051", "localhost:50051"} {
		if u := s.For(target); u != nil {
			fmt.Printf("%s: CONNECT through %s (as %s)\n", target, u.Host, u.User.Username())
		} else {
			fmt.Printf("%s: direct\n", target)
		}
	}
	// Output:
	// api.example.com:443: CONNECT through proxy.corp:3128 (as alice)
	// db.internal.corp:5432: direct
	// 10.1.2.3:50051: direct
	// localhost:50051: direct
}
