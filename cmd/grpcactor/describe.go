package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
)

func (c *cli) list(ctx context.Context, addr string, rest []string) int {
	env, code := c.open(ctx, addr)
	if env == nil {
		return code
	}
	defer env.close()
	if len(rest) == 0 {
		svcs, err := env.src.Services(ctx)
		if err != nil {
			return c.rpcError(err)
		}
		for _, s := range svcs {
			fmt.Fprintln(c.stdout, s)
		}
		return 0
	}
	d, err := env.src.Find(ctx, rest[0])
	if err != nil {
		return c.rpcError(err)
	}
	sd, ok := d.(protoreflect.ServiceDescriptor)
	if !ok {
		return c.fail("%s is a %s, not a service", rest[0], kindOf(d))
	}
	for i := range sd.Methods().Len() {
		fmt.Fprintln(c.stdout, sd.Methods().Get(i).FullName())
	}
	return 0
}

func (c *cli) describe(ctx context.Context, addr, symbol string) int {
	env, code := c.open(ctx, addr)
	if env == nil {
		return code
	}
	defer env.close()
	d, err := env.src.Find(ctx, strings.TrimPrefix(symbol, "."))
	if err != nil {
		return c.rpcError(err)
	}
	fmt.Fprintf(c.stdout, "%s is a %s:\n", d.FullName(), kindOf(d))
	printDescriptor(c.stdout, d, "")
	return 0
}

func kindOf(d protoreflect.Descriptor) string {
	switch d.(type) {
	case protoreflect.ServiceDescriptor:
		return "service"
	case protoreflect.MethodDescriptor:
		return "method"
	case protoreflect.MessageDescriptor:
		return "message"
	case protoreflect.EnumDescriptor:
		return "enum"
	case protoreflect.EnumValueDescriptor:
		return "enum value"
	case protoreflect.FieldDescriptor:
		return "field"
	}
	return "symbol"
}

// printDescriptor writes d in .proto syntax.
func printDescriptor(w io.Writer, d protoreflect.Descriptor, indent string) {
	switch d := d.(type) {
	case protoreflect.ServiceDescriptor:
		fmt.Fprintf(w, "%sservice %s {\n", indent, d.Name())
		for i := range d.Methods().Len() {
			printDescriptor(w, d.Methods().Get(i), indent+"  ")
		}
		fmt.Fprintf(w, "%s}\n", indent)
	case protoreflect.MethodDescriptor:
		in, out := "", ""
		if d.IsStreamingClient() {
			in = "stream "
		}
		if d.IsStreamingServer() {
			out = "stream "
		}
		fmt.Fprintf(w, "%srpc %s ( %s.%s ) returns ( %s.%s );\n", indent, d.Name(), in, d.Input().FullName(), out, d.Output().FullName())
	case protoreflect.MessageDescriptor:
		fmt.Fprintf(w, "%smessage %s {\n", indent, d.Name())
		for i := range d.Messages().Len() {
			if m := d.Messages().Get(i); !m.IsMapEntry() {
				printDescriptor(w, m, indent+"  ")
			}
		}
		for i := range d.Enums().Len() {
			printDescriptor(w, d.Enums().Get(i), indent+"  ")
		}
		for i := range d.Fields().Len() {
			f := d.Fields().Get(i)
			if od := f.ContainingOneof(); od != nil && !od.IsSynthetic() {
				if od.Fields().Get(0) == f {
					fmt.Fprintf(w, "%s  oneof %s {\n", indent, od.Name())
					for j := range od.Fields().Len() {
						printField(w, od.Fields().Get(j), indent+"    ")
					}
					fmt.Fprintf(w, "%s  }\n", indent)
				}
				continue
			}
			printField(w, f, indent+"  ")
		}
		fmt.Fprintf(w, "%s}\n", indent)
	case protoreflect.EnumDescriptor:
		fmt.Fprintf(w, "%senum %s {\n", indent, d.Name())
		for i := range d.Values().Len() {
			v := d.Values().Get(i)
			fmt.Fprintf(w, "%s  %s = %d;\n", indent, v.Name(), v.Number())
		}
		fmt.Fprintf(w, "%s}\n", indent)
	case protoreflect.EnumValueDescriptor:
		fmt.Fprintf(w, "%s%s = %d;\n", indent, d.Name(), d.Number())
	case protoreflect.FieldDescriptor:
		printField(w, d, indent)
	}
}

func printField(w io.Writer, f protoreflect.FieldDescriptor, indent string) {
	label := ""
	switch {
	case f.IsMap():
	case f.Cardinality() == protoreflect.Repeated:
		label = "repeated "
	case f.HasOptionalKeyword():
		label = "optional "
	case f.Cardinality() == protoreflect.Required:
		label = "required "
	}
	fmt.Fprintf(w, "%s%s%s %s = %d;\n", indent, label, fieldType(f), f.Name(), f.Number())
}

func fieldType(f protoreflect.FieldDescriptor) string {
	if f.IsMap() {
		return "map<" + fieldType(f.MapKey()) + ", " + fieldType(f.MapValue()) + ">"
	}
	switch f.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return "." + string(f.Message().FullName())
	case protoreflect.EnumKind:
		return "." + string(f.Enum().FullName())
	}
	return f.Kind().String()
}
