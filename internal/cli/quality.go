package cli

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/logline/logline/internal/derive"
	"github.com/logline/logline/internal/durable"
	"github.com/logline/logline/internal/lll/check"
	"github.com/logline/logline/internal/lll/ir"
)

type simulateOptions struct {
	spans     string
	policy    string
	out       string
	json      bool
	noDiamond bool
}

func (a *app) newQuality() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "quality",
		Short: "Trajectories and quality scores (the data plane), offline",
		Args:  noArgs,
	}
	cmd.AddCommand(a.newQualitySimulate())
	return cmd
}

func (a *app) newQualitySimulate() *cobra.Command {
	var o simulateOptions
	cmd := &cobra.Command{
		Use:   "simulate --spans IN.ndjson [--policy P.lll|P.yaml] [--out OUT.logline] [--json]",
		Short: "Run the data plane over spans offline: trajectories, scores, candidates",
		Long: `Run LogLine's data plane (docs/quality.md) over the spans of --spans,
in file order, as the server would derive them with trajectories and
diamond candidates on: link spans into trajectories, close them (timeout,
window, end_of_input for what is still open at the end), score them and
flag the diamond candidates. Nothing is stored.

--policy is a .lll program or a YAML policy file whose trajectory_linker
and quality_meter policies apply (defaults without it: key this, window
24h, close timeout 6h, weights 0.4/0.3/0.3, p96, min score 60, 100
samples). --out writes the derived spans as NDJSON (atomically); the
same input and policy give the same bytes on every run.

The summary — spans, trajectories, closes by reason, score count, mean
and p50/p95/p99, candidates and their share — goes to standard output,
as JSON with --json.

Exit codes: 0 done; 2 a bad flag, policy or input line (named with its
line number), a --spans or --policy file that does not exist or is a
directory, an --out that is a directory, in a directory that does not
exist or the same file as --spans or --policy; 3 a file that exists but
cannot be read, or --out cannot be written. Nothing is written on
failure.`,
		Example: `  logline quality simulate --spans ../shared/corpus/receipt.ndjson
  logline quality simulate --spans spans.ndjson --policy quality.yaml --out result.logline --json`,
		Args: noArgs,
		RunE: run(func(cmd *cobra.Command, _ []string) error {
			return a.simulate(o)
		}),
	}
	f := cmd.Flags()
	f.StringVar(&o.spans, "spans", "", "NDJSON spans to run over (- for standard input)")
	f.StringVar(&o.policy, "policy", "", "the policy: a .lll program or a YAML policy file")
	f.StringVarP(&o.out, "out", "o", "", "write the derived spans here as NDJSON")
	f.BoolVar(&o.json, "json", false, "print the summary as JSON")
	f.BoolVar(&o.noDiamond, "no-diamond", false, "as a tenant with features.diamond off: no candidates")
	_ = cmd.MarkFlagFilename("spans", "ndjson", "jsonl")
	_ = cmd.MarkFlagFilename("policy", "lll", "yaml", "yml")
	return cmd
}

