package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/logline/logline/internal/derive"
	"github.com/logline/logline/internal/lll/check"
)

// TestServeDerives: a tenant whose tenant.yaml turns trajectories on
// gets, after ingesting the corpus, the derived spans the engine derives
// offline (its quality spans, counted through GET /spans); a tenant
// without the flag gets none. Stopped and started again, the server
// derives nothing twice.
func TestServeDerives(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	writeTenantYAML(t, data, "t_receipt", "features:\n  trajectory: true\n  diamond: true\n")
	url, stop, log := runServeAuth(t, data)

	token, errOut, code := runMain(t, ctx, nil, "", "token", "issue", "--data", data, "--tenant", "t_receipt", "--role", "admin")
	if code != 0 {
		t.Fatalf("token issue: exit %d\n%s", code, errOut)
	}
	token = strings.TrimSpace(token)
	if _, errOut, code := runMain(t, ctx, nil, "", "ingest", "--server", url, "--token", token, corpusFile); code != 0 {
		t.Fatalf("ingest: exit %d\n%s", code, errOut)
	}

	// Offline: the quality spans of every trajectory closed before the
	// end of the corpus (the server never reaches an end of input).
	prog, err := check.Check(nil, check.Options{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := derive.PolicyOf(prog, true, true)
	if err != nil {
		t.Fatal(err)
	}
	e := derive.New(func(string) *derive.Policy { return p })
	want := 0
	raw, err := os.ReadFile(corpusFile)
	if err != nil {
		t.Fatal(err)
	}
	var lp derive.LineParser
	for _, l := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		in, err := lp.Parse([]byte(l))
		if err != nil {
			t.Fatal(err)
		}
		_ = e.Apply(in, func(d *derive.Derived) {
			if d.Type == derive.TypeQuality {
				want++
			}
		})
	}

	count := func() int {
		n := 0
		cursor := ""
		for {
			u := url + "/spans?entity_type=trajectory_quality&limit=1000"
			if cursor != "" {
				u += "&cursor=" + cursor
			}
			status, body := bearerGet(t, u, token)
			if status != http.StatusOK {
				t.Fatalf("GET /spans: %d %s", status, body)
			}
			var page struct {
				Spans []json.RawMessage `json:"spans"`
				Next  string            `json:"next_cursor"`
			}
			if err := json.Unmarshal(body, &page); err != nil {
				t.Fatal(err)
			}
			n += len(page.Spans)
			if page.Next == "" {
				return n
			}
			cursor = page.Next
		}
	}
	deadline := time.Now().Add(60 * time.Second)
	for count() < want {
		if time.Now().After(deadline) {
			t.Fatalf("%d quality spans after a minute, want %d\n%s", count(), want, log)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got := count(); got != want {
		t.Fatalf("%d quality spans, want %d", got, want)
	}
	// The figures: Prometheus (all tenants) and /metrics/public (the
	// token's tenant, with the v8 names), once the worker has published.
	wantLine := fmt.Sprintf("logline_quality_score_count %d\n", want)
	for {
		status, body := bearerGet(t, url+"/metrics", token)
		if status != http.StatusOK {
			t.Fatalf("GET /metrics: %d %s", status, body)
		}
		if strings.Contains(string(body), wantLine) {
			if !strings.Contains(string(body), fmt.Sprintf(`logline_trajectories_closed_total{reason="timeout"} %d`, want)) {
				t.Errorf("GET /metrics lacks the closes by timeout:\n%s", grepLines(string(body), "logline_trajectories"))
			}
			if !strings.Contains(string(body), fmt.Sprintf("logline_trajectories_close_latency_seconds_count %d\n", want)) {
				t.Errorf("GET /metrics lacks the latency of %d closes:\n%s", want, grepLines(string(body), "logline_trajectories"))
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET /metrics never showed %q:\n%s", wantLine, grepLines(string(body), "logline_quality"))
		}
		time.Sleep(100 * time.Millisecond)
	}
	status, body := bearerGet(t, url+"/metrics/public", token)
	var pub struct {
		Tenants map[string]struct {
			Derived uint64 `json:"derived_spans_count"`
		} `json:"tenants"`
		Quality map[string]map[string]float64 `json:"quality"`
	}
	if err := json.Unmarshal(body, &pub); status != http.StatusOK || err != nil {
		t.Fatalf("GET /metrics/public: %d %v %s", status, err, body)
	}
	q := pub.Quality["t_receipt"]
	if q["quality.score_count"] != float64(want) || q["quality.p50.current"] <= 0 {
		t.Errorf("GET /metrics/public quality: %s", body)
	}
	// The quantile at the policy's percentile target (p96 by default),
	// and the latest close's latency.
	if v, ok := q["quality.p96.current"]; !ok || v < q["quality.p50.current"] {
		t.Errorf("GET /metrics/public: quality.p96.current %v (%v), p50 %v", v, ok, q["quality.p50.current"])
	}
	if v, ok := q["trajectory.close_latency_ms"]; !ok || v < 0 {
		t.Errorf("GET /metrics/public: trajectory.close_latency_ms %v (%v)", v, ok)
	}
	// Every derived span stored counts in the tenant's usage: its edges,
	// closes and quality spans at least.
	if d := pub.Tenants["t_receipt"].Derived; d < 3*uint64(want) {
		t.Errorf("GET /metrics/public: derived_spans_count %d, want ≥ %d", d, 3*want)
	}
	if code := stop(); code != 0 {
		t.Fatalf("serve exited %d\n%s", code, log)
	}
	// Started again: the saved state resumes; nothing is derived twice.
	url, stop, log = runServeAuth(t, data)
	time.Sleep(500 * time.Millisecond)
	if got := count(); got != want {
		t.Fatalf("after a restart %d quality spans, want %d\n%s", got, want, log)
	}
	if code := stop(); code != 0 {
		t.Fatalf("serve exited %d\n%s", code, log)
	}
	if _, err := os.Stat(data + "/derive/state.json"); err != nil {
		t.Errorf("no state saved: %v", err)
	}
}

// grepLines returns the lines of s that contain sub.
func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
