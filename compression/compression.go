// Package compression holds the message compressors a channel can use,
// named as the grpc-encoding header names them, and the registry the
// transport looks them up in.
//
// Gzip and Identity are registered from the start; Register adds others.
// A Compressor compresses each message on its own: gRPC keeps no
// compression context across messages.
package compression

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
)

// Compressor is a message compression algorithm, named by grpc-encoding.
// Implementations must be safe for concurrent use.
type Compressor interface {
	// Name is the grpc-encoding value, such as "gzip".
	Name() string
	// Compress appends the compressed form of src to dst and returns the
	// extended slice.
	Compress(dst, src []byte) ([]byte, error)
	// Decompress returns the decompressed form of src. If it would be
	// longer than maxSize bytes (maxSize < 0: no limit) it fails with a
	// *SizeError, having held at most about maxSize bytes.
	Decompress(src []byte, maxSize int) ([]byte, error)
}

// SizeError reports a message whose decompressed size exceeds the limit
// given to Decompress. The call layer turns it into RESOURCE_EXHAUSTED.
type SizeError struct {
	Max int // the maxSize given to Decompress
}

// Error returns "decompressed message larger than max (Max)".
func (e *SizeError) Error() string {
	return fmt.Sprintf("decompressed message larger than max (%d)", e.Max)
}

// registry is an immutable snapshot of the registered compressors.
type registry struct {
	byName map[string]Compressor
	accept string // grpc-accept-encoding value
}

var (
	regMu sync.Mutex // serializes Register
	names []string   // registration order, guarded by regMu
	reg   atomic.Pointer[registry]
)

func init() {
	Register(Gzip)
	Register(Identity)
}

// Register makes c available to Get under c.Name(), replacing any
// compressor of that name, and adds the name to AcceptEncoding unless it is
// "identity". It is safe to call concurrently with Get. It panics if c is
// nil or its name is empty or holds a ',' or white space, since such a name
// cannot appear in grpc-accept-encoding.
func Register(c Compressor) {
	if c == nil {
		panic("compression: Register of a nil Compressor")
	}
	name := c.Name()
	if name == "" || strings.ContainsAny(name, ", \t") {
		panic(fmt.Sprintf("compression: invalid compressor name %q", name))
	}
	regMu.Lock()
	defer regMu.Unlock()
	next := &registry{byName: map[string]Compressor{name: c}}
	if old := reg.Load(); old != nil {
		for n, oc := range old.byName {
			if n != name {
				next.byName[n] = oc
			}
		}
	}
	if _, ok := indexOf(names, name); !ok {
		names = append(names, name)
	}
	var accept []string
	for _, n := range names {
		if n != Identity.Name() {
			accept = append(accept, n)
		}
	}
	next.accept = strings.Join(accept, ",")
	reg.Store(next)
}

func indexOf(s []string, v string) (int, bool) {
	for i, x := range s {
		if x == v {
			return i, true
		}
	}
	return -1, false
}

// Get returns the compressor registered under name ("gzip", "identity" or
// one added with Register) and whether there is one.
func Get(name string) (Compressor, bool) {
	c, ok := reg.Load().byName[name]
	return c, ok
}

// AcceptEncoding returns the value a client sends as grpc-accept-encoding:
// the registered names except "identity", comma-separated in registration
// order, such as "gzip".
func AcceptEncoding() string { return reg.Load().accept }
