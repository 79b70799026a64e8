package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/logline/logline/internal/durable"
	"github.com/logline/logline/internal/lll/check"
	"github.com/logline/logline/internal/lll/syntax"
)

// stdinName names standard input in messages, as gofmt does.
const stdinName = "<standard input>"

type fmtOptions struct {
	write bool
	list  bool
	check bool
}

func (a *app) newFmt() *cobra.Command {
	var o fmtOptions
	cmd := &cobra.Command{
		Use:   "fmt [-w] [-l] [--check] [FILE|DIR|-]...",
		Short: "Format .lll programs in the canonical layout",
		Long: `Format .lll programs (docs/lll.md) in the canonical layout: blocks one
blank line apart, two-space indentation, one item per line, lists and
maps on one line when they fit in 80 columns, single spaces around
operators. Comments are kept; literals keep their spelling.

Without flags the formatted source is written to standard output. A
directory stands for every .lll file under it; no argument, or -, reads
standard input.

  -w       rewrite each file whose formatting differs (atomically)
  -l       list the files whose formatting differs
  --check  exit 1 if any file's formatting differs (naming each on
           standard error); nothing is rewritten

A file that does not parse is reported as file:line:col: message with
the source line and a caret, and the exit code is 2.

Exit codes: 0 formatted (or already canonical); 1 --check found files to
format; 2 syntax errors or bad arguments; 3 a file could not be read or
written.`,
		Example: `  logline fmt policy.lll
  logline fmt -w data/cfg/tenants/acme/
  logline fmt --check -l rules/
  cat policy.lll | logline fmt -`,
		RunE: run(func(cmd *cobra.Command, args []string) error {
			return a.fmtFiles(o, args)
		}),
	}
	cmd.Flags().BoolVarP(&o.write, "write", "w", false, "rewrite files whose formatting differs")
	cmd.Flags().BoolVarP(&o.list, "list", "l", false, "list files whose formatting differs")
	cmd.Flags().BoolVar(&o.check, "check", false, "exit 1 if any file's formatting differs")
	return cmd
}

func (a *app) newCheck() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "check [FILE|DIR|-]...",
		Short: "Check .lll programs for errors",
		Long: `Check .lll programs (docs/lll.md) and report every error found as
file:line:col: message, with the source line and a caret under the
column; "FILE: ok" for a file without errors. A directory stands for
every .lll file under it; no argument, or -, reads standard input.

Exit codes: 0 no errors; 2 errors in some program, or bad arguments;
3 a file could not be read.`,
		Example: `  logline check policy.lll
  logline check data/cfg/tenants/acme/`,
		RunE: run(func(cmd *cobra.Command, args []string) error {
			return a.checkFiles(args)
		}),
	}
	return cmd
}

// checkFile checks one program and returns its errors: a
// syntax.ErrorList (or *syntax.Error) prints with source lines and
// carets, any other error as its text. It parses, then checks names,
// types, block entries and references (internal/lll/check).
func checkFile(name string, src []byte) error {
	f, err := syntax.Parse(name, src)
	if err != nil {
		return err
	}
	_, err = check.Check([]*syntax.File{f}, check.Options{})
	return err
}

// lllSource is one program named on the command line.
type lllSource struct {
	name string // as shown in messages
	path string // "" for standard input
	src  []byte
	perm fs.FileMode
}

// lllInputs expands the arguments (files, directories, "-") into the
// programs to read. No argument means standard input.
func (a *app) lllInputs(args []string) ([]string, error) {
	if len(args) == 0 {
		return []string{"-"}, nil
	}
	var paths []string
	stdin := 0
	for _, arg := range args {
		if arg == "-" {
			stdin++
			paths = append(paths, arg)
			continue
		}
		info, err := os.Stat(arg)
		if err != nil {
			return nil, ioErrorf("%w", err)
		}
		if !info.IsDir() {
			paths = append(paths, arg)
			continue
		}
		var found []string
		err = filepath.WalkDir(arg, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && strings.HasSuffix(p, ".lll") {
				found = append(found, p)
			}
			return nil
		})
		if err != nil {
			return nil, ioErrorf("%w", err)
		}
		sort.Strings(found)
		paths = append(paths, found...)
	}
	if stdin > 1 {
		return nil, cmdlineErrorf("standard input (-) named more than once")
	}
	return paths, nil
}

func (a *app) readLLL(path string) (*lllSource, error) {
	if path == "-" {
		src, err := io.ReadAll(a.io.In)
		if err != nil {
			return nil, ioErrorf("read %s: %w", stdinName, err)
		}
		return &lllSource{name: stdinName, src: src}, nil
	}
	info, err := os.Stat(path)
	if err != nil {
		return nil, ioErrorf("%w", err)
	}
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, ioErrorf("%w", err)
	}
	return &lllSource{name: path, path: path, src: src, perm: info.Mode().Perm()}, nil
}

// worst keeps the highest exit code seen: I/O (3) over syntax (2) over
// "not formatted" (1).
type worst struct{ code int }

func (w *worst) see(code int) {
	if code > w.code {
		w.code = code
	}
}

func (w *worst) err() error {
	if w.code == ExitOK {
		return nil
	}
	return silentFail(w.code)
}

func (a *app) fmtFiles(o fmtOptions, args []string) error {
	paths, err := a.lllInputs(args)
	if err != nil {
		return err
	}
	if o.write && !o.check {
		for _, p := range paths {
			if p == "-" {
				return cmdlineErrorf("fmt -w cannot rewrite standard input")
			}
		}
	}
	var w worst
	for _, path := range paths {
		in, err := a.readLLL(path)
		if err != nil {
			fmt.Fprintf(a.io.Err, "logline: %v\n", err)
			w.see(exitCodeOf(err))
			continue
		}
		out, err := syntax.FormatSource(in.name, in.src)
		if err != nil {
			syntax.PrintErrors(a.io.Err, err, in.src)
			w.see(ExitUsage)
			continue
		}
		differs := !bytes.Equal(out, in.src)
		if differs && o.list {
			fmt.Fprintln(a.io.Out, in.name)
		}
		if differs && o.check {
			if !o.list {
				fmt.Fprintf(a.io.Err, "%s: not formatted (logline fmt -w %s)\n", in.name, in.name)
			}
			w.see(ExitFailed)
		}
		if differs && o.write && !o.check {
			if err := durable.WriteFile(in.path, out, in.perm); err != nil {
				fmt.Fprintf(a.io.Err, "logline: %v\n", err)
				w.see(ExitUnavailable)
			}
		}
		if !o.write && !o.list && !o.check {
			if _, err := a.io.Out.Write(out); err != nil {
				return ioErrorf("write output: %w", err)
			}
		}
	}
	return w.err()
}

func (a *app) checkFiles(args []string) error {
	paths, err := a.lllInputs(args)
	if err != nil {
		return err
	}
	var w worst
	for _, path := range paths {
		in, err := a.readLLL(path)
		if err != nil {
			fmt.Fprintf(a.io.Err, "logline: %v\n", err)
			w.see(exitCodeOf(err))
			continue
		}
		if err := checkFile(in.name, in.src); err != nil {
			syntax.PrintErrors(a.io.Err, err, in.src)
			var list syntax.ErrorList
			var one *syntax.Error
			if !errors.As(err, &list) && !errors.As(err, &one) {
				// Not a report about the program: classify it.
				w.see(exitCodeOf(classify(err)))
				continue
			}
			w.see(ExitUsage)
			continue
		}
		fmt.Fprintf(a.io.Out, "%s: ok\n", in.name)
	}
	return w.err()
}
