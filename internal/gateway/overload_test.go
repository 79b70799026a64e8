package gateway

import (
	"context"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/logline/logline/internal/dataplane"
	"github.com/logline/logline/internal/ledger"
	"github.com/logline/logline/internal/ledger/segment"
	"github.com/logline/logline/internal/span"
)

// overloadRetry is the Retry-After of overloadErr.
const overloadRetry = 42 * time.Second

// overloadErr is the error dataplane.AdmittingStore returns while the
// tenant's derivation is over its derived_events_perf limits under
// reject_429 (or slow_ingest past its wait), built as admit.go builds
// it: a *ledger.OverloadError whose Reason is the data plane's whole
// message, which already says when to retry.
func overloadErr() error {
	oe := &dataplane.OverloadError{Tenant: "acme", Reason: "max_per_minute", RetryAfter: overloadRetry}
	return &ledger.OverloadError{Reason: oe.Problem(), RetryAfter: oe.RetryAfter}
}

// overloadDetail is the detail a refusal by overloadErr must carry: the
// data plane's message, once.
func overloadDetail() string {
	return (&dataplane.OverloadError{Tenant: "acme", Reason: "max_per_minute", RetryAfter: overloadRetry}).Error()
}

// overloadedStore lets pass appends through, then refuses every append
// as the data plane's backpressure does (nothing of the batch stored).
type overloadedStore struct {
	ledger.Store
	pass atomic.Int64
}

func (s *overloadedStore) Append(ctx context.Context, spans []*span.Span) ([]ledger.Outcome, error) {
	if s.pass.Add(-1) >= 0 {
		return s.Store.Append(ctx, spans)
	}
	return nil, overloadErr()
}

