package gateway

import (
	"bytes"
	"context"
	"encoding/base64"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/logline/logline/internal/ledger"
	"github.com/logline/logline/internal/ledger/segment"
	"github.com/logline/logline/internal/tlog"
)

var update = flag.Bool("update", false, "rewrite testdata golden files from the actual output")

var _ ledger.Prover = (*segment.Store)(nil)

const proofOrigin = "logline.example/ledger"

// newProofEnv serves a segment store whose checkpoints are signed by a
// demo log key (fixed randomness and clock: the output is reproducible).
// With signed false the store has no signer and the gateway no LogKeys.
func newProofEnv(t testing.TB, signed bool) (*env, *tlog.Keyring) {
	t.Helper()
	clock := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	now := func() time.Time { return clock }
	cfg := segment.Config{Dir: t.TempDir(), Logger: slog.New(slog.DiscardHandler), Now: now}
	var keys *tlog.Keyring
	if signed {
		var err error
		keys, err = tlog.LoadOrCreateKeys(filepath.Join(t.TempDir(), "keys"), proofOrigin, rand.NewChaCha8([32]byte{7}), now)
		if err != nil {
			t.Fatal(err)
		}
		cfg.SignCheckpoint = func(size uint64, root [32]byte) ([]byte, error) {
			return tlog.SignCheckpoint(keys.Signer(), keys.Origin(), size, root)
		}
	}
	st, err := segment.Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("segment.Open: %v", err)
	}
	e := newEnvWith(t, st, st, func(c *Config) {
		c.Log = st
		if keys != nil {
			c.LogKeys = keys.VerifierKeys
		}
	})
	return e, keys
}

// ingestN stores n spans p0…p(n-1) of tenant acme.
func (e *env) ingestN(n int) {
	e.t.Helper()
	var body strings.Builder
	for i := range n {
		body.WriteString(spanJSON(map[string]any{"id": fmt.Sprintf("p%d", i), "this": fmt.Sprintf("case:%d", i)}) + "\n")
	}
	if r := e.postNDJSON("/ingest", strings.NewReader(body.String()), nil); r.Summary.Accepted != n {
		e.t.Fatalf("setup: got %+v, want %d accepted", r.Summary, n)
	}
}

// getOK fetches path and fails unless it answers 200 with content type ct.
func (e *env) getOK(path, ct string) (*http.Response, []byte) {
	e.t.Helper()
	resp, body := e.get(path, nil)
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("GET %s: got status %d (%s), want 200", path, resp.StatusCode, body)
	}
	if got := resp.Header.Get("Content-Type"); got != ct {
		e.t.Errorf("GET %s: got Content-Type %q, want %q", path, got, ct)
	}
	return resp, body
}

// verifiedCheckpoint fetches GET /log/key and GET /checkpoint and checks
// the checkpoint with the served keys, as a client would.
func (e *env) verifiedCheckpoint() (tlog.Checkpoint, []string) {
	e.t.Helper()
	_, keyText := e.getOK("/log/key", "text/plain; charset=utf-8")
	lines := strings.Split(strings.TrimSuffix(string(keyText), "\n"), "\n")
	var vs []note.Verifier
	for _, l := range lines {
		v, err := note.NewVerifier(l)
		if err != nil {
			e.t.Fatalf("GET /log/key line %q: %v", l, err)
		}
		vs = append(vs, v)
	}
	resp, msg := e.getOK("/checkpoint", "text/plain; charset=utf-8")
	cp, err := tlog.ParseCheckpoint(msg, note.VerifierList(vs...), proofOrigin)
	if err != nil {
		e.t.Fatalf("GET /checkpoint %q: %v", msg, err)
	}
	if got, want := resp.Header.Get(headerCheckpointSize), strconv.FormatUint(cp.Size, 10); got != want {
		e.t.Errorf("checkpoint size header: got %q, want %q", got, want)
	}
	return cp, lines
}

func (e *env) treeHash(size uint64) [32]byte {
	e.t.Helper()
	root, err := e.store.TreeHash(context.Background(), size)
	if err != nil {
		e.t.Fatalf("TreeHash(%d): %v", size, err)
	}
	return root
}

