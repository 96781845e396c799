package transport

import (
	"context"
	"io"
	"net"
	"testing"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/grpcactor/grpcactor/internal/actorsys"
	"github.com/grpcactor/grpcactor/internal/wire"
	"google.golang.org/grpc"
	"google.golang.org/grpc/interop"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/protobuf/proto"
)

func quietSystem() *actor.ActorSystem {
	return actorsys.NewQuiet()
}

func startInterop(t *testing.T) string {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer()
	testgrpc.RegisterTestServiceServer(s, interop.NewTestServer())
	go s.Serve(lis)
	t.Cleanup(s.Stop)
	return lis.Addr().String()
}

func TestSmokeUnaryAgainstGrpcGo(t *testing.T) {
	addr := startInterop(t)
	sys := quietSystem()
	ready := make(chan any, 4)
	c, err := Spawn(sys.Root, Config{Address: addr, OnEvent: func(ev any) { ready <- ev }})
	if err != nil {
		t.Fatal(err)
	}
	if ev := <-ready; ev.(*EventReady) == nil {
		t.Fatalf("event %T", ev)
	}
	for i := 0; i < 3; i++ {
		req, _ := proto.Marshal(&testgrpc.SimpleRequest{ResponseSize: 314159, Payload: &testgrpc.Payload{Body: make([]byte, 271828)}})
		buf := wire.AppendMsgHeader(nil, false, len(req))
		buf = append(buf, req...)
		var s *Stream
		if i == 2 {
			// As a unary call: opened with its request, its response
			// (over the 64 KiB window) taken at the end.
			s, err = c.NewStreamWith(context.Background(), &CallHdr{Method: "/grpc.testing.TestService/UnaryCall", OneResponse: true}, buf, true)
			if err != nil {
				t.Fatal(err)
			}
		} else {
			s, err = c.NewStream(context.Background(), &CallHdr{Method: "/grpc.testing.TestService/UnaryCall"})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Write(buf, true); err != nil {
				t.Fatal(err)
			}
		}
		m, err := s.RecvMsg()
		if err != nil {
			t.Fatal(err)
		}
		var resp testgrpc.SimpleResponse
		if err := proto.Unmarshal(m.Data, &resp); err != nil {
			t.Fatal(err)
		}
		if len(resp.GetPayload().GetBody()) != 314159 {
			t.Fatalf("body %d", len(resp.GetPayload().GetBody()))
		}
		if _, err := s.RecvMsg(); err != io.EOF {
			t.Fatalf("end: %v", err)
		}
	}
	c.Close("")
	<-c.Closed()
	<-c.readerDone
}
