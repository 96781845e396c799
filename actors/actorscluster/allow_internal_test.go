package actorscluster

import (
	"testing"

	"github.com/grpcactor/grpcactor/channel"
)

func TestTargetList(t *testing.T) {
	var l targetList
	if err := l.add([]string{"dns:///orders:443", "10.1.2.3:*", "unix:*"}); err != nil {
		t.Fatal(err)
	}
	for target, want := range map[string]bool{
		"dns:///orders:443":  true,
		"dns:///orders:444":  false,
		"dns:///orders:4430": false,
		"10.1.2.3:80":        true,
		"10.1.2.30:80":       false,
		"unix:/run/x.sock":   true,
		"":                   false,
	} {
		if got := l.allows(target); got != want {
			t.Errorf("allows(%q) = %v, want %v", target, got, want)
		}
	}
	for _, bad := range []string{"", "*foo", "a*b*", "dns:///*.internal:443"} {
		if err := (&targetList{}).add([]string{bad}); err == nil {
			t.Errorf("AllowTargets(%q) accepted", bad)
		}
	}
}

func TestNewKindRefusesBadOptions(t *testing.T) {
	open := func(target string) (*channel.Channel, error) { return channel.Insecure(target) }
	for name, c := range map[string]struct {
		open Opener
		opts []KindOption
	}{
		"nil opener": {nil, nil},
		"bad target": {open, []KindOption{AllowTargets("a*b")}},
		"bad method": {open, []KindOption{Allow("Get")}},
		"empty kind": {open, []KindOption{Named("")}},
	} {
		if _, err := NewKind(c.open, c.opts...); err == nil {
			t.Errorf("%s: NewKind accepted it", name)
		}
	}
	k, err := NewKind(open, Named("orders-channel"), AllowTargets("dns:///*"), Allow("/shop.Orders/*"))
	if err != nil || k.Kind != "orders-channel" {
		t.Errorf("NewKind = %v, %v; want kind orders-channel", k, err)
	}
}
