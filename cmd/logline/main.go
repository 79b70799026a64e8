// Command logline is LogLine's single binary: the server (logline serve)
// and every client and maintenance command. This file only wires the
// process to internal/cli: arguments, standard streams, terminal
// detection, version and signals.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"golang.org/x/term"

	"github.com/logline/logline/internal/cli"
)

func main() { os.Exit(run()) }

// defaultGCPercent replaces Go's GOGC=100 unless GOGC is set. LogLine's live
// heap is small and bounded (tens of MiB, whatever the request sizes), while
// ingest allocates quickly; collecting at 4× the live heap instead of 2×
// gave 20–25% more durable NDJSON ingest on 2 cores (docs/benchmarks.md)
// for a few tens of MiB more peak memory.
const defaultGCPercent = 400

// run executes the command line and returns the exit code. The first
// SIGINT or SIGTERM cancels the command's context (serve shuts down
// gracefully, tail --follow stops); a second one exits at once.
func run() int {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGCPercent)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	go func() {
		sig, ok := <-sigs
		if !ok {
			return
		}
		cancel()
		if _, ok := <-sigs; ok {
			fmt.Fprintf(os.Stderr, "logline: second %v: exiting now\n", sig)
			os.Exit(cli.ExitInterrupted)
		}
	}()
	return cli.Main(ctx, os.Args[1:], cli.IO{
		In:     os.Stdin,
		Out:    os.Stdout,
		Err:    os.Stderr,
		OutTTY: term.IsTerminal(int(os.Stdout.Fd())),
		ErrTTY: term.IsTerminal(int(os.Stderr.Fd())),
		Getenv: os.Getenv,
	}, version())
}

// version reports the module version and VCS revision the binary was
// built from.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	v := bi.Main.Version
	if v == "" || v == "(devel)" {
		v = "devel"
	}
	var rev, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "-dirty"
			}
		}
	}
	if rev != "" && v == "devel" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		v += "+" + rev + dirty
	}
	return v + " " + bi.GoVersion
}
