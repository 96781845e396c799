package peers

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/interop"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
)

// MaxMessageSize is the largest message, in bytes, that every peer started by
// this package sends and accepts (64 MiB), so that tests of large messages
// are limited by the client under test, not by the peer.
const MaxMessageSize = 64 << 20

// StartGoInterop starts grpc-go's interop TestService server
// (interop.NewTestServer) in this process on 127.0.0.1 with a port chosen by
// the kernel and returns its address ("127.0.0.1:<port>"). Its message size
// limits are raised to [MaxMessageSize]. The server is stopped (Stop, not
// GracefulStop) when the test ends.
func StartGoInterop(t testing.TB) (addr string) {
	t.Helper()
	return StartGoInteropOpts(t)
}

// StartGoInteropOpts is [StartGoInterop] with extra server options (for
// example keepalive enforcement, TLS credentials or smaller flow-control
// windows). They are applied after the 64 MiB message size limits, so they
// can override them.
func StartGoInteropOpts(t testing.TB, opts ...grpc.ServerOption) (addr string) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("peers: go interop server: listen: %v", err)
	}
	serveGoInterop(t, lis, opts)
	return lis.Addr().String()
}

// StartGoInteropUnix starts grpc-go's interop TestService server, as
// [StartGoInterop] does, on a unix domain socket and returns the socket's
// path (dial it as "unix://" + path). The socket lives in t.TempDir(), or,
// where that path would be too long for a socket address, in a fresh
// directory under the system's temporary directory that is removed when the
// test ends.
func StartGoInteropUnix(t testing.TB) (socketPath string) {
	t.Helper()
	socketPath = filepath.Join(t.TempDir(), "interop.sock")
	if len(socketPath) >= 100 { // sun_path holds 108 bytes on Linux, 104 on BSDs
		dir, err := os.MkdirTemp("", "peers")
		if err != nil {
			t.Fatalf("peers: go interop server: %v", err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		socketPath = filepath.Join(dir, "interop.sock")
	}
	lis, err := net.Listen("unix", socketPath)
	if err != nil {
		t.Fatalf("peers: go interop server: listen on unix socket %s: %v", socketPath, err)
	}
	serveGoInterop(t, lis, nil)
	return socketPath
}

// NewGoInterop returns grpc-go's interop TestService server
// (interop.NewTestServer) with its message size limits raised to
// [MaxMessageSize], followed by opts, not yet serving: the servers
// [StartGoInterop] starts, for a test that listens, serves and stops one
// itself (to restart it on the same address, say).
func NewGoInterop(opts ...grpc.ServerOption) *grpc.Server {
	all := append([]grpc.ServerOption{
		grpc.MaxRecvMsgSize(MaxMessageSize),
		grpc.MaxSendMsgSize(MaxMessageSize),
	}, opts...)
	srv := grpc.NewServer(all...)
	testgrpc.RegisterTestServiceServer(srv, interop.NewTestServer())
	return srv
}

// serveGoInterop serves grpc-go's interop TestService on lis until the test
// ends, then stops the server and waits for Serve to return.
func serveGoInterop(t testing.TB, lis net.Listener, opts []grpc.ServerOption) {
	t.Helper()
	srv := NewGoInterop(opts...)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(lis) }()
	t.Cleanup(func() {
		srv.Stop()
		if err := <-done; err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			t.Errorf("peers: go interop server on %s: %v", lis.Addr(), err)
		}
	})
}
