//go:build grpcactor_poison

package bufpool

// Poisoned is true in builds with the grpcactor_poison tag: every buffer
// given back (Put, and the transport's read buffers) is overwritten with
// PoisonByte first, so that a use after recycling shows as corrupted
// bytes, and under -race as a data race with the poisoning write.
const Poisoned = true
