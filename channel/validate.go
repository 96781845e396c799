package channel

import "fmt"

// Strings that go into a call's headers are checked where they are given
// (an option, a target, a call's metadata), so that a bad one is refused
// with an error that names it, not sent to fail obscurely at the server.

// checkHeaderValue checks that v can be sent as the text value of an
// HTTP/2 header: printable ASCII only.
func checkHeaderValue(what, v string) error {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 || c > 0x7e {
			return fmt.Errorf("%s %q has the byte 0x%02x at %d: a header value may hold only printable ASCII (0x20-0x7E), no CR, LF or NUL", what, v, c, i)
		}
	}
	return nil
}

// checkAuthority checks that a is a valid :authority, host[:port] in the
// characters RFC 3986 allows in an authority.
func checkAuthority(what, a string) error {
	for i := 0; i < len(a); i++ {
		if c := a[i]; !authorityChar(c) {
			return fmt.Errorf("%s %q has %q at %d: an authority (RFC 3986 host[:port]) may hold only letters, digits and -._~!$&'()*+,;=:@[]%%", what, a, c, i)
		}
	}
	return nil
}

func authorityChar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	switch c {
	case '-', '.', '_', '~', // unreserved
		'!', '$', '&', '\'', '(', ')', '*', '+', ',', ';', '=', // sub-delims
		':', '@', '[', ']', '%': // port, userinfo, IP literal, percent-encoding
		return true
	}
	return false
}

// checkMethod checks a call's method name, which goes into the :path
// header: visible ASCII only (no space, no control byte).
func checkMethod(method string) error {
	if method == "" {
		return fmt.Errorf("empty method name: a method is \"/package.Service/Method\"")
	}
	for i := 0; i < len(method); i++ {
		if c := method[i]; c <= 0x20 || c > 0x7e {
			return fmt.Errorf("method name %q has the byte 0x%02x at %d: it goes into the :path header and may hold only visible ASCII (0x21-0x7E)", method, c, i)
		}
	}
	return nil
}
