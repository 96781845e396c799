package proxy

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"time"
)

// maxResponseHeader bounds the proxy's answer to CONNECT (status line and
// headers): a proxy that sends more is refused rather than buffered.
const maxResponseHeader = 64 << 10

// Dialer opens connections through an HTTP CONNECT proxy.
type Dialer struct {
	// Proxy is the proxy's URL, as ParseURL returns it (host:port, optional
	// user:password for Basic authentication).
	Proxy *url.URL
	// UserAgent, if set, is sent as the CONNECT request's User-Agent.
	UserAgent string
	// Dial opens the TCP connection to the proxy; nil means a net.Dialer.
	Dial func(ctx context.Context, network, address string) (net.Conn, error)
}

// DialContext connects to the proxy and asks it for a tunnel to target
// (host:port, unresolved: the proxy resolves it). It returns the tunnel, on
// which the caller speaks to target; bytes the proxy sent after its answer
// are read first. Errors name the proxy; a refusal carries the proxy's
// status line.
func (d *Dialer) DialContext(ctx context.Context, network, target string) (net.Conn, error) {
	proxyAddr := d.Proxy.Host
	dial := d.Dial
	if dial == nil {
		var nd net.Dialer
		dial = nd.DialContext
	}
	conn, err := dial(ctx, network, proxyAddr)
	if err != nil {
		return nil, fmt.Errorf("HTTP proxy %s: %w", proxyAddr, err)
	}
	tc, err := d.Handshake(ctx, conn, target)
	if err != nil {
		conn.Close()
		return nil, err
	}
	return tc, nil
}

// Handshake sends CONNECT target on conn, an open connection to the proxy,
// and reads the answer. On a 200 it returns the tunnel (conn itself, or conn
// with the bytes already read after the answer in front); otherwise an
// error with the proxy's status line. It gives up when ctx ends. It does not
// close conn.
func (d *Dialer) Handshake(ctx context.Context, conn net.Conn, target string) (net.Conn, error) {
	// The exchange's reads and writes end with ctx: its deadline bounds
	// them and its cancellation interrupts them.
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	tc, err := d.exchange(conn, target)
	if !stop() {
		// ctx ended: the deadline in the past may be set at any moment,
		// so the connection is of no use even if the exchange succeeded.
		if err == nil {
			err = fmt.Errorf("HTTP proxy %s: CONNECT %s: %w", d.Proxy.Host, target, ctx.Err())
		} else if !errors.Is(err, ctx.Err()) {
			err = fmt.Errorf("%w (%w)", ctx.Err(), err)
		}
		return nil, err
	}
	conn.SetDeadline(time.Time{})
	return tc, err
}

// exchange writes the CONNECT request and reads the answer.
func (d *Dialer) exchange(conn net.Conn, target string) (net.Conn, error) {
	proxyAddr := d.Proxy.Host
	if _, err := conn.Write(d.request(target)); err != nil {
		return nil, fmt.Errorf("HTTP proxy %s: CONNECT %s: %w", proxyAddr, target, err)
	}
	br := bufio.NewReaderSize(conn, 4096)
	code, line, err := ReadResponse(br)
	if err != nil {
		return nil, fmt.Errorf("HTTP proxy %s: CONNECT %s: %w", proxyAddr, target, err)
	}
	if code != 200 {
		return nil, fmt.Errorf("HTTP proxy %s refused CONNECT %s: %s", proxyAddr, target, line)
	}
	if n := br.Buffered(); n > 0 {
		early, _ := br.Peek(n)
		return &prefixConn{Conn: conn, early: bytes.Clone(early)}, nil
	}
	return conn, nil
}

// request is the CONNECT request for target.
func (d *Dialer) request(target string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n", target, target)
	if d.UserAgent != "" {
		fmt.Fprintf(&b, "User-Agent: %s\r\n", d.UserAgent)
	}
	if u := d.Proxy.User; u != nil {
		pw, _ := u.Password()
		cred := base64.StdEncoding.EncodeToString([]byte(u.Username() + ":" + pw))
		fmt.Fprintf(&b, "Proxy-Authorization: Basic %s\r\n", cred)
	}
	b.WriteString("\r\n")
	return b.Bytes()
}

// ReadResponse reads a proxy's answer to CONNECT from br: the status line and
// the headers up to the empty line, and no byte further. It returns the
// status code and the status line (without its line end). An answer that is
// not HTTP/1.x, longer than 64 KiB, or with a line longer than br's buffer,
// is an error.
func ReadResponse(br *bufio.Reader) (code int, statusLine string, err error) {
	total := 0
	first := true
	for {
		line, err := br.ReadSlice('\n')
		total += len(line)
		if total > maxResponseHeader {
			return 0, "", fmt.Errorf("answer longer than %d bytes", maxResponseHeader)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			return 0, "", fmt.Errorf("answer has a line longer than %d bytes", br.Size())
		}
		if err != nil {
			if errors.Is(err, net.ErrClosed) || len(line) == 0 && total == 0 {
				return 0, "", fmt.Errorf("no answer: %w", err)
			}
			return 0, "", fmt.Errorf("answer cut short: %w", err)
		}
		// One line end: "\n", or "\r\n" (a stray "\r" before it is part of
		// the line, so "\r\r\n" is not the empty line).
		line = bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")), []byte("\r"))
		if first {
			first = false
			code, err = parseStatusLine(line)
			if err != nil {
				return 0, "", err
			}
			statusLine = string(line)
			continue
		}
		if len(line) == 0 {
			return code, statusLine, nil
		}
	}
}

// parseStatusLine parses "HTTP/1.x NNN reason".
func parseStatusLine(line []byte) (int, error) {
	const proto = "HTTP/1."
	if !bytes.HasPrefix(line, []byte(proto)) || len(line) < len(proto)+1+1+3 || line[len(proto)+1] != ' ' {
		return 0, fmt.Errorf("answer %q is not an HTTP/1.x status line", clip(line))
	}
	num := line[len(proto)+2:]
	if len(num) > 3 && num[3] != ' ' {
		return 0, fmt.Errorf("answer %q has no 3-digit status code", clip(line))
	}
	code, err := strconv.Atoi(string(num[:3]))
	if err != nil || code < 100 || code > 999 {
		return 0, fmt.Errorf("answer %q has no 3-digit status code", clip(line))
	}
	return code, nil
}

func clip(b []byte) string {
	if len(b) > 80 {
		return string(b[:80]) + "..."
	}
	return string(b)
}

// prefixConn is a tunnel whose first bytes were read with the proxy's
// answer.
type prefixConn struct {
	net.Conn
	early []byte
}

func (c *prefixConn) Read(p []byte) (int, error) {
	if len(c.early) > 0 {
		n := copy(p, c.early)
		c.early = c.early[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}
