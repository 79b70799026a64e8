package cli

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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

Exit codes: 0 done; 2 a bad policy, flag or input line (named with its
line number; nothing is written); 3 a file could not be read or written.`,
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
	prog, err := a.simulationProgram(o.policy)
	if err != nil {
		return err
	}
	policy, err := derive.PolicyOf(prog, true, !o.noDiamond)
	if err != nil {
		return usageErrorf("quality simulate: %v", err)
	}

	var in io.Reader = a.io.In
	if o.spans != "-" {
		f, err := os.Open(o.spans)
		if err != nil {
			return ioErrorf("%w", err)
		}
		defer f.Close()
		in = f
	}
	var (
		out *durable.File
		w   *bufio.Writer
	)
	if o.out != "" {
		if out, err = durable.Create(o.out, 0o644); err != nil {
			return ioErrorf("%w", err)
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
			return usageErrorf("%s:%d: %v", o.spans, no, err)
		}
		if err != nil {
			return ioErrorf("read %s: %w", o.spans, err)
		}
		if blank(line) {
			continue
		}
		sp, err := lp.Parse(line)
		if err != nil {
			return usageErrorf("%s:%d: %v", o.spans, no, err)
		}
		if err := e.Apply(sp, emit); err != nil {
			return usageErrorf("%s:%d: %v", o.spans, no, err)
		}
		if werr != nil {
			return ioErrorf("write %s: %w", o.out, werr)
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
			return ioErrorf("write %s: %w", o.out, werr)
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
	if path == "" {
		return check.Check(nil, check.Options{})
	}
	files, err := readLLLFiles(a, []string{path})
	if err != nil {
		return nil, err
	}
	return compileSources(a.io.Err, files)
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
