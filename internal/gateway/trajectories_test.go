package gateway

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/logline/logline/internal/derive"
	"github.com/logline/logline/internal/ledger"
	"github.com/logline/logline/internal/lll/check"
	"github.com/logline/logline/internal/lll/ir"
	"github.com/logline/logline/internal/lll/syntax"
	"github.com/logline/logline/internal/span"
)

// corpusTenant is the tenant of every span of the shared corpus.
const corpusTenant = "t_receipt"

// testProgram is a tenant program whose quality meter is tuned to the
// corpus (its scores stay below the default min_score 60), so that the
// corpus has diamond candidates.
const testProgram = `
policy quality_meter {
  percentile_target: "p96"
  min_score: 35
  min_samples: 50
}
`

// compileTestProgram compiles testProgram.
func compileTestProgram(t testing.TB) *ir.Program {
	t.Helper()
	f, err := syntax.Parse("quality.lll", []byte(testProgram))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	prog, err := check.Check([]*syntax.File{f}, check.Options{})
	if err != nil {
		t.Fatalf("check: %v", err)
	}
	return prog
}

// testPolicy is testProgram's policy with trajectories on and diamond as
// given.
func testPolicy(t testing.TB, diamond bool) *derive.Policy {
	t.Helper()
	p, err := derive.PolicyOf(compileTestProgram(t), true, diamond)
	if err != nil {
		t.Fatalf("PolicyOf: %v", err)
	}
	return p
}

// testDataPlanePolicy is a Config.DataPlanePolicy serving testProgram to
// every tenant, whose features.diamond is on.
func testDataPlanePolicy(t testing.TB) func(string, *bool) (*derive.Policy, error) {
	t.Helper()
	prog := compileTestProgram(t)
	return func(_ string, diamond *bool) (*derive.Policy, error) {
		d := true
		if diamond != nil {
			d = *diamond
		}
		return derive.PolicyOf(prog, true, d)
	}
}

// derivedEntry is a span the data plane derived, as the test appended it.
type derivedEntry struct {
	d        derive.Derived
	logIndex uint64
}

// appendWithDerived appends spans to st in order, each followed by the
// spans the data plane derives from it under policy — each derived line
// decoded with span.Decode and appended, as the server's worker does
// (nothing is finished: what is still open stays open). It returns the
// derived spans with their log indexes.
func appendWithDerived(t testing.TB, st ledger.Store, spans []*span.Span, policy *derive.Policy) []derivedEntry {
	t.Helper()
	eng := derive.New(func(string) *derive.Policy { return policy })
	var (
		batch   []*span.Span
		derived []derivedEntry
		where   []int // index in derived of each batch element, -1 for a source span
	)
	flush := func() {
		outs, err := st.Append(context.Background(), batch)
		if err != nil {
			t.Fatalf("Append: %v", err)
		}
		for i, o := range outs {
			if o.Err != nil {
				t.Fatalf("Append %s: %v", batch[i].ID, o.Err)
			}
			if where[i] >= 0 {
				derived[where[i]].logIndex = o.Result.LogIndex
			}
		}
		batch, where = batch[:0], where[:0]
	}
	for _, sp := range spans {
		batch, where = append(batch, sp), append(where, -1)
		err := eng.Apply(derive.FromSpan(sp), func(d *derive.Derived) {
			ds, err := span.Decode(d.AppendJSON(nil), span.DecodeOptions{})
			if err != nil {
				t.Fatalf("derived span %s does not decode: %v", d.ID, err)
			}
			batch, where = append(batch, ds), append(where, len(derived))
			derived = append(derived, derivedEntry{d: *d})
		})
		if err != nil {
			t.Fatalf("Apply %s: %v", sp.ID, err)
		}
		if len(batch) >= 1000 {
			flush()
		}
	}
	if len(batch) > 0 {
		flush()
	}
	return derived
}

// decodeSpans decodes NDJSON lines as a client's spans.
func decodeSpans(t testing.TB, lines [][]byte) []*span.Span {
	t.Helper()
	out := make([]*span.Span, len(lines))
	for i, l := range lines {
		sp, err := span.Decode(l, span.DecodeOptions{})
		if err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		out[i] = sp
	}
	return out
}

