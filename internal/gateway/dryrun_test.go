package gateway

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/logline/logline/internal/derive"
	"github.com/logline/logline/internal/span"
)

// offlineRun is what `logline quality simulate` derives from NDJSON
// lines: the summary and the derived spans, one JSON text each.
func offlineRun(t testing.TB, lines [][]byte, policy *derive.Policy) (derive.Summary, [][]byte) {
	t.Helper()
	eng := derive.New(func(string) *derive.Policy { return policy })
	var out [][]byte
	emit := func(d *derive.Derived) { out = append(out, d.AppendJSON(nil)) }
	var lp derive.LineParser
	for i, l := range lines {
		in, err := lp.Parse(l)
		if err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		if err := eng.Apply(in, emit); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
	}
	eng.Finish(emit)
	return derive.Summarize(eng.Stats()), out
}

// wireDryRun is the answer of POST /quality/dryrun.
type wireDryRun struct {
	Tenant    string            `json:"tenant"`
	Diamond   bool              `json:"diamond"`
	Range     *dryRunRange      `json:"range"`
	Summary   derive.Summary    `json:"summary"`
	Derived   []json.RawMessage `json:"derived_spans"`
	Truncated *bool             `json:"truncated"`
}

func (e *env) dryRun(t *testing.T, query, body string) wireDryRun {
	t.Helper()
	resp, b := e.do("POST", "/quality/dryrun"+query, "application/x-ndjson", strings.NewReader(body), nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("dry run %s: %d %s", query, resp.StatusCode, b)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("dry run: Content-Type %q", ct)
	}
	var got wireDryRun
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("dry run: %v\n%s", err, b)
	}
	return got
}

// TestDryRunCorpus: over the corpus, the dry run gives exactly the
// summary (and derived spans) the data plane gives offline under the
// same policy, with the tenant's diamond flag or an override, and
// stores nothing.
func TestDryRunCorpus(t *testing.T) {
	corpus := readCorpus(t)
	lines := nonBlankLines(corpus)
	e := newEnv(t, func(c *Config) { c.DataPlanePolicy = testDataPlanePolicy(t) })
	for _, tc := range []struct {
		query   string
		diamond bool
	}{
		{"?tenant=" + corpusTenant, true},
		{"?tenant=" + corpusTenant + "&diamond=0", false},
		{"?tenant=" + corpusTenant + "&diamond=1&spans=1", true},
	} {
		t.Run(tc.query, func(t *testing.T) {
			want, derived := offlineRun(t, lines, testPolicy(t, tc.diamond))
			if want.Trajectories == 0 || want.Scores.Count == 0 || (tc.diamond && want.Candidates == 0) {
				t.Fatalf("the offline run derived too little to compare: %+v", want)
			}
			got := e.dryRun(t, tc.query, string(corpus))
			if !reflect.DeepEqual(got.Summary, want) {
				t.Errorf("summary\n got %+v\nwant %+v", got.Summary, want)
			}
			if got.Tenant != corpusTenant || got.Diamond != tc.diamond || got.Range != nil {
				t.Errorf("tenant %q diamond %v range %v, want %s %v none", got.Tenant, got.Diamond, got.Range, corpusTenant, tc.diamond)
			}
			if !strings.Contains(tc.query, "spans=1") {
				if got.Derived != nil || got.Truncated != nil {
					t.Errorf("derived spans without spans=1: %d, truncated %v", len(got.Derived), got.Truncated)
				}
				return
			}
			if len(derived) <= maxDryRunDerived {
				t.Fatalf("the corpus derives %d spans: the test needs more than %d", len(derived), maxDryRunDerived)
			}
			if got.Truncated == nil || !*got.Truncated || len(got.Derived) != maxDryRunDerived {
				t.Fatalf("got %d derived spans, truncated %v; want the first %d, truncated", len(got.Derived), got.Truncated, maxDryRunDerived)
			}
			for i, d := range got.Derived {
				if !bytes.Equal(d, derived[i]) {
					t.Fatalf("derived span %d:\n got %s\nwant %s", i, d, derived[i])
				}
			}
		})
	}
	if n := e.store.Size(); n != 0 {
		t.Errorf("the dry runs stored %d entries", n)
	}
}

