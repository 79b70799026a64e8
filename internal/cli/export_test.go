package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
)

// exportFixture serves a data directory holding spans of two tenants,
// ingested in several requests (so received_at differs between them), and
// returns the server URL, its stop function, the data directory and a
// file holding the text of GET /log/key.
func exportFixture(t *testing.T) (url string, stop func() int, data, keyFile string) {
	t.Helper()
	data = t.TempDir()
	url, stop, _ = runServe(t, data, "--log-origin", "export.example/log")
	dir := t.TempDir()
	for batch := range 4 {
		var b strings.Builder
		for i := range 5 {
			for _, tenant := range []string{"acme", "bakery"} {
				fmt.Fprintf(&b, `{"id":"%s-%d-%d","tenant":%q,"who":"w","did":"d","this":"x","when":"2026-01-02T03:04:05Z"}`+"\n", tenant, batch, i, tenant)
			}
		}
		in := filepath.Join(dir, fmt.Sprintf("b%d.ndjson", batch))
		if err := os.WriteFile(in, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, errOut, code := runMain(t, context.Background(), nil, "", "ingest", "--server", url, in); code != 0 {
			t.Fatalf("ingest: exit %d: %s", code, errOut)
		}
	}
	keyFile = filepath.Join(dir, "log.key")
	if err := os.WriteFile(keyFile, httpGet(t, url+"/log/key"), 0o644); err != nil {
		t.Fatal(err)
	}
	return url, stop, data, keyFile
}

// TestExportCommand exports through a running server and from the
// stopped server's data directory, verifies both offline (they are the
// same bytes: same tree, deterministic signatures), and catches a
// tampered copy naming the log index.
func TestExportCommand(t *testing.T) {
	url, stop, data, keyFile := exportFixture(t)
	dir := t.TempDir()
	ctx := context.Background()
	viaServer := filepath.Join(dir, "server.ndjson")
	out, errOut, code := runMain(t, ctx, nil, "", "export", "--server", url, "--tenant", "acme", "--out", viaServer)
	if code != 0 {
		t.Fatalf("export --server: exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "exported    20 entries of tenant acme") {
		t.Errorf("summary:\n%s", out)
	}

	// While the server runs its data directory is refused.
	_, errOut, code = runMain(t, ctx, nil, "", "export", "--data", data, "--tenant", "acme", "--out", filepath.Join(dir, "x.ndjson"))
	if code != ExitUsage || !strings.Contains(errOut, "in use by a running server") || !strings.Contains(errOut, "--server") {
		t.Errorf("export --data next to a running server: exit %d: %s", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, "x.ndjson")); !os.IsNotExist(err) {
		t.Errorf("a refused export left its file: %v", err)
	}
	if code := stop(); code != 0 {
		t.Fatalf("serve exited with %d", code)
	}

	viaData := filepath.Join(dir, "data.ndjson")
	out, errOut, code = runMain(t, ctx, nil, "", "export", "--data", data, "--tenant", "acme", "--out", viaData, "--json")
	if code != 0 {
		t.Fatalf("export --data: exit %d: %s", code, errOut)
	}
	var sum exportResult
	if err := json.Unmarshal([]byte(out), &sum); err != nil || sum.Entries != 20 || sum.CheckpointSize != 40 || sum.FirstIndex == nil || *sum.FirstIndex != 0 {
		t.Errorf("--json summary %s (%v)", out, err)
	}
	a, _ := os.ReadFile(viaServer)
	b, _ := os.ReadFile(viaData)
	if !bytes.Equal(a, b) {
		t.Errorf("the bundle through the server and from the data directory differ")
	}

	out, errOut, code = runMain(t, ctx, nil, "", "verify", "--export", viaData, "--log-key", keyFile)
	if code != 0 || !strings.Contains(out, "\nOK ") || !strings.Contains(out, "entries     20 (log indexes 0 to 38)") {
		t.Fatalf("verify --export: exit %d:\n%s%s", code, out, errOut)
	}
	if !strings.Contains(out, "attested    the tenant has no entry after the last one below log index 40") {
		t.Errorf("the report does not say what is attested:\n%s", out)
	}

	// A range: the first request's entries are before, the last's after.
	var entries []struct {
		ReceivedAt string `json:"received_at"`
	}
	for _, l := range bytes.Split(bytes.TrimSpace(a), []byte("\n")) {
		if bytes.HasPrefix(l, []byte(`{"curr_hash"`)) {
			var e struct {
				ReceivedAt string `json:"received_at"`
			}
			if err := json.Unmarshal(l, &e); err != nil {
				t.Fatal(err)
			}
			entries = append(entries, e)
		}
	}
	part := filepath.Join(dir, "part.ndjson")
	_, errOut, code = runMain(t, ctx, nil, "", "export", "--data", data, "--tenant", "acme",
		"--since", entries[5].ReceivedAt, "--until", entries[15].ReceivedAt, "--out", part)
	if code != 0 {
		t.Fatalf("export a range: exit %d: %s", code, errOut)
	}
	out, _, code = runMain(t, ctx, nil, "", "verify", "--export", part, "--log-key", keyFile, "--json")
	var rep exportVerifyResult
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 0 || rep.Entries != 10 || rep.BeforeWitness == nil || rep.AfterWitness == nil || len(rep.Attested) != 0 {
		t.Fatalf("verify the range: exit %d %s (%v)", code, out, err)
	}

	// A tampered copy fails, naming the line and the log index.
	bad := bytes.Replace(b, []byte(`"id":"acme-2-0"`), []byte(`"id":"acme-2-X"`), 1)
	tampered := filepath.Join(dir, "tampered.ndjson")
	if err := os.WriteFile(tampered, bad, 0o644); err != nil {
		t.Fatal(err)
	}
	out, _, code = runMain(t, ctx, nil, "", "verify", "--export", tampered, "--log-key", keyFile)
	if code != ExitFailed || !strings.Contains(out, "FAILED") || !strings.Contains(out, "log index 20\n") || !strings.Contains(out, "altered") {
		t.Errorf("tampered: exit %d:\n%s", code, out)
	}
	out, _, code = runMain(t, ctx, nil, "", "verify", "--export", tampered, "--log-key", keyFile, "--json")
	if code != ExitFailed || !strings.Contains(out, `"ok":false`) || !strings.Contains(out, `"log_index":20`) {
		t.Errorf("tampered --json: exit %d: %s", code, out)
	}
	// So does a truncated one, and one checked with another log's key.
	if err := os.WriteFile(tampered, b[:len(b)-20], 0o644); err != nil {
		t.Fatal(err)
	}
	if out, _, code = runMain(t, ctx, nil, "", "verify", "--export", tampered, "--log-key", keyFile); code != ExitFailed || !strings.Contains(out, "cut short") {
		t.Errorf("truncated: exit %d:\n%s", code, out)
	}
	otherKey := verifierKeyFile(t, "export.example/log")
	if out, errOut, code = runMain(t, ctx, nil, "", "verify", "--export", viaData, "--log-key", otherKey); code != ExitFailed || !strings.Contains(out, "FAILED") {
		t.Errorf("another log's key: exit %d:\n%s%s", code, out, errOut)
	}

	// --out - writes the bundle to standard output, the summary to
	// standard error; standard input verifies the same way.
	out, errOut, code = runMain(t, ctx, nil, "", "export", "--data", data, "--tenant", "acme", "--out", "-")
	if code != 0 || out != string(b) || !strings.Contains(errOut, "exported    20 entries") {
		t.Errorf("--out -: exit %d, %d bytes of %d, stderr %s", code, len(out), len(b), errOut)
	}
	if out, _, code = runMain(t, ctx, nil, string(b), "verify", "--export", "-", "--log-key", keyFile); code != 0 {
		t.Errorf("verify --export -: exit %d:\n%s", code, out)
	}
}

func TestExportUsage(t *testing.T) {
	data := t.TempDir()
	keyFile := verifierKeyFile(t, "x.example/log")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no tenant", []string{"export", "--out", "x"}, "--tenant is required"},
		{"bad tenant", []string{"export", "--tenant", "Acme", "--out", "x"}, "--tenant"},
		{"no out", []string{"export", "--tenant", "acme"}, "--out is required"},
		{"bad since", []string{"export", "--tenant", "acme", "--out", "x", "--since", "yesterday"}, "RFC 3339"},
		{"until before since", []string{"export", "--tenant", "acme", "--out", "x", "--since", "2026-01-02T00:00:00Z", "--until", "2026-01-01T00:00:00Z"}, "--until must be after --since"},
		{"no ledger", []string{"export", "--data", data, "--tenant", "acme", "--out", filepath.Join(t.TempDir(), "x")}, "no ledger"},
		{"out in a missing directory", []string{"export", "--tenant", "acme", "--out", filepath.Join(data, "no", "x")}, "no such directory"},
		{"verify without a key", []string{"verify", "--export", "x"}, "--log-key"},
		{"verify a missing file", []string{"verify", "--export", filepath.Join(data, "nope"), "--log-key", keyFile}, "no such file"},
		{"verify with a missing key file", []string{"verify", "--export", "x", "--log-key", filepath.Join(data, "nope")}, "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, errOut, code := runMain(t, context.Background(), nil, "", tc.args...)
			if code != ExitUsage || !strings.Contains(errOut, tc.want) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", code, errOut, tc.want)
			}
		})
	}
}

// verifierKeyFile writes a fresh verifier key named name to a file.
func verifierKeyFile(t *testing.T, name string) string {
	t.Helper()
	_, vkey, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "log.key")
	if err := os.WriteFile(path, []byte(vkey+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
