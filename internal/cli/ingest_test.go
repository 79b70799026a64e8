package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// fakeIngest is a POST /ingest that accepts lines without "bad", answers
// duplicates for lines it has seen, and can break the connection after
// the first result of chosen requests.
type fakeIngest struct {
	mu       sync.Mutex
	seen     map[string]bool
	requests []fakeRequest
	breakOn  map[int]bool // request numbers (from 0) whose connection breaks
}

type fakeRequest struct {
	key, tenant string
	lines       []string
}

func newFakeIngest() *fakeIngest {
	return &fakeIngest{seen: map[string]bool{}, breakOn: map[int]bool{}}
}

func (f *fakeIngest) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/ingest" || r.Header.Get("Content-Type") != "application/x-ndjson" {
		http.Error(w, "unexpected request", http.StatusBadRequest)
		return
	}
	var lines []string
	sc := bufio.NewScanner(r.Body)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	f.mu.Lock()
	n := len(f.requests)
	f.requests = append(f.requests, fakeRequest{key: r.Header.Get("X-Idempotency-Key"), tenant: r.URL.Query().Get("tenant"), lines: lines})
	brk := f.breakOn[n]
	f.mu.Unlock()

	w.Header().Set("Content-Type", "application/x-ndjson")
	var sum struct{ Lines, Accepted, Duplicates, Rejected int }
	for i, l := range lines {
		no := i + 1
		var res string
		switch {
		case strings.TrimSpace(l) == "":
			continue
		case strings.Contains(l, "bad"):
			sum.Rejected++
			res = fmt.Sprintf(`{"line":%d,"ok":false,"error":{"type":"https://logline.dev/problems/missing-field","title":"Missing field","status":400,"code":"missing_field","pointer":"/who","detail":"who: required field is missing","line":%d}}`, no, no)
		default:
			f.mu.Lock()
			dup := f.seen[l]
			f.seen[l] = true
			f.mu.Unlock()
			if dup {
				sum.Duplicates++
			} else {
				sum.Accepted++
			}
			res = fmt.Sprintf(`{"line":%d,"ok":true,"id":"x","seq":0,"tenant":"t","log_index":0,"duplicate":%v}`, no, dup)
		}
		sum.Lines++
		fmt.Fprintln(w, res)
		if brk {
			w.(http.Flusher).Flush()
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
	}
	b, _ := json.Marshal(map[string]any{"summary": map[string]int{
		"lines": sum.Lines, "accepted": sum.Accepted, "duplicates": sum.Duplicates, "rejected": sum.Rejected}})
	w.Write(append(b, '\n'))
}