// expectedTrajectories builds, from the derived spans, every
// trajectory as GET /trajectories/{id} must answer it (all edges).
func expectedTrajectories(t testing.TB, ds []derivedEntry) map[string]*trajectoryView {
	t.Helper()
	out := map[string]*trajectoryView{}
	first := map[string]time.Time{}
	last := map[string]time.Time{}
	for _, de := range ds {
		d := de.d
		tv := out[d.TrajectoryID]
		if tv == nil {
			tv = &trajectoryView{ID: d.TrajectoryID, State: stateOpen, Spans: []edgeView{}}
			out[d.TrajectoryID] = tv
		}
		switch d.Type {
		case derive.TypeEdge:
			if d.Position == 1 {
				tv.This = d.This
			}
			tv.Spans = append(tv.Spans, edgeView{Position: d.Position, SrcSpanID: d.SrcSpanID, When: d.When, LogIndex: de.logIndex})
			tv.SpanCount = d.Position
			at, ok := span.ParseRFC3339(d.When)
			if !ok {
				t.Fatalf("edge when %q", d.When)
			}
			if f, ok := first[d.TrajectoryID]; !ok || at.Before(f) {
				first[d.TrajectoryID], tv.FirstWhen = at, d.When
			}
			if l, ok := last[d.TrajectoryID]; !ok || at.After(l) {
				last[d.TrajectoryID], tv.LastWhen = at, d.When
			}
		case derive.TypeClosed:
			tv.State, tv.Reason, tv.SpanCount = stateClosed, d.Reason, d.Spans
		case derive.TypeQuality:
			score := d.Score
			tv.Score = &score
			tv.Components = &componentsView{Mass: d.Components.Mass, Persistence: d.Components.Persistence, Verification: d.Components.Verification}
		case derive.TypeCandidate:
			tv.Candidate = &candidateView{Score: d.Score, Threshold: d.Threshold}
		}
	}
	return out
}

// corpusLedger is a gateway over a store holding the corpus spans and
// the spans the data plane derived from them.
type corpusLedger struct {
	*env
	spans   []*span.Span
	derived []derivedEntry
	want    map[string]*trajectoryView
}

func newCorpusLedger(t *testing.T, mod func(*Config)) *corpusLedger {
	t.Helper()
	spans := decodeSpans(t, nonBlankLines(readCorpus(t)))
	e := newEnv(t, mod)
	ds := appendWithDerived(t, e.store, spans, testPolicy(t, true))
	return &corpusLedger{env: e, spans: spans, derived: ds, want: expectedTrajectories(t, ds)}
}

// getTrajectory reads one trajectory; the answer must be 200.
func (c *corpusLedger) getTrajectory(t *testing.T, path string) *trajectoryView {
	t.Helper()
	resp, body := c.get(path, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("GET %s: Content-Type %q, want application/json", path, ct)
	}
	var tv trajectoryView
	if err := json.Unmarshal(body, &tv); err != nil {
		t.Fatalf("GET %s: %v\n%s", path, err, body)
	}
	return &tv
}

// opened lists the trajectories opened by a span about this, in the
// order they were opened.
func (c *corpusLedger) opened(this string) []*trajectoryView {
	var out []*trajectoryView
	for _, de := range c.derived {
		if de.d.Type == derive.TypeEdge && de.d.Position == 1 && de.d.This == this {
			out = append(out, c.want[de.d.TrajectoryID])
		}
	}
	return out
}

