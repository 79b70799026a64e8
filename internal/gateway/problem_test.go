package gateway

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/logline/logline/internal/ledger"
	"github.com/logline/logline/internal/span"
)

func TestStatusOf(t *testing.T) {
	tests := []struct {
		code string
		want int
	}{
		{span.CodeMalformedJSON, 400}, {span.CodeInvalidUTF8, 400}, {span.CodeDuplicateKey, 400},
		{span.CodeTooLarge, 413}, {span.CodeTooDeep, 400}, {span.CodeNumberRange, 400},
		{span.CodeMissingField, 400}, {span.CodeInvalidField, 400}, {span.CodeUnknownField, 400},
		{span.CodeServerField, 400}, {span.CodeHashMismatch, 400}, {span.CodeBadSignature, 400},
		{span.CodeNotCanonical, 400},
		{codeBodyTooLarge, 413}, {codeTenantMismatch, 403}, {codeConflict, 409}, {codeAmbiguousID, 409},
		{codeNotFound, 404}, {codeUnknownRoute, 404}, {codeMethodNotAllowed, 405}, {codeBadCursor, 400},
		{codeUnavailable, 503}, {codeInternal, 500}, {codeMissingParameter, 400}, {codeInvalidParameter, 400},
		{codeInvalidHeader, 400}, {codeUnsupportedMedia, 415}, {codeBadRequest, 400},
		{codeOutOfRange, 400}, {codeNotImplemented, 501},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			if got := statusOf(tt.code); got != tt.want {
				t.Errorf("got %d, want %d", got, tt.want)
			}
		})
	}
}

func TestProblemFor(t *testing.T) {
	tests := []struct {
		name        string
		err         error
		wantCode    string
		wantStatus  int
		wantPointer string
		wantDetail  string // substring
	}{
		{"span error", &span.Error{Code: span.CodeInvalidField, Pointer: "/when", Detail: "when: bad", Offset: 7},
			"invalid_field", 400, "/when", "when: bad"},
		{"span too large", fmt.Errorf("decode: %w", &span.Error{Code: span.CodeTooLarge, Detail: "big", Offset: -1}),
			"too_large", 413, "", "big"},
		{"seq gap", fmt.Errorf("append: %w", &ledger.ConflictError{Kind: ledger.SeqConflict, ID: "a", Seq: 5, Latest: 3}),
			"conflict", 409, "/seq", "seq 5 of \"a\": latest version is 3"},
		{"seq first", &ledger.ConflictError{Kind: ledger.SeqConflict, ID: "a", Seq: 2, Latest: -1},
			"conflict", 409, "/seq", "the first must be 0"},
		{"different content", &ledger.ConflictError{Kind: ledger.ContentConflict, ID: "a", Seq: 0},
			"conflict", 409, "", "different content"},
		{"not found", fmt.Errorf("get: %w", ledger.ErrNotFound), "not_found", 404, "", "no span"},
		{"ambiguous", ledger.ErrAmbiguous, "ambiguous_id", 409, "", "several tenants"},
		{"bad cursor", ledger.ErrBadCursor, "bad_cursor", 400, "", "cursor"},
		{"range", fmt.Errorf("prove: %w", ledger.ErrRange), "out_of_range", 400, "", "outside the log"},
		{"closed", fmt.Errorf("append: %w", ledger.ErrClosed), "unavailable", 503, "", "retry"},
		{"shutting down", errShuttingDown, "unavailable", 503, "", "shutting down"},
		{"problem passes through", paramProblem(codeInvalidParameter, "since", "since: bad"), "invalid_parameter", 400, "", "since: bad"},
		{"anything else", errors.New("disk on fire at /var/secret"), "internal", 500, "", "internal error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logBuf bytes.Buffer
			s := &Server{log: slog.New(slog.NewTextHandler(&logBuf, nil))}
			p := s.problemFor(context.Background(), tt.err)
			if p.Code != tt.wantCode || p.Status != tt.wantStatus || p.Pointer != tt.wantPointer {
				t.Errorf("got code %q status %d pointer %q, want %q %d %q", p.Code, p.Status, p.Pointer, tt.wantCode, tt.wantStatus, tt.wantPointer)
			}
			if !strings.Contains(p.Detail, tt.wantDetail) {
				t.Errorf("got detail %q, want it to contain %q", p.Detail, tt.wantDetail)
			}
			if wantType := "https://logline.dev/problems/" + strings.ReplaceAll(tt.wantCode, "_", "-"); p.Type != wantType {
				t.Errorf("got type %q, want %q", p.Type, wantType)
			}
			if p.Title == "" {
				t.Error("got empty title")
			}
			if tt.wantCode == "internal" {
				if strings.Contains(p.Detail, "disk") {
					t.Errorf("got detail %q, want the cause kept out of the response", p.Detail)
				}
				if !strings.Contains(logBuf.String(), "disk on fire") {
					t.Errorf("got log %q, want the cause logged", logBuf.String())
				}
			}
		})
	}
	t.Run("offset", func(t *testing.T) {
		s := &Server{log: slog.New(slog.NewTextHandler(io.Discard, nil))}
		p := s.problemFor(context.Background(), &span.Error{Code: span.CodeMalformedJSON, Detail: "x", Offset: 0})
		if p.Offset == nil || *p.Offset != 0 {
			t.Errorf("got offset %v, want 0", p.Offset)
		}
		p = s.problemFor(context.Background(), &span.Error{Code: span.CodeMalformedJSON, Detail: "x", Offset: -1})
		if p.Offset != nil {
			t.Errorf("got offset %d, want none", *p.Offset)
		}
	})
	t.Run("canceled by the client", func(t *testing.T) {
		var logBuf bytes.Buffer
		s := &Server{log: slog.New(slog.NewTextHandler(&logBuf, nil))}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		p := s.problemFor(ctx, fmt.Errorf("append: %w", context.Canceled))
		if p.Code != "bad_request" || logBuf.Len() != 0 {
			t.Errorf("got code %q and log %q, want bad_request and no log", p.Code, logBuf.String())
		}
	})
	t.Run("a passed-through problem is a copy", func(t *testing.T) {
		s := &Server{log: slog.Default()}
		orig := newProblem(codeConflict, "x")
		s.problemFor(context.Background(), orig).withLine(3)
		if orig.Line != 0 {
			t.Errorf("got original line %d, want 0", orig.Line)
		}
	})
}

