package channel

import (
	"testing"
	"time"

	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/internal/serviceconfig"
)

// fakeThrottle allows while allow is set and counts failures.
type fakeThrottle struct {
	allow    bool
	failures int
}

func (f *fakeThrottle) OnFailure()  { f.failures++ }
func (f *fakeThrottle) Allow() bool { return f.allow }

// hedgeStep is one input to the core and the plan it must produce.
type hedgeStep struct {
	do   string // "begin", "timer", "headers", "ended", "overflow"
	i    int
	o    hedgeOutcome
	deny bool // the throttle refuses from this step on
	want string
}

var (
	nonFatal = hedgeOutcome{code: codes.Unavailable, nonFatal: true}
	fatal    = hedgeOutcome{code: codes.Internal}
	okEnd    = hedgeOutcome{code: codes.OK}
)

func pushback(v string) hedgeOutcome {
	o := nonFatal
	o.pushback = []string{v}
	return o
}

func TestHedgeCore(t *testing.T) {
	const d = 100 * time.Millisecond
	for _, tt := range []struct {
		name     string
		max      int
		delay    time.Duration
		steps    []hedgeStep
		failures int
	}{
		{"first attempt answers", 3, d, []hedgeStep{
			{do: "begin", want: "open 1, arm 100ms"},
			{do: "headers", i: 0, want: "open 0, stop, commit 0"},
			{do: "timer", want: "open 0"}, // a late fire: moot
		}, 0},
		{"hedge wins after the delay", 3, d, []hedgeStep{
			{do: "begin", want: "open 1, arm 100ms"},
			{do: "timer", want: "open 1, arm 100ms"},
			{do: "headers", i: 1, want: "open 0, stop, commit 1"},
			{do: "headers", i: 0, want: "open 0"}, // the loser's headers: moot
		}, 0},
		{"maxAttempts respected", 3, d, []hedgeStep{
			{do: "begin", want: "open 1, arm 100ms"},
			{do: "timer", want: "open 1, arm 100ms"},
			{do: "timer", want: "open 1, stop"},
			{do: "timer", want: "open 0"},
			{do: "ended", i: 2, o: fatal, want: "open 0, stop, commit 2"},
		}, 0},
		{"zero delay sends all at once", 3, 0, []hedgeStep{
			{do: "begin", want: "open 3"},
			{do: "ended", i: 0, o: nonFatal, want: "open 0"},
			{do: "ended", i: 2, o: nonFatal, want: "open 0"},
			{do: "ended", i: 1, o: nonFatal, want: "open 0, stop, commit 1"},
		}, 3},
		{"zero delay throttled sends one", 3, 0, []hedgeStep{
			{do: "begin", deny: true, want: "open 1"},
			{do: "ended", i: 0, o: nonFatal, want: "open 0, stop, commit 0"},
		}, 1},
		{"non-fatal sends the next at once", 3, d, []hedgeStep{
			{do: "begin", want: "open 1, arm 100ms"},
			{do: "ended", i: 0, o: nonFatal, want: "open 1, arm 100ms"},
			{do: "ended", i: 1, o: nonFatal, want: "open 1, stop"},
			{do: "ended", i: 2, o: nonFatal, want: "open 0, stop, commit 2"},
		}, 3},
		{"fatal code ends the call", 3, d, []hedgeStep{
			{do: "begin", want: "open 1, arm 100ms"},
			{do: "timer", want: "open 1, arm 100ms"},
			{do: "ended", i: 1, o: fatal, want: "open 0, stop, commit 1"},
			{do: "ended", i: 0, o: nonFatal, want: "open 0"},
		}, 0},
		{"OK ends the call", 2, d, []hedgeStep{
			{do: "begin", want: "open 1, arm 100ms"},
			{do: "ended", i: 0, o: okEnd, want: "open 0, stop, commit 0"},
		}, 0},
		{"non-fatal while others run waits for them", 3, d, []hedgeStep{
			{do: "begin", want: "open 1, arm 100ms"},
			{do: "timer", want: "open 1, arm 100ms"},
			{do: "timer", want: "open 1, stop"},
			{do: "ended", i: 0, o: nonFatal, want: "open 0"},
			{do: "ended", i: 2, o: nonFatal, want: "open 0"},
			{do: "headers", i: 1, want: "open 0, stop, commit 1"},
		}, 2},
		{"pushback delays the next hedge", 3, d, []hedgeStep{
			{do: "begin", want: "open 1, arm 100ms"},
			{do: "ended", i: 0, o: pushback("250"), want: "open 0, arm 250ms"},
			{do: "timer", want: "open 1, arm 100ms"},
			{do: "headers", i: 1, want: "open 0, stop, commit 1"},
		}, 1},
		{"negative pushback stops hedging", 3, d, []hedgeStep{
			{do: "begin", want: "open 1, arm 100ms"},
			{do: "timer", want: "open 1, arm 100ms"},
			{do: "ended", i: 0, o: pushback("-1"), want: "open 0, stop"},
			{do: "timer", want: "open 0"},
			{do: "ended", i: 1, o: nonFatal, want: "open 0, stop, commit 1"},
		}, 2},
		{"malformed pushback ends the call", 3, d, []hedgeStep{
			{do: "begin", want: "open 1, arm 100ms"},
			{do: "ended", i: 0, o: pushback("soon"), want: "open 0, stop, commit 0"},
		}, 1},
		{"throttled: no more hedges", 3, d, []hedgeStep{
			{do: "begin", want: "open 1, arm 100ms"},
			{do: "timer", deny: true, want: "open 0"},
			{do: "ended", i: 0, o: nonFatal, want: "open 0, stop, commit 0"},
		}, 1},
		{"throttled after a non-fatal end", 3, d, []hedgeStep{
			{do: "begin", want: "open 1, arm 100ms"},
			{do: "timer", want: "open 1, arm 100ms"},
			{do: "ended", i: 0, o: nonFatal, deny: true, want: "open 0, stop"},
			{do: "ended", i: 1, o: nonFatal, want: "open 0, stop, commit 1"},
		}, 2},
		{"unprocessed attempt opened again", 2, d, []hedgeStep{
			{do: "begin", want: "open 1, arm 100ms"},
			{do: "ended", i: 0, o: hedgeOutcome{code: codes.Unavailable, unprocessed: true}, want: "open 0, reopen 0"},
			{do: "ended", i: 0, o: hedgeOutcome{code: codes.Unavailable, unprocessed: true}, want: "open 0, reopen 0"},
			{do: "headers", i: 0, want: "open 0, stop, commit 0"},
		}, 0},
		{"buffer overflow commits the fullest attempt", 3, d, []hedgeStep{
			{do: "begin", want: "open 1, arm 100ms"},
			{do: "timer", want: "open 1, arm 100ms"},
			{do: "overflow", i: 1, want: "open 0, stop, commit 1"},
			{do: "timer", want: "open 0"}, // a late fire: moot
			{do: "headers", i: 0, want: "open 0"},
			{do: "ended", i: 1, o: nonFatal, want: "open 0"},
		}, 0},
		{"overflow after the race is decided", 2, d, []hedgeStep{
			{do: "begin", want: "open 1, arm 100ms"},
			{do: "headers", i: 0, want: "open 0, stop, commit 0"},
			{do: "overflow", i: 0, want: "open 0"},
		}, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := &hedgeCore{max: tt.max, delay: tt.delay}
			th := &fakeThrottle{allow: true}
			for n, s := range tt.steps {
				if s.deny {
					th.allow = false
				}
				var p hedgePlan
				switch s.do {
				case "begin":
					p = c.begin(th)
				case "timer":
					p = c.timer(th)
				case "headers":
					p = c.headers(s.i)
				case "ended":
					p = c.ended(s.i, s.o, th)
				case "overflow":
					p = c.overflow(s.i)
				}
				if got := p.String(); got != s.want {
					t.Errorf("step %d (%s %d): plan %q; want %q", n, s.do, s.i, got, s.want)
				}
			}
			if th.failures != tt.failures {
				t.Errorf("throttle told of %d failures; want %d", th.failures, tt.failures)
			}
		})
	}
}

