package grpcgo_test

import (
	"fmt"
	"testing"

	"github.com/grpcactor/grpcactor/internal/leakcheck"
	"google.golang.org/grpc/grpclog"
)

// TestMain makes grpc-go's interop client cases, which report a failure
// with grpclog's Fatal (os.Exit), panic instead, so that a test can
// recover and fail by name; it sets the logger before any grpc-go code
// runs, as grpclog requires.
func TestMain(m *testing.M) {
	grpclog.SetLoggerV2(panicLogger{})
	leakcheck.VerifyTestMain(m)
}

// fatal is the panic value of panicLogger's Fatal.
type fatal string

type panicLogger struct{}

func (panicLogger) Info(...any)             {}
func (panicLogger) Infoln(...any)           {}
func (panicLogger) Infof(string, ...any)    {}
func (panicLogger) Warning(...any)          {}
func (panicLogger) Warningln(...any)        {}
func (panicLogger) Warningf(string, ...any) {}
func (panicLogger) Error(...any)            {}
func (panicLogger) Errorln(...any)          {}
func (panicLogger) Errorf(string, ...any)   {}
func (panicLogger) V(int) bool              { return false }
func (panicLogger) Fatal(args ...any)       { panic(fatal(fmt.Sprint(args...))) }
func (panicLogger) Fatalln(args ...any)     { panic(fatal(fmt.Sprintln(args...))) }
func (panicLogger) Fatalf(format string, args ...any) {
	panic(fatal(fmt.Sprintf(format, args...)))
}