// inclusion fetches an inclusion proof, decodes it strictly and checks that
// the bytes are tlog's wire form and the headers name its tree.
func (e *env) inclusion(query string) tlog.InclusionProof {
	e.t.Helper()
	resp, body := e.getOK("/proof/inclusion?"+query, "application/json")
	var p tlog.InclusionProof
	if err := p.UnmarshalJSON(bytes.TrimSuffix(body, []byte("\n"))); err != nil {
		e.t.Fatalf("inclusion %s: %v (body %s)", query, err, body)
	}
	want, _ := p.MarshalJSON()
	if string(body) != string(want)+"\n" {
		e.t.Errorf("inclusion %s: got body %q, want tlog's %q", query, body, want)
	}
	e.checkTreeHeaders(resp, p.Size)
	return p
}

func (e *env) consistency(query string) tlog.ConsistencyProof {
	e.t.Helper()
	resp, body := e.getOK("/proof/consistency?"+query, "application/json")
	var p tlog.ConsistencyProof
	if err := p.UnmarshalJSON(bytes.TrimSuffix(body, []byte("\n"))); err != nil {
		e.t.Fatalf("consistency %s: %v (body %s)", query, err, body)
	}
	want, _ := p.MarshalJSON()
	if string(body) != string(want)+"\n" {
		e.t.Errorf("consistency %s: got body %q, want tlog's %q", query, body, want)
	}
	e.checkTreeHeaders(resp, p.To)
	return p
}

func (e *env) checkTreeHeaders(resp *http.Response, size uint64) {
	e.t.Helper()
	if got, want := resp.Header.Get(headerCheckpointSize), strconv.FormatUint(size, 10); got != want {
		e.t.Errorf("%s: got %q, want %q", headerCheckpointSize, got, want)
	}
	root := e.treeHash(size)
	if got, want := resp.Header.Get(headerCheckpointRoot), base64.StdEncoding.EncodeToString(root[:]); got != want {
		e.t.Errorf("%s: got %q, want %q", headerCheckpointRoot, got, want)
	}
}

func TestProofs(t *testing.T) {
	e, keys := newProofEnv(t, true)
	const n = 7
	e.ingestN(n)
	entries := e.rawEntries()

	cp, keyLines := e.verifiedCheckpoint()
	if want := keys.VerifierKeys(); strings.Join(keyLines, "\n") != strings.Join(want, "\n") {
		t.Errorf("GET /log/key: got %q, want %q", keyLines, want)
	}
	if cp.Size != n || cp.Root != e.treeHash(n) {
		t.Fatalf("checkpoint: got size %d root %x, want %d %x", cp.Size, cp.Root, n, e.treeHash(n))
	}

	t.Run("inclusion", func(t *testing.T) {
		for i := range uint64(n) {
			for size := i + 1; size <= n; size++ {
				p := e.inclusion(fmt.Sprintf("index=%d&size=%d", i, size))
				if p.Index != i || p.Size != size {
					t.Fatalf("got index %d size %d, want %d %d", p.Index, p.Size, i, size)
				}
				if p.LeafHash != tlog.LeafHash(entries[i]) {
					t.Errorf("index %d: leaf hash is not SHA-256(0x00 ‖ stored line)", i)
				}
				if err := tlog.VerifyInclusion(p.LeafHash, i, size, p.Hashes, e.treeHash(size)); err != nil {
					t.Errorf("index %d size %d: %v", i, size, err)
				}
			}
			// Default size: the latest checkpoint, verified against its signed root.
			p := e.inclusion(fmt.Sprintf("index=%d", i))
			if p.Size != cp.Size {
				t.Errorf("index %d: default size %d, want the checkpoint's %d", i, p.Size, cp.Size)
			}
			if err := p.Verify(cp.Root); err != nil {
				t.Errorf("index %d against the checkpoint: %v", i, err)
			}
		}
		// A proof must not verify against another tree.
		p := e.inclusion("index=2&size=5")
		if err := p.Verify(e.treeHash(6)); err == nil {
			t.Error("a size-5 proof verified against the size-6 root")
		}
	})

	t.Run("consistency", func(t *testing.T) {
		for from := range uint64(n + 1) {
			for to := from; to <= n; to++ {
				p := e.consistency(fmt.Sprintf("from=%d&to=%d", from, to))
				if p.From != from || p.To != to {
					t.Fatalf("got from %d to %d, want %d %d", p.From, p.To, from, to)
				}
				if err := tlog.VerifyConsistency(from, to, p.Hashes, e.treeHash(from), e.treeHash(to)); err != nil {
					t.Errorf("from %d to %d: %v", from, to, err)
				}
			}
		}
		p := e.consistency("from=3")
		if p.To != cp.Size {
			t.Errorf("default to: got %d, want the checkpoint's %d", p.To, cp.Size)
		}
		if err := p.Verify(e.treeHash(3), cp.Root); err != nil {
			t.Errorf("from 3 to the checkpoint: %v", err)
		}
	})

	t.Run("by id", func(t *testing.T) {
		// A second version of p3 lands at log index n.
		if resp, body := e.postJSON("/ingest", spanJSON(map[string]any{"id": "p3", "seq": 1, "this": "case:3"}), nil); resp.StatusCode != http.StatusCreated {
			t.Fatalf("append p3@1: got %d %s", resp.StatusCode, body)
		}
		cp2, _ := e.verifiedCheckpoint()
		if cp2.Size != n+1 {
			t.Fatalf("checkpoint after one more append: got size %d, want %d", cp2.Size, n+1)
		}
		if err := e.consistency(fmt.Sprintf("from=%d&to=%d", cp.Size, cp2.Size)).Verify(cp.Root, cp2.Root); err != nil {
			t.Errorf("old checkpoint to new: %v", err)
		}
		tests := []struct {
			query     string
			wantIndex uint64
			wantSize  uint64
		}{
			{"id=p3&tenant=acme", n, n + 1},
			{"id=p3&tenant=acme&seq=0", 3, n + 1},
			{"id=p3&seq=0&size=5", 3, 5},
			{"id=p5", 5, n + 1},
		}
		for _, tt := range tests {
			t.Run(tt.query, func(t *testing.T) {
				p := e.inclusion(tt.query)
				if p.Index != tt.wantIndex || p.Size != tt.wantSize {
					t.Fatalf("got index %d size %d, want %d %d", p.Index, p.Size, tt.wantIndex, tt.wantSize)
				}
				if p.LeafHash != tlog.LeafHash(e.rawEntries()[tt.wantIndex]) {
					t.Error("leaf hash is not the span's stored line")
				}
				if err := p.Verify(e.treeHash(tt.wantSize)); err != nil {
					t.Error(err)
				}
			})
		}
	})

	t.Run("HEAD", func(t *testing.T) {
		resp, body := e.do(http.MethodHead, "/checkpoint", "", nil, nil)
		if resp.StatusCode != http.StatusOK || len(body) != 0 {
			t.Errorf("HEAD /checkpoint: got %d with %d bytes, want 200 and no body", resp.StatusCode, len(body))
		}
	})
}

