package gateway

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

var hexHash = regexp.MustCompile(`^[0-9a-f]{64}$`)

func TestIngestSingle(t *testing.T) {
	e := newEnv(t, nil)

	resp, body := e.postJSON("/ingest", spanJSON(nil), nil)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("got status %d (%s), want 201", resp.StatusCode, body)
	}
	var res map[string]any
	if err := json.Unmarshal(body, &res); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"line", "ok"} {
		if _, ok := res[k]; ok {
			t.Errorf("got member %q in a single-span result, want none", k)
		}
	}
	var r wireResult
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(r.ID, "s_") || r.Seq != 0 || r.Tenant != "acme" || r.LogIndex != 0 || r.Duplicate {
		t.Errorf("got result %+v, want a new s_ id, seq 0, tenant acme, log_index 0", r)
	}
	if !hexHash.MatchString(r.CurrHash) || r.PrevHash != strings.Repeat("0", 64) {
		t.Errorf("got curr_hash %q prev_hash %q, want hex and 64 zeros", r.CurrHash, r.PrevHash)
	}
	if r.ReceivedAt == "" {
		t.Error("got no received_at")
	}
	if loc, want := resp.Header.Get("Location"), "/spans/"+r.ID+"?tenant=acme&seq=0"; loc != want {
		t.Errorf("got Location %q, want %q", loc, want)
	}
	if got := e.store.Size(); got != 1 {
		t.Fatalf("got store size %d, want 1", got)
	}

	// Read back byte for byte.
	resp, got := e.get("/spans/"+r.ID+"?tenant=acme", nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET: got %d %q (%s), want 200 application/json", resp.StatusCode, resp.Header.Get("Content-Type"), got)
	}
	if want := e.rawEntries()[0]; !bytes.Equal(got, want) {
		t.Errorf("GET: got %s, want the stored line %s", got, want)
	}

	// An exact replay (with its id) is a duplicate; the alias route works.
	withID := spanJSON(map[string]any{"id": "inv-7"})
	for i, want := range []int{201, 200, 200} {
		path := "/ingest"
		if i == 2 {
			path = "/api/spans"
		}
		resp, body := e.postJSON(path, withID, nil)
		if resp.StatusCode != want {
			t.Fatalf("post %d: got status %d (%s), want %d", i, resp.StatusCode, body, want)
		}
		var r wireResult
		_ = json.Unmarshal(body, &r)
		if r.ID != "inv-7" || r.LogIndex != 1 || r.Duplicate != (i > 0) {
			t.Errorf("post %d: got %+v, want id inv-7 at log_index 1, duplicate %v", i, r, i > 0)
		}
	}
	if got := e.store.Size(); got != 2 {
		t.Errorf("got store size %d, want 2", got)
	}

	// A new version, then a read of each version.
	resp, body = e.postJSON("/ingest", spanJSON(map[string]any{"id": "inv-7", "seq": 1, "status": "complete"}), nil)
	if resp.StatusCode != 201 {
		t.Fatalf("seq 1: got %d (%s), want 201", resp.StatusCode, body)
	}
	for _, tc := range []struct {
		query string
		want  int // index in the store
	}{{"?tenant=acme", 2}, {"?tenant=acme&seq=0", 1}, {"?seq=1", 2}, {"", 2}} {
		resp, got := e.get("/spans/inv-7"+tc.query, nil)
		if want := e.rawEntries()[tc.want]; resp.StatusCode != 200 || !bytes.Equal(got, want) {
			t.Errorf("GET inv-7%s: got %d %s, want %s", tc.query, resp.StatusCode, got, want)
		}
	}
}

