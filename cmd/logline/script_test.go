package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

var update = flag.Bool("update", false, "rewrite the expected output in testdata/script from the actual output")

// TestMain lets the test binary act as `logline` (and `want-exit`) when
// a script runs it, so scripts exercise the real main.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"logline":   func() { os.Exit(run()) },
		"want-exit": wantExit,
	})
}

// wantExit runs `want-exit N logline ARGS...`: logline with ARGS in this
// process (so its stdout and stderr are the command's), then exits 0 if
// logline's exit code was N and 1 otherwise. testscript's `! exec` only
// tells success from failure; scripts use this to pin exit codes.
func wantExit() {
	if len(os.Args) < 3 || os.Args[2] != "logline" {
		fmt.Fprintln(os.Stderr, "usage: want-exit CODE logline [ARGS...]")
		os.Exit(2)
	}
	want, err := strconv.Atoi(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "want-exit: bad exit code:", os.Args[1])
		os.Exit(2)
	}
	os.Args = os.Args[2:]
	if got := run(); got != want {
		fmt.Fprintf(os.Stderr, "want-exit: logline exited with %d, want %d\n", got, want)
		os.Exit(1)
	}
	os.Exit(0)
}

// TestScript runs the command-line scripts in testdata/script. Each is a
// txtar archive: commands first, then the files they use. Run with
// -update to refresh expected files compared with `cmp`.
func TestScript(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		UpdateScripts:       *update,
		RequireExplicitExec: true,
		RequireUniqueNames:  true,
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"waitaddr": cmdWaitAddr,
			"replace":  cmdReplace,
			"appendto": cmdAppendTo,
		},
	})
}

// cmdWaitAddr waits (up to 60s) for the file that `logline serve
// --addr-file FILE` writes once it listens, then sets SERVER and
// LOGLINE_SERVER to http://HOST:PORT.
//
//	waitaddr FILE
func cmdWaitAddr(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: waitaddr FILE")
	}
	path := ts.MkAbs(args[0])
	deadline := time.Now().Add(60 * time.Second)
	for {
		b, err := os.ReadFile(path)
		if err == nil && bytes.HasSuffix(b, []byte("\n")) {
			url := "http://" + strings.TrimSpace(string(b))
			ts.Setenv("SERVER", url)
			ts.Setenv("LOGLINE_SERVER", url)
			return
		}
		if time.Now().After(deadline) {
			ts.Fatalf("waitaddr: %s did not appear within 60s (did serve start?)", args[0])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// cmdReplace replaces the first occurrence of OLD by NEW in FILE (same
// length, so byte offsets stay), to corrupt a segment on purpose.
//
//	replace FILE OLD NEW
func cmdReplace(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 || len(args[1]) != len(args[2]) {
		ts.Fatalf("usage: replace FILE OLD NEW (OLD and NEW of the same length)")
	}
	path := ts.MkAbs(args[0])
	b, err := os.ReadFile(path)
	ts.Check(err)
	i := bytes.Index(b, []byte(args[1]))
	if i < 0 {
		ts.Fatalf("replace: %q not found in %s", args[1], args[0])
	}
	copy(b[i:], args[2])
	ts.Check(os.WriteFile(path, b, 0o644))
}

// cmdAppendTo appends TEXT (no newline) to FILE, to fake a torn write.
//
//	appendto FILE TEXT
func cmdAppendTo(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: appendto FILE TEXT")
	}
	f, err := os.OpenFile(ts.MkAbs(args[0]), os.O_WRONLY|os.O_APPEND, 0)
	ts.Check(err)
	_, err = f.WriteString(args[1])
	ts.Check(err)
	ts.Check(f.Close())
}
