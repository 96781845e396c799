package peers

import (
	"bytes"
	"io"
	"net"
	"sync"
	"testing"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// HeldServer is a minimal HTTP/2 gRPC server on one goroutine per
// connection: it reads every call and answers none until release, then
// answers each with an empty response message and status OK. Unlike
// grpc-go's server it holds no goroutine per call, so a test can count
// the client's goroutines and heap per call in flight.
type HeldServer struct {
	lis net.Listener

	mu       sync.Mutex
	cond     *sync.Cond
	headers  int // HEADERS frames (calls) seen
	ended    int // calls whose request side ended (END_STREAM)
	released bool
	conns    []*heldConn
	wg       sync.WaitGroup
}

type heldConn struct {
	c    net.Conn
	wmu  sync.Mutex
	fr   *http2.Framer
	enc  *hpack.Encoder
	ebuf bytes.Buffer
	open []uint32 // held streams
}

// StartHeld starts a HeldServer on loopback, stopped at the test's end.
func StartHeld(t testing.TB) *HeldServer {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &HeldServer{lis: lis}
	s.cond = sync.NewCond(&s.mu)
	s.wg.Add(1)
	go s.accept()
	t.Cleanup(s.stop)
	return s
}

// Addr is the server's address.
func (s *HeldServer) Addr() string { return s.lis.Addr().String() }

func (s *HeldServer) accept() {
	defer s.wg.Done()
	for {
		c, err := s.lis.Accept()
		if err != nil {
			return
		}
		hc := &heldConn{c: c}
		hc.fr = http2.NewFramer(c, c)
		hc.enc = hpack.NewEncoder(&hc.ebuf)
		s.mu.Lock()
		s.conns = append(s.conns, hc)
		s.mu.Unlock()
		s.wg.Add(1)
		go s.serve(hc)
	}
}

func (s *HeldServer) stop() {
	s.lis.Close()
	s.mu.Lock()
	for _, c := range s.conns {
		c.c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

func (s *HeldServer) serve(hc *heldConn) {
	defer s.wg.Done()
	preface := make([]byte, len(http2.ClientPreface))
	if _, err := io.ReadFull(hc.c, preface); err != nil {
		return
	}
	hc.wmu.Lock()
	hc.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1 << 30})
	hc.fr.WriteWindowUpdate(0, 1<<30)
	hc.wmu.Unlock()
	for {
		f, err := hc.fr.ReadFrame()
		if err != nil {
			return
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				hc.wmu.Lock()
				hc.fr.WriteSettingsAck()
				hc.wmu.Unlock()
			}
		case *http2.PingFrame:
			if !f.IsAck() {
				hc.wmu.Lock()
				hc.fr.WritePing(true, f.Data)
				hc.wmu.Unlock()
			}
		case *http2.HeadersFrame:
			s.mu.Lock()
			s.headers++
			if f.StreamEnded() {
				s.ended++
			}
			released := s.released
			if !released {
				hc.open = append(hc.open, f.StreamID)
			}
			s.cond.Broadcast()
			s.mu.Unlock()
			if released {
				hc.answer(f.StreamID)
			}
		case *http2.DataFrame:
			if f.StreamEnded() {
				s.mu.Lock()
				s.ended++
				s.cond.Broadcast()
				s.mu.Unlock()
			}
		}
	}
}

// WaitCalls waits until n calls arrived with their requests complete.
func (s *HeldServer) WaitCalls(n int) {
	s.mu.Lock()
	for s.ended < n {
		s.cond.Wait()
	}
	s.mu.Unlock()
}

// Hold makes the server hold calls again (after Release) and returns how
// many calls have arrived so far with their requests complete.
func (s *HeldServer) Hold() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.released = false
	return s.ended
}

// Release answers every held call, and every later one at once.
func (s *HeldServer) Release() {
	s.mu.Lock()
	s.released = true
	conns := append([]*heldConn(nil), s.conns...)
	var open [][]uint32
	for _, c := range conns {
		open = append(open, c.open)
		c.open = nil
	}
	s.mu.Unlock()
	for i, c := range conns {
		for _, id := range open[i] {
			c.answer(id)
		}
	}
}

// answer sends an empty response message and status OK on stream id
// (a RST_STREAM from the client meanwhile makes the frames moot).
func (hc *heldConn) answer(id uint32) {
	hc.wmu.Lock()
	defer hc.wmu.Unlock()
	hc.ebuf.Reset()
	hc.enc.WriteField(hpack.HeaderField{Name: ":status", Value: "200"})
	hc.enc.WriteField(hpack.HeaderField{Name: "content-type", Value: "application/grpc"})
	hc.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: hc.ebuf.Bytes(), EndHeaders: true})
	hc.fr.WriteData(id, false, []byte{0, 0, 0, 0, 0})
	hc.ebuf.Reset()
	hc.enc.WriteField(hpack.HeaderField{Name: "grpc-status", Value: "0"})
	hc.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: hc.ebuf.Bytes(), EndHeaders: true, EndStream: true})
}
