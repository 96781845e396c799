// Package resolver turns the host of a "dns" target into the addresses a
// channel dials, and decides when a re-resolution may run; it also parses
// the address lists of the schemes whose target is its own address (unix,
// unix-abstract, ipv4, ipv6, passthrough) for the public resolver package's
// built-in builders and the channel's target checks alike.
//
// gRPC's naming document (doc/naming.md) defines the target
// dns:[//authority/]host[:port]: host is looked up in DNS, every address it
// resolves to (A and AAAA records) is joined with port, and the optional
// authority names the DNS server to ask, as "IP:port" (port 53 by default).
// Splitting the target into scheme, authority and endpoint belongs to the
// channel; this package gets the pieces ([SplitHostPort] splits a
// host[:port] with the default port, [StaticAddresses] parses the other
// schemes' endpoints). [DNS.Resolve] does the lookup and
// [RateLimit] implements grpc.dns_min_time_between_resolutions_ms.
//
// Resolve blocks for as long as the lookup takes, so it must never run inside
// an actor's Receive: the channel actor calls it from a goroutine of its own
// and receives the result as a message. RateLimit is pure: it reads no clock
// and arms no timer; the caller passes the time and turns a wait into a timer
// message.
package resolver
