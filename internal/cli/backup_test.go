package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const corpusFile = "../../../shared/corpus/receipt.ndjson"

// TestBackupRestore runs the whole cycle through the command line: serve,
// ingest the corpus, backup (twice, incrementally), restore, verify --data,
// serve the restored directory and back it up into the same backup.
func TestBackupRestore(t *testing.T) {
	ctx := context.Background()
	env := map[string]string{}
	url, stop, _ := runServe(t, t.TempDir())
	if _, errOut, code := runMain(t, ctx, env, "", "ingest", "--server", url, corpusFile); code != 0 {
		t.Fatalf("ingest: exit %d: %s", code, errOut)
	}
	out := filepath.Join(t.TempDir(), "backup")
	stdout, errOut, code := runMain(t, ctx, env, "", "backup", "--out", out, "--server", url)
	if code != 0 || !strings.Contains(stdout, "copied      8577 entries, log index 0..8576") {
		t.Fatalf("backup: exit %d:\n%s%s", code, stdout, errOut)
	}
	stdout, _, code = runMain(t, ctx, env, "", "backup", "--out", out, "--server", url)
	if code != 0 || !strings.Contains(stdout, "up to date") {
		t.Fatalf("second backup: exit %d:\n%s", code, stdout)
	}
	span := `{"id":"late","tenant":"t_receipt","who":"w","did":"d","this":"x","when":"2026-01-02T03:04:05Z"}` + "\n"
	if _, errOut, code := runMain(t, ctx, env, span, "ingest", "--server", url, "-"); code != 0 {
		t.Fatalf("ingest: exit %d: %s", code, errOut)
	}
	stdout, _, code = runMain(t, ctx, env, "", "backup", "--out", out, "--server", url, "--json")
	var res backupResult
	if err := json.Unmarshal([]byte(stdout), &res); err != nil || code != 0 {
		t.Fatalf("backup --json: exit %d, %v: %s", code, err, stdout)
	}
	if res.From != 8577 || res.Size != 8578 || res.Copied != 1 || len(res.Chunks) != 1 || res.UpToDate {
		t.Errorf("backup --json: got %+v", res)
	}
	stop()

	data := filepath.Join(t.TempDir(), "data")
	_, errOut, code = runMain(t, ctx, env, "", "restore", out, "--data", data)
	if code != ExitUsage || !strings.Contains(errOut, "--new-log-key") {
		t.Errorf("restore without a key choice: exit %d: %s", code, errOut)
	}
	stdout, errOut, code = runMain(t, ctx, env, "", "restore", out, "--data", data, "--new-log-key")
	if code != 0 || !strings.Contains(stdout, "restored    "+data) || !strings.Contains(stdout, "1 key(s) of the backup kept as retired") {
		t.Fatalf("restore: exit %d:\n%s%s", code, stdout, errOut)
	}
	_, errOut, code = runMain(t, ctx, env, "", "restore", out, "--data", data, "--new-log-key")
	if code != ExitUsage || !strings.Contains(errOut, "never overwrites") {
		t.Errorf("restore over a data directory: exit %d: %s", code, errOut)
	}
	stdout, _, code = runMain(t, ctx, env, "", "verify", "--data", data)
	if code != 0 || !strings.Contains(stdout, "entries     8578") || !strings.Contains(stdout, "2 archived") {
		t.Fatalf("verify --data of the restored directory: exit %d:\n%s", code, stdout)
	}

	url, _, _ = runServe(t, data)
	if _, errOut, code := runMain(t, ctx, env, strings.Replace(span, "late", "later", 1), "ingest", "--server", url, "-"); code != 0 {
		t.Fatalf("ingest into the restored server: exit %d: %s", code, errOut)
	}
	stdout, errOut, code = runMain(t, ctx, env, "", "backup", "--out", out, "--server", url)
	if code != 0 || !strings.Contains(stdout, "extends the backup's of size 8578") || !strings.Contains(stdout, "1 new verifier key") {
		t.Fatalf("backup of the restored server: exit %d:\n%s%s", code, stdout, errOut)
	}
	stdout, _, code = runMain(t, ctx, env, "", "restore", out, "--check", "--json")
	var rr restoreResult
	if err := json.Unmarshal([]byte(stdout), &rr); err != nil || code != 0 || !rr.OK || rr.Entries != 8579 || rr.Checkpoints != 3 {
		t.Errorf("restore --check --json: exit %d, %v: %s", code, err, stdout)
	}
}

