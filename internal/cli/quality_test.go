package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/logline/logline/internal/derive"
)

// TestQualitySimulate: the corpus under the default policy and a tuned
// one; byte-identical output on every run; bad input and policies are
// precise errors that write nothing.
func TestQualitySimulate(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	out1, out2 := filepath.Join(dir, "a.logline"), filepath.Join(dir, "b.logline")
	stdout, errOut, code := runMain(t, ctx, nil, "", "quality", "simulate", "--spans", corpusFile, "--out", out1, "--json")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var sum derive.Summary
	if err := json.Unmarshal([]byte(stdout), &sum); err != nil {
		t.Fatalf("summary %q: %v", stdout, err)
	}
	if sum.Spans != 8577 || sum.Linked != 8577 || sum.Scores.Count != sum.Trajectories || sum.Closed["timeout"]+sum.Closed["end_of_input"]+sum.Closed["window"] != sum.Trajectories {
		t.Errorf("summary %+v", sum)
	}
	if _, errOut, code := runMain(t, ctx, nil, "", "quality", "simulate", "--spans", corpusFile, "--out", out2); code != ExitOK {
		t.Fatalf("second run: exit %d: %s", code, errOut)
	}
	a, _ := os.ReadFile(out1)
	b, _ := os.ReadFile(out2)
	if len(a) == 0 || !bytes.Equal(a, b) {
		t.Fatalf("two runs differ (%d and %d bytes)", len(a), len(b))
	}
	lines := strings.Split(strings.TrimSpace(string(a)), "\n")
	if int64(len(lines)) != sum.DerivedSpans {
		t.Errorf("%d lines written, summary says %d derived spans", len(lines), sum.DerivedSpans)
	}

	// Cases of the corpus last days to weeks: a tuned policy keeps one
	// trajectory per case and scores them higher.
	tuned := writeLLL(t, dir, "tuned.yaml", "trajectory_linker:\n  window: 30d\n  close_timeout: 14d\nquality_meter:\n  min_score: 40\n")
	stdout, errOut, code = runMain(t, ctx, nil, "", "quality", "simulate", "--spans", corpusFile, "--policy", tuned, "--json")
	if code != ExitOK {
		t.Fatalf("tuned: exit %d: %s", code, errOut)
	}
	var tsum derive.Summary
	if err := json.Unmarshal([]byte(stdout), &tsum); err != nil {
		t.Fatal(err)
	}
	if tsum.Trajectories >= sum.Trajectories || tsum.Scores.P50 <= sum.Scores.P50 {
		t.Errorf("tuned %+v\ndefault %+v", tsum, sum)
	}

	// A close rule: the corpus has 1,283 cases with one T10 decision
	// each; every one of them closes a trajectory by rule.
	rule := writeLLL(t, dir, "rule.lll", `policy trajectory_linker {
  window: 60d
  close_timeout: 21d
}

pipeline trajectory_linker {
  when features.trajectory
  derive "trajectory_edge" on link_open_or_continue()
  derive "trajectory_closed" on close_by_timeout_or_rule(did == "T10 Determine necessity to stop indication")
}
`)
	stdout, errOut, code = runMain(t, ctx, nil, "", "quality", "simulate", "--spans", corpusFile, "--policy", rule, "--json")
	if code != ExitOK {
		t.Fatalf("rule: exit %d: %s", code, errOut)
	}
	var rsum derive.Summary
	if err := json.Unmarshal([]byte(stdout), &rsum); err != nil {
		t.Fatal(err)
	}
	if rsum.Closed["rule"] != 1283 {
		t.Errorf("closed by rule %d, want 1283: %+v", rsum.Closed["rule"], rsum)
	}

	bad := writeLLL(t, dir, "bad.ndjson", `{"id":"a","tenant":"t","who":"w","this":"x","when":"2026-01-01T00:00:00Z"}`+"\n"+`{"id":"b","tenant":"t","this":"x","when":"yesterday"}`+"\n")
	badPolicy := writeLLL(t, dir, "bad.yaml", "trajectory_linker:\n  window: soon\n")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"bad line", []string{"--spans", bad, "--out", filepath.Join(dir, "x.logline")}, bad + `:2: when "yesterday" is not an RFC 3339 time`},
		{"bad policy", []string{"--spans", bad, "--policy", badPolicy}, "bad.yaml:2:11: policy trajectory_linker: window"},
		{"no spans", nil, "needs --spans"},
		{"missing file", []string{"--spans", filepath.Join(dir, "none.ndjson")}, "none.ndjson"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, errOut, code := runMain(t, ctx, nil, "", append([]string{"quality", "simulate"}, tc.args...)...)
			if code == ExitOK || !strings.Contains(errOut, tc.want) {
				t.Errorf("exit %d, stderr %q; want an error with %q", code, errOut, tc.want)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "x.logline")); !os.IsNotExist(err) {
		t.Errorf("a failed run left its output: %v", err)
	}
}

// TestQualityDocs: every `$ logline quality simulate …` block of
// docs/quality.md prints exactly what the command prints.
func TestQualityDocs(t *testing.T) {
	doc, err := os.ReadFile("../../docs/quality.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := 0
	for _, block := range strings.Split(string(doc), "```console\n")[1:] {
		block = block[:strings.Index(block, "```")]
		cmd, want, _ := strings.Cut(block, "\n")
		if !strings.HasPrefix(cmd, "$ logline quality simulate ") {
			continue
		}
		blocks++
		var args []string
		for _, a := range strings.Fields(strings.TrimPrefix(cmd, "$ logline ")) {
			if strings.HasPrefix(a, "../shared/") || strings.HasPrefix(a, "examples/") {
				a = "../../" + a // the docs run from the repository's root
			}
			args = append(args, a)
		}
		got, errOut, code := runMain(t, context.Background(), nil, "", args...)
		if code != ExitOK {
			t.Errorf("%s: exit %d: %s", cmd, code, errOut)
			continue
		}
		if got != want {
			t.Errorf("%s prints\n%s\ndocs/quality.md shows\n%s", cmd, got, want)
		}
	}
	// Every ```lll block compiles.
	for i, block := range strings.Split(string(doc), "```lll\n")[1:] {
		block = block[:strings.Index(block, "```")]
		if _, errOut, code := runMain(t, context.Background(), nil, block, "check", "-"); code != ExitOK {
			t.Errorf("docs/quality.md's lll example %d does not compile:\n%s\n%s", i+1, block, errOut)
		}
	}
	// The example edge is the first span simulate derives.
	out := filepath.Join(t.TempDir(), "derived.ndjson")
	if _, errOut, code := runMain(t, context.Background(), nil, "", "quality", "simulate", "--spans", corpusFile, "--out", out); code != ExitOK {
		t.Fatalf("simulate: %s", errOut)
	}
	derived, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	first, _, _ := strings.Cut(string(derived), "\n")
	if !strings.Contains(string(doc), "```json\n"+first+"\n```") {
		t.Errorf("docs/quality.md's example edge is not the first derived span:\n%s", first)
	}
	if blocks < 3 {
		t.Errorf("docs/quality.md has %d simulate examples, want 3", blocks)
	}
}
