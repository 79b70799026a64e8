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
	"github.com/logline/logline/internal/lll/policyyaml"
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
		Long: `Check .lll programs (docs/lll.md) and YAML policy files (*.yaml, *.yml
but tenant.yaml: policies in YAML) and report every error found as
file:line:col: message, with the source line and a caret under the
column; "FILE: ok" for a file without errors. A directory stands for
every .lll and YAML policy file under it; no argument, or -, reads
standard input (as .lll). The files of one directory are one program,
checked together as the server compiles a tenant's directory (a
validator may read a policy of another file); while a file of a program
does not parse, the others are reported as parsing but not checked.

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
	f, err := policyyaml.ParseSource(name, src)
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
// programs to read: in a directory, the .lll files, and the YAML policy
// files too when withYAML. No argument means standard input.
func (a *app) lllInputs(args []string, withYAML bool) ([]string, error) {
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
			return nil, lllReadError(arg, err)
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
			if !d.IsDir() && (strings.HasSuffix(p, ".lll") || withYAML && policyyaml.IsPolicyFile(p)) {
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
		return nil, lllReadError(path, err)
	}
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, lllReadError(path, err)
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
	paths, err := a.lllInputs(args, false)
	if err != nil {
		return err
	}
	for _, p := range paths {
		if policyyaml.IsPolicyFile(p) {
			return cmdlineErrorf("%s: a YAML policy file; logline fmt formats .lll programs (logline check reads both)", p)
		}
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
	paths, err := a.lllInputs(args, true)
	if err != nil {
		return err
	}
	var w worst
	// The files of one directory are one program, checked together as
	// the server compiles a tenant's directory; standard input is a
	// program of its own.
	var groups [][]*lllSource
	at := map[string]int{}
	for _, path := range paths {
		in, err := a.readLLL(path)
		if err != nil {
			fmt.Fprintf(a.io.Err, "logline: %v\n", err)
			w.see(exitCodeOf(err))
			continue
		}
		key := "-"
		if in.path != "" {
			key = filepath.Dir(in.path)
		}
		i, ok := at[key]
		if !ok {
			i = len(groups)
			at[key] = i
			groups = append(groups, nil)
		}
		groups[i] = append(groups[i], in)
	}
	for _, g := range groups {
		w.see(a.checkProgram(g))
	}
	return w.err()
}

// checkProgram checks files as one program, printing "FILE: ok" for
// each file no error names, and each error with its source line and a
// caret. It returns the exit code the result deserves.
func (a *app) checkProgram(files []*lllSource) int {
	src := map[string][]byte{}
	var parsed []*syntax.File
	var errs syntax.ErrorList
	for _, in := range files {
		src[in.name] = in.src
		f, err := policyyaml.ParseSource(in.name, in.src)
		if err != nil {
			var list syntax.ErrorList
			if !errors.As(err, &list) {
				fmt.Fprintf(a.io.Err, "logline: %s: %v\n", in.name, err)
				return exitCodeOf(classify(err))
			}
			errs = append(errs, list...)
			continue
		}
		parsed = append(parsed, f)
	}
	syntaxErrs := len(errs) > 0
	if !syntaxErrs {
		if _, err := check.Check(parsed, check.Options{}); err != nil {
			if !errors.As(err, &errs) {
				fmt.Fprintf(a.io.Err, "logline: %v\n", err)
				return exitCodeOf(classify(err))
			}
		}
	}
	bad := map[string]bool{}
	for _, e := range errs {
		bad[e.File] = true
	}
	for _, in := range files {
		switch {
		case bad[in.name]:
		case syntaxErrs:
			// The program is not checked while a file of it does not
			// parse: its references could not be resolved.
			fmt.Fprintf(a.io.Out, "%s: parses; not checked with its program (other files have syntax errors)\n", in.name)
		default:
			fmt.Fprintf(a.io.Out, "%s: ok\n", in.name)
		}
	}
	if len(errs) == 0 {
		return ExitOK
	}
	syntax.PrintErrorsFiles(a.io.Err, errs, func(file string) []byte { return src[file] })
	return ExitUsage
}
