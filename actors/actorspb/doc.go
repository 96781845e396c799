// Package actorspb holds the protobuf messages of the untyped actor
// protocol: an actor that holds only a channel's PID (channel.Channel.PID)
// sends it a UnaryRequest with ctx.Request and receives a UnaryResponse.
// They are defined in actors.proto (the command that regenerates
// actors.pb.go is at its top) and travel unchanged over protoactor's
// remote layer. This package imports neither channel nor actors, so both
// can import it.
package actorspb

import (
	"slices"

	"github.com/grpcactor/grpcactor/metadata"
)

// FromMD returns md as metadata entries, sorted by key. Values of "-bin"
// keys stay raw bytes.
func FromMD(md metadata.MD) []*MetadataEntry {
	if len(md) == 0 {
		return nil
	}
	keys := make([]string, 0, len(md))
	for k := range md {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]*MetadataEntry, 0, len(keys))
	for _, k := range keys {
		e := &MetadataEntry{Key: k, Values: make([][]byte, len(md[k]))}
		for i, v := range md[k] {
			e.Values[i] = []byte(v)
		}
		out = append(out, e)
	}
	return out
}

// ToMD returns entries as metadata (nil for none). Keys are lower-cased;
// entries with the same key add up.
func ToMD(entries []*MetadataEntry) metadata.MD {
	if len(entries) == 0 {
		return nil
	}
	md := metadata.MD{}
	for _, e := range entries {
		for _, v := range e.GetValues() {
			md.Append(e.GetKey(), string(v))
		}
	}
	return md
}
