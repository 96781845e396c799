package actorsremote

import (
	"fmt"
	"strings"
)

// allowList is a gateway's allow-list: exact method names and service
// prefixes ("/pkg.Service/*" allows every method of the service).
type allowList struct {
	exact    map[string]bool
	services []string // "/pkg.Service/"
}

// add adds patterns, which must be "/pkg.Service/Method" or
// "/pkg.Service/*".
func (a *allowList) add(patterns []string) error {
	for _, p := range patterns {
		svc, m, ok := strings.Cut(strings.TrimPrefix(p, "/"), "/")
		if !strings.HasPrefix(p, "/") || !ok || svc == "" || m == "" || strings.Contains(m, "/") || (strings.Contains(m, "*") && m != "*") {
			return fmt.Errorf("actorsremote.Allow(%q): want \"/package.Service/Method\" or \"/package.Service/*\"", p)
		}
		if m == "*" {
			a.services = append(a.services, "/"+svc+"/")
			continue
		}
		if a.exact == nil {
			a.exact = map[string]bool{}
		}
		a.exact[p] = true
	}
	return nil
}

// allows reports whether method may be called.
func (a *allowList) allows(method string) bool {
	if a.exact[method] {
		return true
	}
	for _, s := range a.services {
		if rest, ok := strings.CutPrefix(method, s); ok && rest != "" && !strings.Contains(rest, "/") {
			return true
		}
	}
	return false
}
