// Package balancer is the channel's load-balancing API: the policies that
// choose, for each call, the subchannel (the connection to one address)
// it goes to.
//
// A policy is a pure state machine (Policy): the channel actor gives it
// the target's addresses and the state changes of its subchannels, and it
// returns an Update: the subchannels to create, shut down or connect,
// whether to resolve the target again, the channel's aggregate state and
// a Picker. It starts no goroutine and is table-tested by calling its two
// methods. The picker runs on the caller's goroutine, on the snapshot the
// channel last published, with no message to an actor on the way
// (PickInfo carries the call's method, metadata and hash key); its
// PickResult.Done learns when the call ends.
//
// Register makes a policy available by name; a channel chooses one with
// channel.WithLBPolicy (grpc.lb_policy_name) or its service config's
// loadBalancingConfig, whose first entry naming a registered policy wins
// and whose JSON config the policy's Builder.ParseConfig validates.
//
// Built in:
//
//   - pick_first: the addresses in order, the first that connects takes
//     every call (gRFC A62's sticky TRANSIENT_FAILURE); the default.
//   - round_robin: every address connected, calls in turn over the READY
//     ones.
//   - least_request (also least_request_experimental), gRFC A48: of
//     choiceCount (default 2) READY subchannels sampled at random, the
//     one with the fewest calls in flight.
//   - ring_hash (also ring_hash_experimental), gRFC A42: a consistent-hash
//     ring of minRingSize..maxRingSize points (XXH64, implemented here);
//     the call's hash is its channel.HashKey, else the value of the
//     request header named by requestHashHeader, else random. The same
//     key goes to the same server while it is READY; removing a server
//     moves its keys to the others. Every address is connected at once
//     (A42's connect-on-pick is left out), and a key whose server is not
//     READY goes to the next READY server along the ring.
//   - weighted_round_robin: round robin in proportion to the addresses'
//     weights (Address.Weight), deterministic (a schedule walked by a
//     counter). The ORCA part of gRFC A58 (weights from the servers' load
//     reports, blackout and expiration periods) is left out: the weights
//     are those the resolver gives.
//
// round_robin, least_request, ring_hash and weighted_round_robin share
// the aggregate state of gRFC A61: READY if any subchannel is, else
// CONNECTING if any is connecting and has not failed since it was last
// READY, else TRANSIENT_FAILURE. With a healthCheckConfig in the service
// config, their subchannels count as READY only while the server reports
// SERVING (pick_first does not check health, as in gRPC).
package balancer
