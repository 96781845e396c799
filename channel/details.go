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

// CallWire is what call options say about a call's messages on the wire,
// which an interceptor does not see (CallWireOptions returns it).
type CallWire struct {
	// MaxSendMessageSize and MaxReceiveMessageSize are the call's own
	// message size limits in bytes (-1: no limit), nil where the options
	// leave the channel's.
	MaxSendMessageSize, MaxReceiveMessageSize *int
	// ContentSubtype is the call's content subtype, lower-cased ("": plain
	// "application/grpc").
	ContentSubtype string
	// HashKey is the call's HashKey, nil if none.
	HashKey []byte
}

// CallWireOptions returns what opts say about a call's messages on the
// wire (MaxSendMessageSize, MaxReceiveMessageSize, ContentSubtype) and
// its HashKey, for
// packages that carry a call to a channel elsewhere, as CallDetails.
func CallWireOptions(opts ...CallOption) CallWire {
	var o callOptions
	for _, opt := range opts {
		if opt != nil {
			opt.applyCall(&o)
		}
	}
	w := CallWire{ContentSubtype: o.wire.subtype}
	if o.wire.hashKey != nil {
		w.HashKey = []byte(*o.wire.hashKey)
	}
	if o.wire.maxSendSet {
		n := o.wire.maxSend
		w.MaxSendMessageSize = &n
	}
	if o.wire.maxRecvSet {
		n := o.wire.maxRecv
		w.MaxReceiveMessageSize = &n
	}
	return w
}

// SendsCallCredentials reports whether ch sends call credentials: it was
// opened with Secure (TLS or local credentials). A call with call
// credentials on a channel that does not fails UNAUTHENTICATED.
func (ch *Channel) SendsCallCredentials() bool {
	return ch.creds != nil && ch.creds.SendsCallCredentials()
}
