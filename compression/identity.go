package compression

// Identity is the "identity" encoding: messages are sent as they are.
var Identity Compressor = identity{}

type identity struct{}

func (identity) Name() string { return "identity" }

// Compress appends src to dst unchanged.
func (identity) Compress(dst, src []byte) ([]byte, error) { return append(dst, src...), nil }

// Decompress returns src itself (not a copy), or a *SizeError if it is
// longer than maxSize.
func (identity) Decompress(src []byte, maxSize int) ([]byte, error) {
	if maxSize >= 0 && len(src) > maxSize {
		return nil, &SizeError{Max: maxSize}
	}
	return src, nil
}