func (a *app) simulate(o simulateOptions) error {
	if o.spans == "" {
		return cmdlineErrorf("quality simulate needs --spans IN.ndjson (or - for standard input)")
	}
	if o.spans == "-" && o.policy == "-" {
		return cmdlineErrorf("quality simulate: --spans and --policy cannot both be - (standard input)")
	}
	prog, err := a.simulationProgram(o.policy)
	if err != nil {
		return err
	}
	policy, err := derive.PolicyOf(prog, true, !o.noDiamond)
	if err != nil {
		return usageErrorf("quality simulate: %v", err)
	}

	var in io.Reader = a.io.In
	name := "<stdin>"
	if o.spans != "-" {
		f, err := openSimulationInput("--spans", o.spans)
		if err != nil {
			return err
		}
		defer f.Close()
		in, name = f, o.spans
	}
	var (
		out *durable.File
		w   *bufio.Writer
	)
	if o.out != "" {
		if out, err = createSimulationOutput(o); err != nil {
			return err
		}
		defer out.Abort()
		w = bufio.NewWriterSize(out, 256<<10)
	}
	e := derive.New(func(string) *derive.Policy { return policy })
	var (
		buf  []byte
		werr error
	)
	emit := func(d *derive.Derived) {
		if w == nil || werr != nil {
			return
		}
		buf = d.AppendJSON(buf[:0])
		buf = append(buf, '\n')
		_, werr = w.Write(buf)
	}
	lr := newLineReader(in, maxInputLine)
	var lp derive.LineParser
	for {
		line, no, err := lr.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if errors.Is(err, errLineTooLong) {
			return usageErrorf("%s:%d: %v", name, no, err)
		}
		if err != nil {
			return ioErrorf("quality simulate: read --spans %s: %w", name, err)
		}
		if blank(line) {
			continue
		}
		sp, err := lp.Parse(line)
		if err != nil {
			return usageErrorf("%s:%d: %v", name, no, err)
		}
		if err := e.Apply(sp, emit); err != nil {
			return usageErrorf("%s:%d: %v", name, no, err)
		}
		if werr != nil {
			return ioErrorf("quality simulate: write --out %s: %w", o.out, werr)
		}
	}
	e.Finish(emit)
	if w != nil {
		if werr == nil {
			werr = w.Flush()
		}
		if werr == nil {
			werr = out.Commit()
		}
		if werr != nil {
			return ioErrorf("quality simulate: write --out %s: %w", o.out, werr)
		}
	}
	sum := derive.Summarize(e.Stats())
	if o.json {
		enc := json.NewEncoder(a.io.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(sum)
	}
	printSummary(a.io.Out, sum)
	return nil
}

// simulationProgram compiles the --policy file ("" → the defaults).
func (a *app) simulationProgram(path string) (*ir.Program, error) {
	switch path {
	case "":
		return check.Check(nil, check.Options{})
	case "-":
		files, err := readLLLFiles(a, []string{path})
		if err != nil {
			return nil, err
		}
		return compileSources(a.io.Err, files)
	}
	f, err := openSimulationInput("--policy", path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	src, err := io.ReadAll(io.LimitReader(f, maxLLLSource+1))
	if err != nil {
		return nil, ioErrorf("quality simulate: read --policy %s: %w", path, err)
	}
	if len(src) > maxLLLSource {
		return nil, usageErrorf("quality simulate: --policy %s: larger than %d bytes", path, maxLLLSource)
	}
	return compileSources(a.io.Err, []programSource{{name: path, src: src}})
}

// openSimulationInput opens the input file path of flag. As docs/cli.md's
// exit codes have it, a file that does not exist (or is a directory) is a
// bad flag value, exit 2; one that exists but cannot be opened — no
// permission — is a local I/O error, exit 3. The message names the flag
// and the file.
func openSimulationInput(flag, path string) (*os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		if missingFile(err) {
			return nil, usageErrorf("quality simulate: %s %s: no such file", flag, path)
		}
		return nil, ioErrorf("quality simulate: %s %s: %w", flag, path, pathErrCause(err))
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, ioErrorf("quality simulate: %s %s: %w", flag, path, pathErrCause(err))
	}
	if st.IsDir() {
		f.Close()
		return nil, usageErrorf("quality simulate: %s %s is a directory, not a file", flag, path)
	}
	return f, nil
}

// createSimulationOutput creates --out, to appear whole on Commit. An
// --out that is a directory, in a directory that does not exist, or the
// --spans or --policy file itself (which it would replace) is a bad flag
// value, exit 2; a directory that cannot be written is an I/O error, 3.
func createSimulationOutput(o simulateOptions) (*durable.File, error) {
	if st, err := os.Stat(o.out); err == nil {
		if st.IsDir() {
			return nil, usageErrorf("quality simulate: --out %s is a directory", o.out)
		}
		for _, in := range []struct{ flag, path string }{{"--spans", o.spans}, {"--policy", o.policy}} {
			if in.path == "" || in.path == "-" {
				continue
			}
			if ist, err := os.Stat(in.path); err == nil && os.SameFile(st, ist) {
				return nil, usageErrorf("quality simulate: --out %s is the %s file; it would be replaced", o.out, in.flag)
			}
		}
	}
	f, err := durable.Create(o.out, 0o644)
	if err != nil {
		if missingFile(err) {
			return nil, usageErrorf("quality simulate: --out %s: no such directory", o.out)
		}
		return nil, ioErrorf("quality simulate: --out %s: %w", o.out, pathErrCause(err))
	}
	return f, nil
}

// pathErrCause is the cause of a *fs.PathError (permission denied, …)
// without the operation and path, which the caller names itself.
func pathErrCause(err error) error {
	if pe, ok := errors.AsType[*fs.PathError](err); ok {
		return pe.Err
	}
	return err
}

func printSummary(w io.Writer, s derive.Summary) {
	fmt.Fprintf(w, "spans            %d (%d linked, %d not linked)\n", s.Spans, s.Linked, s.NotLinked)
	fmt.Fprintf(w, "trajectories     %d\n", s.Trajectories)
	var closes []string
	for _, r := range slices.Sorted(maps.Keys(s.Closed)) {
		closes = append(closes, fmt.Sprintf("%s %d", r, s.Closed[r]))
	}
	fmt.Fprintf(w, "closed           %s\n", strings.Join(closes, ", "))
	if s.Scores.Count > 0 {
		fmt.Fprintf(w, "scores           %d: mean %.2f, p50 %d, p95 %d, p99 %d\n", s.Scores.Count, s.Scores.Mean, s.Scores.P50, s.Scores.P95, s.Scores.P99)
	} else {
		fmt.Fprintf(w, "scores           none\n")
	}
	fmt.Fprintf(w, "candidates       %d (%.2f%% of scored trajectories)\n", s.Candidates, s.CandidatePercent)
	fmt.Fprintf(w, "derived spans    %d\n", s.DerivedSpans)
}
