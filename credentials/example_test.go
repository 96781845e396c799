package credentials_test

import (
	"context"
	"fmt"

	"github.com/grpcactor/grpcactor/credentials"
	"github.com/grpcactor/grpcactor/metadata"
)

// TLS channel credentials with a bearer token and a plugin's metadata on
// every call; channel.Secure(target, creds) takes the result.
func Example() {
	tls, err := credentials.TLS(credentials.TLSConfig{MinVersion: credentials.TLS12})
	if err != nil {
		fmt.Println(err)
		return
	}
	tenant := credentials.MetadataPlugin("tenant", func(ctx context.Context, info credentials.RequestInfo) (metadata.MD, error) {
		return metadata.Pairs("x-tenant", "blue", "x-method", info.MethodName), nil
	})
	creds, err := credentials.CompositeChannel(tls, credentials.AccessToken("t0ken"), tenant)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(creds, creds.Scheme())

	// What a call of /helloworld.Greeter/SayHello on example.com:443 sends:
	info := credentials.NewRequestInfo("example.com:443", "/helloworld.Greeter/SayHello")
	md, err := credentials.RequestMetadata(context.Background(), info, creds.CallCredentials()...)
	fmt.Println(md, err)

	_, err = credentials.CompositeChannel(credentials.Insecure(), tenant)
	fmt.Println(err)
	// Output:
	// tls+call https
	// MD{authorization=["Bearer t0ken"], x-method=["SayHello"], x-tenant=["blue"]} <nil>
	// credentials: CompositeChannel: insecure channel credentials cannot carry call credentials
}
