package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/logline/logline/internal/ledger"
	"github.com/logline/logline/internal/span"
)

// queryPage is a parsed GET /spans body.
type queryPage struct {
	Spans      []json.RawMessage `json:"spans"`
	NextCursor *string           `json:"next_cursor"`
}

func TestQuery(t *testing.T) {
	e := newEnv(t, nil)
	var body strings.Builder
	for i := range 12 {
		body.WriteString(spanJSON(map[string]any{
			"id":     fmt.Sprintf("q%02d", i),
			"this":   fmt.Sprintf("case:%d", i%3),
			"who":    []string{"alice", "bob"}[i%2],
			"when":   fmt.Sprintf("2026-01-%02dT10:00:00+02:00", i+1),
			"tenant": []string{"acme", "acme", "acme", "other"}[i%4],
		}) + "\n")
	}
	if r := e.postNDJSON("/ingest", strings.NewReader(body.String()), nil); r.Summary.Accepted != 12 {
		t.Fatalf("setup: got %+v", r.Summary)
	}
	ids := func(p queryPage) string {
		var out []string
		for _, s := range p.Spans {
			var v struct {
				ID string `json:"id"`
			}
			_ = json.Unmarshal(s, &v)
			out = append(out, v.ID)
		}
		return strings.Join(out, ",")
	}
	tests := []struct {
		name, query, want string
	}{
		{"tenant", "tenant=other", "q03,q07,q11"},
		{"this", "tenant=acme&this=case:0", "q00,q06,q09"},
		{"who", "tenant=acme&who=bob", "q01,q05,q09"},
		{"who and this", "tenant=acme&who=alice&this=case:2", "q02,q08"},
		{"since inclusive", "tenant=acme&since=2026-01-10T08:00:00Z", "q09,q10"},
		{"until exclusive", "tenant=acme&until=2026-01-03T10:00:00%2B02:00", "q00,q01"},
		{"entity type", "tenant=acme&entity_type=span", "q00,q01,q02,q04,q05,q06,q08,q09,q10"},
		{"no match", "tenant=acme&did=refunded", ""},
		{"unknown tenant", "tenant=nobody", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, b := e.get("/spans?"+tt.query, nil)
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
				t.Fatalf("got %d %q (%s), want 200 application/json", resp.StatusCode, resp.Header.Get("Content-Type"), b)
			}
			var p queryPage
			if err := json.Unmarshal(b, &p); err != nil {
				t.Fatal(err)
			}
			if got := ids(p); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			if p.NextCursor != nil {
				t.Errorf("got next_cursor %q on a single page, want none", *p.NextCursor)
			}
			if !bytes.Contains(b, []byte(`"spans":[`)) {
				t.Errorf("got %s, want a spans array even when empty", b)
			}
		})
	}

	t.Run("paging", func(t *testing.T) {
		var got []string
		cursor := ""
		for range 10 {
			_, b := e.get("/spans?tenant=acme&limit=2&cursor="+cursor, nil)
			var p queryPage
			if err := json.Unmarshal(b, &p); err != nil {
				t.Fatal(err)
			}
			if len(p.Spans) > 2 {
				t.Fatalf("got %d spans, want at most 2", len(p.Spans))
			}
			if ids(p) != "" {
				got = append(got, ids(p))
			}
			if p.NextCursor == nil {
				break
			}
			cursor = *p.NextCursor
		}
		if g, want := strings.Join(got, ","), "q00,q01,q02,q04,q05,q06,q08,q09,q10"; g != want {
			t.Errorf("got %q, want %q", g, want)
		}
	})

	bad := []struct {
		name, query, code, param string
		status                   int
	}{
		{"missing tenant", "this=x", "missing_parameter", "tenant", 400},
		{"bad since", "tenant=acme&since=last-week", "invalid_parameter", "since", 400},
		{"bad until", "tenant=acme&until=2026-01-01", "invalid_parameter", "until", 400},
		{"limit 0", "tenant=acme&limit=0", "invalid_parameter", "limit", 400},
		{"limit 1001", "tenant=acme&limit=1001", "invalid_parameter", "limit", 400},
		{"bad cursor", "tenant=acme&cursor=not-a-cursor", "bad_cursor", "cursor", 400},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			resp, b := e.get("/spans?"+tt.query, nil)
			p := decodeProblem(t, resp, b)
			if resp.StatusCode != tt.status || p.Code != tt.code || p.Parameter != tt.param {
				t.Errorf("got %d %q parameter %q (%s), want %d %q %q", resp.StatusCode, p.Code, p.Parameter, p.Detail, tt.status, tt.code, tt.param)
			}
			if !strings.Contains(p.Detail, tt.param) {
				t.Errorf("got detail %q, want it to name %q", p.Detail, tt.param)
			}
		})
	}
}

