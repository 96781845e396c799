package main

import (
	"io"
	"testing"

	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	refpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
)

// FuzzReflectionResponse feeds a server's reflection answer, as bytes off
// the network, to what builds and prints descriptors from it: any input
// is an error or a description, never a panic.
func FuzzReflectionResponse(f *testing.F) {
	fd := testgrpc.File_grpc_testing_test_proto
	resp := &refpb.ServerReflectionResponse{MessageResponse: &refpb.ServerReflectionResponse_FileDescriptorResponse{
		FileDescriptorResponse: &refpb.FileDescriptorResponse{},
	}}
	var add func(fd protoreflect.FileDescriptor)
	add = func(fd protoreflect.FileDescriptor) {
		for i := range fd.Imports().Len() {
			add(fd.Imports().Get(i).FileDescriptor)
		}
		b, _ := proto.Marshal(protodesc.ToFileDescriptorProto(fd))
		r := resp.GetFileDescriptorResponse()
		r.FileDescriptorProto = append(r.FileDescriptorProto, b)
	}
	add(fd)
	seed, _ := proto.Marshal(resp)
	f.Add(seed)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		var r refpb.ServerReflectionResponse
		if proto.Unmarshal(data, &r) != nil {
			return
		}
		var fdps []*descriptorpb.FileDescriptorProto
		for _, b := range r.GetFileDescriptorResponse().GetFileDescriptorProto() {
			fdp := &descriptorpb.FileDescriptorProto{}
			if proto.Unmarshal(b, fdp) != nil {
				return
			}
			fdps = append(fdps, fdp)
		}
		files, err := newFiles(fdps)
		if err != nil {
			return
		}
		files.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
			for i := range fd.Services().Len() {
				printDescriptor(io.Discard, fd.Services().Get(i), "")
			}
			for i := range fd.Messages().Len() {
				printDescriptor(io.Discard, fd.Messages().Get(i), "")
			}
			for i := range fd.Enums().Len() {
				printDescriptor(io.Discard, fd.Enums().Get(i), "")
			}
			return true
		})
	})
}
