package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/logline/logline/internal/ledger/pgstore/pgtest"
)

// entryLines returns the entry lines of a data directory's segments, in
// order (commit lines left out).
func entryLines(t *testing.T, data string) [][]byte {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(data, "ledger", "segments", "*.ndjson"))
	if err != nil || len(files) == 0 {
		t.Fatalf("segments of %s: %v", data, err)
	}
	var lines [][]byte
	for _, f := range files { // Glob sorts; segment names are fixed-width
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n")) {
			if !bytes.HasPrefix(l, []byte(`{"commit":`)) {
				lines = append(lines, l)
			}
		}
	}
	return lines
}

// migrateStore runs migrate-store --json and decodes its report; want is
// the exit code expected.
func migrateStore(t *testing.T, want int, args ...string) (migrateStoreResult, string) {
	t.Helper()
	out, errOut, code := runMain(t, context.Background(), nil, "", append([]string{"migrate-store", "--json"}, args...)...)
	if code != want {
		t.Fatalf("migrate-store %s: exit %d, want %d\n%s%s", strings.Join(args, " "), code, want, out, errOut)
	}
	var res migrateStoreResult
	if want == 0 {
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatalf("migrate-store --json: %v: %s", err, out)
		}
	}
	return res, errOut
}

// TestMigrateStore copies the corpus ledger (8,577 entries) from a data
// directory into PostgreSQL and back, with either key choice: every copy
// verifies, has the source's size and root and its latest checkpoint, the
// round trip gives the same entry lines byte for byte, and a server
// continues the copy. Non-empty destinations and missing or misplaced key
// choices are refused.
func TestMigrateStore(t *testing.T) {
	ctx := context.Background()
	src := filepath.Join(t.TempDir(), "src")
	url, stop, log := runServe(t, src, "--log-origin", "corpus.example/log")
	if _, errOut, code := runMain(t, ctx, nil, "", "ingest", "--server", url, corpusFile); code != 0 {
		t.Fatalf("ingest: exit %d: %s", code, errOut)
	}
	if code := stop(); code != 0 {
		t.Fatalf("serve exited with %d:\n%s", code, log)
	}
	lines := entryLines(t, src)
	if len(lines) != 8577 {
		t.Fatalf("the source holds %d entries, want 8577", len(lines))
	}

	// Embedded → PostgreSQL.
	db := pgtest.NewDatabase(t)
	res, _ := migrateStore(t, 0, "--from", src, "--to", db)
	if !res.OK || res.Entries != 8577 || res.SourceRoot != res.CopyRoot || res.Origin != "corpus.example/log" ||
		res.CheckpointSize == nil || *res.CheckpointSize != 8577 || res.Keys != 1 || res.Checkpoints == 0 {
		t.Fatalf("migrate-store to PostgreSQL: got %+v", res)
	}
	if out, _, code := runMain(t, ctx, nil, "", "verify", "--store", db); code != 0 || !strings.Contains(out, "entries     8577") {
		t.Fatalf("verify --store of the copy: exit %d\n%s", code, out)
	}
	if _, errOut := migrateStore(t, ExitUsage, "--from", src, "--to", db); !strings.Contains(errOut, "already holds a ledger") {
		t.Errorf("migrate-store into a database with entries: %s", errOut)
	}

	// PostgreSQL → embedded, with a new key and with the source's keys.
	back := filepath.Join(t.TempDir(), "back")
	res, _ = migrateStore(t, 0, "--from", db, "--to", back, "--new-log-key")
	if !res.OK || res.Entries != 8577 || res.SourceRoot != res.CopyRoot || !res.NewKey || res.CheckpointSize == nil {
		t.Fatalf("migrate-store to a data directory: got %+v", res)
	}
	if out, _, code := runMain(t, ctx, nil, "", "verify", "--data", back); code != 0 || !strings.Contains(out, "entries     8577") {
		t.Fatalf("verify --data of the copy back: exit %d\n%s", code, out)
	}
	got := entryLines(t, back)
	if len(got) != len(lines) {
		t.Fatalf("round trip: %d entry lines, want %d", len(got), len(lines))
	}
	for i := range lines {
		if !bytes.Equal(got[i], lines[i]) {
			t.Fatalf("round trip: entry %d differs:\n got %s\nwant %s", i, got[i], lines[i])
		}
	}
	withKeys := filepath.Join(t.TempDir(), "withkeys")
	out, errOut, code := runMain(t, ctx, nil, "", "migrate-store", "--from", db, "--to", withKeys, "--keys", filepath.Join(src, "keys"))
	for _, want := range []string{"entries, merkle root " + res.SourceRoot, "verifies against the copy", "copied from", "OK "} {
		if code != 0 || !strings.Contains(out, want) {
			t.Fatalf("migrate-store --keys: exit %d, want %q in:\n%s%s", code, want, out, errOut)
		}
	}

	// Embedded → embedded, and the copy serves on: the next log index.
	again := filepath.Join(t.TempDir(), "again")
	migrateStore(t, 0, "--from", withKeys, "--to", again, "--keys", filepath.Join(withKeys, "keys"))
	url, stop, log = runServe(t, again)
	postSpan(t, url, `{"id":"after","tenant":"t_receipt","who":"w","did":"d","this":"x","when":"2026-01-02T03:04:05Z"}`)
	if got := string(httpGet(t, url+"/spans/after?tenant=t_receipt")); !strings.Contains(got, `"log_index":8577`) {
		t.Fatalf("the copy served on: %s", got)
	}
	if code := stop(); code != 0 {
		t.Fatalf("serve exited with %d:\n%s", code, log)
	}

	// A server continues the PostgreSQL copy, with the source's data
	// directory as its own (its key is the log's).
	url, stop, log = runServe(t, src, "--store", db)
	postSpan(t, url, `{"id":"after","tenant":"t_receipt","who":"w","did":"d","this":"x","when":"2026-01-02T03:04:05Z"}`)
	if got := string(httpGet(t, url+"/spans/after?tenant=t_receipt")); !strings.Contains(got, `"log_index":8577`) {
		t.Fatalf("serve on the copy: %s", got)
	}
	if code := stop(); code != 0 {
		t.Fatalf("serve exited with %d:\n%s", code, log)
	}
	if out, _, code := runMain(t, ctx, nil, "", "verify", "--store", db, "--data", src); code != 0 {
		t.Fatalf("verify --store after serving the copy: exit %d\n%s", code, out)
	}

	for _, tt := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no destination", []string{"--from", src}, ExitUsage, "--to"},
		{"a non-empty directory", []string{"--from", db, "--to", src, "--new-log-key"}, ExitUsage, "never overwrites"},
		{"no key choice", []string{"--from", db, "--to", filepath.Join(t.TempDir(), "x")}, ExitUsage, "--new-log-key"},
		{"a key choice for PostgreSQL", []string{"--from", src, "--to", pgtest.NewDatabase(t), "--new-log-key"}, ExitUsage, "keeps no private key"},
		{"keys of another log", []string{"--from", db, "--to", filepath.Join(t.TempDir(), "x"), "--keys", t.TempDir()}, ExitUsage, "keys"},
		{"not a ledger", []string{"--from", t.TempDir(), "--to", pgtest.NewDatabase(t)}, ExitUsage, "no ledger here"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, errOut := migrateStore(t, tt.code, tt.args...); !strings.Contains(errOut, tt.want) {
				t.Errorf("got %q, want it to mention %q", errOut, tt.want)
			}
		})
	}
}
