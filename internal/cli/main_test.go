package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// runMain runs the command line in-process and returns stdout, stderr and
// the exit code. env holds the only environment variables it sees.
func runMain(t *testing.T, ctx context.Context, env map[string]string, stdin string, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Main(ctx, args, IO{
		In:     strings.NewReader(stdin),
		Out:    &out,
		Err:    &errOut,
		Getenv: func(k string) string { return env[k] },
	}, "test")
	return out.String(), errOut.String(), code
}
