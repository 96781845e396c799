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

// methodsOf generates testdata/greeter.proto as protoc would ask for it
// and returns the names of the methods of the generated type typ.
func methodsOf(typ string) ([]string, error) {
	c := protocompile.Compiler{Resolver: protocompile.WithStandardImports(&protocompile.SourceResolver{ImportPaths: []string{"testdata"}})}
	files, err := c.Compile(context.Background(), "greeter.proto")
	if err != nil {
		return nil, err
	}
	fd := files[0]
	req := &pluginpb.CodeGeneratorRequest{FileToGenerate: []string{fd.Path()}}
	for i := 0; i < fd.Imports().Len(); i++ {
		req.ProtoFile = append(req.ProtoFile, protodesc.ToFileDescriptorProto(fd.Imports().Get(i).FileDescriptor))
	}
	req.ProtoFile = append(req.ProtoFile, protodesc.ToFileDescriptorProto(fd))
	gen, err := protogen.Options{}.New(req)
	if err != nil {
		return nil, err
	}
	if err := generate(gen, config{}); err != nil {
		return nil, err
	}
	out := gen.Response().GetFile()[0]
	f, err := parser.ParseFile(token.NewFileSet(), out.GetName(), out.GetContent(), 0)
	if err != nil {
		return nil, err
	}
	var methods []string
	for _, d := range f.Decls {
		if fn, ok := d.(*ast.FuncDecl); ok && fn.Recv != nil && fn.Recv.List[0].Type.(*ast.StarExpr).X.(*ast.Ident).Name == typ {
			methods = append(methods, fn.Name.Name)
		}
	}
	return methods, nil
}

// The Go methods generated for the Greeter service of
// testdata/greeter.proto, one per form of each RPC; the request is built
// here as protoc would send it.
func Example() {
	methods, err := methodsOf("GreeterStub")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(strings.Join(methods[:13], "\n"))
	// Output:
	// SayHello
	// SayHelloWithCall
	// SayHelloFuture
	// SayHelloStart
	// LotsOfReplies
	// LotsOfRepliesStart
	// LotsOfGreetings
	// LotsOfGreetingsWithCall
	// LotsOfGreetingsFuture
	// LotsOfGreetingsOpen
	// LotsOfGreetingsStart
	// BidiHello
	// BidiHelloOpen
}

// The actor stub generated for the same service: one method per RPC,
// each making the call by message (package actors) and returning its
// *actors.Ref.
func Example_actorStub() {
	methods, err := methodsOf("GreeterActorStub")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(strings.Join(methods, "\n"))
	// Output:
	// SayHello
	// LotsOfReplies
	// LotsOfGreetings
	// BidiHello
	// SayGoodbye
	// Type
}
