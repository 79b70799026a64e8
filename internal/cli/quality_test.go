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
// docs/quality.md and docs/cli.md prints exactly what the command prints.
func TestQualityDocs(t *testing.T) {
	doc, err := os.ReadFile("../../docs/quality.md")
	if err != nil {
		t.Fatal(err)
	}
	if blocks := checkSimulateExamples(t, "docs/quality.md", string(doc)); blocks < 3 {
		t.Errorf("docs/quality.md has %d simulate examples, want 3", blocks)
	}
	cli, err := os.ReadFile("../../docs/cli.md")
	if err != nil {
		t.Fatal(err)
	}
	if blocks := checkSimulateExamples(t, "docs/cli.md", string(cli)); blocks < 1 {
		t.Errorf("docs/cli.md has %d simulate examples, want 1", blocks)
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
}

// checkSimulateExamples runs every ```console block of doc (named name)
// that starts with `$ logline quality simulate` and compares what it
// prints with the block; it returns how many there were. Paths under
// ../shared/ and examples/ are taken from the repository's root, and
// --out files go to a temporary directory.
func checkSimulateExamples(t *testing.T, name, doc string) int {
	t.Helper()
	blocks := 0
	for _, block := range strings.Split(doc, "```console\n")[1:] {
		block = block[:strings.Index(block, "```")]
		cmd, want, _ := strings.Cut(block, "\n")
		if !strings.HasPrefix(cmd, "$ logline quality simulate ") {
			continue
		}
		blocks++
		var args []string
		for _, a := range strings.Fields(strings.TrimPrefix(cmd, "$ logline ")) {
			switch {
			case len(args) > 0 && (args[len(args)-1] == "--out" || args[len(args)-1] == "-o"):
				a = filepath.Join(t.TempDir(), filepath.Base(a))
			case strings.HasPrefix(a, "../shared/") || strings.HasPrefix(a, "examples/"):
				a = "../../" + a // the docs run from the repository's root
			}
			args = append(args, a)
		}
		got, errOut, code := runMain(t, context.Background(), nil, "", args...)
		if code != ExitOK {
			t.Errorf("%s: %s: exit %d: %s", name, cmd, code, errOut)
			continue
		}
		if got != want {
			t.Errorf("%s prints\n%s\n%s shows\n%s", cmd, got, name, want)
		}
	}
	return blocks
}

// TestQualitySimulateFiles: every problem with a file of quality simulate
// exits with the code docs/cli.md gives it — 2 for a file that does not
// exist or is not a usable path, 3 for one that exists but cannot be read
// or written — names the flag and the file, and writes nothing.
func TestQualitySimulateFiles(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	policy := writeLLL(t, dir, "policy.yaml", "quality_meter:\n  min_score: 40\n")
	spans := writeLLL(t, dir, "spans.ndjson", `{"id":"a","tenant":"t","who":"w","this":"x","when":"2026-01-01T00:00:00Z"}`+"\n")
	aFile := writeLLL(t, dir, "plain", "")
	noRead := writeLLL(t, dir, "noread.ndjson", "")
	noReadPolicy := writeLLL(t, dir, "noread.yaml", "")
	noWrite := filepath.Join(dir, "nowrite")
	for _, p := range []string{noRead, noReadPolicy} {
		if err := os.Chmod(p, 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(noWrite, 0o555); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.logline")
	missing := filepath.Join(dir, "none.ndjson")
	for _, tc := range []struct {
		name         string
		args         []string
		code         int
		want         string
		needsNonRoot bool // permissions do not stop root
	}{
		{"spans missing", []string{"--spans", missing, "--out", out}, ExitUsage, "--spans " + missing + ": no such file", false},
		{"spans under a file", []string{"--spans", filepath.Join(aFile, "x"), "--out", out}, ExitUsage, "--spans " + filepath.Join(aFile, "x") + ": no such file", false},
		{"spans a directory", []string{"--spans", dir, "--out", out}, ExitUsage, "--spans " + dir + " is a directory", false},
		{"spans unreadable", []string{"--spans", noRead, "--out", out}, ExitUnavailable, "--spans " + noRead + ": permission denied", true},
		{"policy missing", []string{"--spans", spans, "--policy", filepath.Join(dir, "none.yaml"), "--out", out}, ExitUsage, "--policy " + filepath.Join(dir, "none.yaml") + ": no such file", false},
		{"policy a directory", []string{"--spans", spans, "--policy", dir, "--out", out}, ExitUsage, "--policy " + dir + " is a directory", false},
		{"policy unreadable", []string{"--spans", spans, "--policy", noReadPolicy, "--out", out}, ExitUnavailable, "--policy " + noReadPolicy + ": permission denied", true},
		{"both standard input", []string{"--spans", "-", "--policy", "-", "--out", out}, ExitUsage, "--spans and --policy cannot both be -", false},
		{"out in no directory", []string{"--spans", spans, "--out", filepath.Join(dir, "none", "out.logline")}, ExitUsage, "--out " + filepath.Join(dir, "none", "out.logline") + ": no such directory", false},
		{"out a directory", []string{"--spans", spans, "--out", dir}, ExitUsage, "--out " + dir + " is a directory", false},
		{"out is spans", []string{"--spans", spans, "--out", spans}, ExitUsage, "--out " + spans + " is the --spans file", false},
		{"out is policy", []string{"--spans", spans, "--policy", policy, "--out", policy}, ExitUsage, "--out " + policy + " is the --policy file", false},
		{"out not writable", []string{"--spans", spans, "--out", filepath.Join(noWrite, "out.logline")}, ExitUnavailable, "--out " + filepath.Join(noWrite, "out.logline") + ": permission denied", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.needsNonRoot && os.Geteuid() == 0 {
				t.Skip("root reads and writes regardless of permissions")
			}
			stdout, errOut, code := runMain(t, ctx, nil, "", append([]string{"quality", "simulate"}, tc.args...)...)
			if code != tc.code {
				t.Errorf("got exit %d, want %d (stderr %q)", code, tc.code, errOut)
			}
			if want := "logline: quality simulate: " + tc.want; !strings.Contains(errOut, want) {
				t.Errorf("got stderr %q, want it to contain %q", errOut, want)
			}
			if stdout != "" {
				t.Errorf("got stdout %q, want nothing", stdout)
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Errorf("a failed run left %s: %v", out, err)
			}
		})
	}
	// The inputs a refused --out named are untouched.
	if got, _ := os.ReadFile(policy); string(got) != "quality_meter:\n  min_score: 40\n" {
		t.Errorf("got policy file %q after the runs", got)
	}
	if got, _ := os.ReadFile(spans); !strings.HasPrefix(string(got), `{"id":"a"`) {
		t.Errorf("got spans file %q after the runs", got)
	}
}
