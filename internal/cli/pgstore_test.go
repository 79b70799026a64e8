package cli

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/logline/logline/internal/ledger/pgstore/pgtest"
	"github.com/logline/logline/internal/tlog"
)

// TestMigrateCommand: migrate applies the schema once; a second run does
// nothing; a URL that is not postgres:// is a usage error.
func TestMigrateCommand(t *testing.T) {
	db := pgtest.NewDatabase(t)
	ctx := context.Background()
	out, errOut, code := runMain(t, ctx, nil, "", "migrate", "--store", db, "--json")
	if code != 0 || strings.TrimSpace(out) != `{"applied":[1,2,3],"version":3}` {
		t.Fatalf("first run: exit %d, %q %q", code, out, errOut)
	}
	out, _, code = runMain(t, ctx, nil, "", "migrate", "--store", db)
	if code != 0 || !strings.Contains(out, "up to date") {
		t.Fatalf("second run: exit %d, %q", code, out)
	}
	if _, _, code := runMain(t, ctx, nil, "", "migrate", "--store", "mysql://x/y"); code != ExitUsage {
		t.Fatalf("mysql URL: exit %d, want %d", code, ExitUsage)
	}
}

func postSpan(t *testing.T, url, body string) {
	t.Helper()
	resp, err := http.Post(url+"/ingest", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("ingest: got %d", resp.StatusCode)
	}
}

// TestServeOnPostgres: two servers on one database (each migrating on
// start) share one log: one origin, every node's key at GET /log/key, and
// a checkpoint of either node proves entries appended through the other.
func TestServeOnPostgres(t *testing.T) {
	db := pgtest.NewDatabase(t)
	urlA, stopA, logA := runServe(t, t.TempDir(), "--store", db, "--log-origin", "pg.example/ledger")
	urlB, stopB, logB := runServe(t, t.TempDir(), "--store", db)
	postSpan(t, urlA, `{"id":"a","tenant":"t","who":"w","did":"d","this":"x","when":"2026-01-02T03:04:05Z"}`)
	postSpan(t, urlB, `{"id":"b","tenant":"t","who":"w","did":"d","this":"x","when":"2026-01-02T03:04:06Z"}`)

	keys, err := tlog.ParseLogKeys(httpGet(t, urlA+"/log/key"))
	if err != nil {
		t.Fatal(err)
	}
	if keys.Origin != "pg.example/ledger" || len(keys.Keys) != 2 {
		t.Fatalf("GET /log/key: origin %q, %d keys; want pg.example/ledger and both nodes' keys", keys.Origin, len(keys.Keys))
	}
	cp, err := tlog.ParseCheckpoint(httpGet(t, urlB+"/checkpoint"), keys.Verifiers, keys.Origin)
	if err != nil {
		t.Fatal(err)
	}
	if cp.Size != 2 {
		t.Fatalf("node B's checkpoint: size %d, want 2", cp.Size)
	}
	var p tlog.InclusionProof
	if err := p.UnmarshalJSON(bytes.TrimSpace(httpGet(t, urlB+"/proof/inclusion?id=a&tenant=t"))); err != nil {
		t.Fatal(err)
	}
	if err := p.Verify(cp.Root); err != nil {
		t.Fatalf("node A's entry against node B's checkpoint: %v", err)
	}
	if got := string(httpGet(t, urlB+"/spans/a?tenant=t")); !strings.Contains(got, `"log_index":0`) {
		t.Fatalf("GET /spans/a on node B: %s", got)
	}
	if code := stopA(); code != 0 {
		t.Fatalf("node A exited with %d:\n%s", code, logA)
	}
	if code := stopB(); code != 0 {
		t.Fatalf("node B exited with %d:\n%s", code, logB)
	}
	// The origin is the database's: another one is refused.
	_, errOut, code := runMain(t, context.Background(), nil, "", "serve", "--data", t.TempDir(), "--addr", "127.0.0.1:0", "--store", db, "--log-origin", "other.example/log")
	if code != ExitUsage || !strings.Contains(errOut, "pg.example/ledger") {
		t.Fatalf("--log-origin of another log: exit %d %q, want %d naming the recorded origin", code, errOut, ExitUsage)
	}
}