func writeTemp(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestIngestMapsLinesAndRetries(t *testing.T) {
	fake := newFakeIngest()
	fake.breakOn[1] = true // the second batch breaks after its first result
	srv := httptest.NewServer(fake)
	defer srv.Close()

	file := writeTemp(t, "spans.ndjson", strings.Join([]string{
		`{"n":1}`, // line 1, batch 0
		``,        // line 2, blank: skipped, keeps its number
		`{"n":3}`, // line 3, batch 0
		`{"n":4}`, // line 4, batch 1 (answered, then the connection breaks)
		`{"bad":5}`,
		`{"n":6}`, // batch 2
		`{"bad":7}`,
	}, "\n")+"\n")

	out, errOut, code := runMain(t, context.Background(), nil, "", "ingest", "--server", srv.URL, "--batch", "2", "--tenant", "t", file)
	if code != ExitFailed {
		t.Fatalf("exit code %d, want %d\nstdout: %s\nstderr: %s", code, ExitFailed, out, errOut)
	}
	if want := "6 lines: 4 accepted, 0 duplicates, 2 rejected"; !strings.Contains(out, want) {
		t.Errorf("stdout %q lacks %q", out, want)
	}
	for _, want := range []string{
		file + ":5: who: required field is missing (missing_field at /who)",
		file + ":7: who: required field is missing (missing_field at /who)",
		"batch 2:", "retrying",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}

	// Four requests: batches 0, 1 (broken), 1 again, 2. The retry carries
	// the same key and body; every batch has its own key.
	if len(fake.requests) != 4 {
		t.Fatalf("%d requests, want 4", len(fake.requests))
	}
	r := fake.requests
	if r[1].key != r[2].key || !cmp.Equal(r[1].lines, r[2].lines) {
		t.Errorf("retry differs: key %q vs %q, lines %q vs %q", r[1].key, r[2].key, r[1].lines, r[2].lines)
	}
	if r[0].key == r[1].key || r[1].key == r[3].key || r[0].key == "" {
		t.Errorf("batch keys not distinct: %q %q %q", r[0].key, r[1].key, r[3].key)
	}
	if diff := cmp.Diff([]string{`{"n":1}`, `{"n":3}`}, r[0].lines); diff != "" {
		t.Errorf("first batch (-want +got):\n%s", diff)
	}
	if r[0].tenant != "t" {
		t.Errorf("tenant %q, want t", r[0].tenant)
	}

	// The same file again: the same keys, all duplicates (--json).
	keys := []string{r[0].key, r[1].key, r[3].key}
	out, _, code = runMain(t, context.Background(), nil, "", "ingest", "--server", srv.URL, "--batch", "2", "--tenant", "t", "--json", file)
	if code != ExitFailed {
		t.Fatalf("second run: exit %d, want %d", code, ExitFailed)
	}
	var sum ingestSummary
	if err := json.Unmarshal([]byte(out), &sum); err != nil {
		t.Fatalf("--json: %v\n%s", err, out)
	}
	if sum.Lines != 6 || sum.Accepted != 0 || sum.Duplicates != 4 || sum.Rejected != 2 || sum.Batches != 3 {
		t.Errorf("second run summary %+v", sum)
	}
	if diff := cmp.Diff([]int{5, 7}, []int{sum.RejectedLines[0].Line, sum.RejectedLines[1].Line}); diff != "" {
		t.Errorf("rejected lines (-want +got):\n%s", diff)
	}
	again := []string{fake.requests[4].key, fake.requests[5].key, fake.requests[6].key}
	if diff := cmp.Diff(keys, again); diff != "" {
		t.Errorf("keys of a re-run differ (-first +second):\n%s", diff)
	}
}

func TestIngestListsFirstRejections(t *testing.T) {
	srv := httptest.NewServer(newFakeIngest())
	defer srv.Close()
	var b strings.Builder
	for i := range 25 {
		fmt.Fprintf(&b, "{\"bad\":%d}\n", i)
	}
	b.WriteString(`{"good":1}` + "\n")
	out, errOut, code := runMain(t, context.Background(), nil, b.String(), "ingest", "--server", srv.URL, "-")
	if code != ExitFailed {
		t.Fatalf("exit %d, want %d", code, ExitFailed)
	}
	if got := strings.Count(errOut, "missing_field"); got != maxShownRejections {
		t.Errorf("%d rejections listed, want %d:\n%s", got, maxShownRejections, errOut)
	}
	if !strings.Contains(errOut, "and 5 more rejected line(s)") {
		t.Errorf("stderr lacks the count of unlisted rejections:\n%s", errOut)
	}
	if !strings.Contains(out, "<stdin>: 26 lines: 1 accepted, 0 duplicates, 25 rejected") {
		t.Errorf("stdout: %s", out)
	}
}

func TestIngestUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	file := writeTemp(t, "a.ndjson", `{"n":1}`+"\n")
	_, errOut, code := runMain(t, context.Background(), nil, "", "ingest", "--server", url, "--retries", "1", file)
	if code != ExitUnavailable {
		t.Fatalf("exit %d, want %d\n%s", code, ExitUnavailable, errOut)
	}
	if !strings.Contains(errOut, "cannot reach LogLine at "+url) || !strings.Contains(errOut, "after 2 attempt(s)") {
		t.Errorf("stderr: %s", errOut)
	}
}

func TestIngestWholeRequestRefused(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"title":"Invalid parameter","status":400,"code":"invalid_parameter","detail":"tenant must be one value matching [a-z0-9_-]{1,64}","parameter":"tenant"}`)
	}))
	defer srv.Close()
	file := writeTemp(t, "a.ndjson", `{"n":1}`+"\n")
	_, errOut, code := runMain(t, context.Background(), nil, "", "ingest", "--server", srv.URL, "--tenant", "X", file)
	if code != ExitUsage {
		t.Fatalf("exit %d, want %d\n%s", code, ExitUsage, errOut)
	}
	if !strings.Contains(errOut, "tenant must be one value") {
		t.Errorf("stderr: %s", errOut)
	}
}

func TestIdempotencyKey(t *testing.T) {
	b := &ingestBatch{no: 3, body: []byte("{}\n")}
	k := idempotencyKey("file:/a|1|2", 5000, b)
	if len(k) > 128 || !strings.HasPrefix(k, "ingest-") {
		t.Fatalf("key %q: want ingest-… of at most 128 chars", k)
	}
	for _, c := range k {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			t.Fatalf("key %q has %q", k, c)
		}
	}
	for name, other := range map[string]string{
		"identity":   idempotencyKey("file:/b|1|2", 5000, b),
		"batch size": idempotencyKey("file:/a|1|2", 100, b),
		"batch no":   idempotencyKey("file:/a|1|2", 5000, &ingestBatch{no: 4, body: b.body}),
		"body":       idempotencyKey("file:/a|1|2", 5000, &ingestBatch{no: 3, body: []byte("{ }\n")}),
	} {
		if other == k {
			t.Errorf("changing the %s keeps the key", name)
		}
	}
	if again := idempotencyKey("file:/a|1|2", 5000, &ingestBatch{no: 3, body: []byte("{}\n")}); again != k {
		t.Errorf("key not deterministic: %q vs %q", k, again)
	}
}
