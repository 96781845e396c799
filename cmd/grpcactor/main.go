// Command grpcactor is a command-line gRPC client in the manner of
// grpcurl, built on grpcactor's own channels: every call it makes, server
// reflection included, goes through a channel.Channel.
//
//	grpcactor [flags] list ADDR                     services the server offers
//	grpcactor [flags] list ADDR SERVICE             methods of one service
//	grpcactor [flags] describe ADDR SYMBOL          a service, method, message or enum
//	grpcactor [flags] call ADDR pkg.Service/Method  call a method, JSON in and out
//	grpcactor [flags] watch ADDR                    connectivity changes, live
//
// Descriptors come from the server's reflection service (grpc.reflection.v1,
// falling back to v1alpha), or from -proto files (with -import-path) or
// -protoset files (FileDescriptorSet, as protoc -o writes). The request is
// -d's JSON; "-d @" reads requests from standard input, one JSON document a
// line, which is also what client-streaming methods read without -d.
// Responses print as JSON as they arrive (-emit-defaults: with the fields
// that hold their default values). With -format text, requests and
// responses are in the protobuf text format, several messages separated by
// the record separator character 0x1E, as grpcurl's are.
//
// A failed RPC prints its code, message and the details the server sent
// (grpc-status-details-bin), and the command exits with 64 + the code, as
// grpcurl does; other failures exit 1, usage errors 2.
package main

import (
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"time"

	"github.com/grpcactor/grpcactor/channel"
	"github.com/grpcactor/grpcactor/credentials"
	"github.com/grpcactor/grpcactor/metadata"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Exit codes besides 64 + a gRPC status code.
const (
	exitFailure = 1
	exitUsage   = 2
	exitRPCBase = 64
)

const usage = `usage: grpcactor [flags] COMMAND ADDR [ARGS]

commands:
  list ADDR [SERVICE]           list services, or one service's methods
  describe ADDR SYMBOL          describe a service, method, message or enum
  call ADDR pkg.Service/Method  call a method (-d request, JSON or -format text; "-d @" reads stdin)
  watch ADDR                    print connectivity changes until interrupted or -max-time

flags (anywhere on the line):
`

// multi is a repeatable string flag.
type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

// config is what the flags say.
type config struct {
	plaintext    bool
	insecure     bool
	cacert       string
	cert         string
	key          string
	servername   string
	authority    string
	headers      multi
	data         string
	dataSet      bool
	protos       multi
	importPaths  multi
	protosets    multi
	maxTime      time.Duration
	connTimeout  time.Duration
	verbose      bool
	format       string // "json" or "text"
	emitDefaults bool
}

// cli is one run of the command.
type cli struct {
	cfg    config
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

// run executes the command line args and returns the exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	c := &cli{stdin: stdin, stdout: stdout, stderr: stderr}
	fs := flag.NewFlagSet("grpcactor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	var maxTime, connTimeout string
	fs.BoolVar(&c.cfg.plaintext, "plaintext", false, "use plaintext HTTP/2 (no TLS)")
	fs.BoolVar(&c.cfg.insecure, "insecure", false, "TLS without checking the server's certificate (its chain and name): encrypted, not authenticated")
	fs.StringVar(&c.cfg.cacert, "cacert", "", "PEM file of the authorities that may sign the server's certificate (default: the system's)")
	fs.StringVar(&c.cfg.cert, "cert", "", "PEM file of the client certificate, for mutual TLS (needs -key)")
	fs.StringVar(&c.cfg.key, "key", "", "PEM file of the client certificate's private key")
	fs.StringVar(&c.cfg.servername, "servername", "", "name the server's certificate must be valid for (default: ADDR's host)")
	fs.StringVar(&c.cfg.authority, "authority", "", "value of the :authority header (default: ADDR)")
	fs.Var(&c.cfg.headers, "H", "metadata 'key: value' sent with every call (repeatable)")
	fs.Func("d", "request as JSON; '@' reads requests from standard input, one a line", func(v string) error {
		c.cfg.data, c.cfg.dataSet = v, true
		return nil
	})
	fs.Var(&c.cfg.protos, "proto", ".proto file describing the methods instead of reflection (repeatable)")
	fs.Var(&c.cfg.importPaths, "import-path", "directory to find -proto files and their imports in (repeatable)")
	fs.Var(&c.cfg.protosets, "protoset", "FileDescriptorSet file describing the methods instead of reflection (repeatable)")
	fs.StringVar(&maxTime, "max-time", "", "deadline of the whole operation: seconds (1.5) or a duration (1500ms)")
	fs.StringVar(&connTimeout, "connect-timeout", "", "how long to wait for the first connection (default: until -max-time)")
	fs.BoolVar(&c.cfg.verbose, "v", false, "print response headers and trailers to standard error")
	fs.StringVar(&c.cfg.format, "format", "json", "format of requests and responses: json, or text (the protobuf text format; several messages are separated by the record separator 0x1E)")
	fs.BoolVar(&c.cfg.emitDefaults, "emit-defaults", false, "print the fields of JSON responses that hold their default values")

	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return 0
			}
			return exitUsage
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	var err error
	if c.cfg.maxTime, err = parseSeconds(maxTime); err != nil {
		return c.usageErr("-max-time: %v", err)
	}
	if c.cfg.connTimeout, err = parseSeconds(connTimeout); err != nil {
		return c.usageErr("-connect-timeout: %v", err)
	}
	switch c.cfg.format {
	case "json":
	case "text":
		if c.cfg.emitDefaults {
			return c.usageErr("-emit-defaults applies to -format json only")
		}
	default:
		return c.usageErr("-format %q: want json or text", c.cfg.format)
	}
	if len(pos) < 2 {
		return c.usageErr("need a command and an address")
	}
	cmd, addr, rest := pos[0], pos[1], pos[2:]
	if c.cfg.maxTime > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.cfg.maxTime)
		defer cancel()
	}
	switch cmd {
	case "list":
		if len(rest) > 1 {
			return c.usageErr("list takes ADDR and at most one SERVICE")
		}
		return c.list(ctx, addr, rest)
	case "describe":
		if len(rest) != 1 {
			return c.usageErr("describe takes ADDR and one SYMBOL")
		}
		return c.describe(ctx, addr, rest[0])
	case "call":
		if len(rest) != 1 {
			return c.usageErr("call takes ADDR and one pkg.Service/Method")
		}
		return c.call(ctx, addr, rest[0])
	case "watch":
		if len(rest) != 0 {
			return c.usageErr("watch takes ADDR only")
		}
		return c.watch(ctx, addr)
	}
	return c.usageErr("unknown command %q (list, describe, call, watch)", cmd)
}