func TestRestoreRefusesTamperedBackup(t *testing.T) {
	ctx := context.Background()
	url, _, _ := runServe(t, t.TempDir())
	if _, errOut, code := runMain(t, ctx, nil, "", "ingest", "--server", url, corpusFile); code != 0 {
		t.Fatalf("ingest: exit %d: %s", code, errOut)
	}
	out := t.TempDir()
	if _, errOut, code := runMain(t, ctx, nil, "", "backup", "--out", out, "--server", url); code != 0 {
		t.Fatalf("backup: exit %d: %s", code, errOut)
	}
	chunks, _ := filepath.Glob(filepath.Join(out, "entries", "*.ndjson"))
	if len(chunks) != 1 {
		t.Fatalf("got chunks %q", chunks)
	}
	b, err := os.ReadFile(chunks[0])
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.SplitAfter(b, []byte("\n"))
	lines[1000], lines[1001] = lines[1001], lines[1000]
	if err := os.WriteFile(chunks[0], bytes.Join(lines, nil), 0o644); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(t.TempDir(), "data")
	stdout, _, code := runMain(t, ctx, nil, "", "restore", out, "--data", data, "--new-log-key")
	for _, want := range []string{"FAILED", "nothing was written", "line      1001", "log index 1000", "log_index is 1001, want 1000"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	if code != ExitFailed {
		t.Errorf("exit %d, want 1", code)
	}
	if _, err := os.Stat(data); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused restore created %s", data)
	}
	stdout, _, code = runMain(t, ctx, nil, "", "restore", out, "--check", "--json")
	var rr restoreResult
	if err := json.Unmarshal([]byte(stdout), &rr); err != nil || code != ExitFailed || rr.OK || rr.Problem == nil || *rr.Problem.LogIndex != 1000 || rr.Problem.Line != 1001 {
		t.Errorf("restore --check --json: exit %d, %v: %s", code, err, stdout)
	}
}

func TestBackupExitCodes(t *testing.T) {
	ctx := context.Background()
	url, _, _ := runServe(t, t.TempDir())
	other, _, _ := runServe(t, t.TempDir())
	out := t.TempDir()
	if _, errOut, code := runMain(t, ctx, nil, "", "backup", "--out", out, "--server", url); code != 0 {
		t.Fatalf("backup: exit %d: %s", code, errOut)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	foreign := t.TempDir()
	if err := os.WriteFile(filepath.Join(foreign, "notes.txt"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		ctx  context.Context
		args []string
		code int
		text string
	}{
		{"no --out", ctx, []string{"backup", "--server", url}, ExitUsage, "--out"},
		{"another log's backup", ctx, []string{"backup", "--out", out, "--server", other}, ExitUsage, "another log"},
		{"not a backup directory", ctx, []string{"backup", "--out", foreign, "--server", url}, ExitUsage, "notes.txt"},
		{"server down", ctx, []string{"backup", "--out", t.TempDir(), "--server", "127.0.0.1:1"}, ExitUnavailable, "cannot reach"},
		{"interrupted", cancelled, []string{"backup", "--out", t.TempDir(), "--server", url}, ExitInterrupted, "interrupted"},
		{"restore: no such backup", ctx, []string{"restore", filepath.Join(out, "nope"), "--check"}, ExitUsage, "no such file"},
		{"restore: both key choices", ctx, []string{"restore", out, "--data", t.TempDir(), "--keys", out, "--new-log-key"}, ExitUsage, "exclude"},
		{"restore: keys of nothing", ctx, []string{"restore", out, "--data", filepath.Join(t.TempDir(), "d"), "--keys", t.TempDir()}, ExitUsage, "unusable log keys"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, errOut, code := runMain(t, tt.ctx, nil, "", tt.args...)
			if code != tt.code || !strings.Contains(errOut, tt.text) {
				t.Errorf("exit %d, want %d; stderr %q should say %q", code, tt.code, errOut, tt.text)
			}
		})
	}
}
