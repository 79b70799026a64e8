package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	lllUgly      = "policy   p{a:1\n  b :[1,2]}\n"
	lllCanonical = "policy p {\n  a: 1\n  b: [1, 2]\n}\n"
	lllBad       = "policy p {\n  window \"24h\"\n}\n"
)

func writeLLL(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o640); err != nil {
		t.Fatal(err)
	}
	return path
}

func readString(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestFmtLll(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	ugly := writeLLL(t, dir, "ugly.lll", lllUgly)
	canon := writeLLL(t, dir, "canon.lll", lllCanonical)
	bad := writeLLL(t, dir, "bad.lll", lllBad)

	tests := []struct {
		name     string
		stdin    string
		args     []string
		wantCode int
		wantOut  string
		wantErr  string // substring of stderr
	}{
		{name: "file to stdout", args: []string{"fmt", ugly}, wantOut: lllCanonical},
		{name: "canonical file unchanged", args: []string{"fmt", canon}, wantOut: lllCanonical},
		{name: "stdin with -", stdin: lllUgly, args: []string{"fmt", "-"}, wantOut: lllCanonical},
		{name: "stdin without arguments", stdin: lllUgly, args: []string{"fmt"}, wantOut: lllCanonical},
		{name: "list", args: []string{"fmt", "-l", ugly, canon}, wantOut: ugly + "\n"},
		{name: "list stdin", stdin: lllUgly, args: []string{"fmt", "-l", "-"}, wantOut: stdinName + "\n"},
		{name: "check differs", args: []string{"fmt", "--check", ugly, canon}, wantCode: ExitFailed,
			wantErr: ugly + ": not formatted"},
		{name: "check with list", args: []string{"fmt", "--check", "-l", ugly, canon}, wantCode: ExitFailed,
			wantOut: ugly + "\n"},
		{name: "check canonical", args: []string{"fmt", "--check", canon}},
		{name: "syntax error", args: []string{"fmt", bad}, wantCode: ExitUsage,
			wantErr: bad + ":2:10: expected ':' after entry key \"window\", found string \"24h\"\n\t  window \"24h\"\n\t         ^\n"},
		{name: "syntax error and a good file", args: []string{"fmt", bad, canon}, wantCode: ExitUsage, wantOut: lllCanonical,
			wantErr: bad + ":2:10:"},
		{name: "missing file", args: []string{"fmt", filepath.Join(dir, "nope.lll")}, wantCode: ExitUsage,
			wantErr: "nope.lll"},
		{name: "write stdin", stdin: lllUgly, args: []string{"fmt", "-w", "-"}, wantCode: ExitUsage,
			wantErr: "cannot rewrite standard input"},
		{name: "stdin twice", args: []string{"fmt", "-", "-"}, wantCode: ExitUsage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := runMain(t, ctx, nil, tt.stdin, tt.args...)
			if code != tt.wantCode {
				t.Errorf("exit code %d, want %d (stderr %q)", code, tt.wantCode, errOut)
			}
			if out != tt.wantOut {
				t.Errorf("stdout:\n%q\nwant:\n%q", out, tt.wantOut)
			}
			if !strings.Contains(errOut, tt.wantErr) {
				t.Errorf("stderr:\n%s\nwant it to contain:\n%s", errOut, tt.wantErr)
			}
		})
	}
	// None of these rewrote anything.
	for path, want := range map[string]string{ugly: lllUgly, canon: lllCanonical, bad: lllBad} {
		if got := readString(t, path); got != want {
			t.Errorf("%s changed to %q", path, got)
		}
	}
}

