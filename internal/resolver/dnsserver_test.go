package resolver_test

import (
	"errors"
	"net"
	"strings"
	"sync"
	"testing"

	"golang.org/x/net/dns/dnsmessage"
)

// dnsServer is a tiny authoritative DNS responder on 127.0.0.1 (UDP) that
// knows one name with one A and one AAAA record and answers NXDOMAIN for
// every other name. With silent set it reads queries and never answers.
type dnsServer struct {
	Addr string // "127.0.0.1:port"

	name   string // fully qualified, lower case
	a      [4]byte
	aaaa   [16]byte
	silent bool

	conn net.PacketConn
	done chan struct{}

	mu      sync.Mutex
	queries []string // "name TYPE" of every query received
}

// startDNSServer starts a responder for name (with the trailing dot) and
// stops it when the test ends.
func startDNSServer(t *testing.T, name string, a, aaaa net.IP, silent bool) *dnsServer {
	t.Helper()
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	s := &dnsServer{
		Addr:   conn.LocalAddr().String(),
		name:   strings.ToLower(name),
		silent: silent,
		conn:   conn,
		done:   make(chan struct{}),
	}
	copy(s.a[:], a.To4())
	copy(s.aaaa[:], aaaa.To16())
	go s.serve(t)
	t.Cleanup(func() {
		conn.Close()
		<-s.done
	})
	return s
}

func (s *dnsServer) serve(t *testing.T) {
	defer close(s.done)
	buf := make([]byte, 1500)
	for {
		n, from, err := s.conn.ReadFrom(buf)
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				t.Errorf("dns server: read: %v", err)
			}
			return
		}
		resp, err := s.answer(buf[:n])
		if err != nil {
			t.Errorf("dns server: %v", err)
			continue
		}
		if resp == nil {
			continue
		}
		if _, err := s.conn.WriteTo(resp, from); err != nil && !errors.Is(err, net.ErrClosed) {
			t.Errorf("dns server: write: %v", err)
		}
	}
}

// answer builds the reply to one query, or nil when there is none to send.
func (s *dnsServer) answer(query []byte) ([]byte, error) {
	var p dnsmessage.Parser
	h, err := p.Start(query)
	if err != nil {
		return nil, err
	}
	q, err := p.Question()
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.queries = append(s.queries, q.Name.String()+" "+q.Type.String())
	s.mu.Unlock()
	if s.silent {
		return nil, nil
	}

	rh := dnsmessage.Header{
		ID:                 h.ID,
		Response:           true,
		Authoritative:      true,
		RecursionDesired:   h.RecursionDesired,
		RecursionAvailable: true,
	}
	known := strings.EqualFold(q.Name.String(), s.name)
	if !known {
		rh.RCode = dnsmessage.RCodeNameError
	}
	b := dnsmessage.NewBuilder(make([]byte, 0, 512), rh)
	b.EnableCompression()
	if err := b.StartQuestions(); err != nil {
		return nil, err
	}
	if err := b.Question(q); err != nil {
		return nil, err
	}
	if err := b.StartAnswers(); err != nil {
		return nil, err
	}
	if known && q.Class == dnsmessage.ClassINET {
		rr := dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 60}
		switch q.Type {
		case dnsmessage.TypeA:
			if err := b.AResource(rr, dnsmessage.AResource{A: s.a}); err != nil {
				return nil, err
			}
		case dnsmessage.TypeAAAA:
			if err := b.AAAAResource(rr, dnsmessage.AAAAResource{AAAA: s.aaaa}); err != nil {
				return nil, err
			}
		}
	}
	return b.Finish()
}

// Queries returns the queries received so far.
func (s *dnsServer) Queries() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.queries...)
}