// TestDryRunSmallBody: a body of a few spans, with derived spans (not
// truncated), ids given to spans without one, and blank lines skipped.
func TestDryRunSmallBody(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.DataPlanePolicy = testDataPlanePolicy(t) })
	body := spanJSON(map[string]any{"id": "a1", "this": "order:1", "when": "2026-01-02T03:00:00Z"}) + "\n\n" +
		spanJSON(map[string]any{"this": "order:1", "when": "2026-01-02T04:00:00+01:00"}) + "\r\n" +
		spanJSON(map[string]any{"id": "b1", "this": "order:2", "when": "2026-01-03T03:00:00Z"}) + "\n"
	got := e.dryRun(t, "?tenant=acme&spans=true", body)
	// Offline, the id-less line (line 3) is dryrun-3.
	offline := [][]byte{
		[]byte(spanJSON(map[string]any{"id": "a1", "this": "order:1", "when": "2026-01-02T03:00:00Z"})),
		[]byte(spanJSON(map[string]any{"id": "dryrun-3", "this": "order:1", "when": "2026-01-02T04:00:00+01:00"})),
		[]byte(spanJSON(map[string]any{"id": "b1", "this": "order:2", "when": "2026-01-03T03:00:00Z"})),
	}
	want, derived := offlineRun(t, offline, testPolicy(t, true))
	if !reflect.DeepEqual(got.Summary, want) {
		t.Errorf("summary\n got %+v\nwant %+v", got.Summary, want)
	}
	if want.Linked != 3 || want.Trajectories != 2 || len(derived) != 7 {
		t.Fatalf("offline: %+v with %d derived spans; want 3 linked into 2 trajectories: 3 edges, 2 closes, 2 scores", want, len(derived))
	}
	if got.Truncated == nil || *got.Truncated || len(got.Derived) != len(derived) {
		t.Fatalf("got %d derived spans (truncated %v), want %d", len(got.Derived), got.Truncated, len(derived))
	}
	for i := range derived {
		if !bytes.Equal(got.Derived[i], derived[i]) {
			t.Errorf("derived span %d:\n got %s\nwant %s", i, got.Derived[i], derived[i])
		}
		if _, err := span.Decode(got.Derived[i], span.DecodeOptions{}); err != nil {
			t.Errorf("derived span %d is not a span: %v", i, err)
		}
	}
}

// TestDryRunRange: from/to run over the tenant's own ledger entries,
// skipping other tenants and the spans the data plane derived.
func TestDryRunRange(t *testing.T) {
	lines := nonBlankLines(readCorpus(t))
	if len(lines) > 3000 {
		lines = lines[:3000]
	}
	spans := decodeSpans(t, lines)
	// Another tenant's spans between the corpus's: never read.
	var mixed []*span.Span
	for i, sp := range spans {
		mixed = append(mixed, sp)
		if i%100 == 0 {
			other, err := span.Decode([]byte(spanJSON(map[string]any{"id": fmt.Sprintf("o%d", i), "this": sp.This, "when": "2010-10-02T07:20:39Z"})), span.DecodeOptions{})
			if err != nil {
				t.Fatal(err)
			}
			mixed = append(mixed, other)
		}
	}
	e := newEnv(t, func(c *Config) { c.DataPlanePolicy = testDataPlanePolicy(t) })
	ds := appendWithDerived(t, e.store, mixed, testPolicy(t, true))
	size := e.store.Size()
	if uint64(len(mixed)+len(ds)) != size {
		t.Fatalf("store holds %d entries, want %d", size, len(mixed)+len(ds))
	}

	want, _ := offlineRun(t, lines, testPolicy(t, true))
	got := e.dryRun(t, "?tenant="+corpusTenant+"&from=0", "")
	if !reflect.DeepEqual(got.Summary, want) {
		t.Errorf("whole ledger: summary\n got %+v\nwant %+v", got.Summary, want)
	}
	if got.Range == nil || *got.Range != (dryRunRange{From: 0, To: size, Entries: int64(len(lines))}) {
		t.Errorf("whole ledger: range %+v, want 0..%d with %d entries", got.Range, size, len(lines))
	}
	if got2 := e.dryRun(t, "?tenant="+corpusTenant+"&to=999999999", ""); !reflect.DeepEqual(got2.Summary, want) {
		t.Errorf("to beyond the end: summary %+v, want the whole ledger's", got2.Summary)
	}

	// A part of the log: entries [from, to) of the tenant's spans.
	var from, to uint64 = 1000, 4000
	var part [][]byte
	idx := uint64(0)
	di := 0
	for _, sp := range mixed {
		if idx >= from && idx < to && sp.Tenant == corpusTenant {
			part = append(part, sp.Canonical())
		}
		idx++
		// the spans derived from sp follow it
		for di < len(ds) && ds[di].logIndex == idx {
			di++
			idx++
		}
	}
	wantPart, _ := offlineRun(t, part, testPolicy(t, false))
	gotPart := e.dryRun(t, fmt.Sprintf("?tenant=%s&from=%d&to=%d&diamond=false", corpusTenant, from, to), "")
	if !reflect.DeepEqual(gotPart.Summary, wantPart) || gotPart.Range.Entries != int64(len(part)) {
		t.Errorf("entries %d..%d: summary\n got %+v (%d entries)\nwant %+v (%d entries)", from, to, gotPart.Summary, gotPart.Range.Entries, wantPart, len(part))
	}
	if e.store.Size() != size {
		t.Errorf("the dry runs stored %d entries", e.store.Size()-size)
	}

	for _, tc := range []struct {
		query, body, code, param string
		status                   int
	}{
		{fmt.Sprintf("?tenant=%s&from=%d", corpusTenant, size+1), "", codeOutOfRange, "from", 400},
		{fmt.Sprintf("?tenant=%s&from=10&to=5", corpusTenant), "", codeOutOfRange, "to", 400},
		{"?tenant=" + corpusTenant + "&from=x", "", codeInvalidParameter, "from", 400},
		{"?tenant=" + corpusTenant + "&to=-1", "", codeInvalidParameter, "to", 400},
		{"?tenant=" + corpusTenant + "&from=0", spanJSON(nil) + "\n", codeInvalidParameter, "from", 400},
		{"?from=0", "", codeMissingParameter, "tenant", 400},
	} {
		resp, body := e.do("POST", "/quality/dryrun"+tc.query, "application/x-ndjson", strings.NewReader(tc.body), nil)
		if resp.StatusCode != tc.status {
			t.Errorf("%s: %d %s, want %d", tc.query, resp.StatusCode, body, tc.status)
			continue
		}
		if p := decodeProblem(t, resp, body); p.Code != tc.code || p.Parameter != tc.param {
			t.Errorf("%s: code %q parameter %q, want %q %q", tc.query, p.Code, p.Parameter, tc.code, tc.param)
		}
	}
}

