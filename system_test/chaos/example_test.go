package chaos_test

import (
	"fmt"
	"io"
	"net"

	"github.com/grpcactor/grpcactor/system_test/chaos"
)

// A proxy in front of an echo server forwards bytes until it is told to
// reset its connections.
func Example() {
	echo, _ := net.Listen("tcp", "127.0.0.1:0")
	defer echo.Close()
	go func() {
		for {
			c, err := echo.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()

	p, err := chaos.Listen(echo.Addr().String())
	if err != nil {
		panic(err)
	}
	defer p.Close()

	c, _ := net.Dial("tcp", p.Addr())
	defer c.Close()
	c.Write([]byte("ping"))
	buf := make([]byte, 4)
	io.ReadFull(c, buf)
	fmt.Println("echoed:", string(buf))

	p.Reset()
	_, err = c.Read(buf)
	fmt.Println("after Reset the read fails:", err != nil)
	// Output:
	// echoed: ping
	// after Reset the read fails: true
}