func TestIngestSingleRejects(t *testing.T) {
	e := newEnv(t, nil)
	if resp, body := e.postJSON("/ingest", spanJSON(map[string]any{"id": "known"}), nil); resp.StatusCode != 201 {
		t.Fatalf("setup: got %d (%s)", resp.StatusCode, body)
	}
	nested := strings.Repeat("[", 40) + strings.Repeat("]", 40)
	tests := []struct {
		name        string
		path        string
		contentType string
		body        string
		hdr         map[string]string
		wantStatus  int
		wantCode    string
		wantPointer string
	}{
		{"malformed json", "/ingest", "application/json", `{"tenant":"acme",`, nil, 400, "malformed_json", ""},
		{"not an object", "/ingest", "", `[1,2]`, nil, 400, "", ""},
		{"empty body", "/ingest", "", ``, nil, 400, "malformed_json", ""},
		{"invalid utf8", "/ingest", "", strings.Replace(spanJSON(nil), `"alice"`, "\"al\xffice\"", 1), nil, 400, "invalid_utf8", "/who"},
		{"wrong type", "/ingest", "", spanJSON(map[string]any{"who": 5}), nil, 400, "invalid_field", "/who"},
		{"missing field", "/ingest", "", spanJSON(map[string]any{"who": nil}), nil, 400, "missing_field", "/who"},
		{"missing tenant", "/ingest", "", spanJSON(map[string]any{"tenant": nil}), nil, 400, "missing_field", "/tenant"},
		{"bad when", "/ingest", "", spanJSON(map[string]any{"when": "yesterday"}), nil, 400, "invalid_field", "/when"},
		{"when without offset", "/ingest", "", spanJSON(map[string]any{"when": "2026-01-02T03:04:05"}), nil, 400, "invalid_field", "/when"},
		{"oversize span", "/ingest", "", spanJSON(map[string]any{"data": map[string]any{"blob": strings.Repeat("x", 70<<10)}}), nil, 413, "too_large", ""},
		{"oversize body", "/ingest", "", spanJSON(map[string]any{"data": map[string]any{"blob": strings.Repeat("x", 200<<10)}}), nil, 413, "too_large", ""},
		{"too deep", "/ingest", "", spanJSON(nil)[:len(spanJSON(nil))-1] + `,"data":{"x":` + nested + `}}`, nil, 400, "too_deep", ""},
		{"number beyond 2^53", "/ingest", "", spanJSON(map[string]any{"data": json.RawMessage(`{"n":9007199254740993}`)}), nil, 400, "number_range", "/data/n"},
		{"duplicate key", "/ingest", "", `{"tenant":"acme","who":"a","who":"b","did":"d","this":"t","when":"2026-01-02T03:04:05Z"}`, nil, 400, "duplicate_key", "/who"},
		{"client log_index", "/ingest", "", spanJSON(map[string]any{"log_index": 3}), nil, 400, "server_field", "/log_index"},
		{"client prev_hash", "/ingest", "", spanJSON(map[string]any{"prev_hash": strings.Repeat("0", 64)}), nil, 400, "server_field", "/prev_hash"},
		{"client received_at", "/ingest", "", spanJSON(map[string]any{"received_at": "2026-01-02T03:04:05Z"}), nil, 400, "server_field", "/received_at"},
		{"unknown field", "/ingest", "", spanJSON(map[string]any{"colour": "red"}), nil, 400, "unknown_field", "/colour"},
		{"wrong curr_hash", "/ingest", "", spanJSON(map[string]any{"id": "h1", "curr_hash": strings.Repeat("ab", 32)}), nil, 400, "hash_mismatch", "/curr_hash"},
		{"bad signature", "/ingest", "", spanJSON(map[string]any{"id": "sig1", "signature": strings.Repeat("00", 64), "public_key": strings.Repeat("11", 32)}), nil, 400, "bad_signature", "/signature"},
		{"tenant mismatch", "/ingest?tenant=other", "", spanJSON(nil), nil, 403, "tenant_mismatch", "/tenant"},
		{"system author", "/ingest", "", spanJSON(map[string]any{"who": "system:trajectory"}), nil, 403, "reserved", "/who"},
		{"data-plane type", "/ingest", "", spanJSON(map[string]any{"entity_type": "trajectory_quality"}), nil, 403, "reserved", "/entity_type"},
		{"data-plane record", "/ingest", "", spanJSON(map[string]any{"entity_type": "derivation_policy"}), nil, 403, "reserved", "/entity_type"},
		{"clock type", "/ingest", "", spanJSON(map[string]any{"entity_type": "clock"}), nil, 403, "reserved", "/entity_type"},
		{"seq gap", "/ingest", "", spanJSON(map[string]any{"id": "fresh", "seq": 2}), nil, 409, "conflict", "/seq"},
		{"seq gap on known id", "/ingest", "", spanJSON(map[string]any{"id": "known", "seq": 5}), nil, 409, "conflict", "/seq"},
		{"conflicting re-append", "/ingest", "", spanJSON(map[string]any{"id": "known", "who": "mallory"}), nil, 409, "conflict", ""},
		{"unsupported media type", "/ingest", "text/plain", spanJSON(nil), nil, 415, "unsupported_media_type", ""},
		{"bad idempotency key", "/ingest", "", spanJSON(nil), map[string]string{"X-Idempotency-Key": "no spaces"}, 400, "invalid_header", ""},
		{"bad tenant parameter", "/ingest?tenant=NOPE", "", spanJSON(nil), nil, 400, "invalid_parameter", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := e.store.Size()
			ct := tt.contentType
			if ct == "" {
				ct = "application/json"
			}
			resp, body := e.do(http.MethodPost, tt.path, ct, strings.NewReader(tt.body), tt.hdr)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("got status %d (%s), want %d", resp.StatusCode, body, tt.wantStatus)
			}
			p := decodeProblem(t, resp, body)
			if tt.wantCode != "" && p.Code != tt.wantCode {
				t.Errorf("got code %q (%s), want %q", p.Code, p.Detail, tt.wantCode)
			}
			if tt.wantPointer != "" && p.Pointer != tt.wantPointer {
				t.Errorf("got pointer %q (%s), want %q", p.Pointer, p.Detail, tt.wantPointer)
			}
			if tt.wantCode == "conflict" && tt.wantPointer == "" && p.Pointer != "" {
				t.Errorf("got pointer %q for a content conflict, want none", p.Pointer)
			}
			if p.Detail == "" || p.Title == "" || !strings.HasPrefix(p.Type, "https://logline.dev/problems/") {
				t.Errorf("got problem %+v, want type, title and detail", p)
			}
			if got := e.store.Size(); got != before {
				t.Errorf("got store size %d after a rejected span, want %d", got, before)
			}
		})
	}
}

