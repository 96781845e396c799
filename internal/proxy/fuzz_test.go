package proxy_test

import (
	"bufio"
	"bytes"
	"strings"
	"testing"

	"github.com/grpcactor/grpcactor/internal/proxy"
)

// FuzzReadResponse feeds arbitrary proxy answers to ReadResponse: it must
// never panic, never read past the empty line ending the headers, and
// return a status line that starts the input.
func FuzzReadResponse(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 Connection established\r\n\r\n",
		"HTTP/1.0 200 OK\r\nProxy-Agent: x\r\n\r\nPRI * HTTP/2.0\r\n",
		"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic\r\n\r\n",
		"HTTP/1.1 200\n\n",
		"HTTP/1.1 2000 OK\r\n\r\n",
		"garbage",
		"",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		br := bufio.NewReaderSize(bytes.NewReader(data), 4096)
		code, line, err := proxy.ReadResponse(br)
		if err != nil {
			return
		}
		if code < 100 || code > 999 {
			t.Fatalf("code %d out of range", code)
		}
		if !strings.HasPrefix(string(data), line) || !strings.HasPrefix(line, "HTTP/1.") {
			t.Fatalf("status line %q does not start the input", line)
		}
		// What was consumed ends with the empty line.
		head := string(data[:len(data)-remaining(br)])
		if !strings.HasSuffix(head, "\n\n") && !strings.HasSuffix(head, "\n\r\n") {
			t.Fatalf("consumed %q, which does not end with the empty line", head)
		}
	})
}

// remaining is how many bytes of the input br has not handed out.
func remaining(br *bufio.Reader) int {
	var b bytes.Buffer
	n, _ := b.ReadFrom(br)
	return int(n)
}
