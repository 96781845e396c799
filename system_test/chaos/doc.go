// Package chaos holds the fault injectors of grpcactor's chaos tests: a
// loopback TCP proxy that can delay, throttle, stall, blackhole, cut, reset
// and refuse connections ([Proxy]), and grpc-go interop servers that run in
// child processes so that a test can kill them with SIGKILL and start them
// again on the same port ([Server]).
//
// The child server is the test binary itself, re-executed with the
// environment variable GRPCACTOR_CHAOS_SERVE set: a package that uses
// [StartServer] calls [ServeIfChild] first thing in its TestMain, so nothing
// needs a separate build.
//
// Both are test helpers: [NewProxy] and [StartServer] take a testing.TB and
// tie the helper's lifetime to the test (t.Cleanup closes the proxy, kills
// the server process and waits for its goroutines); [Listen] starts a proxy
// that its caller closes.
package chaos