func TestIngestBodyLimit(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.MaxBodyBytes = 1000 })
	t.Run("single over the body limit", func(t *testing.T) {
		resp, body := e.postJSON("/ingest", spanJSON(map[string]any{"data": map[string]any{"s": strings.Repeat("x", 2000)}}), nil)
		p := decodeProblem(t, resp, body)
		if resp.StatusCode != 413 || p.Code != "body_too_large" {
			t.Errorf("got %d %q, want 413 body_too_large", resp.StatusCode, p.Code)
		}
	})
	t.Run("ndjson with a Content-Length over the limit", func(t *testing.T) {
		body := strings.Repeat(spanJSON(nil)+"\n", 20)
		resp, b := e.do(http.MethodPost, "/ingest", "application/x-ndjson", strings.NewReader(body), nil)
		p := decodeProblem(t, resp, b)
		if resp.StatusCode != 413 || p.Code != "body_too_large" {
			t.Errorf("got %d %q, want 413 body_too_large", resp.StatusCode, p.Code)
		}
		if got := e.store.Size(); got != 0 {
			t.Errorf("got store size %d, want 0", got)
		}
	})
	t.Run("chunked ndjson crossing the limit", func(t *testing.T) {
		var lines []string
		for i := range 20 {
			lines = append(lines, spanJSON(map[string]any{"id": fmt.Sprintf("c%d", i)}))
		}
		body := strings.Join(lines, "\n") + "\n"
		per := len(lines[0]) + 1
		wantOK := 1000 / per
		// io.MultiReader hides the length: the body is sent chunked.
		r := e.postNDJSON("/ingest", io.MultiReader(strings.NewReader(body)), nil)
		if len(r.Results) != wantOK+1 {
			t.Fatalf("got %d result lines, want %d good + 1 error", len(r.Results), wantOK)
		}
		for i, res := range r.Results[:wantOK] {
			if res.OK == nil || !*res.OK || res.Line != i+1 {
				t.Errorf("line %d: got %+v, want ok", i+1, res)
			}
		}
		last := r.Results[wantOK]
		if last.Line != wantOK+1 || last.Error == nil || last.Error.Code != "body_too_large" || last.Error.Status != 413 {
			t.Errorf("got last result %+v, want body_too_large on line %d", last, wantOK+1)
		}
		if r.Summary.Error == nil || r.Summary.Error.Code != "body_too_large" ||
			r.Summary.Accepted != wantOK || r.Summary.Rejected != 1 || r.Summary.Lines != wantOK+1 {
			t.Errorf("got summary %+v, want %d accepted, 1 rejected and a body_too_large error", r.Summary, wantOK)
		}
		if got := e.store.Size(); got != uint64(wantOK) {
			t.Errorf("got store size %d, want %d", got, wantOK)
		}
	})
}