// TestDryRunRefuses: bad lines, spans of another tenant and bad
// requests are refused with a problem naming the line or parameter.
func TestDryRunRefuses(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.DataPlanePolicy = testDataPlanePolicy(t)
		c.MaxBodyBytes = 256 << 10
	})
	ok := spanJSON(nil) + "\n"
	for _, tc := range []struct {
		name, query, ctype, body string
		status                   int
		code, pointer, param     string
		line                     int
	}{
		{"another tenant's span", "?tenant=acme", "application/x-ndjson", ok + spanJSON(map[string]any{"tenant": "bakery"}) + "\n", 403, codeTenantMismatch, "/tenant", "", 2},
		{"malformed line", "?tenant=acme", "application/x-ndjson", ok + "\n{bad\n", 400, "malformed_json", "", "", 3},
		{"bad when", "?tenant=acme", "application/x-ndjson", ok + spanJSON(map[string]any{"when": "yesterday"}), 400, "invalid_field", "/when", "", 2},
		{"missing who", "?tenant=acme", "application/x-ndjson", spanJSON(map[string]any{"who": nil}), 400, "missing_field", "/who", "", 1},
		{"line over the span limit", "?tenant=acme", "application/x-ndjson", ok + `{"x":"` + strings.Repeat("a", 100<<10) + `"}` + "\n", 413, codeTooLarge, "", "", 2},
		{"body over the limit", "?tenant=acme", "application/x-ndjson", strings.Repeat(ok, (256<<10)/len(ok)+1), 413, codeBodyTooLarge, "", "", 0},
		{"no spans", "?tenant=acme", "application/x-ndjson", "\n \n", 400, codeBadRequest, "", "", 0},
		{"JSON body", "?tenant=acme", "application/json", ok, 415, codeUnsupportedMedia, "", "", 0},
		{"no tenant", "", "application/x-ndjson", ok, 400, codeMissingParameter, "", "tenant", 0},
		{"bad diamond", "?tenant=acme&diamond=maybe", "application/x-ndjson", ok, 400, codeInvalidParameter, "", "diamond", 0},
		{"bad spans", "?tenant=acme&spans=2", "application/x-ndjson", ok, 400, codeInvalidParameter, "", "spans", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := e.do("POST", "/quality/dryrun"+tc.query, tc.ctype, strings.NewReader(tc.body), nil)
			if resp.StatusCode != tc.status {
				t.Fatalf("got %d %s, want %d", resp.StatusCode, body, tc.status)
			}
			p := decodeProblem(t, resp, body)
			if p.Code != tc.code || p.Pointer != tc.pointer || p.Parameter != tc.param || p.Line != tc.line {
				t.Errorf("got %+v, want code %q pointer %q parameter %q line %d", p, tc.code, tc.pointer, tc.param, tc.line)
			}
		})
	}

	t.Run("no data plane", func(t *testing.T) {
		e := newEnv(t, nil)
		resp, body := e.do("POST", "/quality/dryrun?tenant=acme", "application/x-ndjson", strings.NewReader(ok), nil)
		if p := decodeProblem(t, resp, body); resp.StatusCode != http.StatusNotImplemented || p.Code != codeNotImplemented {
			t.Errorf("without DataPlanePolicy: %d %s, want 501 not_implemented", resp.StatusCode, body)
		}
	})
}
