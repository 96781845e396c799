package credentials_test

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"os"
	"strings"
	"testing"

	"google.golang.org/grpc/testdata"

	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/credentials"
	"github.com/grpcactor/grpcactor/internal/leakcheck"
	"github.com/grpcactor/grpcactor/metadata"
	"github.com/grpcactor/grpcactor/status"
)

func TestMain(m *testing.M) { leakcheck.VerifyTestMain(m) }

func pem(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(testdata.Path(name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestTLSConfigErrors(t *testing.T) {
	cert, key := pem(t, "x509/client1_cert.pem"), pem(t, "x509/client1_key.pem")
	for _, tc := range []struct {
		name string
		cfg  credentials.TLSConfig
		want string // "" = valid
	}{
		{"empty is valid (system roots)", credentials.TLSConfig{}, ""},
		{"roots and key pair", credentials.TLSConfig{RootCAs: pem(t, "x509/server_ca_cert.pem"), Certificate: cert, PrivateKey: key}, ""},
		{"roots that are not PEM", credentials.TLSConfig{RootCAs: []byte("not a certificate")}, "RootCAs holds no PEM certificate"},
		{"certificate without key", credentials.TLSConfig{Certificate: cert}, "Certificate is set but PrivateKey is empty"},
		{"key without certificate", credentials.TLSConfig{PrivateKey: key}, "PrivateKey is set but Certificate is empty"},
		{"key of another certificate", credentials.TLSConfig{Certificate: cert, PrivateKey: pem(t, "x509/client2_key.pem")}, "TLS Certificate and PrivateKey"},
		{"minimum above maximum", credentials.TLSConfig{MinVersion: credentials.TLS13, MaxVersion: credentials.TLS12}, "MinVersion TLS1_3 is above MaxVersion TLS1_2"},
		{"unknown version", credentials.TLSConfig{MinVersion: credentials.TLSVersion(tls.VersionTLS10)}, "MinVersion TLSVersion(0x0301) is not TLS12 or TLS13"},
		{"only TLS 1.3", credentials.TLSConfig{MinVersion: credentials.TLS13}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := credentials.TLS(tc.cfg)
			if tc.want == "" {
				if err != nil || c == nil {
					t.Fatalf("TLS: %v", err)
				}
				if c.Scheme() != "https" || c.IsInsecure() || !c.SendsCallCredentials() || c.String() != "tls" {
					t.Errorf("scheme %q, insecure %v, sends call creds %v, %q", c.Scheme(), c.IsInsecure(), c.SendsCallCredentials(), c)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("TLS: %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// tlsServer runs a TLS server handshake on the far end of a pipe.
func tlsServer(t *testing.T, protos []string) (client net.Conn, done chan error) {
	t.Helper()
	pair, err := tls.LoadX509KeyPair(testdata.Path("x509/server1_cert.pem"), testdata.Path("x509/server1_key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	c, s := net.Pipe()
	done = make(chan error, 1)
	go func() {
		srv := tls.Server(s, &tls.Config{Certificates: []tls.Certificate{pair}, NextProtos: protos})
		err := srv.Handshake()
		s.Close() // no close_notify: the client may not be reading
		done <- err
	}()
	return c, done
}

// handshakeH2 runs creds' handshake for serverName with a TLS server that
// offers h2: it must succeed and negotiate h2.
func handshakeH2(t *testing.T, creds *credentials.ChannelCredentials, serverName string) {
	t.Helper()
	c, done := tlsServer(t, []string{"h2"})
	defer c.Close()
	tc, err := creds.ClientHandshake(context.Background(), serverName, c)
	if err != nil {
		t.Fatalf("ClientHandshake (%v): %v", creds, err)
	}
	if p := tc.(*tls.Conn).ConnectionState().NegotiatedProtocol; p != "h2" {
		t.Errorf("ALPN %q", p)
	}
	tc.Close()
	<-done
}

func TestClientHandshake(t *testing.T) {
	creds, err := credentials.TLS(credentials.TLSConfig{RootCAs: pem(t, "x509/server_ca_cert.pem")})
	if err != nil {
		t.Fatal(err)
	}
	t.Run("h2", func(t *testing.T) { handshakeH2(t, creds, "x.test.example.com") })
	t.Run("no ALPN", func(t *testing.T) {
		c, done := tlsServer(t, nil)
		defer c.Close()
		_, err := creds.ClientHandshake(context.Background(), "x.test.example.com", c)
		if err == nil || !strings.Contains(err.Error(), `negotiated no ALPN protocol; gRPC needs "h2"`) {
			t.Errorf("ClientHandshake: %v", err)
		}
		<-done
	})
	t.Run("wrong name", func(t *testing.T) {
		c, done := tlsServer(t, []string{"h2"})
		defer c.Close()
		_, err := creds.ClientHandshake(context.Background(), "other.example.org", c)
		if err == nil || !strings.Contains(err.Error(), `server name "other.example.org"`) {
			t.Errorf("ClientHandshake: %v", err)
		}
		c.Close()
		<-done
	})
	t.Run("SkipVerify accepts an unknown authority and a wrong name", func(t *testing.T) {
		// The system's roots do not hold the test CA: without SkipVerify
		// the handshake fails.
		strict, err := credentials.TLS(credentials.TLSConfig{})
		if err != nil {
			t.Fatal(err)
		}
		c, done := tlsServer(t, []string{"h2"})
		_, err = strict.ClientHandshake(context.Background(), "other.example.org", c)
		c.Close()
		<-done
		if err == nil || !strings.Contains(err.Error(), "certificate") {
			t.Fatalf("ClientHandshake without SkipVerify: %v, want a certificate error", err)
		}
		skip, err := credentials.TLS(credentials.TLSConfig{SkipVerify: true})
		if err != nil {
			t.Fatal(err)
		}
		if skip.String() != "tls(skip-verify)" || strict.String() != "tls" {
			t.Errorf("String: %q and %q, want tls(skip-verify) and tls", skip, strict)
		}
		handshakeH2(t, skip, "other.example.org")
	})
	t.Run("insecure passes the connection through", func(t *testing.T) {
		c, s := net.Pipe()
		defer s.Close()
		defer c.Close()
		got, err := credentials.Insecure().ClientHandshake(context.Background(), "x", c)
		if err != nil || got != c {
			t.Errorf("Insecure: %v, %v", got, err)
		}
	})
}

func TestLocal(t *testing.T) {
	c, s := net.Pipe()
	defer c.Close()
	defer s.Close()
	for _, lt := range []credentials.LocalConnectionType{credentials.LocalTCP, credentials.UDS} {
		l := credentials.Local(lt)
		if l.IsInsecure() || l.Scheme() != "http" || !l.SendsCallCredentials() || l.String() != "local("+lt.String()+")" {
			t.Errorf("%v: insecure %v, scheme %q, %q", lt, l.IsInsecure(), l.Scheme(), l)
		}
		// A pipe is neither TCP nor a Unix socket.
		if _, err := l.ClientHandshake(context.Background(), "x", c); err == nil {
			t.Errorf("%v accepted a pipe", lt)
		}
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		sc, err := lis.Accept()
		if err == nil {
			accepted <- sc
		}
		close(accepted)
	}()
	tc, err := net.Dial("tcp", lis.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	if sc := <-accepted; sc != nil {
		defer sc.Close()
	}
	if _, err := credentials.Local(credentials.LocalTCP).ClientHandshake(context.Background(), "x", tc); err != nil {
		t.Errorf("LocalTCP refused a loopback connection: %v", err)
	}
	if _, err := credentials.Local(credentials.UDS).ClientHandshake(context.Background(), "x", tc); err == nil || !strings.Contains(err.Error(), "not a Unix domain socket") {
		t.Errorf("UDS accepted TCP: %v", err)
	}
}

func TestComposites(t *testing.T) {
	tok := credentials.AccessToken("t")
	if _, err := credentials.CompositeCall(tok); err == nil || !strings.Contains(err.Error(), "at least two") {
		t.Errorf("CompositeCall of one: %v", err)
	}
	if _, err := credentials.CompositeCall(tok, nil); err == nil || !strings.Contains(err.Error(), "call credential 1 is nil") {
		t.Errorf("CompositeCall with nil: %v", err)
	}
	if _, err := credentials.CompositeChannel(credentials.Insecure(), tok); err == nil || !strings.Contains(err.Error(), "insecure") {
		t.Errorf("CompositeChannel of insecure: %v", err)
	}
	if _, err := credentials.CompositeChannel(nil, tok); err == nil {
		t.Error("CompositeChannel of nil succeeded")
	}
	local := credentials.Local(credentials.LocalTCP)
	if _, err := credentials.CompositeChannel(local); err == nil || !strings.Contains(err.Error(), "at least one") {
		t.Errorf("CompositeChannel without call credentials: %v", err)
	}
	cc, err := credentials.CompositeChannel(local, tok)
	if err != nil {
		t.Fatal(err)
	}
	if len(cc.CallCredentials()) != 1 || len(local.CallCredentials()) != 0 || cc.String() != "local(tcp)+call" {
		t.Errorf("CompositeChannel: %d call credentials (original %d), %q", len(cc.CallCredentials()), len(local.CallCredentials()), cc)
	}
	// Appending to what CallCredentials returns never writes into the
	// credentials' own slice, whatever its capacity.
	nested, err := credentials.CompositeChannel(local, tok, tok)
	if err != nil {
		t.Fatal(err)
	}
	nested, err = credentials.CompositeChannel(nested, tok)
	if err != nil {
		t.Fatal(err)
	}
	if got := nested.CallCredentials(); cap(got) != len(got) || len(got) != 3 {
		t.Errorf("CallCredentials: len %d cap %d, want 3 and no spare capacity", len(got), cap(got))
	}
	if a, b := credentials.Insecure(), credentials.Insecure(); a != b || !a.IsInsecure() || a.SendsCallCredentials() {
		t.Error("Insecure is not one plaintext value")
	}
	if _, err := credentials.ALTS(); !errors.Is(err, credentials.ErrUnavailable) {
		t.Errorf("ALTS: %v, want ErrUnavailable", err)
	}
}

func TestNewRequestInfo(t *testing.T) {
	got := credentials.NewRequestInfo("example.com:443", "/helloworld.Greeter/SayHello")
	want := credentials.RequestInfo{ServiceURL: "https://example.com:443/helloworld.Greeter", MethodName: "SayHello"}
	if got != want {
		t.Errorf("%+v, want %+v", got, want)
	}
}

func plugin(md metadata.MD, err error) credentials.CallCredentials {
	return credentials.MetadataPlugin("p", func(context.Context, credentials.RequestInfo) (metadata.MD, error) { return md, err })
}

func TestRequestMetadata(t *testing.T) {
	info := credentials.NewRequestInfo("h:1", "/s.S/M")
	two, err := credentials.CompositeCall(credentials.AccessToken("a"), plugin(metadata.MD{"X-Tenant": {"blue"}}, nil))
	if err != nil {
		t.Fatal(err)
	}
	md, err := credentials.RequestMetadata(context.Background(), info, two, plugin(metadata.Pairs("x-tenant", "green"), nil))
	if err != nil {
		t.Fatal(err)
	}
	if got := md.Get("authorization"); len(got) != 1 || got[0] != "Bearer a" {
		t.Errorf("authorization %q", got)
	}
	if got := md["x-tenant"]; len(got) != 2 || got[0] != "blue" || got[1] != "green" {
		t.Errorf("x-tenant %q, want [blue green] (lower-cased key, in order)", got)
	}

	for _, tc := range []struct {
		name  string
		creds credentials.CallCredentials
		code  codes.Code
		msg   string
	}{
		{"plain error", plugin(nil, errors.New("no token")), codes.Unavailable, "getting request metadata from p: no token"},
		{"allowed status code", plugin(nil, status.New(codes.Unauthenticated, "expired")), codes.Unauthenticated, "getting request metadata from p: expired"},
		{"control-plane-only code", plugin(nil, status.New(codes.FailedPrecondition, "x")), codes.Internal, "getting request metadata from p: it failed with FAILED_PRECONDITION, a code call credentials may not produce: x"},
		{"control-plane code disguised as already mapped", plugin(nil, status.New(codes.InvalidArgument, "getting request metadata from x: y")), codes.Internal, "getting request metadata from p: it failed with INVALID_ARGUMENT, a code call credentials may not produce: getting request metadata from x: y"},
		{"deadline", plugin(nil, context.DeadlineExceeded), codes.DeadlineExceeded, "getting request metadata from p: context deadline exceeded"},
		{"reserved key", plugin(metadata.Pairs("grpc-timeout", "1S"), nil), codes.Internal, `call credentials for M: metadata key "grpc-timeout" is reserved for gRPC itself`},
		{"pseudo-header", plugin(metadata.MD{":path": {"/x"}}, nil), codes.Internal, `call credentials for M: metadata key ":path" is reserved for gRPC itself`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := credentials.RequestMetadata(context.Background(), info, tc.creds)
			st, ok := status.FromError(err)
			if !ok || st == nil || st.Code() != tc.code || st.Details() != tc.msg {
				t.Errorf("got %v, want %v %q", err, tc.code, tc.msg)
			}
		})
	}
	// A failure inside a composite is reported once, not wrapped twice.
	inner, _ := credentials.CompositeCall(credentials.AccessToken("a"), plugin(nil, errors.New("down")))
	_, err = credentials.RequestMetadata(context.Background(), info, inner)
	if st, _ := status.FromError(err); st == nil || st.Details() != "getting request metadata from p: down" {
		t.Errorf("composite failure: %v", err)
	}
}
