// Package serviceconfig parses and validates gRPC's service config, the JSON
// document a channel takes from the "grpc.service_config" option, and
// answers the per-method questions a call asks of it: its default timeout,
// wait-for-ready, message size limits and retry or hedging policy.
//
// The references are gRPC's service_config.md with the schema in
// grpc/service_config/service_config.proto, and gRFC A6 (client retries)
// for retryPolicy, hedgingPolicy, retryThrottling and the retry backoff. Service config
// published in DNS (gRFC A2) is out of scope.
//
// What is read:
//
//   - loadBalancingConfig: the first entry naming a policy registered
//     with balancer.Register ("pick_first", with its shuffleAddressList,
//     "round_robin", "least_request", "ring_hash", "weighted_round_robin"
//     or one of the program's own) wins, its config checked by the
//     policy's ParseConfig; a list with none is an error. The deprecated
//     loadBalancingPolicy string (case-insensitive) is used only when
//     loadBalancingConfig is absent.
//   - methodConfig: name, waitForReady, timeout, maxRequestMessageBytes,
//     maxResponseMessageBytes, retryPolicy and hedgingPolicy (maxAttempts,
//     hedgingDelay, nonFatalStatusCodes); a method config with both
//     policies is an error, as gRFC A6 allows one or the other.
//   - retryThrottling: maxTokens and tokenRatio, as a token bucket
//     (Throttling).
//
// Field names are those of the proto's JSON form (lowerCamelCase); as in
// grpc-go, a key that matches a field name only when case is ignored
// ("MaxAttempts") is accepted when the exact name is absent. Unknown fields
// are ignored, as gRPC ignores them, and a JSON null is the same as an
// absent field; a known field with a value of the wrong type is an error.
// Integers and floats may also be given as JSON strings holding a number,
// as the proto JSON mapping allows. Every error names the JSON path of the
// bad field and shows its value, for example:
//
//	methodConfig[1].retryPolicy.maxAttempts: 1 is invalid (must be > 1)
//
// A parsed Config is immutable and safe for concurrent use, except for its
// Throttling, which is a live token bucket (itself safe for concurrent
// use): a channel should own the Config it parsed, or start a fresh bucket
// with &Throttling{MaxTokens: t.MaxTokens, TokenRatio: t.TokenRatio}.
package serviceconfig