func TestProofErrors(t *testing.T) {
	e, _ := newProofEnv(t, true)
	e.ingestN(4)
	tests := []struct {
		name, path string
		wantStatus int
		wantCode   string
		wantParam  string
	}{
		{"no index", "/proof/inclusion", 400, "missing_parameter", "index"},
		{"empty index", "/proof/inclusion?index=&size=3", 400, "missing_parameter", "index"},
		{"bad index", "/proof/inclusion?index=x", 400, "invalid_parameter", "index"},
		{"negative index", "/proof/inclusion?index=-1", 400, "invalid_parameter", "index"},
		{"repeated index", "/proof/inclusion?index=1&index=2", 400, "invalid_parameter", "index"},
		{"bad size", "/proof/inclusion?index=1&size=1e3", 400, "invalid_parameter", "size"},
		{"index and id", "/proof/inclusion?index=1&id=p1", 400, "invalid_parameter", "id"},
		{"tenant without id", "/proof/inclusion?index=1&tenant=acme", 400, "invalid_parameter", "tenant"},
		{"bad tenant", "/proof/inclusion?id=p1&tenant=A+B", 400, "invalid_parameter", "tenant"},
		{"bad seq", "/proof/inclusion?id=p1&seq=one", 400, "invalid_parameter", "seq"},
		{"index past checkpoint", "/proof/inclusion?index=4", 400, "out_of_range", "index"},
		{"index not below size", "/proof/inclusion?index=2&size=2", 400, "out_of_range", "index"},
		{"size past log", "/proof/inclusion?index=1&size=5", 400, "out_of_range", "size"},
		{"huge size", "/proof/inclusion?index=1&size=18446744073709551615", 400, "out_of_range", "size"},
		{"id not in size", "/proof/inclusion?id=p3&size=2", 400, "out_of_range", "id"},
		{"unknown id", "/proof/inclusion?id=nope", 404, "not_found", ""},
		{"unknown seq", "/proof/inclusion?id=p1&seq=9", 404, "not_found", ""},
		{"invalid id", "/proof/inclusion?id=%20", 404, "not_found", ""},
		{"no from", "/proof/consistency?to=3", 400, "missing_parameter", "from"},
		{"bad from", "/proof/consistency?from=a", 400, "invalid_parameter", "from"},
		{"bad to", "/proof/consistency?from=1&to=b", 400, "invalid_parameter", "to"},
		{"from after to", "/proof/consistency?from=3&to=2", 400, "out_of_range", "from"},
		{"from past checkpoint", "/proof/consistency?from=5", 400, "out_of_range", "from"},
		{"to past log", "/proof/consistency?from=1&to=9", 400, "out_of_range", "to"},
		{"post", "/proof/inclusion?index=0", 405, "method_not_allowed", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := http.MethodGet
			if tt.name == "post" {
				method = http.MethodPost
			}
			resp, body := e.do(method, tt.path, "", nil, nil)
			p := decodeProblem(t, resp, body)
			if resp.StatusCode != tt.wantStatus || p.Code != tt.wantCode || p.Parameter != tt.wantParam {
				t.Errorf("got %d %s parameter %q, want %d %s %q (%s)",
					resp.StatusCode, p.Code, p.Parameter, tt.wantStatus, tt.wantCode, tt.wantParam, p.Detail)
			}
		})
	}
}

