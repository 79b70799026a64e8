package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/logline/logline/internal/export"
	"github.com/logline/logline/internal/ledger/segment"
	"github.com/logline/logline/internal/tlog"
)

// newExportEnv serves a signed segment store with the export routes on,
// holding n spans of tenant acme (one commit batch each) and n/2 of
// bakery. It returns the env, the keys and the exports directory.
func newExportEnv(t *testing.T, n int) (*env, *tlog.Keyring, string) {
	t.Helper()
	e, keys, dir := newExportEnvWith(t, nil)
	appendExportSpans(t, e, n, nil)
	return e, keys, dir
}

// newExportEnvWith is a gateway serving exports on a signed store, its
// config adjusted by mod.
func newExportEnvWith(t *testing.T, mod func(*Config)) (*env, *tlog.Keyring, string) {
	t.Helper()
	base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tick := 0
	now := func() time.Time { tick++; return base.Add(time.Duration(tick) * time.Second) }
	keys, err := tlog.LoadOrCreateKeys(filepath.Join(t.TempDir(), "keys"), proofOrigin, rand.NewChaCha8([32]byte{7}), func() time.Time { return base })
	if err != nil {
		t.Fatal(err)
	}
	st, err := segment.Open(context.Background(), segment.Config{
		Dir: t.TempDir(), Logger: slog.New(slog.DiscardHandler), Now: now,
		SignCheckpoint: func(size uint64, root [32]byte) ([]byte, error) {
			return tlog.SignCheckpoint(keys.Signer(), keys.Origin(), size, root)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "exports")
	e := newEnvWith(t, st, st, func(c *Config) {
		c.Log = st
		c.LogKeys = keys.VerifierKeys
		c.Exports = &Exports{Dir: dir, Origin: keys.Origin(), Signer: keys.Signer}
		if mod != nil {
			mod(c)
		}
	})
	return e, keys, dir
}

// appendExportSpans appends n rounds of spans of acme (every round) and
// bakery (every other), with each tenant's token in tokens when set.
func appendExportSpans(t *testing.T, e *env, n int, tokens map[string]string) {
	t.Helper()
	for i := range n {
		for _, tenant := range []string{"acme", "bakery"} {
			if tenant == "bakery" && i%2 == 1 {
				continue
			}
			var hdr map[string]string
			if tok, ok := tokens[tenant]; ok {
				hdr = map[string]string{"Authorization": "Bearer " + tok}
			}
			body := spanJSON(map[string]any{"id": fmt.Sprintf("%s%d", tenant, i), "tenant": tenant})
			if resp, b := e.postJSON("/ingest", body, hdr); resp.StatusCode != http.StatusCreated {
				t.Fatalf("append: %d %s", resp.StatusCode, b)
			}
		}
	}
}

func TestExportRoutes(t *testing.T) {
	e, keys, dir := newExportEnv(t, 20)
	vs := keys.Verifiers()
	acme := e.store.Checkpoint()

	// A range with both witnesses.
	var received []string // received_at by log index
	for _, l := range e.rawEntries() {
		var v struct {
			ReceivedAt string `json:"received_at"`
		}
		if err := json.Unmarshal(l, &v); err != nil {
			t.Fatal(err)
		}
		received = append(received, v.ReceivedAt)
	}
	since, until := received[6], received[20]
	resp, body := e.postJSON("/exports", fmt.Sprintf(`{"tenant":"acme","since":%q,"until":%q}`, since, until), nil)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /exports: %d %s", resp.StatusCode, body)
	}
	var c struct {
		ID             string `json:"id"`
		Href           string `json:"href"`
		Bytes          int64  `json:"bytes"`
		Entries        uint64 `json:"entries"`
		CheckpointSize uint64 `json:"checkpoint_size"`
	}
	if err := json.Unmarshal(body, &c); err != nil {
		t.Fatal(err)
	}
	if !export.ValidID(c.ID) || c.Href != "/exports/"+c.ID || resp.Header.Get("Location") != c.Href || c.CheckpointSize != acme.Size || c.Entries == 0 {
		t.Fatalf("created %+v, Location %q", c, resp.Header.Get("Location"))
	}
	resp, bundle := e.getOK(c.Href, "application/x-ndjson")
	if int64(len(bundle)) != c.Bytes || resp.Header.Get("ETag") != `"`+c.ID+`"` {
		t.Fatalf("GET %s: %d bytes, ETag %q; created %d", c.Href, len(bundle), resp.Header.Get("ETag"), c.Bytes)
	}
	rep, err := export.Verify(context.Background(), bytes.NewReader(bundle), vs, export.VerifyOptions{Origin: proofOrigin})
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if rep.Entries != c.Entries || !rep.Before || !rep.After {
		t.Errorf("report %+v, want %d entries and both witnesses", rep.Manifest, c.Entries)
	}
	if _, err := os.Stat(filepath.Join(dir, c.ID+".ndjson")); err != nil {
		t.Errorf("bundle file: %v", err)
	}

	// Ranges and HEAD.
	resp, part := e.do(http.MethodGet, c.Href, "", nil, map[string]string{"Range": "bytes=10-19"})
	if resp.StatusCode != http.StatusPartialContent || string(part) != string(bundle[10:20]) {
		t.Errorf("Range: got %d %q, want 206 %q", resp.StatusCode, part, bundle[10:20])
	}
	resp, head := e.do(http.MethodHead, c.Href, "", nil, nil)
	if resp.StatusCode != http.StatusOK || len(head) != 0 || resp.ContentLength != c.Bytes {
		t.Errorf("HEAD: %d, %d bytes, Content-Length %d", resp.StatusCode, len(head), resp.ContentLength)
	}

	// A tenant without entries: an empty export, not a 404.
	resp, body = e.postJSON("/exports", `{"tenant":"nobody","since":null,"until":null}`, nil)
	if resp.StatusCode != http.StatusCreated || !strings.Contains(string(body), `"entries":0`) {
		t.Errorf("unknown tenant: %d %s", resp.StatusCode, body)
	}

	// Missing and malformed ids.
	for _, id := range []string{"01JD0000000000000000000000", "nope", "..%2Fkeys%2Fkeys.json"} {
		resp, body := e.get("/exports/"+id, nil)
		if p := decodeProblem(t, resp, body); resp.StatusCode != http.StatusNotFound || p.Code != codeNotFound {
			t.Errorf("GET /exports/%s: %d %s, want 404 not_found", id, resp.StatusCode, body)
		}
	}
}

func TestExportBadRequests(t *testing.T) {
	e, _, dir := newExportEnv(t, 2)
	for _, tc := range []struct {
		name, body, ct  string
		status          int
		code, parameter string
	}{
		{"not JSON", `tenant=acme`, "", 400, "malformed_json", ""},
		{"an array", `["acme"]`, "", 400, "malformed_json", ""},
		{"trailing data", `{"tenant":"acme"} {}`, "", 400, "malformed_json", ""},
		{"truncated", `{"tenant":"acme"`, "", 400, "malformed_json", ""},
		{"unknown member", `{"tenant":"acme","from":"x"}`, "", 400, "unknown_field", ""},
		{"member in another case", `{"Tenant":"acme"}`, "", 400, "unknown_field", ""},
		{"repeated member", `{"tenant":"acme","tenant":"bakery"}`, "", 400, "duplicate_key", ""},
		{"no tenant", `{}`, "", 400, "missing_parameter", "tenant"},
		{"null tenant", `{"tenant":null}`, "", 400, "missing_parameter", "tenant"},
		{"bad tenant", `{"tenant":"Acme Corp"}`, "", 400, "invalid_parameter", "tenant"},
		{"tenant not a string", `{"tenant":7}`, "", 400, "invalid_parameter", "tenant"},
		{"since not a time", `{"tenant":"acme","since":"yesterday"}`, "", 400, "invalid_parameter", "since"},
		{"since without offset", `{"tenant":"acme","since":"2026-01-02T03:04:05"}`, "", 400, "invalid_parameter", "since"},
		{"until before since", `{"tenant":"acme","since":"2026-01-02T03:04:05Z","until":"2026-01-02T03:04:05Z"}`, "", 400, "invalid_parameter", "until"},
		{"until a number", `{"tenant":"acme","until":5}`, "", 400, "invalid_parameter", "until"},
		{"wrong content type", `{"tenant":"acme"}`, "text/plain", 415, "unsupported_media_type", ""},
		{"body too large", `{"tenant":"acme","since":"` + strings.Repeat(" ", maxExportRequestBytes) + `"}`, "", 413, "body_too_large", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ct := tc.ct
			if ct == "" {
				ct = "application/json"
			}
			resp, body := e.do(http.MethodPost, "/exports", ct, strings.NewReader(tc.body), nil)
			p := decodeProblem(t, resp, body)
			if resp.StatusCode != tc.status || p.Code != tc.code || p.Parameter != tc.parameter {
				t.Errorf("got %d %s, want %d %s parameter %q", resp.StatusCode, body, tc.status, tc.code, tc.parameter)
			}
		})
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("refused requests left %d files in the exports directory", len(ents))
	}
}

func TestExportRoutesNotConfigured(t *testing.T) {
	e := newEnv(t, nil)
	for _, tc := range []struct{ method, path, body string }{
		{http.MethodPost, "/exports", `{"tenant":"acme"}`},
		{http.MethodGet, "/exports/01JD0000000000000000000000", ""},
	} {
		resp, body := e.do(tc.method, tc.path, "application/json", strings.NewReader(tc.body), nil)
		if p := decodeProblem(t, resp, body); resp.StatusCode != http.StatusNotImplemented || p.Code != codeNotImplemented {
			t.Errorf("%s %s: %d %s, want 501", tc.method, tc.path, resp.StatusCode, body)
		}
	}
}

// TestExportAfterShutdown: once the gateway is shutting down, new exports
// are refused as unavailable.
func TestExportAfterShutdown(t *testing.T) {
	e, _, _ := newExportEnv(t, 1)
	if err := e.srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	resp, body := e.postJSON("/exports", `{"tenant":"acme"}`, nil)
	if p := decodeProblem(t, resp, body); resp.StatusCode != http.StatusServiceUnavailable || p.Code != codeUnavailable {
		t.Errorf("got %d %s, want 503 unavailable", resp.StatusCode, body)
	}
}
