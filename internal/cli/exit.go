package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/logline/logline/internal/client"
)

// Exit codes. Scripts rely on them; docs/cli.md lists them.
const (
	ExitOK          = 0   // success
	ExitFailed      = 1   // verification failed, some lines rejected, not found
	ExitUsage       = 2   // bad flags, arguments, configuration or input
	ExitUnavailable = 3   // cannot reach the server, or an I/O error
	ExitInterrupted = 130 // stopped by SIGINT/SIGTERM before finishing
)

// exitError carries the exit code of a failed command. When quiet is set
// the command already explained the failure and Main prints nothing more.
type exitError struct {
	code  int
	err   error
	quiet bool
	hint  bool // a command-line mistake: Main points at --help
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

func withCode(code int, format string, args ...any) error {
	return &exitError{code: code, err: fmt.Errorf(format, args...)}
}

// usageErrorf is a bad flag, argument, configuration or input (exit 2).
func usageErrorf(format string, args ...any) error { return withCode(ExitUsage, format, args...) }

// cmdlineErrorf is a mistake in flags or arguments (exit 2, with a hint
// to read --help).
func cmdlineErrorf(format string, args ...any) error {
	return &exitError{code: ExitUsage, err: fmt.Errorf(format, args...), hint: true}
}

// failErrorf is a verification failure, a rejection or a miss (exit 1).
func failErrorf(format string, args ...any) error { return withCode(ExitFailed, format, args...) }

// ioErrorf is an unreachable server or an I/O error (exit 3).
func ioErrorf(format string, args ...any) error { return withCode(ExitUnavailable, format, args...) }

// silentFail is exit code code after the command printed why.
func silentFail(code int) error { return &exitError{code: code, quiet: true} }

// exitCodeOf maps an error returned by a command to an exit code. Errors
// that are not classified come from cobra's own flag and argument
// checks: usage errors.
func exitCodeOf(err error) int {
	if err == nil {
		return ExitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return ExitUsage
}

// classify gives an unclassified error from a command's body its exit
// code: interrupted, unreachable server, HTTP problem, or I/O error.
func classify(err error) error {
	if err == nil {
		return nil
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return err
	}
	if errors.Is(err, context.Canceled) {
		return &exitError{code: ExitInterrupted, err: errors.New("interrupted")}
	}
	var ce *client.ConnError
	if errors.As(err, &ce) {
		return &exitError{code: ExitUnavailable, err: err}
	}
	var p *client.Problem
	if errors.As(err, &p) {
		switch {
		case p.Status == http.StatusNotFound:
			return &exitError{code: ExitFailed, err: err}
		case p.Status >= 400 && p.Status < 500 && !p.Temporary():
			return &exitError{code: ExitUsage, err: err}
		default:
			return &exitError{code: ExitUnavailable, err: err}
		}
	}
	return &exitError{code: ExitUnavailable, err: err}
}
