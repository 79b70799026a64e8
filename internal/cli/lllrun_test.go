package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const runRules = `validator needs_status {
  require field "status"
  on_fail "reject"
}
router by_department {
  route "general" when data.department == "General"
  route "eu" when env("region") == "eu"
}
`

// TestCompileAndRun: compile signs a bundle; run evaluates it over
// corpus-like spans and prints one decision per line; a replay token
// reproduces the run byte for byte and refuses another program; a
// tampered bundle is refused.
func TestCompileAndRun(t *testing.T) {
	dir := t.TempDir()
	src, key, out, in := filepath.Join(dir, "rules.lll"), filepath.Join(dir, "ci.key"), filepath.Join(dir, "rules.lllb"), filepath.Join(dir, "in.ndjson")
	if err := os.WriteFile(src, []byte(runRules), 0o644); err != nil {
		t.Fatal(err)
	}
	spans := `{"id":"a","tenant":"t","who":"w","did":"d","this":"x","when":"2026-01-02T03:04:05Z","status":"ok","data":{"department":"General"}}
{"id":"b","tenant":"t","who":"w","did":"d","this":"x","when":"2026-01-02T03:04:05Z"}
not json
`
	if err := os.WriteFile(in, []byte(spans), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := runMain(t, t.Context(), nil, "", "keys", "new", "--out", key); code != 0 {
		t.Fatal(errOut)
	}
	if stdout, errOut, code := runMain(t, t.Context(), nil, "", "compile", src, "-o", out, "--key", key); code != 0 || !strings.Contains(stdout, "1 validators, 1 routers") {
		t.Fatalf("compile: exit %d\n%s%s", code, stdout, errOut)
	}
	stdout, errOut, code := runMain(t, t.Context(), nil, "", "run", out, "--input", in, "--env", "region=eu")
	if code != 0 {
		t.Fatalf("run: exit %d\n%s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) != 3 ||
		!strings.Contains(lines[0], `"decision":"accept"`) || !strings.Contains(lines[0], `"routes":["general","eu"]`) ||
		!strings.Contains(lines[1], `"decision":"reject"`) || !strings.Contains(lines[1], `needs_status`) ||
		!strings.Contains(lines[2], `"error"`) {
		t.Fatalf("run output:\n%s", stdout)
	}
	var token string
	for _, l := range strings.Split(errOut, "\n") {
		if v, ok := strings.CutPrefix(l, "replay: "); ok {
			token = v
		}
	}
	again, _, code := runMain(t, t.Context(), nil, "", "run", out, "--input", in, "--replay", token)
	if code != 0 || again != stdout {
		t.Errorf("replay: exit %d, output differs:\n%s\nvs\n%s", code, again, stdout)
	}
	if _, errOut, code := runMain(t, t.Context(), nil, "", "run", src, "--input", in, "--replay", "llr1.eyJoYXNoIjoic2hhMjU2OjAwIiwiZW52Ijp7fX0"); code != ExitUsage || !strings.Contains(errOut, "not sha256") && !strings.Contains(errOut, "is for program") {
		t.Errorf("replay token of another program: exit %d\n%s", code, errOut)
	}
	b, _ := os.ReadFile(out)
	tampered := filepath.Join(dir, "tampered.lllb")
	os.WriteFile(tampered, []byte(strings.Replace(string(b), `"needs_status"`, `"other"`, 1)), 0o644)
	if _, errOut, code := runMain(t, t.Context(), nil, "", "run", tampered, "--input", in); code != ExitFailed || !strings.Contains(errOut, "refused") {
		t.Errorf("tampered bundle: exit %d\n%s", code, errOut)
	}
	// Untrusted key with --trusted: refused.
	trusted := filepath.Join(dir, "trusted")
	os.WriteFile(trusted, []byte("# nobody\n"), 0o644)
	if _, errOut, code := runMain(t, t.Context(), nil, "", "run", out, "--input", in, "--trusted", trusted); code != ExitFailed || !strings.Contains(errOut, "does not trust") {
		t.Errorf("untrusted bundle: exit %d\n%s", code, errOut)
	}
	// Compile errors: file:line:col with a caret, exit 2, nothing written.
	bad := filepath.Join(dir, "bad.lll")
	os.WriteFile(bad, []byte("validator x {\n  bogus: 1\n}\n"), 0o644)
	if _, errOut, code := runMain(t, t.Context(), nil, "", "compile", bad, "-o", filepath.Join(dir, "bad.lllb"), "--key", key); code != ExitUsage || !strings.Contains(errOut, "bad.lll:2:") || !strings.Contains(errOut, "^") {
		t.Errorf("compile error: exit %d\n%s", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, "bad.lllb")); err == nil {
		t.Error("a failed compile wrote a bundle")
	}
}
