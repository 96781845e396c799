package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"sort"
	"sync"

	"github.com/bufbuild/protocompile"
	"github.com/grpcactor/grpcactor/channel"
	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"

	refpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
)

// source finds service and message descriptors: the server's reflection
// service or local files.
type source interface {
	// Services lists the full names of the services, sorted.
	Services(ctx context.Context) ([]string, error)
	// Find returns the descriptor of a fully-qualified symbol (a service,
	// method, message, enum, ...).
	Find(ctx context.Context, name string) (protoreflect.Descriptor, error)
	// Types resolves message types (for google.protobuf.Any in JSON)
	// among the files found so far.
	Types() *dynamicpb.Types
	Close()
}

// fileSource is descriptors from -proto or -protoset files.
type fileSource struct{ files *protoregistry.Files }

func newFileSource(ctx context.Context, protos, importPaths, protosets []string) (*fileSource, error) {
	files := new(protoregistry.Files)
	if len(protosets) > 0 {
		set := &descriptorpb.FileDescriptorSet{}
		for _, p := range protosets {
			b, err := os.ReadFile(p)
			if err != nil {
				return nil, fmt.Errorf("-protoset: %w", err)
			}
			var one descriptorpb.FileDescriptorSet
			if err := proto.Unmarshal(b, &one); err != nil {
				return nil, fmt.Errorf("-protoset %s: not a FileDescriptorSet: %w", p, err)
			}
			set.File = append(set.File, one.File...)
		}
		fds, err := newFiles(set.File)
		if err != nil {
			return nil, fmt.Errorf("-protoset: %w", err)
		}
		if err := addAll(files, fds); err != nil {
			return nil, err
		}
	}
	if len(protos) > 0 {
		comp := protocompile.Compiler{
			Resolver: protocompile.WithStandardImports(&protocompile.SourceResolver{ImportPaths: importPaths}),
		}
		res, err := comp.Compile(ctx, protos...)
		if err != nil {
			return nil, fmt.Errorf("-proto: %w", err)
		}
		for _, f := range res {
			if err := addWithDeps(files, f); err != nil {
				return nil, err
			}
		}
	}
	return &fileSource{files: files}, nil
}

// addWithDeps registers f and its imports that are not registered yet.
func addWithDeps(files *protoregistry.Files, f protoreflect.FileDescriptor) error {
	if _, err := files.FindFileByPath(f.Path()); err == nil {
		return nil
	}
	imps := f.Imports()
	for i := range imps.Len() {
		if err := addWithDeps(files, imps.Get(i).FileDescriptor); err != nil {
			return err
		}
	}
	if err := files.RegisterFile(f); err != nil {
		return fmt.Errorf("%s: %w", f.Path(), err)
	}
	return nil
}

func addAll(dst *protoregistry.Files, src *protoregistry.Files) error {
	var err error
	src.RangeFiles(func(f protoreflect.FileDescriptor) bool {
		err = addWithDeps(dst, f)
		return err == nil
	})
	return err
}

// newFiles builds descriptors from file protos, taking the imports none of
// them holds from the protobuf runtime's registry (well-known types).
func newFiles(fdps []*descriptorpb.FileDescriptorProto) (*protoregistry.Files, error) {
	have := map[string]bool{}
	for _, f := range fdps {
		have[f.GetName()] = true
	}
	set := &descriptorpb.FileDescriptorSet{File: fdps}
	for i := 0; i < len(set.File); i++ {
		for _, dep := range set.File[i].GetDependency() {
			if have[dep] {
				continue
			}
			fd, err := protoregistry.GlobalFiles.FindFileByPath(dep)
			if err != nil {
				return nil, fmt.Errorf("%s imports %s, which is not known", set.File[i].GetName(), dep)
			}
			have[dep] = true
			set.File = append(set.File, protodesc.ToFileDescriptorProto(fd))
		}
	}
	return protodesc.NewFiles(set)
}

func (s *fileSource) Services(context.Context) ([]string, error) {
	var out []string
	s.files.RangeFiles(func(f protoreflect.FileDescriptor) bool {
		for i := range f.Services().Len() {
			out = append(out, string(f.Services().Get(i).FullName()))
		}
		return true
	})
	sort.Strings(out)
	return out, nil
}

func (s *fileSource) Find(_ context.Context, name string) (protoreflect.Descriptor, error) {
	return findIn(s.files, name)
}

func (s *fileSource) Types() *dynamicpb.Types { return dynamicpb.NewTypes(s.files) }
func (s *fileSource) Close()                  {}

// findIn looks a symbol up, methods ("pkg.Service.Method") included.
func findIn(files *protoregistry.Files, name string) (protoreflect.Descriptor, error) {
	d, err := files.FindDescriptorByName(protoreflect.FullName(name))
	if err != nil {
		return nil, status.Errorf(codes.NotFound, "symbol %q not found", name)
	}
	return d, nil
}

// Reflection method names: v1 first, then v1alpha (the same messages).
const (
	reflectV1      = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"
	reflectV1Alpha = "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"
)

// reflectSource asks the server's reflection service over one stream
// (requests in turn), keeping the files it learned.
type reflectSource struct {
	ch     *channel.Channel
	md     []channel.CallOption
	mu     sync.Mutex
	stream *channel.BidiStream[*refpb.ServerReflectionRequest, *refpb.ServerReflectionResponse]
	cancel context.CancelFunc
	files  *protoregistry.Files
	protos map[string]*descriptorpb.FileDescriptorProto
	// Version is the reflection method in use, once known.
	version string
}

func newReflectSource(ch *channel.Channel, opts []channel.CallOption) *reflectSource {
	return &reflectSource{ch: ch, md: opts, files: new(protoregistry.Files), protos: map[string]*descriptorpb.FileDescriptorProto{}}
}