func TestWriteProblem(t *testing.T) {
	rec := httptest.NewRecorder()
	writeProblem(rec, newProblem(span.CodeInvalidField, "when: not RFC 3339").withPointer("/when").withLine(4))
	if rec.Code != 400 {
		t.Errorf("got status %d, want 400", rec.Code)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("got Content-Type %q, want application/problem+json", ct)
	}
	var got map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"type": "https://logline.dev/problems/invalid-field", "title": "Invalid field", "status": 400.0,
		"detail": "when: not RFC 3339", "code": "invalid_field", "pointer": "/when", "line": 4.0,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestIdempotentID(t *testing.T) {
	ref := func(tenant, key string, line int) string {
		sum := sha256.Sum256([]byte(fmt.Sprintf("%s|%s|%d", tenant, key, line)))
		enc := strings.ToLower(base32.StdEncoding.EncodeToString(sum[:]))
		return "s_" + strings.TrimRight(enc, "=")[:26]
	}
	tests := []struct {
		tenant, key string
		line        int
	}{
		{"acme", "k1", 1}, {"acme", "k1", 2}, {"acme", "k2", 1}, {"other", "k1", 1}, {"a", "x:y~z.w-_", 1000000},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s|%s|%d", tt.tenant, tt.key, tt.line), func(t *testing.T) {
			got := idempotentID(tt.tenant, tt.key, tt.line)
			if want := ref(tt.tenant, tt.key, tt.line); got != want {
				t.Errorf("got %q, want %q", got, want)
			}
			if len(got) != 28 || !validToken(got) {
				t.Errorf("got %q, want 28 chars of the id alphabet", got)
			}
			if again := idempotentID(tt.tenant, tt.key, tt.line); again != got {
				t.Errorf("got %q on the second call, want %q", again, got)
			}
			if seen[got] {
				t.Errorf("got %q twice for different inputs", got)
			}
			seen[got] = true
		})
	}
}

func TestValidToken(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"a", true}, {"A-z_0.9:~", true}, {strings.Repeat("k", 128), true},
		{"", false}, {strings.Repeat("k", 129), false}, {"a b", false}, {"a/b", false}, {"é", false}, {"a\n", false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q", tt.in), func(t *testing.T) {
			if got := validToken(tt.in); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestValidTenant(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"acme", true}, {"t_receipt", true}, {"a-1", true}, {strings.Repeat("t", 64), true},
		{"", false}, {"Acme", false}, {"a.b", false}, {strings.Repeat("t", 65), false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q", tt.in), func(t *testing.T) {
			if got := span.ValidTenant(tt.in); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestIngestModeOf(t *testing.T) {
	tests := []struct {
		ct   string
		want ingestMode
	}{
		{"", modeSingle}, {"application/json", modeSingle}, {"application/json; charset=utf-8", modeSingle},
		{"application/x-ndjson", modeNDJSON}, {"Application/X-NDJSON", modeNDJSON}, {"application/jsonl", modeNDJSON},
		{"text/plain", modeUnsupported}, {"application/json;;", modeUnsupported},
	}
	for _, tt := range tests {
		t.Run(tt.ct, func(t *testing.T) {
			if got := ingestModeOf(tt.ct); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseIngestParams(t *testing.T) {
	tests := []struct {
		name, query, key string
		wantCode         string
	}{
		{"none", "", "", ""},
		{"tenant", "tenant=acme", "", ""},
		{"key", "", "retry-1", ""},
		{"bad tenant", "tenant=ACME", "", "invalid_parameter"},
		{"two tenants", "tenant=a&tenant=b", "", "invalid_parameter"},
		{"bad key", "", "has space", "invalid_header"},
		{"long key", "", strings.Repeat("k", 129), "invalid_header"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/ingest?"+tt.query, nil)
			if tt.key != "" {
				r.Header.Set(idempotencyHeader, tt.key)
			}
			_, err := parseIngestParams(r)
			var p *Problem
			switch {
			case tt.wantCode == "" && err != nil:
				t.Errorf("got error %v, want none", err)
			case tt.wantCode != "" && (!errors.As(err, &p) || p.Code != tt.wantCode):
				t.Errorf("got error %v, want code %s", err, tt.wantCode)
			}
		})
	}
	t.Run("empty key header", func(t *testing.T) {
		r := httptest.NewRequest(http.MethodPost, "/ingest", nil)
		r.Header[idempotencyHeader] = []string{""}
		if _, err := parseIngestParams(r); err == nil {
			t.Error("got no error for an empty key, want invalid_header")
		}
	})
}