// newOverloadEnv serves a store that lets pass appends through, then
// refuses, with batch spans per NDJSON append (0: the default).
func newOverloadEnv(t *testing.T, pass int64, batch int) *env {
	t.Helper()
	st, err := segment.Open(context.Background(), segment.Config{Dir: t.TempDir(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ov := &overloadedStore{Store: st}
	ov.pass.Store(pass)
	return newEnvWith(t, st, ov, func(c *Config) { c.NDJSONBatch = batch })
}

// checkOverloadProblem checks p is the refusal of overloadErr, its
// detail the data plane's message once (not "…: retry in 42s; retry in
// 42s").
func checkOverloadProblem(t *testing.T, what string, p *Problem) {
	t.Helper()
	switch {
	case p == nil:
		t.Errorf("%s: no problem, want too_many_requests", what)
	case p.Code != codeTooManyRequests || p.Status != http.StatusTooManyRequests:
		t.Errorf("%s: code %q status %d, want too_many_requests 429", what, p.Code, p.Status)
	case p.RetryAfterMS != overloadRetry.Milliseconds():
		t.Errorf("%s: retry_after_ms %d, want %d", what, p.RetryAfterMS, overloadRetry.Milliseconds())
	case p.Detail != overloadDetail() || strings.Count(p.Detail, "retry in") != 1:
		t.Errorf("%s: detail %q, want %q (once)", what, p.Detail, overloadDetail())
	}
}

// TestOverloadIs429: an append refused by the data plane before anything
// of the request was stored answers 429 problem+json with Retry-After —
// one span, and an NDJSON body as a whole (nothing stored: the client
// resends all of it) — as the OpenAPI document describes it.
func TestOverloadIs429(t *testing.T) {
	doc, _ := loadOpenAPI(t)
	span := func(id string) string { return spanJSON(map[string]any{"id": id}) }
	many := make([]string, 3000)
	for i := range many {
		many[i] = span("m" + strconv.Itoa(i))
	}
	for _, tc := range []struct {
		name, path, ctype, body string
		batch                   int
	}{
		{"one span", "/ingest", "application/json", span("a"), 0},
		{"NDJSON", "/ingest", "application/x-ndjson", span("a") + "\n" + span("b") + "\n", 0},
		{"NDJSON alias", "/api/spans", "application/x-ndjson", span("a") + "\n" + span("b") + "\n", 0},
		{"NDJSON, the first of several batches", "/ingest", "application/x-ndjson", span("a") + "\n" + span("b") + "\n" + span("c") + "\n", 1},
		{"NDJSON, a body left unread", "/ingest", "application/x-ndjson", strings.Join(many, "\n") + "\n", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newOverloadEnv(t, 0, tc.batch)
			resp, body := e.do(http.MethodPost, tc.path, tc.ctype, strings.NewReader(tc.body), nil)
			if resp.StatusCode != http.StatusTooManyRequests {
				t.Fatalf("status %d, want 429\n%.300s", resp.StatusCode, body)
			}
			if got := resp.Header.Get("Retry-After"); got != "42" {
				t.Errorf("Retry-After %q, want 42", got)
			}
			p := decodeProblem(t, resp, body)
			checkOverloadProblem(t, "answer", &p)
			if n := e.store.Size(); n != 0 {
				t.Errorf("%d entries stored, want none", n)
			}
			checkAnswer(t, doc, http.MethodPost, tc.path, resp, body)
		})
	}
}

// TestOverloadMidStream: once an NDJSON answer has begun (lines stored
// and answered), a refused batch's lines get a per-line 429 with
// retry_after_ms, the summary counts them as refused (among rejected)
// and carries the refusal, and the lines after are not processed.
func TestOverloadMidStream(t *testing.T) {
	doc, _ := loadOpenAPI(t)
	var lines []string
	for i := range 5 {
		lines = append(lines, spanJSON(map[string]any{"id": "l" + strconv.Itoa(i+1)}))
	}
	lines[1] = "{bad" // a rejected line does not change what was stored
	for _, tc := range []struct {
		name     string
		pass     int64
		ok       []int // lines stored
		rejected []int // lines rejected for themselves
		refused  []int
	}{
		{"refused after the first append", 1, []int{1}, []int{2}, []int{3}},
		{"refused after two appends", 2, []int{1, 3}, []int{2}, []int{4}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newOverloadEnv(t, tc.pass, 1)
			resp, body := e.do(http.MethodPost, "/ingest", "application/x-ndjson", strings.NewReader(strings.Join(lines, "\n")+"\n"), nil)
			if resp.StatusCode != http.StatusOK || resp.Header.Get("Retry-After") != "" {
				t.Fatalf("status %d, Retry-After %q: want 200 without (the answer had begun)\n%s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
			}
			checkAnswer(t, doc, http.MethodPost, "/ingest", resp, body)
			r := parseNDResponse(t, body)
			var ok, rejected, refused []int
			for _, res := range r.Results {
				switch {
				case res.Error == nil:
					ok = append(ok, res.Line)
				case res.Error.Code == codeTooManyRequests:
					checkOverloadProblem(t, "line "+strconv.Itoa(res.Line), res.Error)
					refused = append(refused, res.Line)
				default:
					rejected = append(rejected, res.Line)
				}
			}
			if !slices.Equal(ok, tc.ok) || !slices.Equal(rejected, tc.rejected) || !slices.Equal(refused, tc.refused) {
				t.Errorf("lines ok %v, rejected %v, refused %v; want %v, %v, %v", ok, rejected, refused, tc.ok, tc.rejected, tc.refused)
			}
			sum := r.Summary
			checkOverloadProblem(t, "summary", sum.Error)
			sum.Error = nil
			want := ndSummary{Lines: len(r.Results), Accepted: len(tc.ok), Rejected: len(tc.rejected) + len(tc.refused), Refused: len(tc.refused)}
			if sum != want {
				t.Errorf("summary %+v, want %+v", sum, want)
			}
			if n := e.store.Size(); n != uint64(len(tc.ok)) {
				t.Errorf("%d entries stored, want %d", n, len(tc.ok))
			}
			if !strings.Contains(string(body), `"refused":`+strconv.Itoa(len(tc.refused))) {
				t.Errorf("the summary line does not say refused: %s", body)
			}
		})
	}
}
