//go:build unix

package transport

import "syscall"

const rawReadSupported = true

func rawRead(fd uintptr, b []byte) (int, error) { return syscall.Read(int(fd), b) }
