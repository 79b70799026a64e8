package gateway

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/logline/logline/internal/ledger"
	"github.com/logline/logline/internal/ledger/segment"
)

// corpusPath is the shared test corpus, relative to this package.
const corpusPath = "../../../shared/corpus/receipt.ndjson"

// env is a gateway over a real segment store in a temporary directory,
// served by an httptest server.
type env struct {
	t     testing.TB
	store *segment.Store
	srv   *Server
	ts    *httptest.Server
}

// newEnv starts a store and a gateway; mod adjusts the gateway config.
func newEnv(t testing.TB, mod func(*Config)) *env {
	t.Helper()
	st, err := segment.Open(context.Background(), segment.Config{Dir: t.TempDir(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("segment.Open: %v", err)
	}
	return newEnvWith(t, st, st, mod)
}

// newEnvWith serves store (which may wrap st) through a gateway.
func newEnvWith(t testing.TB, st *segment.Store, store ledger.Store, mod func(*Config)) *env {
	t.Helper()
	tw := &tWriter{t: t}
	t.Cleanup(tw.stop) // registered first, so it runs last
	// Dev (no authentication) unless mod sets Access: access_test.go
	// covers authentication and tenant scoping.
	cfg := Config{Store: store, Dev: true, Logger: slog.New(slog.NewTextHandler(tw, &slog.HandlerOptions{Level: slog.LevelInfo}))}
	if mod != nil {
		mod(&cfg)
	}
	if cfg.Access != nil {
		cfg.Dev = false
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ts := httptest.NewServer(srv.Handler())
	e := &env{t: t, store: st, srv: srv, ts: ts}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		ts.Close()
		if err := st.Close(); err != nil {
			t.Errorf("store Close: %v", err)
		}
	})
	return e
}

// do sends a request and returns the response with its body read.
func (e *env) do(method, path, contentType string, body io.Reader, hdr map[string]string) (*http.Response, []byte) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.ts.URL+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := e.ts.Client().Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatalf("%s %s: reading body: %v", method, path, err)
	}
	return resp, b
}

func (e *env) postJSON(path, body string, hdr map[string]string) (*http.Response, []byte) {
	e.t.Helper()
	return e.do(http.MethodPost, path, "application/json", strings.NewReader(body), hdr)
}

func (e *env) get(path string, hdr map[string]string) (*http.Response, []byte) {
	e.t.Helper()
	return e.do(http.MethodGet, path, "", nil, hdr)
}

// wireResult is a result line of an ingest response.
type wireResult struct {
	Line       int      `json:"line"`
	OK         *bool    `json:"ok"`
	ID         string   `json:"id"`
	Seq        uint64   `json:"seq"`
	Tenant     string   `json:"tenant"`
	LogIndex   uint64   `json:"log_index"`
	CurrHash   string   `json:"curr_hash"`
	PrevHash   string   `json:"prev_hash"`
	ReceivedAt string   `json:"received_at"`
	Duplicate  bool     `json:"duplicate"`
	Error      *Problem `json:"error"`
}

// ndResponse is a parsed NDJSON ingest response.
type ndResponse struct {
	Results []wireResult
	Summary ndSummary
}

// postNDJSON ingests body and parses the per-line response.
func (e *env) postNDJSON(path string, body io.Reader, hdr map[string]string) ndResponse {
	e.t.Helper()
	resp, b := e.do(http.MethodPost, path, "application/x-ndjson", body, hdr)
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("NDJSON ingest: got status %d (%s), want 200", resp.StatusCode, b)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/x-ndjson" {
		e.t.Errorf("got Content-Type %q, want application/x-ndjson", ct)
	}
	return parseNDResponse(e.t, b)
}

func parseNDResponse(t testing.TB, b []byte) ndResponse {
	t.Helper()
	var r ndResponse
	lines := bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n"))
	for i, l := range lines {
		if i == len(lines)-1 {
			var s struct {
				Summary *ndSummary `json:"summary"`
			}
			if err := json.Unmarshal(l, &s); err != nil || s.Summary == nil {
				t.Fatalf("last line %q is not a summary (%v)", l, err)
			}
			r.Summary = *s.Summary
			break
		}
		var w wireResult
		if err := json.Unmarshal(l, &w); err != nil {
			t.Fatalf("result line %q: %v", l, err)
		}
		r.Results = append(r.Results, w)
	}
	return r
}

func decodeProblem(t testing.TB, resp *http.Response, body []byte) Problem {
	t.Helper()
	if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("got Content-Type %q, want application/problem+json (body %s)", ct, body)
	}
	var p Problem
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatalf("problem body %q: %v", body, err)
	}
	if p.Status != resp.StatusCode {
		t.Errorf("got problem status %d on a %d response", p.Status, resp.StatusCode)
	}
	return p
}

// spanJSON is a valid span of tenant acme with fields overridden (a nil
// value removes the field).
func spanJSON(over map[string]any) string {
	m := map[string]any{
		"tenant": "acme", "who": "alice", "did": "paid", "this": "invoice:1",
		"when": "2026-01-02T03:04:05Z",
	}
	for k, v := range over {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// readCorpus returns the shared corpus, skipping the test when it is
// absent outside CI.
func readCorpus(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile(corpusPath)
	if err != nil {
		if os.IsNotExist(err) && os.Getenv("CI") == "" {
			t.Skipf("corpus %s not present", corpusPath)
		}
		t.Fatalf("read corpus: %v", err)
	}
	return b
}

// nonBlankLines splits b into its non-empty lines.
func nonBlankLines(b []byte) [][]byte {
	var out [][]byte
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) > 0 {
			out = append(out, bytes.Clone(sc.Bytes()))
		}
	}
	return out
}

// tWriter sends log output to t.Log until the test ends.
type tWriter struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

func (w *tWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimSuffix(string(p), "\n"))
	}
	return len(p), nil
}

func (w *tWriter) stop() {
	w.mu.Lock()
	w.done = true
	w.mu.Unlock()
}

// syncBuffer is a bytes.Buffer safe for concurrent writers (log output).
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newTestLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// rawEntries reads every stored line straight from the store.
func (e *env) rawEntries() [][]byte {
	e.t.Helper()
	var out [][]byte
	err := e.store.ReadRaw(context.Background(), 0, e.store.Size(), func(i uint64, line []byte) error {
		if i != uint64(len(out)) {
			e.t.Fatalf("ReadRaw gave index %d, want %d", i, len(out))
		}
		out = append(out, bytes.Clone(line))
		return nil
	})
	if err != nil {
		e.t.Fatalf("ReadRaw: %v", err)
	}
	return out
}