func TestIngestNDJSONCorpus(t *testing.T) {
	corpus := readCorpus(t)
	lines := nonBlankLines(corpus)
	e := newEnv(t, nil)

	r := e.postNDJSON("/ingest", bytes.NewReader(corpus), nil)
	if len(r.Results) != len(lines) {
		t.Fatalf("got %d results, want %d", len(r.Results), len(lines))
	}
	for i, res := range r.Results {
		if res.OK == nil || !*res.OK || res.Error != nil {
			t.Fatalf("line %d: got %+v, want ok", i+1, res)
		}
		if res.Line != i+1 || res.LogIndex != uint64(i) || res.Duplicate {
			t.Fatalf("line %d: got line %d log_index %d duplicate %v, want %d %d false", i+1, res.Line, res.LogIndex, res.Duplicate, i+1, i)
		}
	}
	want := ndSummary{Lines: len(lines), Accepted: len(lines)}
	if r.Summary != want {
		t.Errorf("got summary %+v, want %+v", r.Summary, want)
	}
	if got := e.store.Size(); got != uint64(len(lines)) {
		t.Fatalf("got store size %d, want %d", got, len(lines))
	}

	// A replay stores nothing and answers the original results.
	again := e.postNDJSON("/api/spans", bytes.NewReader(corpus), nil)
	if again.Summary.Duplicates != len(lines) || again.Summary.Accepted != 0 {
		t.Errorf("replay: got summary %+v, want %d duplicates", again.Summary, len(lines))
	}
	for i := range again.Results {
		if a, b := again.Results[i], r.Results[i]; a.LogIndex != b.LogIndex || a.CurrHash != b.CurrHash || !a.Duplicate {
			t.Fatalf("replay line %d: got %+v, want the original %+v as duplicate", i+1, a, b)
		}
	}
	if got := e.store.Size(); got != uint64(len(lines)) {
		t.Errorf("replay: got store size %d, want %d", got, len(lines))
	}

	// Read back by id.
	stored := e.rawEntries()
	for _, i := range []int{0, len(lines) / 2, len(lines) - 1} {
		res := r.Results[i]
		resp, got := e.get("/spans/"+res.ID+"?tenant="+res.Tenant, nil)
		if resp.StatusCode != 200 || !bytes.Equal(got, stored[i]) {
			t.Errorf("GET %s: got %d %.80s, want the stored line", res.ID, resp.StatusCode, got)
		}
	}

	// Page through every span of the tenant.
	tenant := r.Results[0].Tenant
	var seen []string
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > len(lines) {
			t.Fatal("paging does not end")
		}
		resp, body := e.get("/spans?tenant="+tenant+"&limit=1000&cursor="+cursor, nil)
		if resp.StatusCode != 200 {
			t.Fatalf("query: got %d (%s), want 200", resp.StatusCode, body)
		}
		var page struct {
			Spans      []json.RawMessage `json:"spans"`
			NextCursor *string           `json:"next_cursor"`
		}
		if err := json.Unmarshal(body, &page); err != nil {
			t.Fatalf("query body: %v", err)
		}
		for _, s := range page.Spans {
			if !bytes.Equal(s, stored[len(seen)]) {
				t.Fatalf("query entry %d: got %.80s, want the stored line %.80s", len(seen), s, stored[len(seen)])
			}
			seen = append(seen, string(s))
		}
		if page.NextCursor == nil {
			break
		}
		if *page.NextCursor == "" {
			t.Fatal("got an empty next_cursor, want it absent on the last page")
		}
		cursor = *page.NextCursor
	}
	if len(seen) != len(lines) {
		t.Errorf("query: got %d spans across pages, want %d", len(seen), len(lines))
	}
}

