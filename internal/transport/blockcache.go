package transport

import "github.com/grpcactor/grpcactor/internal/wire"

// A server answers most calls with the same two header blocks: once its
// HPACK encoder has indexed ":status: 200", the content type and
// "grpc-status: 0", each block is a few indexed field representations,
// byte for byte the same as the last. Such a block leaves the decoder's
// dynamic table as it was (RFC 7541, 6.1), so until a block of any other
// kind is decoded, the same bytes decode to the same fields. blockCache
// keeps what the reader made of a few such blocks, and the reader skips
// their HPACK decoding, field checks and parsing (about 0.8 µs a call, 3 %
// of the client's CPU per call at 8 callers: issue 10).
//
// Only blocks that decoded cleanly, within the header list limit, with no
// application metadata are kept: a hit then has the same outcome as
// decoding again, and its HeaderBlock shares no map a caller may change.

const (
	// maxCachedBlock is the longest block kept, in bytes: one byte per
	// field for indexes below 127.
	maxCachedBlock = 32
	// blockCacheSize is how many blocks are kept: a response's headers and
	// trailers, and those of a second kind of response.
	blockCacheSize = 4
)

// blockCache holds decoded indexed-only header blocks (owned by the reader
// goroutine). The zero value is empty and ready.
type blockCache struct {
	entries [blockCacheSize]cachedBlock
	used    int // entries[:used] hold blocks
	next    int // the entry put replaces when all are used
}

type cachedBlock struct {
	n     int
	key   [maxCachedBlock]byte
	block wire.HeaderBlock
}

// cacheable reports whether a header block that arrived whole (in one
// HEADERS frame) may be looked up and kept: short, and only indexed
// fields. Any other block may change the dynamic table (see reset).
func cacheable(frag []byte) bool {
	return len(frag) > 0 && len(frag) <= maxCachedBlock && allIndexed(frag)
}

// get returns the decoded block kept for these bytes, or nil.
func (c *blockCache) get(frag []byte) *wire.HeaderBlock {
	for i := range c.entries[:c.used] {
		e := &c.entries[i]
		if e.n == len(frag) && string(e.key[:e.n]) == string(frag) {
			return &e.block
		}
	}
	return nil
}

// put keeps hb as what frag (cacheable, not kept yet) decodes to.
func (c *blockCache) put(frag []byte, hb *wire.HeaderBlock) {
	i := c.used
	if i == len(c.entries) {
		i = c.next
		c.next = (c.next + 1) % len(c.entries)
	} else {
		c.used++
	}
	e := &c.entries[i]
	e.n = copy(e.key[:], frag)
	e.block = *hb
}

// reset forgets every block: the decoder is about to decode a block that
// may change its dynamic table, after which the same bytes may name other
// fields.
func (c *blockCache) reset() {
	for i := range c.entries[:c.used] {
		c.entries[i].block = wire.HeaderBlock{}
	}
	c.used, c.next = 0, 0
}
