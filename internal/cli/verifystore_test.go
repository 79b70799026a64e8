package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/logline/logline/internal/ledger/pgstore/pgtest"
)

// postNDJSON ingests lines as one NDJSON request and fails unless every
// line is accepted.
func postNDJSON(t *testing.T, url string, lines []string) {
	t.Helper()
	resp, err := http.Post(url+"/ingest", "application/x-ndjson", strings.NewReader(strings.Join(lines, "\n")+"\n"))
	if err != nil {
		t.Errorf("ingest: %v", err)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), fmt.Sprintf(`"accepted":%d`, len(lines))) {
		t.Errorf("ingest of %d lines: status %d: %s", len(lines), resp.StatusCode, body)
	}
}

// TestVerifyStore: two servers on one database take appends concurrently
// and `verify --store` accepts the ledger, while they run and after, with
// a node's checkpoint archive too; a superuser's edit behind the
// append-only trigger fails it (exit 1) naming table, column and log
// index; a database without the schema is a usage error.
func TestVerifyStore(t *testing.T) {
	ctx := context.Background()
	db := pgtest.NewDatabase(t)
	urlA, stopA, logA := runServe(t, t.TempDir(), "--store", db, "--log-origin", "pg.example/ledger")
	dataB := t.TempDir()
	urlB, stopB, logB := runServe(t, dataB, "--store", db)
	const clients, requests, lines = 2, 8, 25
	var wg sync.WaitGroup
	for n, url := range []string{urlA, urlB} {
		for c := range clients {
			wg.Go(func() {
				for r := range requests {
					var batch []string
					for i := range lines {
						batch = append(batch, fmt.Sprintf(`{"id":"n%d-c%d-r%d-%d","tenant":"t%d","who":"w","did":"d","this":"x","when":"2026-01-02T03:04:05Z","data":{"i":%d,"f":1.5}}`, n, c, r, i, (c+i)%3, i))
					}
					postNDJSON(t, url, batch)
				}
			})
		}
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	const total = 2 * clients * requests * lines

	out, errOut, code := runMain(t, ctx, nil, "", "verify", "--store", db, "--json")
	if code != 0 {
		t.Fatalf("verify --store while both nodes run: exit %d\n%s%s", code, out, errOut)
	}
	var res storeVerifyResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("verify --json: %v: %s", err, out)
	}
	if !res.OK || res.Entries != total || res.Tenants != 3 || res.Origin != "pg.example/ledger" || res.Checkpoints == nil ||
		res.Checkpoints.Keys != 2 || res.Checkpoints.Notes == 0 || res.Checkpoints.MaxSize != total {
		t.Fatalf("verify --json: got %s, want ok with %d entries of 3 tenants, 2 keys, signed notes up to %d", out, total, total)
	}
	if code := stopA(); code != 0 {
		t.Fatalf("node A exited with %d:\n%s", code, logA)
	}
	if code := stopB(); code != 0 {
		t.Fatalf("node B exited with %d:\n%s", code, logB)
	}
	out, _, code = runMain(t, ctx, nil, "", "verify", "--store", db, "--data", dataB)
	for _, want := range []string{"log pg.example/ledger", fmt.Sprintf("entries     %d (0 signed) in 3 tenant(s)", total), "archived (sizes", "the last-signed record matches", "OK "} {
		if code != 0 || !strings.Contains(out, want) {
			t.Fatalf("verify --store --data (node B's archive): exit %d, want 0 and %q in:\n%s", code, want, out)
		}
	}

	pgtest.Exec(t, db, `ALTER TABLE ledger.universal_registry DISABLE TRIGGER USER;
		UPDATE ledger.universal_registry SET leaf_hash = sha256('x') WHERE log_index = 17`)
	out, _, code = runMain(t, ctx, nil, "", "verify", "--store", db)
	for _, want := range []string{"FAILED", "table     ledger.universal_registry", "column    leaf_hash", "log index 17"} {
		if code != ExitFailed || !strings.Contains(out, want) {
			t.Fatalf("verify --store after a leaf hash was changed: exit %d, want %d and %q in:\n%s", code, ExitFailed, want, out)
		}
	}
	out, _, code = runMain(t, ctx, nil, "", "verify", "--store", db, "--json")
	res = storeVerifyResult{}
	if err := json.Unmarshal([]byte(out), &res); err != nil || code != ExitFailed || res.OK || res.Problem == nil ||
		res.Problem.LogIndex == nil || *res.Problem.LogIndex != 17 || res.Problem.Column != "leaf_hash" || res.Problem.Kind != "corrupt" {
		t.Fatalf("verify --store --json after tampering: exit %d: %s", code, out)
	}

	if _, errOut, code := runMain(t, ctx, nil, "", "verify", "--store", pgtest.NewDatabase(t)); code != ExitUsage || !strings.Contains(errOut, "no LogLine schema") {
		t.Fatalf("verify --store of a database without the schema: exit %d %q, want %d", code, errOut, ExitUsage)
	}
}