func (c *cli) usageErr(format string, args ...any) int {
	fmt.Fprintf(c.stderr, "grpcactor: "+format+"\n", args...)
	fmt.Fprintln(c.stderr, "run grpcactor -h for help")
	return exitUsage
}

func (c *cli) fail(format string, args ...any) int {
	fmt.Fprintf(c.stderr, "grpcactor: "+format+"\n", args...)
	return exitFailure
}

// parseSeconds reads "1.5" as seconds or "1500ms" as a duration; "" is 0.
func parseSeconds(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if f < 0 {
			return 0, fmt.Errorf("%q is negative", s)
		}
		return time.Duration(f * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q is neither seconds nor a positive duration", s)
	}
	return d, nil
}

// dial opens a channel to addr as the flags say.
func (c *cli) dial(addr string, extra ...channel.Option) (*channel.Channel, error) {
	opts := extra
	if c.cfg.authority != "" {
		opts = append(opts, channel.WithAuthority(c.cfg.authority))
	}
	if c.cfg.plaintext {
		if c.cfg.insecure || c.cfg.cacert != "" || c.cfg.cert != "" || c.cfg.key != "" || c.cfg.servername != "" {
			return nil, errors.New("-plaintext cannot be used with -insecure, -cacert, -cert, -key or -servername")
		}
		return channel.Insecure(addr, opts...)
	}
	if c.cfg.insecure && c.cfg.cacert != "" {
		return nil, errors.New("-insecure cannot be used with -cacert: the certificate is not checked")
	}
	var tc credentials.TLSConfig
	var err error
	read := func(flag, path string) []byte {
		if path == "" || err != nil {
			return nil
		}
		var b []byte
		if b, err = os.ReadFile(path); err != nil {
			err = fmt.Errorf("%s: %w", flag, err)
		}
		return b
	}
	tc.RootCAs = read("-cacert", c.cfg.cacert)
	tc.Certificate = read("-cert", c.cfg.cert)
	tc.PrivateKey = read("-key", c.cfg.key)
	if err != nil {
		return nil, err
	}
	tc.ServerName = c.cfg.servername
	tc.SkipVerify = c.cfg.insecure
	creds, err := credentials.TLS(tc)
	if err != nil {
		return nil, err
	}
	return channel.Secure(addr, creds, opts...)
}

// metadata returns the -H headers.
func (c *cli) metadata() (metadata.MD, error) {
	md := metadata.MD{}
	for _, h := range c.cfg.headers {
		k, v, ok := strings.Cut(h, ":")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, fmt.Errorf("-H %q: want 'key: value'", h)
		}
		v = strings.TrimSpace(v)
		if err := metadata.ValidKey(strings.ToLower(k)); err != nil {
			return nil, fmt.Errorf("-H %q: %v", h, err)
		}
		if metadata.IsBinaryKey(strings.ToLower(k)) {
			b, err := base64.StdEncoding.DecodeString(v)
			if err != nil {
				if b, err = base64.RawStdEncoding.DecodeString(v); err != nil {
					return nil, fmt.Errorf("-H %q: a -bin value must be base64: %v", h, err)
				}
			}
			v = string(b)
		}
		md.Append(k, v)
	}
	return md, nil
}