// TestHedgeCoreTransparentLimit: an attempt that keeps failing before it
// reaches the server is opened again at most maxTransparentRetries times.
func TestHedgeCoreTransparentLimit(t *testing.T) {
	c := &hedgeCore{max: 2, delay: time.Second}
	th := &fakeThrottle{allow: true}
	c.begin(th)
	unprocessed := hedgeOutcome{code: codes.Unavailable, unprocessed: true}
	for range maxTransparentRetries {
		if p := c.ended(0, unprocessed, th); p.reopen != 0 {
			t.Fatalf("plan %v; want reopen 0", p)
		}
	}
	if p := c.ended(0, unprocessed, th); p.String() != "open 0, stop, commit 0" {
		t.Fatalf("after %d reopens: plan %v; want the call to end", maxTransparentRetries, p)
	}
}

// TestHedgeCoreRealThrottle: the core with the service config's token
// bucket: each non-fatal end takes a token; at half the bucket hedging
// stops.
func TestHedgeCoreRealThrottle(t *testing.T) {
	th := &serviceconfig.Throttling{MaxTokens: 4, TokenRatio: 1}
	th.OnFailure() // 3 left
	c := &hedgeCore{max: 5, delay: time.Second}
	c.begin(th)
	if p := c.ended(0, nonFatal, th); p.String() != "open 0, stop, commit 0" {
		t.Fatalf("plan %v with %v tokens; want the call to end (throttled)", p, th.Tokens())
	}
	var none *serviceconfig.Throttling // no throttling configured
	c = &hedgeCore{max: 2, delay: time.Second}
	c.begin(none)
	if p := c.ended(0, nonFatal, none); p.String() != "open 1, stop" {
		t.Fatalf("plan %v without throttling; want the next hedge", p)
	}
}
