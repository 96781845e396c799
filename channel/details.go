package channel

import "github.com/grpcactor/grpcactor/interceptors"

// CallDetails returns what opts say about a call of method, as an
// interceptor sees it: its timeout, metadata, wait-for-ready choice,
// compression and call credentials (options that do not say any of these
// leave the fields unset). It is for packages that carry a call somewhere
// other than this process's channel, as actors/actorsremote carries it to
// a channel on another node.
func CallDetails(method string, opts ...CallOption) *interceptors.ClientCallDetails {
	return callDetails(method, opts)
}
