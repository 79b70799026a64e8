package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestAuthEndToEnd runs a server with authentication on (the default)
// and drives it the way an operator and an app would: nothing answers
// without a token; the first-start admin account of tenant default
// ingests with its credential file; an operator mints tokens with the
// data directory; a service account created while the server runs
// ingests corpus spans into its tenant and nothing else; a reader cannot
// write; one tenant's token never sees another's span; the auth events
// are in the ledger, which verify accepts.
func TestAuthEndToEnd(t *testing.T) {
	if testing.Short() && !inCI() {
		t.Skip("-short")
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	srv := startServer(t, bin, data, "127.0.0.1:0", "--log-origin", "auth.example/log")
	base := []string{"LOGLINE_SERVER=" + srv.url}
	withEnv := func(kv ...string) []string { return append(append([]string(nil), base...), kv...) }

	// Nothing but the public routes answers without a token.
	resp, err := http.Get(srv.url + "/spans?tenant=default")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("GET /spans without a token: %d, want 401", resp.StatusCode)
	}
	for _, path := range []string{"/healthz", "/.well-known/jwks.json", "/log/key"} {
		resp, err := http.Get(srv.url + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s without a token: %d, want 200", path, resp.StatusCode)
		}
	}
	spanFile := func(name, lines string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(lines), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	defaultSpan := spanFile("default.ndjson", `{"id":"d1","tenant":"default","who":"ana","did":"baked","this":"bread:1","when":"2026-11-25T10:00:00Z"}`+"\n")
	if _, _, code := runCLI(t, bin, base, "ingest", defaultSpan); code == 0 {
		t.Fatal("ingest without a token succeeded")
	}

	// The first-start admin account of tenant default.
	admin := filepath.Join(data, "keys", "admin-sa.json")
	if st, err := os.Stat(admin); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("first-start credentials %s: %v (mode %v), want a 0600 file", admin, err, st)
	}
	if log := srv.log(); !strings.Contains(log, "LOGLINE_CREDENTIALS="+admin) {
		t.Errorf("serve did not say how to use the first admin account:\n%s", log)
	}
	mustRun(t, bin, withEnv("LOGLINE_CREDENTIALS="+admin), "ingest", defaultSpan)

	// A service account created while the server runs, for the corpus's
	// tenant; the registry picks it up within seconds.
	app := filepath.Join(dir, "receipt-app.json")
	mustRun(t, bin, nil, "sa", "create", "--data", data, "--tenant", "t_receipt", "--role", "writer", "--name", "e2e", "--out", app, "--server", srv.url)
	corpus := corpusLines(t, 500)
	var sum struct{ Lines, Accepted, Rejected int }
	deadline := time.Now().Add(15 * time.Second)
	for {
		out, errOut, code := runCLI(t, bin, withEnv("LOGLINE_CREDENTIALS="+app), "ingest", "--json", spanFile("corpus.ndjson", corpus))
		if code == 0 {
			if err := json.Unmarshal([]byte(out), &sum); err != nil {
				t.Fatal(err)
			}
			break
		}
		if time.Now().After(deadline) || !strings.Contains(errOut, "unknown") {
			t.Fatalf("ingest with the new account: exit %d\n%s\n%s", code, out, errOut)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if sum.Accepted != 500 || sum.Rejected != 0 {
		t.Fatalf("corpus through the service account: %+v, want 500 accepted", sum)
	}
	// The same account cannot write to tenant default.
	if _, errOut, code := runCLI(t, bin, withEnv("LOGLINE_CREDENTIALS="+app), "ingest", defaultSpan); code == 0 || !strings.Contains(errOut, "tenant_mismatch") {
		t.Errorf("t_receipt's account writing to default: exit %d\n%s", code, errOut)
	}

	// Operator tokens: a reader reads but cannot write, and sees only its
	// tenant; another tenant's span is not found.
	reader := strings.TrimSpace(mustRun(t, bin, nil, "token", "issue", "--data", data, "--tenant", "t_receipt", "--role", "reader"))
	if _, errOut, code := runCLI(t, bin, withEnv("LOGLINE_TOKEN="+reader), "ingest", defaultSpan); code == 0 || !strings.Contains(errOut, "ledger.append") {
		t.Errorf("reader token ingesting: exit %d\n%s", code, errOut)
	}
	out := mustRun(t, bin, withEnv("LOGLINE_TOKEN="+reader), "query", "--tenant", "t_receipt", "--limit", "3", "--json")
	if strings.Count(out, "\n") != 3 {
		t.Errorf("reader query: %q", out)
	}
	if _, errOut, code := runCLI(t, bin, withEnv("LOGLINE_TOKEN="+reader), "get", "d1", "--tenant", "default"); code == 0 || strings.Contains(errOut, "ana") {
		t.Errorf("t_receipt's reader reading default's span: exit %d\n%s", code, errOut)
	}
	if _, _, code := runCLI(t, bin, withEnv("LOGLINE_TOKEN="+reader+"x"), "query", "--tenant", "t_receipt"); code == 0 {
		t.Error("a tampered token was accepted")
	}

	// The auth events are spans of the ledger.
	sys := strings.TrimSpace(mustRun(t, bin, nil, "token", "issue", "--data", data, "--tenant", "system", "--role", "reader"))
	events := mustRun(t, bin, withEnv("LOGLINE_TOKEN="+sys), "query", "--tenant", "system", "--all", "--json")
	if !strings.Contains(events, `"did":"key.rotate"`) {
		t.Errorf("system tenant holds no key.rotate event:\n%s", events)
	}
	receipts := mustRun(t, bin, withEnv("LOGLINE_TOKEN="+reader), "query", "--tenant", "t_receipt", "--did", "token.issue", "--all", "--json")
	if strings.Count(receipts, `"did":"token.issue"`) < 2 { // the account's token and the operator's
		t.Errorf("t_receipt's token.issue events:\n%s", receipts)
	}
	srv.stop(t)
	out = mustRun(t, bin, nil, "verify", "--data", data, "--json")
	if !strings.Contains(out, `"ok":true`) {
		t.Errorf("verify after the auth run:\n%s", out)
	}
}

// corpusLines returns the first n lines of the corpus.
func corpusLines(t *testing.T, n int) string {
	t.Helper()
	raw, err := os.ReadFile(corpusPath(t))
	if err != nil {
		if inCI() {
			t.Fatal(err)
		}
		t.Skipf("corpus: %v", err)
	}
	lines := strings.SplitAfterN(string(raw), "\n", n+1)
	return strings.Join(lines[:n], "")
}