func TestTrajectoryRoutes(t *testing.T) {
	c := newCorpusLedger(t, nil)
	const thing = "case:case-891"
	cases := c.opened(thing)
	if len(cases) == 0 {
		t.Fatalf("no trajectory of %s in the corpus", thing)
	}

	t.Run("case-891 edges in order", func(t *testing.T) {
		// Independently of the engine's view: every span about the case,
		// in corpus order, is linked exactly once, the case's
		// trajectories taking them in turn, positions counting from 1.
		var ids []string
		for _, sp := range c.spans {
			if sp.This == thing {
				ids = append(ids, sp.ID)
			}
		}
		var linked []string
		for _, tr := range cases {
			tv := c.getTrajectory(t, "/trajectories/"+tr.ID+"?tenant="+corpusTenant)
			for i, ev := range tv.Spans {
				if ev.Position != i+1 {
					t.Errorf("%s: edge %d has position %d", tv.ID, i, ev.Position)
				}
				linked = append(linked, ev.SrcSpanID)
			}
			if tv.This != thing || tv.SpanCount != len(tv.Spans) {
				t.Errorf("%s: this %q, span_count %d with %d edges", tv.ID, tv.This, tv.SpanCount, len(tv.Spans))
			}
		}
		if !slices.Equal(linked, ids) {
			t.Errorf("the case's trajectories link %v, want the case's spans in order %v", linked, ids)
		}
		first := c.getTrajectory(t, "/trajectories/"+cases[0].ID+"?tenant="+corpusTenant)
		if first.State != stateClosed || (first.Reason != derive.ReasonTimeout && first.Reason != derive.ReasonWindow) {
			t.Errorf("the first trajectory of the case: state %q reason %q, want closed by timeout or window", first.State, first.Reason)
		}
		if first.Score == nil || first.Components == nil || *first.Score != first.Components.Mass+first.Components.Persistence+first.Components.Verification {
			t.Errorf("the first trajectory of the case: score %v components %+v, want a score that is their sum", first.Score, first.Components)
		}
	})

	t.Run("as derived", func(t *testing.T) {
		// The case's trajectories, the last opened one (still open), and
		// every diamond candidate answer exactly what was derived.
		check := slices.Clone(cases)
		var open, candidates int
		for i := len(c.derived) - 1; i >= 0; i-- {
			if d := c.derived[i].d; d.Type == derive.TypeEdge && d.Position == 1 && c.want[d.TrajectoryID].State == stateOpen {
				check = append(check, c.want[d.TrajectoryID])
				open++
				break
			}
		}
		for _, de := range c.derived {
			if de.d.Type == derive.TypeCandidate {
				check = append(check, c.want[de.d.TrajectoryID])
				candidates++
			}
		}
		if open == 0 || candidates == 0 {
			t.Fatalf("the corpus left %d open trajectories and %d candidates: the test needs both", open, candidates)
		}
		for _, want := range check {
			got := c.getTrajectory(t, "/trajectories/"+want.ID+"?tenant="+corpusTenant)
			if !reflect.DeepEqual(got, want) {
				gb, _ := json.Marshal(got)
				wb, _ := json.Marshal(want)
				t.Errorf("GET /trajectories/%s:\n got %s\nwant %s", want.ID, gb, wb)
			}
		}
	})

	t.Run("edge pages", func(t *testing.T) {
		var want *trajectoryView
		for _, tv := range c.want {
			if len(tv.Spans) >= 5 && (want == nil || tv.ID < want.ID) {
				want = tv
			}
		}
		if want == nil {
			t.Fatal("no trajectory with 5 edges")
		}
		var got []edgeView
		path := "/trajectories/" + want.ID + "?tenant=" + corpusTenant + "&limit=2"
		for pages := 0; ; pages++ {
			if pages > len(want.Spans) {
				t.Fatal("the cursor does not advance")
			}
			tv := c.getTrajectory(t, path)
			if len(tv.Spans) > 2 {
				t.Fatalf("limit=2 gave %d edges", len(tv.Spans))
			}
			if tv.SpanCount != want.SpanCount || tv.State != want.State || tv.FirstWhen != want.FirstWhen || tv.LastWhen != want.LastWhen {
				t.Errorf("page %d: %+v, want the whole trajectory's count, state and times", pages, tv)
			}
			got = append(got, tv.Spans...)
			if tv.NextCursor == "" {
				break
			}
			path = "/trajectories/" + want.ID + "?tenant=" + corpusTenant + "&limit=2&cursor=" + url.QueryEscape(tv.NextCursor)
		}
		if !reflect.DeepEqual(got, want.Spans) {
			t.Errorf("paged edges %v, want %v", got, want.Spans)
		}
	})

	t.Run("list a thing's trajectories", func(t *testing.T) {
		summary := func(tv *trajectoryView) trajectorySummary {
			return trajectorySummary{ID: tv.ID, State: tv.State, Reason: tv.Reason, SpanCount: tv.SpanCount, Score: tv.Score,
				Candidate: tv.Candidate != nil, FirstWhen: tv.FirstWhen, LastWhen: tv.LastWhen}
		}
		// A thing with trajectories in both states.
		var thingOpen string
		for i := len(c.derived) - 1; i >= 0 && thingOpen == ""; i-- {
			if d := c.derived[i].d; d.Type == derive.TypeEdge && d.Position == 1 && c.want[d.TrajectoryID].State == stateOpen && len(c.opened(d.This)) > 1 {
				thingOpen = d.This
			}
		}
		things := []string{thing}
		if thingOpen != "" {
			things = append(things, thingOpen)
		}
		for _, th := range things {
			newest := slices.Clone(c.opened(th))
			slices.Reverse(newest)
			for _, state := range []string{"", stateOpen, stateClosed} {
				var want []trajectorySummary
				for _, tv := range newest {
					if state == "" || tv.State == state {
						want = append(want, summary(tv))
					}
				}
				for _, limit := range []int{1000, 1} {
					var got []trajectorySummary
					q := url.Values{"tenant": {corpusTenant}, "this": {th}, "limit": {strconv.Itoa(limit)}}
					if state != "" {
						q.Set("state", state)
					}
					for pages := 0; ; pages++ {
						if pages > len(newest)+1 {
							t.Fatal("the cursor does not advance")
						}
						resp, body := c.get("/trajectories?"+q.Encode(), nil)
						if resp.StatusCode != http.StatusOK {
							t.Fatalf("list: %d %s", resp.StatusCode, body)
						}
						var page struct {
							Trajectories []trajectorySummary `json:"trajectories"`
							NextCursor   string              `json:"next_cursor"`
						}
						if err := json.Unmarshal(body, &page); err != nil {
							t.Fatal(err)
						}
						if page.Trajectories == nil {
							t.Fatalf("trajectories is not an array: %s", body)
						}
						for i := range page.Trajectories {
							// TestTrajectoryListEntries checks it.
							if page.Trajectories[i].Trajectory == nil {
								t.Fatalf("an entry without its trajectory: %s", body)
							}
							page.Trajectories[i].Trajectory = nil
						}
						got = append(got, page.Trajectories...)
						if page.NextCursor == "" {
							break
						}
						q.Set("cursor", page.NextCursor)
					}
					if !reflect.DeepEqual(got, want) && !(len(got) == 0 && len(want) == 0) {
						t.Errorf("this=%s state=%q limit=%d:\n got %+v\nwant %+v", th, state, limit, got, want)
					}
				}
			}
		}
	})

	t.Run("bad requests", func(t *testing.T) {
		id := cases[0].ID
		for _, tc := range []struct {
			path, code, param string
			status            int
		}{
			{"/trajectories/t_0123456789abcdef0123456789abcdef?tenant=" + corpusTenant, codeNotFound, "", 404},
			{"/trajectories/" + id + "?tenant=bakery", codeNotFound, "", 404},
			{"/trajectories/" + id, codeMissingParameter, "tenant", 400},
			{"/trajectories/t_xyz?tenant=" + corpusTenant, codeInvalidParameter, "id", 400},
			{"/trajectories/" + id[:33] + "A?tenant=" + corpusTenant, codeInvalidParameter, "id", 400},
			{"/trajectories/s_c97abf2e3398ec71a1d3?tenant=" + corpusTenant, codeInvalidParameter, "id", 400},
			{"/trajectories/" + id + "?tenant=" + corpusTenant + "&limit=0", codeInvalidParameter, "limit", 400},
			{"/trajectories/" + id + "?tenant=" + corpusTenant + "&limit=10001", codeInvalidParameter, "limit", 400},
			{"/trajectories/" + id + "?tenant=" + corpusTenant + "&cursor=x", codeBadCursor, "cursor", 400},
			{"/trajectories/" + id + "?tenant=" + corpusTenant + "&cursor=0", codeBadCursor, "cursor", 400},
			{"/trajectories/" + id + "?tenant=Bad", codeInvalidParameter, "tenant", 400},
			{"/trajectories?tenant=" + corpusTenant, codeMissingParameter, "this", 400},
			{"/trajectories?tenant=" + corpusTenant + "&this=", codeMissingParameter, "this", 400},
			{"/trajectories?this=" + url.QueryEscape(thing), codeMissingParameter, "tenant", 400},
			{"/trajectories?tenant=" + corpusTenant + "&this=x&this=y", codeInvalidParameter, "this", 400},
			{"/trajectories?tenant=" + corpusTenant + "&this=x&state=done", codeInvalidParameter, "state", 400},
			{"/trajectories?tenant=" + corpusTenant + "&this=x&limit=1001", codeInvalidParameter, "limit", 400},
			{"/trajectories?tenant=" + corpusTenant + "&this=x&span_limit=0", codeInvalidParameter, "span_limit", 400},
			{"/trajectories?tenant=" + corpusTenant + "&this=x&span_limit=1001", codeInvalidParameter, "span_limit", 400},
			{"/trajectories?tenant=" + corpusTenant + "&this=x&span_limit=x", codeInvalidParameter, "span_limit", 400},
			{"/trajectories?tenant=" + corpusTenant + "&this=x&limit=1000&span_limit=101", codeInvalidParameter, "span_limit", 400},
			{"/trajectories?tenant=" + corpusTenant + "&this=x&limit=101&span_limit=1000", codeInvalidParameter, "span_limit", 400},
			{"/trajectories?tenant=" + corpusTenant + "&this=x&cursor=-1", codeBadCursor, "cursor", 400},
		} {
			resp, body := c.get(tc.path, nil)
			if resp.StatusCode != tc.status {
				t.Errorf("GET %s: %d %s, want %d", tc.path, resp.StatusCode, body, tc.status)
				continue
			}
			if p := decodeProblem(t, resp, body); p.Code != tc.code || p.Parameter != tc.param {
				t.Errorf("GET %s: code %q parameter %q, want %q %q", tc.path, p.Code, p.Parameter, tc.code, tc.param)
			}
		}
		// A thing without trajectories is an empty list, not an error.
		resp, body := c.get("/trajectories?tenant="+corpusTenant+"&this=nothing", nil)
		if resp.StatusCode != http.StatusOK || string(body) != `{"trajectories":[]}`+"\n" {
			t.Errorf("a thing without trajectories: %d %s", resp.StatusCode, body)
		}
	})
}

