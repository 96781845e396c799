package actorsremote

import "testing"

func TestAllowList(t *testing.T) {
	var a allowList
	if err := a.add([]string{"/pkg.Svc/Get", "/pkg.Other/*"}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		method string
		want   bool
	}{
		{"/pkg.Svc/Get", true},
		{"/pkg.Svc/Put", false},
		{"/pkg.Other/Anything", true},
		{"/pkg.Other/", false},
		{"/pkg.Other/a/b", false},
		{"/pkg.OtherX/Get", false},
		{"/pkg.Svc/Get/", false},
		{"", false},
	} {
		if got := a.allows(c.method); got != c.want {
			t.Errorf("allows(%q) = %v, want %v", c.method, got, c.want)
		}
	}
	for _, bad := range []string{"", "pkg.Svc/Get", "/pkg.Svc", "/pkg.Svc/", "//Get", "/pkg.Svc/Get/x", "/pkg.Svc/G*", "/*"} {
		var b allowList
		if err := b.add([]string{bad}); err == nil {
			t.Errorf("add(%q) accepted", bad)
		}
	}
	var none allowList
	if none.allows("/pkg.Svc/Get") {
		t.Error("an empty allow-list allows a method")
	}
}
