package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/logline/logline/internal/ledger/pgstore/pgtest"
	"github.com/logline/logline/internal/tlog"
)

// TestExportStore: export --store writes a bundle from a PostgreSQL
// ledger while its servers run, signed with a node's key, and verify
// --export accepts it with the keys of GET /log/key; --data is required
// and must hold a key of the same log.
func TestExportStore(t *testing.T) {
	ctx := context.Background()
	db := pgtest.NewDatabase(t)
	dataA, dataB := t.TempDir(), t.TempDir()
	urlA, _, _ := runServe(t, dataA, "--store", db, "--log-origin", "pg.example/ledger")
	urlB, _, _ := runServe(t, dataB, "--store", db)
	for i, line := range []string{
		`{"id":"a1","tenant":"acme","who":"w","did":"d","this":"x","when":"2026-01-02T03:04:05Z"}`,
		`{"id":"b1","tenant":"bake","who":"w","did":"d","this":"x","when":"2026-01-02T03:04:06Z"}`,
		`{"id":"a2","tenant":"acme","who":"w","did":"d","this":"x","when":"2026-01-02T03:04:07Z"}`,
	} {
		postSpan(t, []string{urlA, urlB}[i%2], line)
	}
	keyFile := filepath.Join(t.TempDir(), "log.key")
	if err := os.WriteFile(keyFile, httpGet(t, urlA+"/log/key"), 0o644); err != nil {
		t.Fatal(err)
	}
	bundle := filepath.Join(t.TempDir(), "acme.ndjson")
	out, errOut, code := runMain(t, ctx, nil, "", "export", "--store", db, "--data", dataB, "--tenant", "acme", "--out", bundle, "--json")
	var res exportResult
	if code != 0 || json.Unmarshal([]byte(out), &res) != nil {
		t.Fatalf("export --store: exit %d\n%s%s", code, out, errOut)
	}
	if res.Entries != 2 || res.FirstIndex == nil || *res.FirstIndex != 0 || *res.LastIndex != 2 || res.CheckpointSize != 3 {
		t.Fatalf("export --store: got %s, want 2 entries at log indexes 0 and 2 under the checkpoint of size 3", out)
	}
	out, _, code = runMain(t, ctx, nil, "", "verify", "--export", bundle, "--log-key", keyFile)
	if code != 0 || !strings.Contains(out, "OK ") {
		t.Fatalf("verify --export of the bundle: exit %d\n%s", code, out)
	}

	other := t.TempDir()
	if _, err := tlog.LoadOrCreateKeys(filepath.Join(other, keysDirName), "other.example/log", nil, nil); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"no --data", []string{"--store", db}, "needs --data"},
		{"no key", []string{"--store", db, "--data", t.TempDir()}, "has no log key"},
		{"a key of another log", []string{"--store", db, "--data", other}, "other.example/log"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"export", "--tenant", "acme", "--out", filepath.Join(t.TempDir(), "x")}, tt.args...)
			if _, errOut, code := runMain(t, ctx, nil, "", args...); code != ExitUsage || !strings.Contains(errOut, tt.want) {
				t.Fatalf("exit %d %q, want %d mentioning %q", code, errOut, ExitUsage, tt.want)
			}
		})
	}
}
