// Package credentials holds channel credentials (how a channel secures its
// connections) and call credentials (metadata added to every call), after
// Python grpcio's credentials API.
//
// Channel credentials, given to channel.Secure:
//
//	grpcio                                         grpcactor
//	ssl_channel_credentials(root, key, chain)      credentials.TLS(credentials.TLSConfig{RootCAs, PrivateKey, Certificate})
//	local_channel_credentials(LOCAL_TCP | UDS)     credentials.Local(credentials.LocalTCP | credentials.UDS)
//	composite_channel_credentials(ch, call...)     credentials.CompositeChannel(ch, call...)
//	experimental.insecure_channel_credentials()    credentials.Insecure() (channel.Secure refuses it)
//	alts_channel_credentials()                     credentials.ALTS(): an error, ALTS needs Google Cloud
//
// Call credentials, given to every call of a channel through
// CompositeChannel or to one call through channel.CallCredentials:
//
//	access_token_call_credentials(token)           credentials.AccessToken(token)
//	metadata_call_credentials(plugin, name)        credentials.MetadataPlugin(name, fn)
//	composite_call_credentials(a, b, ...)          credentials.CompositeCall(a, b, ...)
//
// Call credentials are sent only over TLS or local channel credentials: a
// call that carries them on a plaintext channel fails UNAUTHENTICATED
// instead of sending them in the clear. A plugin runs in the calling
// goroutine (or the goroutine of a Future), never inside an actor; its
// failure ends the call UNAVAILABLE with the plugin's name and error, or
// with the plugin's own status code when it returns a *status.Error whose
// code gRFC A54 lets credentials produce.
package credentials