// TestTrajectoryListEntries: each entry of GET /trajectories?this=
// carries, as trajectory, the very answer of GET /trajectories/{id} with
// limit=span_limit (the same bytes) beside its summary members; a
// trajectory longer than span_limit has its edges cut there and says so
// (spans_truncated, next_cursor, span_count of all of them); limit ×
// span_limit is bounded, with defaults that fit any limit.
func TestTrajectoryListEntries(t *testing.T) {
	c := newCorpusLedger(t, nil)
	var closed, open, candidate, long, longest *trajectoryView
	for _, de := range c.derived {
		if de.d.Type != derive.TypeEdge || de.d.Position != 1 {
			continue
		}
		tv := c.want[de.d.TrajectoryID]
		switch {
		case tv.Candidate != nil && candidate == nil:
			candidate = tv
		case tv.State == stateClosed && tv.Candidate == nil && closed == nil:
			closed = tv
		case tv.State == stateOpen:
			open = tv // the last opened
		}
		if len(tv.Spans) >= 5 && long == nil {
			long = tv
		}
		if longest == nil || len(tv.Spans) > len(longest.Spans) {
			longest = tv
		}
	}
	if closed == nil || open == nil || candidate == nil || long == nil {
		t.Fatal("the corpus lacks a closed, an open, a candidate or a 5-edge trajectory")
	}
	for _, tc := range []struct {
		name      string
		want      *trajectoryView
		limit     int // of trajectories; 0: absent
		spanLimit int // 0: absent (the default)
	}{
		{"closed", closed, 1000, 0},
		{"open", open, 1000, 0},
		{"candidate", candidate, 1000, 0},
		{"longest, default span_limit", longest, 0, 0},
		{"cut at span_limit", long, 1000, 2},
		{"one edge", long, 1000, 1},
		{"span_limit 1000 with limit 100", longest, 100, 1000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spanLimit := cmp.Or(tc.spanLimit, defaultListEdges)
			q := url.Values{"tenant": {corpusTenant}, "this": {tc.want.This}}
			if tc.limit != 0 {
				q.Set("limit", strconv.Itoa(tc.limit))
			}
			if tc.spanLimit != 0 {
				q.Set("span_limit", strconv.Itoa(tc.spanLimit))
			}
			type listEntry struct {
				trajectorySummary
				Raw json.RawMessage `json:"trajectory"` // shadows the summary's
			}
			var entry listEntry
			found := false
			for pages := 0; !found; pages++ {
				if pages > len(c.opened(tc.want.This)) {
					t.Fatalf("%s is not listed for %s", tc.want.ID, tc.want.This)
				}
				resp, body := c.get("/trajectories?"+q.Encode(), nil)
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("list: %d %s", resp.StatusCode, body)
				}
				var page struct {
					Trajectories []json.RawMessage `json:"trajectories"`
					NextCursor   string            `json:"next_cursor"`
				}
				if err := json.Unmarshal(body, &page); err != nil {
					t.Fatal(err)
				}
				for _, raw := range page.Trajectories {
					var e listEntry
					if err := json.Unmarshal(raw, &e); err != nil {
						t.Fatal(err)
					}
					if e.ID == tc.want.ID {
						entry, found = e, true
						break
					}
				}
				q.Set("cursor", page.NextCursor)
			}

			// The same bytes as GET /trajectories/{id}.
			resp, body := c.get("/trajectories/"+tc.want.ID+"?tenant="+corpusTenant+"&limit="+strconv.Itoa(spanLimit), nil)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("GET /trajectories/%s: %d %s", tc.want.ID, resp.StatusCode, body)
			}
			if got, want := string(entry.Raw), strings.TrimSuffix(string(body), "\n"); got != want {
				t.Errorf("list entry's trajectory\n got %s\nwant %s (GET /trajectories/{id})", got, want)
			}

			// The bound, said.
			var got trajectoryView
			if err := json.Unmarshal(entry.Raw, &got); err != nil {
				t.Fatal(err)
			}
			cut := len(tc.want.Spans) > spanLimit
			want := *tc.want
			want.Spans = want.Spans[:min(len(want.Spans), spanLimit)]
			if cut {
				want.SpansTruncated = true
				want.NextCursor = strconv.Itoa(want.Spans[len(want.Spans)-1].Position)
			}
			if !reflect.DeepEqual(&got, &want) {
				gb, _ := json.Marshal(got)
				wb, _ := json.Marshal(want)
				t.Errorf("trajectory (span_limit %d):\n got %s\nwant %s", spanLimit, gb, wb)
			}
			if cut && (!got.SpansTruncated || got.SpanCount <= len(got.Spans) || got.NextCursor == "") {
				t.Errorf("%d of %d edges: spans_truncated %v, span_count %d, next_cursor %q: the cut must be said", len(got.Spans), len(tc.want.Spans), got.SpansTruncated, got.SpanCount, got.NextCursor)
			}

			// The summary members are what they were.
			sum := entry.trajectorySummary
			sum.Trajectory = nil
			wantSum := trajectorySummary{ID: tc.want.ID, State: tc.want.State, Reason: tc.want.Reason, SpanCount: tc.want.SpanCount, Score: tc.want.Score,
				Candidate: tc.want.Candidate != nil, FirstWhen: tc.want.FirstWhen, LastWhen: tc.want.LastWhen}
			if !reflect.DeepEqual(sum, wantSum) {
				t.Errorf("summary %+v, want %+v", sum, wantSum)
			}
		})
	}
}

