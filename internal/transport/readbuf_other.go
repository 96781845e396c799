//go:build !unix

package transport

const rawReadSupported = false

func rawRead(fd uintptr, b []byte) (int, error) {
	panic("transport: raw reads are not supported on this platform")
}
