package channel

import (
	"context"
	"testing"

	"github.com/grpcactor/grpcactor/codes"
	"github.com/grpcactor/grpcactor/status"
)

// A call that Close (or a cancel) has finished keeps that status: a later
// end of its attempt, such as the UNAVAILABLE of the connection Close
// shuts, is not what its caller is told (TestCloseRacesCalls once saw
// "UNAVAILABLE: channel closed" in CI: the stream started as Close
// cancelled the call, and the caller returned the stream's status).
func TestFinishKeepsFirstStatus(t *testing.T) {
	cancelled := status.New(codes.Canceled, "channel closed")
	unavailable := status.New(codes.Unavailable, "channel closed")
	internal := status.New(codes.Internal, "bad response")
	tests := []struct {
		name  string
		first func(cs *callState) // ends the call first
		later *status.Error       // then the attempt's own end
		want  *status.Error
	}{
		{"cancelled, then the connection closes", func(cs *callState) { cs.cancel(cancelled) }, unavailable, cancelled},
		{"cancelled, then the stream ends OK", func(cs *callState) { cs.cancel(cancelled) }, nil, cancelled},
		{"failed, then cancelled", func(cs *callState) { cs.fail(internal) }, cancelled, internal},
		// Ended OK: the later error is reported as before (never a nil
		// *status.Error for an error: it would be a non-nil error).
		{"ended OK, then the connection closes", func(cs *callState) { cs.finish(nil) }, unavailable, unavailable},
		{"ended OK, then OK", func(cs *callState) { cs.finish(nil) }, nil, nil},
		{"not ended before", func(cs *callState) {}, unavailable, unavailable},
	}
	newCall := unstartedCalls(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, end := range []struct {
				name string
				f    func(cs *callState, st *status.Error) *status.Error
			}{
				{"finish", (*callState).finish},
				{"fail", func(cs *callState, st *status.Error) *status.Error {
					if st == nil {
						return cs.finish(nil) // fail takes an error only
					}
					return cs.fail(st)
				}},
			} {
				cs := newCall(t)
				tc.first(cs)
				got := end.f(cs, tc.later)
				if got.Code() != tc.want.Code() || got.Details() != tc.want.Details() {
					t.Errorf("%s after the first end: %v, want %v", end.name, got, tc.want)
				}
				if f := cs.final; f != nil {
					if again := cs.finish(internal); again.Code() != f.Code() {
						t.Errorf("a third end: %v, want the call's %v", again, f)
					}
				}
			}
		})
	}
}

// Call.Cancel reports true only when the call ended CANCELLED: a call that
// ended on its own (OK or not) between Cancel's check and its cancel
// keeps its status, and Cancel says false (TestStressMixedTraffic asserts
// CANCELLED after a Cancel that returned true).
func TestCancelReportsWhetherTheCallEndedCancelled(t *testing.T) {
	internal := status.New(codes.Internal, "bad response")
	tests := []struct {
		name     string
		before   func(cs *callState) // the call's own end, if any, before the cancel
		wantCode codes.Code
	}{
		{"in progress", func(*callState) {}, codes.Canceled},
		{"ended OK first", func(cs *callState) { cs.finish(nil) }, codes.OK},
		{"failed first", func(cs *callState) { cs.fail(internal) }, codes.Internal},
	}
	newCall := unstartedCalls(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cs := newCall(t)
			tc.before(cs)
			// The end of the race, after Cancel's check found the call
			// in progress: the cancel, then what Cancel reads.
			cs.cancel(status.New(codes.Canceled, "call cancelled by the client"))
			if c := cs.final.Code(); c != tc.wantCode {
				t.Errorf("the call ended %v, want %v", c, tc.wantCode)
			}
			if got := (&Call{plainCall{cs}}).Cancel(); got {
				t.Error("Call.Cancel of an ended call = true, want false")
			}
		})
	}
}

// unstartedCalls returns a maker of calls on a channel that never dials:
// the calls are made, never started. The channel closes with the test.
func unstartedCalls(t *testing.T) func(t *testing.T) *callState {
	ch, err := Insecure("127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ch.Close() })
	return func(t *testing.T) *callState {
		cs, err := ch.newCall(context.Background(), "/grpc.testing.TestService/UnaryCall", nil, true)
		if err != nil {
			t.Fatal(err)
		}
		return cs
	}
}