// TestTrajectoriesIgnoreLookalikes: spans that look derived
// (entity_type trajectory_edge, a trajectory id as trace_id) but were not
// written by the data plane are not a trajectory. Ingest refuses them
// (403 reserved); the routes ignore any that reach the store otherwise
// (a restore of data written before that rule).
func TestTrajectoriesIgnoreLookalikes(t *testing.T) {
	e := newEnv(t, nil)
	const id = "t_00000000000000000000000000000001"
	for i, sp := range []map[string]any{
		{"id": "f1", "entity_type": derive.TypeEdge, "who": "mallory", "this": "x", "trace_id": id,
			"data": map[string]any{"trajectory_id": id, "position": 1, "src_span_id": "a", "this": "x"}},
		{"id": "f2", "entity_type": derive.TypeClosed, "who": "mallory", "did": "close", "this": "x", "trace_id": id,
			"data": map[string]any{"trajectory_id": id, "reason": "rule", "spans": 1}},
	} {
		if resp, body := e.postJSON("/ingest", spanJSON(sp), nil); resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), `"code":"reserved"`) {
			t.Fatalf("span %d: %d %s, want 403 reserved", i, resp.StatusCode, body)
		}
		decoded, err := span.Decode([]byte(spanJSON(sp)), span.DecodeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if outs, err := e.store.Append(context.Background(), []*span.Span{decoded}); err != nil || outs[0].Err != nil {
			t.Fatalf("span %d into the store: %v %v", i, err, outs)
		}
	}
	resp, body := e.get("/trajectories/"+id+"?tenant=acme", nil)
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("a lookalike trajectory: %d %s, want 404", resp.StatusCode, body)
	}
	resp, body = e.get("/trajectories?tenant=acme&this=x", nil)
	if resp.StatusCode != http.StatusOK || string(body) != `{"trajectories":[]}`+"\n" {
		t.Errorf("lookalikes listed: %d %s", resp.StatusCode, body)
	}
}