func TestGetErrors(t *testing.T) {
	e := newEnv(t, nil)
	for _, tenant := range []string{"acme", "other"} {
		if resp, b := e.postJSON("/ingest", spanJSON(map[string]any{"id": "shared", "tenant": tenant}), nil); resp.StatusCode != 201 {
			t.Fatalf("setup: %d %s", resp.StatusCode, b)
		}
	}
	tests := []struct {
		name, path, code string
		status           int
	}{
		{"unknown id", "/spans/nope?tenant=acme", "not_found", 404},
		{"unknown id any tenant", "/spans/nope", "not_found", 404},
		{"unknown seq", "/spans/shared?tenant=acme&seq=4", "not_found", 404},
		{"ambiguous", "/spans/shared", "ambiguous_id", 409},
		{"bad seq", "/spans/shared?tenant=acme&seq=-1", "invalid_parameter", 400},
		{"bad tenant", "/spans/shared?tenant=A!", "invalid_parameter", 400},
		{"id outside the alphabet", "/spans/a%20b", "not_found", 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, b := e.get(tt.path, nil)
			p := decodeProblem(t, resp, b)
			if resp.StatusCode != tt.status || p.Code != tt.code {
				t.Errorf("got %d %q (%s), want %d %q", resp.StatusCode, p.Code, p.Detail, tt.status, tt.code)
			}
		})
	}
	t.Run("tenant picks one", func(t *testing.T) {
		resp, b := e.get("/spans/shared?tenant=other", nil)
		if want := e.rawEntries()[1]; resp.StatusCode != 200 || !bytes.Equal(b, want) {
			t.Errorf("got %d %s, want %s", resp.StatusCode, b, want)
		}
	})
}

func TestRoutes(t *testing.T) {
	notReady := errors.New("warming up")
	var ready error
	e := newEnv(t, func(c *Config) { c.Ready = func() error { return ready } })
	tests := []struct {
		name, method, path string
		status             int
		code, allow        string
	}{
		{"healthz", "GET", "/healthz", 200, "", ""},
		{"readyz", "GET", "/readyz", 200, "", ""},
		{"unknown route", "GET", "/nope", 404, "unknown_route", ""},
		{"root", "GET", "/", 404, "unknown_route", ""},
		{"wrong method on ingest", "GET", "/ingest", 405, "method_not_allowed", "POST"},
		{"wrong method on spans", "DELETE", "/spans/x", 405, "method_not_allowed", "GET, HEAD"},
		{"wrong method on stream", "POST", "/ledger/stream", 405, "method_not_allowed", "GET, HEAD"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, b := e.do(tt.method, tt.path, "", nil, nil)
			if resp.StatusCode != tt.status {
				t.Fatalf("got %d (%s), want %d", resp.StatusCode, b, tt.status)
			}
			if tt.code == "" {
				if string(b) != "ok\n" {
					t.Errorf("got body %q, want ok", b)
				}
				return
			}
			p := decodeProblem(t, resp, b)
			if p.Code != tt.code {
				t.Errorf("got code %q, want %q", p.Code, tt.code)
			}
			if got := resp.Header.Get("Allow"); got != tt.allow {
				t.Errorf("got Allow %q, want %q", got, tt.allow)
			}
		})
	}
	t.Run("not ready", func(t *testing.T) {
		ready = notReady
		defer func() { ready = nil }()
		resp, b := e.get("/readyz", nil)
		p := decodeProblem(t, resp, b)
		if resp.StatusCode != 503 || p.Code != "unavailable" || strings.Contains(p.Detail, "warming") {
			t.Errorf("got %d %+v, want 503 unavailable without the cause", resp.StatusCode, p)
		}
	})
}

// faultyStore wraps the real store and injects failures into single methods.
type faultyStore struct {
	ledger.Store
	get    func() error
	query  func() error
	append func() error
}

func (f *faultyStore) Append(ctx context.Context, spans []*span.Span) ([]ledger.Outcome, error) {
	if f.append != nil {
		if err := f.append(); err != nil {
			return nil, err
		}
	}
	return f.Store.Append(ctx, spans)
}

