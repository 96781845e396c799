package system_test

// Secure channels against grpc-go's interop server over TLS (its test CA
// and certificates from grpc-go's testdata), local credentials, and call
// credentials as the server sees them.

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc"
	grpccreds "google.golang.org/grpc/credentials"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	grpcmd "google.golang.org/grpc/metadata"
	"google.golang.org/grpc/testdata"

	"github.com/grpcactor/grpcactor/channel"
	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/credentials"
	"github.com/grpcactor/grpcactor/metadata"
	"github.com/grpcactor/grpcactor/status"
)

// The server certificate is valid for *.test.example.com.
const tlsServerName = "x.test.example.com"

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(testdata.Path(name))
	if err != nil {
		t.Fatalf("grpc-go testdata %s: %v", name, err)
	}
	return b
}

// authSeen records the authorization-style metadata of every call.
type authSeen struct {
	mu    sync.Mutex
	calls []grpcmd.MD
}

func (a *authSeen) observe(ctx context.Context, _ string) error {
	md, _ := grpcmd.FromIncomingContext(ctx)
	a.mu.Lock()
	a.calls = append(a.calls, md.Copy())
	a.mu.Unlock()
	return nil
}

func (a *authSeen) last(t testing.TB) grpcmd.MD {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.calls) == 0 {
		t.Fatal("the server saw no call")
	}
	return a.calls[len(a.calls)-1]
}

func (a *authSeen) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.calls)
}