// accessTrajectory stores, for tenant, two spans about "traj:<tenant>"
// and what the data plane derives from them, and returns the id of the
// trajectory they open (still open).
func (ae *accessEnv) accessTrajectory(t *testing.T, tenant string) string {
	t.Helper()
	var spans []*span.Span
	for i := range 2 {
		sp, err := span.Decode([]byte(spanJSON(map[string]any{
			"tenant": tenant, "id": fmt.Sprintf("traj-%s-%d", tenant, i), "this": "traj:" + tenant,
			"when": fmt.Sprintf("2026-01-02T03:0%d:05Z", i),
		})), span.DecodeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		spans = append(spans, sp)
	}
	ds := appendWithDerived(t, ae.store, spans, testPolicy(t, false))
	ids := slices.CompactFunc(slices.SortedFunc(slices.Values(ds), func(a, b derivedEntry) int {
		return cmp.Compare(a.d.TrajectoryID, b.d.TrajectoryID)
	}), func(a, b derivedEntry) bool { return a.d.TrajectoryID == b.d.TrajectoryID })
	if len(ids) != 1 {
		t.Fatalf("%d trajectories from two spans about one thing", len(ids))
	}
	return ids[0].d.TrajectoryID
}

// TestOpenAPIDescribesDataPlaneAnswers: real answers of the trajectory
// and dry-run routes validate against the document's schemas.
func TestOpenAPIDescribesDataPlaneAnswers(t *testing.T) {
	doc, _ := loadOpenAPI(t)
	c := newCorpusLedger(t, func(cfg *Config) {
		cfg.DataPlanePolicy = testDataPlanePolicy(t)
		cfg.MaxBodyBytes = 8 << 20
	})
	var open, candidate string
	for _, de := range c.derived {
		switch tv := c.want[de.d.TrajectoryID]; {
		case tv.State == stateOpen && open == "":
			open = tv.ID
		case tv.Candidate != nil && candidate == "":
			candidate = tv.ID
		}
	}
	corpus := string(readCorpus(t))
	q := "?tenant=" + corpusTenant
	for _, tc := range []struct {
		method, template, path, ctype, body string
		status                              int
	}{
		{"GET", "/trajectories/{id}", "/trajectories/" + candidate + q, "", "", 200},
		{"GET", "/trajectories/{id}", "/trajectories/" + open + q + "&limit=1", "", "", 200},
		{"GET", "/trajectories/{id}", "/trajectories/t_0123456789abcdef0123456789abcdef" + q, "", "", 404},
		{"GET", "/trajectories/{id}", "/trajectories/nope" + q, "", "", 400},
		{"GET", "/trajectories", "/trajectories" + q + "&this=case:case-891&limit=2", "", "", 200},
		{"GET", "/trajectories", "/trajectories" + q + "&this=case:case-891&span_limit=1", "", "", 200},
		{"GET", "/trajectories", "/trajectories" + q + "&this=case:case-891&span_limit=0", "", "", 400},
		{"GET", "/trajectories", "/trajectories" + q, "", "", 400},
		{"POST", "/quality/dryrun", "/quality/dryrun" + q + "&spans=1", "application/x-ndjson", corpus, 200},
		{"POST", "/quality/dryrun", "/quality/dryrun" + q + "&from=0&to=5000", "", "", 200},
		{"POST", "/quality/dryrun", "/quality/dryrun" + q, "application/x-ndjson", spanJSON(nil), 403},
		{"POST", "/quality/dryrun", "/quality/dryrun" + q, "text/csv", "a,b", 415},
		{"POST", "/quality/dryrun", "/quality/dryrun" + q, "application/x-ndjson", "{", 400},
	} {
		var body io.Reader
		if tc.body != "" {
			body = strings.NewReader(tc.body)
		}
		resp, got := c.do(tc.method, tc.path, tc.ctype, body, nil)
		if resp.StatusCode != tc.status {
			t.Errorf("%s %s: %d, want %d\n%.300s", tc.method, tc.path, resp.StatusCode, tc.status, got)
			continue
		}
		checkAnswer(t, doc, tc.method, tc.template, resp, got)
	}
}
