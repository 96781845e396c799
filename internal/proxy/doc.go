// Package proxy implements gRPC's HTTP CONNECT proxy support (gRFC A1): which
// proxy a channel's target goes through, read from the environment
// (HTTPS_PROXY / https_proxy, NO_PROXY / no_proxy) or given as an option
// (grpc.http_proxy), and the dialer that opens a tunnel through it.
//
// A proxied connection is opened as gRFC A1 describes: the client resolves
// and dials the proxy, never the target; it sends
//
//	CONNECT host:port HTTP/1.1
//	Host: host:port
//	Proxy-Authorization: Basic base64(user:password)   (when the proxy URL has them)
//
// and, on a 200 answer, speaks HTTP/2 (inside TLS for a secure channel, with
// the target's name) through the tunnel. Any other answer is an error naming
// the proxy and its status line.
//
// Where the gRFC is silent the rules are grpc-go's (Go's net/http proxy
// rules): a NO_PROXY entry is a host name (matching it and its subdomains),
// a ".domain" or "*.domain" (subdomains only), an IP address, a CIDR block,
// any of them with ":port", or "*" for every host; "localhost" and loopback
// addresses never go through a proxy; a proxy URL without a scheme is
// "http://...", and one without a port uses port 443 (as grpc-go and C-core
// do).
//
// The environment is read through a lookup function the caller passes
// ([FromEnvironment]), so tests never depend on the real one.
package proxy
