package serviceconfig_test

import (
	"testing"
	"time"

	"github.com/grpcactor/grpcactor/internal/serviceconfig"
)

func TestMethodPrecedence(t *testing.T) {
	// Each entry's timeout says which entry matched.
	const js = `{"methodConfig": [
		{"name": [{}], "timeout": "1s"},
		{"name": [{"service": "pkg.Svc"}], "timeout": "2s"},
		{"name": [{"service": "pkg.Svc", "method": "Exact"}, {"service": "other.Svc", "method": "Only"}], "timeout": "3s"},
		{"name": [{"service": "pkg.Svc", "method": null}, {"service": "pkg.Two", "method": ""}], "timeout": "4s"}
	]}`
	_, err := serviceconfig.Parse(js)
	if err == nil {
		t.Fatal(`{"service": "pkg.Svc", "method": null} should duplicate {"service": "pkg.Svc"}`)
	}

	c, err := serviceconfig.Parse(`{"methodConfig": [
		{"name": [{}], "timeout": "1s"},
		{"name": [{"service": "pkg.Svc"}], "timeout": "2s"},
		{"name": [{"service": "pkg.Svc", "method": "Exact"}, {"service": "other.Svc", "method": "Only"}], "timeout": "3s"},
		{"name": [{"service": "pkg.Two", "method": null}], "timeout": "4s"}
	]}`)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		method string
		want   time.Duration
	}{
		{"/pkg.Svc/Exact", 3 * time.Second},     // exact match
		{"/pkg.Svc/Other", 2 * time.Second},     // service default
		{"/pkg.Svc/exact", 2 * time.Second},     // names are case-sensitive
		{"/pkg.Two/Any", 4 * time.Second},       // service default written with method null
		{"/other.Svc/Only", 3 * time.Second},    // second name of an entry
		{"/other.Svc/Else", time.Second},        // no service entry: the default
		{"/unknown.Svc/M", time.Second},         // the default
		{"pkg.Svc/Exact", 3 * time.Second},      // leading slash optional
		{"/pkg.Svc/", 2 * time.Second},          // empty method: the service's entry
		{"/pkg.Svc", time.Second},               // malformed: only the default
		{"", time.Second},                       // malformed: only the default
		{"/a/pkg.Svc/Exact", time.Second},       // service is all before the last slash
		{"//pkg.Svc/Exact", time.Second},        // ditto
		{"/pkg.Svc/Exact/", time.Second},        // ditto
		{"/pkg.Svc/Exact?x=1", 2 * time.Second}, // no query parsing: a different method
	} {
		mc, ok := c.Method(tt.method)
		if !ok || mc.Timeout != tt.want {
			t.Errorf("Method(%q) = {Timeout: %v}, %v; want {Timeout: %v}, true", tt.method, mc.Timeout, ok, tt.want)
		}
	}
}

func TestMethodWithoutDefault(t *testing.T) {
	c, err := serviceconfig.Parse(`{"methodConfig": [{"name": [{"service": "pkg.Svc", "method": "M"}], "waitForReady": true}]}`)
	if err != nil {
		t.Fatal(err)
	}
	if mc, ok := c.Method("/pkg.Svc/M"); !ok || mc.WaitForReady == nil || !*mc.WaitForReady {
		t.Errorf("Method(/pkg.Svc/M) = %+v, %v; want waitForReady true", mc, ok)
	}
	for _, m := range []string{"/pkg.Svc/N", "/other.Svc/M", "", "/"} {
		if mc, ok := c.Method(m); ok || mc != (serviceconfig.MethodConfig{}) {
			t.Errorf("Method(%q) = %+v, %v; want zero, false", m, mc, ok)
		}
	}
	var nilConfig *serviceconfig.Config
	if mc, ok := nilConfig.Method("/pkg.Svc/M"); ok || mc != (serviceconfig.MethodConfig{}) {
		t.Errorf("nil Config: Method = %+v, %v; want zero, false", mc, ok)
	}
}

func TestMethodSharesOneEntry(t *testing.T) {
	// An entry with several names gives each the same config.
	c, err := serviceconfig.Parse(`{"methodConfig": [{"name": [{"service": "a.A"}, {"service": "b.B", "method": "M"}],
		"retryPolicy": ` + retryJSON + `}]}`)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := c.Method("/a.A/X")
	b, _ := c.Method("/b.B/M")
	if a.Retry == nil || a.Retry != b.Retry {
		t.Errorf("Retry = %p and %p; want the same policy", a.Retry, b.Retry)
	}
}

func BenchmarkMethod(b *testing.B) {
	c, err := serviceconfig.Parse(`{"methodConfig": [{"name": [{}], "timeout": "1s"},
		{"name": [{"service": "pkg.Svc"}], "timeout": "2s"},
		{"name": [{"service": "pkg.Svc", "method": "Exact"}], "timeout": "3s"}]}`)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := c.Method("/pkg.Svc/Other"); !ok {
			b.Fatal("not found")
		}
	}
}