func (f *faultyStore) Get(ctx context.Context, tenant, id string, seq int64) (*span.Entry, error) {
	if f.get != nil {
		if err := f.get(); err != nil {
			return nil, err
		}
	}
	return f.Store.Get(ctx, tenant, id, seq)
}

func (f *faultyStore) Query(ctx context.Context, q ledger.Query) (ledger.Page, error) {
	if f.query != nil {
		if err := f.query(); err != nil {
			return ledger.Page{}, err
		}
	}
	return f.Store.Query(ctx, q)
}

func TestInternalErrors(t *testing.T) {
	base := newEnv(t, nil)
	fs := &faultyStore{
		Store: base.store,
		get:   func() error { panic("index exploded") },
		query: func() error { return fmt.Errorf("pebble: %s", "/secret/path corrupted") },
	}
	var logs syncBuffer
	e := newEnvWith(t, base.store, fs, func(c *Config) { c.Logger = newTestLogger(&logs); c.NDJSONBatch = 3 })
	t.Run("panic", func(t *testing.T) {
		resp, b := e.get("/spans/x?tenant=acme", nil)
		p := decodeProblem(t, resp, b)
		if resp.StatusCode != 500 || p.Code != "internal" || strings.Contains(string(b), "exploded") {
			t.Errorf("got %d %s, want 500 internal without the panic value", resp.StatusCode, b)
		}
		if !strings.Contains(logs.String(), "index exploded") {
			t.Error("got no log of the panic")
		}
	})
	t.Run("store error", func(t *testing.T) {
		resp, b := e.get("/spans?tenant=acme", nil)
		p := decodeProblem(t, resp, b)
		if resp.StatusCode != 500 || p.Code != "internal" || strings.Contains(string(b), "secret") {
			t.Errorf("got %d %s, want 500 internal without the cause", resp.StatusCode, b)
		}
		if !strings.Contains(logs.String(), "/secret/path corrupted") {
			t.Error("got no log of the cause")
		}
		if !strings.Contains(logs.String(), "msg=\"http request\" method=GET path=/spans status=500") {
			t.Errorf("got log %q, want a debug request line with the status", logs.String())
		}
	})
	t.Run("store fails mid ndjson", func(t *testing.T) {
		calls := 0
		fs.append = func() error {
			calls++
			if calls > 1 {
				return fmt.Errorf("append: %w", ledger.ErrClosed)
			}
			return nil
		}
		defer func() { fs.append = nil }()
		before := base.store.Size()
		var body strings.Builder
		for i := range 10 {
			body.WriteString(spanJSON(map[string]any{"id": fmt.Sprintf("mid%d", i)}) + "\n")
		}
		r := e.postNDJSON("/ingest", strings.NewReader(body.String()), nil)
		// The first batch (up to 3 lines) is stored, the second fails with
		// every line, then reading stops.
		okLines, failed := 0, 0
		for i, res := range r.Results {
			switch {
			case res.Line != i+1:
				t.Errorf("result %d: got line %d, want %d", i, res.Line, i+1)
			case res.OK != nil && *res.OK && failed == 0:
				okLines++
			case res.Error != nil && res.Error.Code == "unavailable" && okLines > 0:
				failed++
			default:
				t.Errorf("line %d: got %+v, want ok lines then unavailable lines", i+1, res)
			}
		}
		if okLines == 0 || okLines > 3 || failed == 0 || failed > 3 || okLines+failed == 10 {
			t.Errorf("got %d ok and %d failed lines, want 1-3 of each and reading stopped", okLines, failed)
		}
		if r.Summary.Error == nil || r.Summary.Error.Code != "unavailable" || r.Summary.Accepted != okLines || r.Summary.Rejected != failed {
			t.Errorf("got summary %+v, want %d accepted, %d rejected, error unavailable", r.Summary, okLines, failed)
		}
		if got := base.store.Size(); got != before+uint64(okLines) {
			t.Errorf("got store size %d, want %d", got, before+uint64(okLines))
		}
	})
	t.Run("closed store", func(t *testing.T) {
		fs.query = func() error { return fmt.Errorf("query: %w", ledger.ErrClosed) }
		resp, b := e.get("/spans?tenant=acme", nil)
		if p := decodeProblem(t, resp, b); resp.StatusCode != 503 || p.Code != "unavailable" {
			t.Errorf("got %d %q, want 503 unavailable", resp.StatusCode, p.Code)
		}
	})
}