func TestFmtWriteLll(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	ugly := writeLLL(t, dir, "rules/ugly.lll", lllUgly)
	canon := writeLLL(t, dir, "rules/sub/canon.lll", lllCanonical)
	bad := writeLLL(t, dir, "rules/sub/bad.lll", lllBad)
	other := writeLLL(t, dir, "rules/notes.txt", "not a program {")
	before, err := os.Stat(canon)
	if err != nil {
		t.Fatal(err)
	}

	out, errOut, code := runMain(t, ctx, nil, "", "fmt", "-w", "-l", filepath.Join(dir, "rules"))
	if code != ExitUsage {
		t.Errorf("exit code %d, want %d (a file with a syntax error)", code, ExitUsage)
	}
	if out != ugly+"\n" {
		t.Errorf("listed %q, want %q", out, ugly+"\n")
	}
	if !strings.Contains(errOut, bad+":2:10:") {
		t.Errorf("stderr %q lacks the syntax error", errOut)
	}
	if got := readString(t, ugly); got != lllCanonical {
		t.Errorf("ugly.lll rewritten to %q, want %q", got, lllCanonical)
	}
	info, err := os.Stat(ugly)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o640 {
		t.Errorf("mode %v after rewrite, want 0640", info.Mode().Perm())
	}
	if got := readString(t, bad); got != lllBad {
		t.Errorf("bad.lll changed to %q", got)
	}
	if got := readString(t, other); got != "not a program {" {
		t.Errorf("a non-.lll file changed to %q", got)
	}
	after, err := os.Stat(canon)
	if err != nil {
		t.Fatal(err)
	}
	if !after.ModTime().Equal(before.ModTime()) || !os.SameFile(before, after) {
		t.Error("a canonical file was rewritten")
	}
	entries, err := os.ReadDir(filepath.Join(dir, "rules"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}

	// Now everything but bad.lll is canonical.
	if err := os.Remove(bad); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := runMain(t, ctx, nil, "", "fmt", "--check", filepath.Join(dir, "rules")); code != ExitOK {
		t.Errorf("--check after -w: exit %d, stderr %q", code, errOut)
	}
}

func TestCheckLll(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	good := writeLLL(t, dir, "good.lll", lllUgly)
	bad := writeLLL(t, dir, "bad.lll", lllBad+"validator v {\n  emit: \"x\"\n}\n")
	other := writeLLL(t, dir, "other/ok.lll", lllCanonical)
	notChecked := good + ": parses; not checked with its program (other files have syntax errors)\n"

	tests := []struct {
		name     string
		stdin    string
		args     []string
		wantCode int
		wantOut  string
		wantErr  []string
	}{
		{name: "ok", args: []string{"check", good}, wantOut: good + ": ok\n"},
		{name: "stdin", stdin: lllCanonical, args: []string{"check", "-"}, wantOut: stdinName + ": ok\n"},
		{name: "alone", args: []string{"check", good, other}, wantOut: good + ": ok\n" + other + ": ok\n"},
		{name: "errors", args: []string{"check", good, bad}, wantCode: ExitUsage, wantOut: notChecked,
			wantErr: []string{
				bad + ":2:10: expected ':' after entry key \"window\", found string \"24h\"\n\t  window \"24h\"\n\t         ^\n",
				bad + ":5:3: emit is a statement, not an entry key",
			}},
		{name: "directory", args: []string{"check", dir}, wantCode: ExitUsage, wantOut: notChecked + other + ": ok\n",
			wantErr: []string{bad + ":2:10:"}},
		{name: "missing file", args: []string{"check", filepath.Join(dir, "nope.lll")}, wantCode: ExitUsage,
			wantErr: []string{"nope.lll: no such file"}},
		{name: "path through a file", args: []string{"check", filepath.Join(good, "x.lll")}, wantCode: ExitUsage,
			wantErr: []string{"x.lll: no such file"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := runMain(t, ctx, nil, tt.stdin, tt.args...)
			if code != tt.wantCode {
				t.Errorf("exit code %d, want %d (stderr %q)", code, tt.wantCode, errOut)
			}
			if out != tt.wantOut {
				t.Errorf("stdout %q, want %q", out, tt.wantOut)
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(errOut, want) {
					t.Errorf("stderr:\n%s\nwant it to contain:\n%s", errOut, want)
				}
			}
		})
	}
}

// TestYAMLPolicyFiles: check reads YAML policy files (alone and in a
// directory, tenant.yaml excepted), fmt refuses them, compile and run
// compile them with .lll files.
func TestYAMLPolicyFiles(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	limits := writeLLL(t, dir, "tenant/limits.yaml", "orders:\n  max_total: 100\n")
	writeLLL(t, dir, "tenant/tenant.yaml", "roles: [\n") // not a policy file: never read as one
	rules := writeLLL(t, dir, "tenant/rules.lll", "validator small {\n  require data.total <= policy.orders.max_total\n}\n")
	bad := writeLLL(t, dir, "bad/quality.yml", "quality_meter:\n  min_score: &s 60\n")

	out, errOut, code := runMain(t, ctx, nil, "", "check", filepath.Join(dir, "tenant"))
	if code != ExitOK || out != limits+": ok\n"+rules+": ok\n" {
		t.Errorf("check DIR: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	_, errOut, code = runMain(t, ctx, nil, "", "check", bad)
	if code != ExitUsage || !strings.Contains(errOut, bad+":2:14: anchors (&s) are not supported in policy files\n\t  min_score: &s 60\n\t             ^\n") {
		t.Errorf("check bad YAML: exit %d, stderr %q", code, errOut)
	}
	_, errOut, code = runMain(t, ctx, nil, "", "fmt", limits)
	if code != ExitUsage || !strings.Contains(errOut, "a YAML policy file; logline fmt formats .lll programs") {
		t.Errorf("fmt YAML: exit %d, stderr %q", code, errOut)
	}
	// fmt of the directory formats the .lll alone.
	if _, errOut, code := runMain(t, ctx, nil, "", "fmt", "-l", filepath.Join(dir, "tenant")); code != ExitOK {
		t.Errorf("fmt -l DIR: exit %d, stderr %q", code, errOut)
	}

	// run: the YAML's limit decides.
	in := filepath.Join(dir, "in.ndjson")
	spans := `{"id":"a","tenant":"acme","who":"w","did":"d","this":"x","when":"2026-01-02T03:04:05Z","data":{"total":150}}` + "\n" +
		`{"id":"b","tenant":"acme","who":"w","did":"d","this":"x","when":"2026-01-02T03:04:05Z","data":{"total":50}}` + "\n"
	if err := os.WriteFile(in, []byte(spans), 0o644); err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(dir, "ci.key")
	if _, errOut, code := runMain(t, ctx, nil, "", "keys", "new", "--out", key); code != ExitOK {
		t.Fatalf("keys new: %d %s", code, errOut)
	}
	bundle := filepath.Join(dir, "acme.lllb")
	if _, errOut, code := runMain(t, ctx, nil, "", "compile", rules, limits, "-o", bundle, "--key", key); code != ExitOK {
		t.Fatalf("compile .lll + YAML: exit %d, stderr %s", code, errOut)
	}
	out, errOut, code = runMain(t, ctx, nil, "", "run", bundle, "--input", in)
	if code != ExitOK {
		t.Fatalf("run: exit %d, stderr %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], `"decision":"reject"`) || !strings.Contains(lines[0], "require data.total <= policy.orders.max_total") ||
		!strings.Contains(lines[1], `"decision":"accept"`) {
		t.Errorf("run output:\n%s", out)
	}
}