func TestIngestNDJSONPerLine(t *testing.T) {
	good := func(id string) string { return spanJSON(map[string]any{"id": id}) }
	body := strings.Join([]string{
		good("g1"),          // 1
		`{"tenant":"acme",`, // 2 malformed
		"",                  // 3 blank
		strings.Replace(good("u1"), `"alice"`, "\"al\xffice\"", 1),                             // 4 invalid utf8
		spanJSON(map[string]any{"who": 5}),                                                     // 5 wrong type
		spanJSON(map[string]any{"when": nil}),                                                  // 6 missing field
		spanJSON(map[string]any{"data": map[string]any{"blob": strings.Repeat("y", 100<<10)}}), // 7 over-long line
		spanJSON(map[string]any{"id": "o1", "tenant": "other"}),                                // 8 tenant mismatch
		spanJSON(map[string]any{"id": "g1", "seq": 3}),                                         // 9 seq gap
		spanJSON(map[string]any{"id": "g1", "who": "bob"}),                                     // 10 conflict
		good("g2") + "\r",                        // 11 CRLF
		spanJSON(map[string]any{"log_index": 1}), // 12 server field
		good("g1"),                               // 13 duplicate of line 1
		`{"tenant":"acme","who":"x","did":"y","this":"z","wh`, // 14 truncated, no newline
	}, "\n")
	want := []struct {
		line int
		code string // "" = ok
	}{
		{1, ""}, {2, "malformed_json"}, {4, "invalid_utf8"}, {5, "invalid_field"}, {6, "missing_field"},
		{7, "too_large"}, {8, "tenant_mismatch"}, {9, "conflict"}, {10, "conflict"}, {11, ""},
		{12, "server_field"}, {13, ""}, {14, "malformed_json"},
	}
	for _, batch := range []int{1, 3, 1024} {
		t.Run(fmt.Sprintf("batch %d", batch), func(t *testing.T) {
			e := newEnv(t, func(c *Config) { c.NDJSONBatch = batch })
			r := e.postNDJSON("/ingest?tenant=acme", strings.NewReader(body), nil)
			if len(r.Results) != len(want) {
				t.Fatalf("got %d results, want %d", len(r.Results), len(want))
			}
			for i, w := range want {
				res := r.Results[i]
				if res.Line != w.line {
					t.Errorf("result %d: got line %d, want %d", i, res.Line, w.line)
				}
				if w.code == "" {
					if res.OK == nil || !*res.OK {
						t.Errorf("line %d: got %+v, want ok", w.line, res.Error)
					}
					continue
				}
				if res.OK == nil || *res.OK || res.Error == nil || res.Error.Code != w.code || res.Error.Line != w.line {
					t.Errorf("line %d: got %+v (error %+v), want code %s", w.line, res, res.Error, w.code)
				} else if res.Error.Status != statusOf(w.code) {
					t.Errorf("line %d: got status %d, want %d", w.line, res.Error.Status, statusOf(w.code))
				}
			}
			if r.Results[0].ID != "g1" || r.Results[9].ID != "g2" || r.Results[11].ID != "g1" || !r.Results[11].Duplicate {
				t.Errorf("got ids %q %q %q (dup %v), want g1 g2 g1 (dup)", r.Results[0].ID, r.Results[9].ID, r.Results[11].ID, r.Results[11].Duplicate)
			}
			if got := r.Results[8].Error; got.Pointer != "" {
				t.Errorf("content conflict: got pointer %q, want none", got.Pointer)
			}
			if got := r.Results[7].Error; got.Pointer != "/seq" {
				t.Errorf("seq gap: got pointer %q, want /seq", got.Pointer)
			}
			wantSum := ndSummary{Lines: 13, Accepted: 2, Duplicates: 1, Rejected: 10}
			if r.Summary != wantSum {
				t.Errorf("got summary %+v, want %+v", r.Summary, wantSum)
			}
			if got := e.store.Size(); got != 2 {
				t.Errorf("got store size %d, want 2 (the good lines)", got)
			}
		})
	}
}