func TestProofRoutesNotConfigured(t *testing.T) {
	e := newEnv(t, nil)
	for _, path := range []string{"/checkpoint", "/log/key", "/proof/inclusion?index=0", "/proof/consistency?from=0"} {
		resp, body := e.get(path, nil)
		if p := decodeProblem(t, resp, body); resp.StatusCode != http.StatusNotImplemented || p.Code != "not_implemented" {
			t.Errorf("GET %s: got %d %s, want 501 not_implemented", path, resp.StatusCode, p.Code)
		}
	}
}

// TestUnsignedLog: a store without a signer still proves, but has no
// checkpoint note to serve.
func TestUnsignedLog(t *testing.T) {
	e, _ := newProofEnv(t, false)
	e.ingestN(3)
	resp, body := e.get("/checkpoint", nil)
	if p := decodeProblem(t, resp, body); resp.StatusCode != http.StatusServiceUnavailable || p.Code != "unavailable" {
		t.Errorf("GET /checkpoint: got %d %s, want 503 unavailable", resp.StatusCode, p.Code)
	}
	resp, body = e.get("/log/key", nil)
	if p := decodeProblem(t, resp, body); resp.StatusCode != http.StatusNotImplemented || p.Code != "not_implemented" {
		t.Errorf("GET /log/key: got %d %s, want 501 not_implemented", resp.StatusCode, p.Code)
	}
	p := e.inclusion("index=1")
	if err := p.Verify(e.treeHash(3)); err != nil {
		t.Error(err)
	}
}

// TestVerificationExample produces the worked example of docs/http-api.md
// (testdata/verification.golden; refresh with -update): a demo log key
// from fixed randomness, three spans, the answers of the four routes.
func TestVerificationExample(t *testing.T) {
	e, _ := newProofEnv(t, true)
	for i, who := range []string{"alice", "bob", "carol"} {
		body := spanJSON(map[string]any{"id": fmt.Sprintf("ex%d", i), "who": who, "this": "invoice:7"})
		if resp, b := e.postJSON("/ingest", body, nil); resp.StatusCode != http.StatusCreated {
			t.Fatalf("append: got %d %s", resp.StatusCode, b)
		}
	}
	var out bytes.Buffer
	show := func(path string, withHeaders bool) {
		resp, body := e.get(path, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: got %d %s", path, resp.StatusCode, body)
		}
		fmt.Fprintf(&out, "$ GET %s\n", path)
		if withHeaders {
			for _, h := range []string{headerCheckpointSize, headerCheckpointRoot} {
				fmt.Fprintf(&out, "%s: %s\n", h, resp.Header.Get(h))
			}
		}
		out.Write(body)
		out.WriteString("\n")
	}
	out.WriteString("$ GET /ledger/stream\n")
	for _, l := range e.rawEntries() {
		out.Write(l)
		out.WriteString("\n")
	}
	out.WriteString("\n")
	show("/log/key", false)
	show("/checkpoint", false)
	show("/proof/inclusion?index=1", true)
	show("/proof/inclusion?id=ex2&tenant=acme&size=3", true)
	show("/proof/consistency?from=1&to=3", true)

	// Everything shown verifies.
	cp, _ := e.verifiedCheckpoint()
	if err := e.inclusion("index=1").Verify(cp.Root); err != nil {
		t.Fatal(err)
	}

	golden := filepath.Join("testdata", "verification.golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if out.String() != string(want) {
		t.Errorf("output differs from %s (docs/http-api.md shows it; refresh both with -update):\n%s", golden, out.String())
	}
}