// ask sends one request and returns its answer, opening the stream (v1,
// else v1alpha) on first use.
func (r *reflectSource) ask(ctx context.Context, req *refpb.ServerReflectionRequest) (*refpb.ServerReflectionResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stream == nil {
		var err error
		for _, m := range []string{reflectV1, reflectV1Alpha} {
			var resp *refpb.ServerReflectionResponse
			resp, err = r.open(ctx, m, req)
			if err == nil {
				r.version = m
				return resp, nil
			}
			if status.Code(err) != codes.Unimplemented {
				return nil, fmt.Errorf("server reflection: %w", err)
			}
		}
		return nil, status.Errorf(codes.Unimplemented, "the server offers no reflection service (grpc.reflection.v1 or v1alpha): describe its methods with -proto or -protoset").WithCause(err)
	}
	return r.roundTrip(req)
}

func (r *reflectSource) open(ctx context.Context, method string, req *refpb.ServerReflectionRequest) (*refpb.ServerReflectionResponse, error) {
	sctx, cancel := context.WithCancel(ctx)
	s, err := channel.StreamStream[*refpb.ServerReflectionRequest, *refpb.ServerReflectionResponse](r.ch, method).Open(sctx, r.md...)
	if err != nil {
		cancel()
		return nil, err
	}
	r.stream, r.cancel = s, cancel
	resp, err := r.roundTrip(req)
	if err != nil {
		r.stream, r.cancel = nil, nil
		cancel()
	}
	return resp, err
}

func (r *reflectSource) roundTrip(req *refpb.ServerReflectionRequest) (*refpb.ServerReflectionResponse, error) {
	if err := r.stream.Send(req); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	resp, err := r.stream.Recv()
	if errors.Is(err, io.EOF) {
		return nil, status.New(codes.Internal, "server reflection stream ended early")
	}
	if err != nil {
		return nil, err
	}
	if e := resp.GetErrorResponse(); e != nil {
		return nil, status.New(codes.Code(e.GetErrorCode()), e.GetErrorMessage())
	}
	return resp, nil
}

func (r *reflectSource) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stream != nil {
		r.stream.CloseSend()
		r.cancel()
		r.stream = nil
	}
}

func (r *reflectSource) Services(ctx context.Context) ([]string, error) {
	resp, err := r.ask(ctx, &refpb.ServerReflectionRequest{MessageRequest: &refpb.ServerReflectionRequest_ListServices{ListServices: "*"}})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, s := range resp.GetListServicesResponse().GetService() {
		out = append(out, s.GetName())
	}
	sort.Strings(out)
	return out, nil
}

func (r *reflectSource) Find(ctx context.Context, name string) (protoreflect.Descriptor, error) {
	if d, err := findIn(r.files, name); err == nil {
		return d, nil
	}
	symbol := name
	if d, err := r.findSymbol(ctx, symbol); err == nil || status.Code(err) != codes.NotFound {
		return d, err
	}
	// A method or field: ask for its parent.
	for i := len(symbol) - 1; i > 0; i-- {
		if symbol[i] == '.' {
			if _, err := r.findSymbol(ctx, symbol[:i]); err == nil {
				return findIn(r.files, name)
			}
			break
		}
	}
	return nil, status.Errorf(codes.NotFound, "symbol %q not found on the server", name)
}

func (r *reflectSource) findSymbol(ctx context.Context, symbol string) (protoreflect.Descriptor, error) {
	resp, err := r.ask(ctx, &refpb.ServerReflectionRequest{MessageRequest: &refpb.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: symbol}})
	if err != nil {
		return nil, err
	}
	if err := r.learn(ctx, resp); err != nil {
		return nil, err
	}
	return findIn(r.files, symbol)
}

// learn adds the file protos of a file_descriptor_response, fetching the
// imports the server did not send, and builds descriptors.
func (r *reflectSource) learn(ctx context.Context, resp *refpb.ServerReflectionResponse) error {
	var todo []string
	add := func(resp *refpb.ServerReflectionResponse) error {
		for _, b := range resp.GetFileDescriptorResponse().GetFileDescriptorProto() {
			fdp := &descriptorpb.FileDescriptorProto{}
			if err := proto.Unmarshal(b, fdp); err != nil {
				return status.Errorf(codes.Internal, "server reflection sent a malformed file descriptor: %v", err)
			}
			if _, ok := r.protos[fdp.GetName()]; !ok {
				r.protos[fdp.GetName()] = fdp
				todo = append(todo, fdp.GetDependency()...)
			}
		}
		return nil
	}
	if err := add(resp); err != nil {
		return err
	}
	for len(todo) > 0 {
		dep := todo[0]
		todo = todo[1:]
		if _, ok := r.protos[dep]; ok {
			continue
		}
		if _, err := r.files.FindFileByPath(dep); err == nil {
			continue
		}
		resp, err := r.ask(ctx, &refpb.ServerReflectionRequest{MessageRequest: &refpb.ServerReflectionRequest_FileByFilename{FileByFilename: dep}})
		if err != nil {
			if status.Code(err) == codes.NotFound {
				continue // newFiles takes it from the runtime's registry, if it can
			}
			return err
		}
		if err := add(resp); err != nil {
			return err
		}
	}
	var fdps []*descriptorpb.FileDescriptorProto
	for _, name := range slices.Sorted(maps.Keys(r.protos)) {
		fdps = append(fdps, r.protos[name])
	}
	files, err := newFiles(fdps)
	if err != nil {
		return status.Errorf(codes.Internal, "server reflection: %v", err)
	}
	r.files = files
	return nil
}

func (r *reflectSource) Types() *dynamicpb.Types { return dynamicpb.NewTypes(r.files) }
