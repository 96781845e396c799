package channel_test

import (
	"context"
	"strings"
	"testing"

	"github.com/grpcactor/grpcactor/channel"
	"github.com/grpcactor/grpcactor/interceptors"
	"github.com/grpcactor/grpcactor/internal/actorsys"
)

// binder is a ChannelBinder that records the channel it was bound to and
// returns bound (which may be no interceptor at all).
type binder struct {
	got   **channel.Channel
	bound any
}

func (b binder) BindChannel(ch *channel.Channel) any {
	*b.got = ch
	return b.bound
}

func TestChannelBinder(t *testing.T) {
	sys := actorsys.NewQuiet()
	ch, err := channel.Insecure("localhost:1", channel.WithActorSystem(sys))
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	if ch.ActorSystem() != sys {
		t.Error("ActorSystem() is not the system given with WithActorSystem")
	}
	def, err := channel.Insecure("localhost:1")
	if err != nil {
		t.Fatal(err)
	}
	defer def.Close()
	if def.ActorSystem() == nil || def.ActorSystem() == sys {
		t.Error("a channel without WithActorSystem does not report the default system")
	}

	var got *channel.Channel
	ic := interceptors.UnaryUnaryFunc(func(ctx context.Context, d *interceptors.ClientCallDetails, req any, next interceptors.UnaryInvoker) (any, interceptors.Call, error) {
		return next(ctx, d, req)
	})
	if _, err := channel.Intercept(ch, binder{&got, ic}); err != nil {
		t.Fatalf("Intercept with a binder: %v", err)
	}
	if got == nil || got.ActorSystem() != sys {
		t.Errorf("BindChannel got %v, want the intercepted channel", got)
	}
	if _, err := channel.Intercept(ch, binder{&got, "not an interceptor"}); err == nil || !strings.Contains(err.Error(), "string") {
		t.Errorf("Intercept with a binder returning a string: %v, want an error naming the type", err)
	}
}

func TestWithParentErrors(t *testing.T) {
	if _, err := channel.Insecure("localhost:1", channel.WithParent(nil)); err == nil || !strings.Contains(err.Error(), "WithParent") {
		t.Errorf("WithParent(nil): %v, want an error naming WithParent", err)
	}
	if _, err := channel.Insecure("localhost:1", channel.NotifyParent()); err == nil || !strings.Contains(err.Error(), "NotifyParent needs WithParent") {
		t.Errorf("NotifyParent alone: %v", err)
	}
}