func TestIdempotencyKey(t *testing.T) {
	e := newEnv(t, nil)
	key := map[string]string{"X-Idempotency-Key": "order-42"}

	t.Run("single", func(t *testing.T) {
		wantID := idempotentID("acme", "order-42", 1)
		for i, path := range []string{"/ingest", "/ingest?tenant=acme"} {
			resp, body := e.postJSON(path, spanJSON(nil), key)
			var r wireResult
			_ = json.Unmarshal(body, &r)
			wantStatus := []int{201, 200}[i]
			if resp.StatusCode != wantStatus || r.ID != wantID || r.Duplicate != (i == 1) {
				t.Errorf("post %d: got %d %+v, want %d with id %s", i, resp.StatusCode, r, wantStatus, wantID)
			}
		}
		// A span that names its own id keeps it.
		resp, body := e.postJSON("/ingest", spanJSON(map[string]any{"id": "mine"}), key)
		var r wireResult
		_ = json.Unmarshal(body, &r)
		if resp.StatusCode != 201 || r.ID != "mine" {
			t.Errorf("got %d id %q, want 201 id mine", resp.StatusCode, r.ID)
		}
		// Without a key, the same content is a new span.
		before := e.store.Size()
		resp, _ = e.postJSON("/ingest", spanJSON(nil), nil)
		if resp.StatusCode != 201 || e.store.Size() != before+1 {
			t.Errorf("got %d and size %d, want 201 and size %d", resp.StatusCode, e.store.Size(), before+1)
		}
	})

	t.Run("ndjson retry", func(t *testing.T) {
		k := map[string]string{"X-Idempotency-Key": "batch-7"}
		body := spanJSON(map[string]any{"tenant": "t2"}) + "\n\n" + spanJSON(map[string]any{"tenant": "t2", "who": "bob"}) + "\n"
		first := e.postNDJSON("/ingest", strings.NewReader(body), k)
		size := e.store.Size()
		retry := e.postNDJSON("/ingest?tenant=t2", strings.NewReader(body), k)
		if first.Summary.Accepted != 2 || retry.Summary.Duplicates != 2 || e.store.Size() != size {
			t.Fatalf("got summaries %+v / %+v and size %d, want 2 accepted then 2 duplicates, size %d", first.Summary, retry.Summary, e.store.Size(), size)
		}
		for i, line := range []int{1, 3} {
			want := idempotentID("t2", "batch-7", line)
			if first.Results[i].ID != want || retry.Results[i].ID != want {
				t.Errorf("line %d: got ids %q / %q, want %q", line, first.Results[i].ID, retry.Results[i].ID, want)
			}
		}
	})
}

func TestIngestWhileShuttingDown(t *testing.T) {
	e := newEnv(t, nil)
	if err := e.srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	r := e.postNDJSON("/ingest", strings.NewReader(spanJSON(nil)+"\n"), nil)
	if r.Summary.Error == nil || r.Summary.Error.Code != "unavailable" || r.Summary.Lines != 0 {
		t.Errorf("got summary %+v, want 0 lines and an unavailable error", r.Summary)
	}
	if e.store.Size() != 0 {
		t.Errorf("got store size %d, want 0", e.store.Size())
	}
}

func TestIngestShutdownMidBody(t *testing.T) {
	e := newEnv(t, nil)
	pr, pw := io.Pipe()
	release := make(chan struct{})
	defer close(release)
	go func() {
		for i := range 3 {
			if _, err := io.WriteString(pw, spanJSON(map[string]any{"id": fmt.Sprintf("sd%d", i)})+"\n"); err != nil {
				return
			}
		}
		<-release // a client that stalls mid-body
		pw.Close()
	}()
	req, err := http.NewRequest(http.MethodPost, e.ts.URL+"/ingest", pr)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	resp, err := e.ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	var lines [][]byte
	for len(lines) < 3 {
		l, err := br.ReadBytes('\n')
		if err != nil {
			t.Fatalf("result %d: %v", len(lines)+1, err)
		}
		lines = append(lines, l)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := e.srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: got %v, want the stalled ingest to end", err)
	}
	rest, err := io.ReadAll(br)
	if err != nil {
		t.Fatalf("reading the rest: %v", err)
	}
	r := parseNDResponse(t, append(bytes.Join(lines, nil), rest...))
	if len(r.Results) != 3 || r.Summary.Accepted != 3 || r.Summary.Error == nil || r.Summary.Error.Code != "unavailable" {
		t.Errorf("got %d results and summary %+v, want 3 accepted and an unavailable error", len(r.Results), r.Summary)
	}
	if got := e.store.Size(); got != 3 {
		t.Errorf("got store size %d, want 3", got)
	}
}
