package main

import (
	"context"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"strings"

	"github.com/bufbuild/protocompile"
	"google.golang.org/protobuf/compiler/protogen"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/types/pluginpb"
)

// The Go methods generated for the Greeter service of
// testdata/greeter.proto, one per form of each RPC; the request is built
// here as protoc would send it.
func Example() {
	c := protocompile.Compiler{Resolver: protocompile.WithStandardImports(&protocompile.SourceResolver{ImportPaths: []string{"testdata"}})}
	files, err := c.Compile(context.Background(), "greeter.proto")
	if err != nil {
		fmt.Println(err)
		return
	}
	fd := files[0]
	req := &pluginpb.CodeGeneratorRequest{FileToGenerate: []string{fd.Path()}}
	for i := 0; i < fd.Imports().Len(); i++ {
		req.ProtoFile = append(req.ProtoFile, protodesc.ToFileDescriptorProto(fd.Imports().Get(i).FileDescriptor))
	}
	req.ProtoFile = append(req.ProtoFile, protodesc.ToFileDescriptorProto(fd))
	gen, err := protogen.Options{}.New(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := generate(gen, config{}); err != nil {
		fmt.Println(err)
		return
	}
	out := gen.Response().GetFile()[0]
	f, err := parser.ParseFile(token.NewFileSet(), out.GetName(), out.GetContent(), 0)
	if err != nil {
		fmt.Println(err)
		return
	}
	var methods []string
	for _, d := range f.Decls {
		if fn, ok := d.(*ast.FuncDecl); ok && fn.Recv != nil && fn.Recv.List[0].Type.(*ast.StarExpr).X.(*ast.Ident).Name == "GreeterStub" {
			methods = append(methods, fn.Name.Name)
		}
	}
	fmt.Println(strings.Join(methods[:9], "\n"))
	// Output:
	// SayHello
	// SayHelloWithCall
	// SayHelloFuture
	// LotsOfReplies
	// LotsOfGreetings
	// LotsOfGreetingsWithCall
	// LotsOfGreetingsFuture
	// LotsOfGreetingsOpen
	// BidiHello
}