// startTLSServer starts the interop server over TLS with server1's
// certificate; with clientCAs it requires a client certificate they sign.
func startTLSServer(t testing.TB, clientCAs []byte) (string, *authSeen) {
	t.Helper()
	cert, err := tls.LoadX509KeyPair(testdata.Path("x509/server1_cert.pem"), testdata.Path("x509/server1_key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}}
	if clientCAs != nil {
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(clientCAs)
		cfg.ClientCAs, cfg.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	seen := &authSeen{}
	srv := startServer(t, serverConfig{Opts: []grpc.ServerOption{grpc.Creds(grpccreds.NewTLS(cfg))}, Hook: seen.observe})
	return srv.Addr(), seen
}

func tlsCreds(t testing.TB, cfg credentials.TLSConfig) *credentials.ChannelCredentials {
	t.Helper()
	c, err := credentials.TLS(cfg)
	if err != nil {
		t.Fatalf("credentials.TLS: %v", err)
	}
	return c
}

func dialSecure(t testing.TB, target string, creds *credentials.ChannelCredentials, opts ...channel.Option) *stubs {
	t.Helper()
	ch, err := channel.Secure(target, creds, opts...)
	if err != nil {
		t.Fatalf("channel.Secure(%q): %v", target, err)
	}
	t.Cleanup(func() { ch.Close() })
	return newStubs(ch)
}

func TestSecureTLS(t *testing.T) {
	addr, _ := startTLSServer(t, nil)
	ca := readTestdata(t, "x509/server_ca_cert.pem")

	t.Run("TrustedCAWithNameOverride", func(t *testing.T) {
		s := dialSecure(t, addr, tlsCreds(t, credentials.TLSConfig{RootCAs: ca}), channel.WithOption("grpc.ssl_target_name_override", tlsServerName))
		if _, err := s.empty.Call(tctx(t), &empty{}); err != nil {
			t.Fatalf("empty_unary over TLS: %v", err)
		}
		resp, err := s.unary.Call(tctx(t), &simpleReq{ResponseSize: 314159, Payload: zeros(271828)})
		if err != nil {
			t.Fatalf("large_unary over TLS: %v", err)
		}
		checkPayload(t, "large_unary over TLS", resp.GetPayload(), 314159)
		if got := s.ch.State(false); got != channel.Ready {
			t.Errorf("State = %v, want READY", got)
		}
	})
	t.Run("ServerNameInTLSConfig", func(t *testing.T) {
		s := dialSecure(t, addr, tlsCreds(t, credentials.TLSConfig{RootCAs: ca, ServerName: tlsServerName}))
		if _, err := s.empty.Call(tctx(t), &empty{}); err != nil {
			t.Fatalf("empty_unary over TLS: %v", err)
		}
	})
	t.Run("AuthorityNamesTheServer", func(t *testing.T) {
		// grpc.default_authority sets :authority and so the name checked.
		s := dialSecure(t, addr, tlsCreds(t, credentials.TLSConfig{RootCAs: ca}), channel.WithAuthority(tlsServerName+":443"))
		if _, err := s.empty.Call(tctx(t), &empty{}); err != nil {
			t.Fatalf("empty_unary over TLS: %v", err)
		}
	})
	t.Run("WrongName", func(t *testing.T) {
		s := dialSecure(t, addr, tlsCreds(t, credentials.TLSConfig{RootCAs: ca}))
		_, err := s.empty.Call(tctx(t), &empty{})
		st := wantStatus(t, "call to a server whose certificate does not name 127.0.0.1", err, codes.Unavailable, "")
		if !containsAll(st.Details(), "TLS handshake", "certificate") {
			t.Errorf("details %q, want the TLS handshake's certificate error", st.Details())
		}
		if got := s.ch.State(false); got != channel.TransientFailure {
			t.Errorf("State = %v, want TRANSIENT_FAILURE", got)
		}
	})
	t.Run("UnknownAuthority", func(t *testing.T) {
		// The system's roots do not hold grpc-go's test CA.
		s := dialSecure(t, addr, tlsCreds(t, credentials.TLSConfig{}), channel.WithSSLTargetNameOverride(tlsServerName))
		_, err := s.empty.Call(tctx(t), &empty{})
		st := wantStatus(t, "call to a server signed by an unknown CA", err, codes.Unavailable, "")
		if !containsAll(st.Details(), "TLS handshake", "x509") {
			t.Errorf("details %q, want the x509 verification error", st.Details())
		}
	})
	t.Run("PlaintextClient", func(t *testing.T) {
		// A plaintext channel to a TLS server fails, it does not hang.
		s := dialStubs(t, addr)
		_, err := s.empty.Call(tctx(t), &empty{})
		wantStatus(t, "plaintext call to a TLS server", err, codes.Unavailable, "")
	})
}

func TestSecureMutualTLS(t *testing.T) {
	addr, _ := startTLSServer(t, readTestdata(t, "x509/client_ca_cert.pem"))
	ca := readTestdata(t, "x509/server_ca_cert.pem")
	t.Run("ClientCertificate", func(t *testing.T) {
		creds := tlsCreds(t, credentials.TLSConfig{
			RootCAs:     ca,
			Certificate: readTestdata(t, "x509/client1_cert.pem"),
			PrivateKey:  readTestdata(t, "x509/client1_key.pem"),
		})
		s := dialSecure(t, addr, creds, channel.WithSSLTargetNameOverride(tlsServerName))
		if _, err := s.empty.Call(tctx(t), &empty{}); err != nil {
			t.Fatalf("call with a client certificate: %v", err)
		}
	})
	t.Run("NoClientCertificate", func(t *testing.T) {
		s := dialSecure(t, addr, tlsCreds(t, credentials.TLSConfig{RootCAs: ca}), channel.WithSSLTargetNameOverride(tlsServerName))
		_, err := s.empty.Call(tctx(t), &empty{})
		wantStatus(t, "call without the client certificate the server requires", err, codes.Unavailable, "")
	})
}

// A TLS server that negotiates no ALPN protocol is not a gRPC server: the
// connection fails with a message that says so.
func TestSecureALPNRequired(t *testing.T) {
	cert, err := tls.LoadX509KeyPair(testdata.Path("x509/server1_cert.pem"), testdata.Path("x509/server1_key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	lis, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { lis.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				_ = c.(*tls.Conn).Handshake()
				buf := make([]byte, 1024)
				for {
					if _, err := c.Read(buf); err != nil {
						return
					}
				}
			}()
		}
	}()
	s := dialSecure(t, lis.Addr().String(), tlsCreds(t, credentials.TLSConfig{RootCAs: readTestdata(t, "x509/server_ca_cert.pem")}),
		channel.WithSSLTargetNameOverride(tlsServerName))
	_, err = s.empty.Call(tctx(t), &empty{})
	st := wantStatus(t, "call to a TLS server without ALPN", err, codes.Unavailable, "")
	if !strings.Contains(st.Details(), `negotiated no ALPN protocol; gRPC needs "h2"`) {
		t.Errorf("details %q, want the missing ALPN named", st.Details())
	}
}

func TestSecureRefusesInsecureCredentials(t *testing.T) {
	if _, err := channel.Secure("localhost:1", credentials.Insecure()); !errors.Is(err, channel.ErrInsecureCredentials) {
		t.Errorf("Secure with insecure credentials: %v, want ErrInsecureCredentials", err)
	}
	if _, err := channel.Secure("localhost:1", nil); err == nil || !strings.Contains(err.Error(), "needs channel credentials") {
		t.Errorf("Secure with nil credentials: %v", err)
	}
	if _, err := channel.Secure("bogus:///x", credentials.Local(credentials.LocalTCP)); err == nil || !strings.Contains(err.Error(), "bogus:///x") {
		t.Errorf("Secure with a malformed target: %v, want an error naming it", err)
	}
}

func TestSecureCallCredentials(t *testing.T) {
	addr, seen := startTLSServer(t, nil)
	tls := tlsCreds(t, credentials.TLSConfig{RootCAs: readTestdata(t, "x509/server_ca_cert.pem")})
	override := channel.WithSSLTargetNameOverride(tlsServerName)

	var infoMu sync.Mutex
	var infos []credentials.RequestInfo
	plugin := credentials.MetadataPlugin("tenant plugin", func(ctx context.Context, info credentials.RequestInfo) (metadata.MD, error) {
		infoMu.Lock()
		infos = append(infos, info)
		infoMu.Unlock()
		return metadata.Pairs("x-tenant", "blue", "x-trace-bin", "\x00\x01"), nil
	})

	t.Run("AccessTokenOnTheChannel", func(t *testing.T) {
		creds, err := credentials.CompositeChannel(tls, credentials.AccessToken("tok-123"))
		if err != nil {
			t.Fatal(err)
		}
		s := dialSecure(t, addr, creds, override)
		if _, err := s.empty.Call(tctx(t), &empty{}); err != nil {
			t.Fatal(err)
		}
		if got := seen.last(t).Get("authorization"); len(got) != 1 || got[0] != "Bearer tok-123" {
			t.Errorf("server saw authorization %q, want [\"Bearer tok-123\"]", got)
		}
		// Streaming calls carry them too.
		st, err := s.streamOut.Call(tctx(t), &outReq{ResponseParameters: []*testgrpc.ResponseParameters{{Size: 3}}})
		if err != nil {
			t.Fatal(err)
		}
		for _, err := range st.All() {
			if err != nil {
				t.Fatal(err)
			}
		}
		if got := seen.last(t).Get("authorization"); len(got) != 1 || got[0] != "Bearer tok-123" {
			t.Errorf("streaming call: server saw authorization %q", got)
		}
	})
	t.Run("ChannelAndCallCredentials", func(t *testing.T) {
		creds, err := credentials.CompositeChannel(tls, credentials.AccessToken("tok-chan"))
		if err != nil {
			t.Fatal(err)
		}
		s := dialSecure(t, addr, creds, override)
		if _, err := s.empty.Call(tctx(t), &empty{}, channel.CallCredentials(plugin), channel.Metadata(metadata.Pairs("x-own", "1"))); err != nil {
			t.Fatal(err)
		}
		md := seen.last(t)
		if got := md.Get("authorization"); len(got) != 1 || got[0] != "Bearer tok-chan" {
			t.Errorf("authorization %q", got)
		}
		if got := md.Get("x-tenant"); len(got) != 1 || got[0] != "blue" {
			t.Errorf("x-tenant %q, want [blue]", got)
		}
		if got := md.Get("x-trace-bin"); len(got) != 1 || got[0] != "\x00\x01" {
			t.Errorf("x-trace-bin %q, want the two bytes", got)
		}
		if got := md.Get("x-own"); len(got) != 1 {
			t.Errorf("the call's own metadata x-own %q was lost", got)
		}
		infoMu.Lock()
		info := infos[len(infos)-1]
		infoMu.Unlock()
		if want := "https://" + addr + "/grpc.testing.TestService"; info.ServiceURL != want || info.MethodName != "EmptyCall" {
			t.Errorf("plugin got %+v, want ServiceURL %q, MethodName EmptyCall", info, want)
		}
	})
	t.Run("PluginFails", func(t *testing.T) {
		failing := credentials.MetadataPlugin("token fetcher", func(context.Context, credentials.RequestInfo) (metadata.MD, error) {
			return nil, errors.New("token endpoint unreachable")
		})
		s := dialSecure(t, addr, tls, override)
		before := seen.count()
		_, err := s.empty.Call(tctx(t), &empty{}, channel.CallCredentials(failing))
		wantStatus(t, "call whose plugin failed", err, codes.Unavailable, `getting request metadata from token fetcher: token endpoint unreachable`)
		// A54: a code credentials may not produce becomes INTERNAL; one
		// they may is kept.
		notFound := credentials.MetadataPlugin("np", func(context.Context, credentials.RequestInfo) (metadata.MD, error) {
			return nil, status.New(codes.NotFound, "no key")
		})
		_, err = s.empty.Call(tctx(t), &empty{}, channel.CallCredentials(notFound))
		wantStatusContains(t, "plugin failing NOT_FOUND", err, codes.Internal, "getting request metadata from np", "NOT_FOUND", "no key")
		denied := credentials.MetadataPlugin("dp", func(context.Context, credentials.RequestInfo) (metadata.MD, error) {
			return nil, status.New(codes.PermissionDenied, "not yours")
		})
		_, err = s.empty.Call(tctx(t), &empty{}, channel.CallCredentials(denied))
		wantStatus(t, "plugin failing PERMISSION_DENIED", err, codes.PermissionDenied, "getting request metadata from dp: not yours")
		if n := seen.count() - before; n != 0 {
			t.Errorf("the server saw %d calls whose credentials failed", n)
		}
		// The channel is unharmed.
		if _, err := s.empty.Call(tctx(t), &empty{}); err != nil {
			t.Errorf("call after the failures: %v", err)
		}
	})
	t.Run("FutureRunsThePluginOffTheCaller", func(t *testing.T) {
		release := make(chan struct{})
		entered := make(chan struct{}, 1)
		slow := credentials.MetadataPlugin("slow", func(ctx context.Context, _ credentials.RequestInfo) (metadata.MD, error) {
			entered <- struct{}{}
			<-release
			return metadata.Pairs("x-slow", "1"), nil
		})
		s := dialSecure(t, addr, tls, override)
		f := s.empty.Future(tctx(t), &empty{}, channel.CallCredentials(slow))
		// Future returned while the plugin is blocked.
		recvWithin(t, "the plugin to be called", entered)
		close(release)
		if _, err := f.Result(tctx(t)); err != nil {
			t.Fatal(err)
		}
		if got := seen.last(t).Get("x-slow"); len(got) != 1 {
			t.Errorf("x-slow %q", got)
		}
	})
	t.Run("RefusedOnPlaintext", func(t *testing.T) {
		plainAddr, plainSeen := startPlainObserved(t)
		s := dialStubs(t, plainAddr)
		_, err := s.empty.Call(tctx(t), &empty{}, channel.CallCredentials(credentials.AccessToken("secret")))
		wantStatusContains(t, "call credentials on a plaintext channel", err, codes.Unauthenticated, "call credentials need a channel opened with Secure", plainAddr)
		// A wait-for-ready call fails at once too, without waiting for a
		// connection its credentials could not use.
		dead := dialStubs(t, deadPort(t))
		_, err = dead.empty.Call(tctx(t), &empty{}, channel.CallCredentials(credentials.AccessToken("secret")), channel.WaitForReady(true))
		wantStatusContains(t, "call credentials on a plaintext channel, waiting for ready", err, codes.Unauthenticated, "call credentials need a channel opened with Secure")
		if s := dead.ch.State(false); s != channel.Idle {
			t.Errorf("State after the refused call = %v, want IDLE (nothing dialled)", s)
		}
		if n := plainSeen.count(); n != 0 {
			t.Errorf("the server saw %d calls; the token must not be sent in the clear", n)
		}
	})
}

func startPlainObserved(t testing.TB) (string, *authSeen) {
	seen := &authSeen{}
	return startServer(t, serverConfig{Hook: seen.observe}).Addr(), seen
}

// Local credentials: plaintext, checked to be local, and carrying call
// credentials.
func TestSecureLocal(t *testing.T) {
	addr, seen := startPlainObserved(t)
	creds, err := credentials.CompositeChannel(credentials.Local(credentials.LocalTCP), credentials.AccessToken("local-tok"))
	if err != nil {
		t.Fatal(err)
	}
	s := dialSecure(t, addr, creds)
	if _, err := s.empty.Call(tctx(t), &empty{}); err != nil {
		t.Fatalf("call over local TCP credentials: %v", err)
	}
	if got := seen.last(t).Get("authorization"); len(got) != 1 || got[0] != "Bearer local-tok" {
		t.Errorf("authorization %q", got)
	}

	uds := dialSecure(t, addr, credentials.Local(credentials.UDS))
	_, err = uds.empty.Call(tctx(t), &empty{})
	wantStatusContains(t, "UDS local credentials over TCP", err, codes.Unavailable, "local credentials (uds)", "not a Unix domain socket")
}

// wantStatusContains checks err's code and that its message holds every
// one of subs.
func wantStatusContains(t testing.TB, what string, err error, code codes.Code, subs ...string) *status.Error {
	t.Helper()
	st := wantStatus(t, what, err, code, "")
	if !containsAll(st.Details(), subs...) {
		t.Errorf("%s: message %q, want it to contain %q", what, st.Details(), subs)
	}
	return st
}
