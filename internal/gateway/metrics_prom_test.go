package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/logline/logline/internal/auth"
	"github.com/logline/logline/internal/ledger/segment"
	"github.com/logline/logline/internal/metrics"
	"github.com/logline/logline/internal/tlog"
)

// dashboardPath is the Grafana dashboard, relative to this package.
const dashboardPath = "../../deploy/grafana/logline.json"

// newMetricsEnv serves a signed segment store that reports to a metrics
// registry, behind Access with tokens "admin-acme" (everything) and
// "reader-acme" (ledger.read only); mod may adjust the config further.
func newMetricsEnv(t testing.TB, mod func(*Config)) (*env, *metrics.Registry) {
	t.Helper()
	reg, err := metrics.New(metrics.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	keys, err := tlog.LoadOrCreateKeys(filepath.Join(t.TempDir(), "keys"), proofOrigin, rand.NewChaCha8([32]byte{7}), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	st, err := segment.Open(context.Background(), segment.Config{
		Dir: t.TempDir(), Logger: slog.New(slog.DiscardHandler), Observer: reg.Ledger(),
		SignCheckpoint: func(size uint64, root [32]byte) ([]byte, error) {
			return tlog.SignCheckpoint(keys.Signer(), keys.Origin(), size, root)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.RegisterLogSize(st.Size); err != nil {
		t.Fatal(err)
	}
	// The data plane's metrics (serve registers its worker's figures).
	if err := reg.RegisterDataPlane(func() metrics.DataPlaneFigures {
		f := metrics.DataPlaneFigures{Cursor: 3, Head: 5, Derived: 7, Open: 2, Closed: map[string]int64{"timeout": 4}, Candidates: 1}
		f.Scores[28], f.Scores[61] = 3, 1
		f.CloseLatencyBounds, f.CloseLatencyCounts, f.CloseLatencySum = []float64{0.1, 1}, []uint64{2, 1, 1}, 7.5
		return f
	}); err != nil {
		t.Fatal(err)
	}
	tokens := fakeTokens{
		"admin-acme":  {Subject: "sa_admin", Tenant: "acme", Roles: []string{"admin"}, Grants: auth.Grants{"*"}, Kind: auth.KindService},
		"reader-acme": {Subject: "sa_reader", Tenant: "acme", Roles: []string{"reader"}, Grants: auth.Grants{string(auth.LedgerRead)}, Kind: auth.KindService},
	}
	e := newEnvWith(t, st, st, func(c *Config) {
		c.Log = st
		c.LogKeys = keys.VerifierKeys
		c.Metrics = reg
		c.Access = &Access{Verify: tokens.verify}
		if mod != nil {
			mod(c)
		}
	})
	return e, reg
}

// scrape reads GET /metrics with token and parses the exposition.
func scrape(t *testing.T, e *env, token string) (map[string]*dto.MetricFamily, string) {
	t.Helper()
	resp, body := e.get("/metrics", map[string]string{"Authorization": "Bearer " + token})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("Content-Type %q, want the text exposition format 0.0.4", ct)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("parse the exposition: %v\n%s", err, body)
	}
	return mfs, string(body)
}

// series returns the value of name{labels} (exactly those labels): a
// counter's or gauge's value, a histogram's count and sum.
func series(mfs map[string]*dto.MetricFamily, name string, labels map[string]string) (value, sum float64, ok bool) {
	mf := mfs[name]
	if mf == nil {
		return 0, 0, false
	}
next:
	for _, m := range mf.GetMetric() {
		if len(m.GetLabel()) != len(labels) {
			continue
		}
		for _, lp := range m.GetLabel() {
			if v, ok := labels[lp.GetName()]; !ok || v != lp.GetValue() {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), 0, true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), 0, true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), m.Histogram.GetSampleSum(), true
		case m.Untyped != nil:
			return m.Untyped.GetValue(), 0, true
		}
	}
	return 0, 0, false
}

// TestMetricsScrape: after ingests (new, duplicate, NDJSON), a read, a
// 401 without and with a bad token, a 403 and a 404, the counters and
// histograms of GET /metrics moved by exactly that, under route patterns
// (never raw paths), and the ledger's metrics saw the appends.
func TestMetricsScrape(t *testing.T) {
	e, _ := newMetricsEnv(t, nil)
	admin := map[string]string{"Authorization": "Bearer admin-acme"}
	sp := spanJSON(map[string]any{"id": "m1"})
	for i, want := range []int{http.StatusCreated, http.StatusOK} { // new, then a duplicate
		if resp, body := e.postJSON("/ingest", sp, admin); resp.StatusCode != want {
			t.Fatalf("ingest %d: %d %s", i, resp.StatusCode, body)
		}
	}
	nd := spanJSON(map[string]any{"id": "m2"}) + "\n" + spanJSON(map[string]any{"id": "m3"}) + "\n"
	if resp, body := e.do("POST", "/api/spans", "application/x-ndjson", strings.NewReader(nd), admin); resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"accepted":2`) {
		t.Fatalf("NDJSON ingest: %d %s", resp.StatusCode, body)
	}
	if resp, body := e.get("/spans/m1", admin); resp.StatusCode != http.StatusOK {
		t.Fatalf("get: %d %s", resp.StatusCode, body)
	}
	for _, hdr := range []map[string]string{nil, {"Authorization": "Bearer forged"}} {
		if resp, _ := e.get("/spans", hdr); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("GET /spans with %v: %d, want 401", hdr, resp.StatusCode)
		}
	}
	if resp, _ := e.postJSON("/ingest", spanJSON(map[string]any{"id": "m4"}), map[string]string{"Authorization": "Bearer reader-acme"}); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("ingest with a read-only token: %d, want 403", resp.StatusCode)
	}
	if resp, _ := e.get("/no/such/route-x7", nil); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown route: %d, want 404", resp.StatusCode)
	}
	if resp, _ := e.do("BREW", "/ingest", "", nil, nil); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("BREW /ingest: %d, want 405", resp.StatusCode)
	}

	mfs, text := scrape(t, e, "admin-acme")
	req := "logline_http_requests_total"
	dur := "logline_http_request_duration_seconds"
	for _, tc := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{req, map[string]string{"route": "/ingest", "method": "POST", "code": "201"}, 1},
		{req, map[string]string{"route": "/ingest", "method": "POST", "code": "200"}, 1},
		{req, map[string]string{"route": "/ingest", "method": "POST", "code": "403"}, 1},
		{req, map[string]string{"route": "/api/spans", "method": "POST", "code": "200"}, 1},
		{req, map[string]string{"route": "/spans/{id}", "method": "GET", "code": "200"}, 1},
		{req, map[string]string{"route": "/spans", "method": "GET", "code": "401"}, 2},
		{req, map[string]string{"route": "unmatched", "method": "GET", "code": "404"}, 1},
		{req, map[string]string{"route": "unmatched", "method": "other", "code": "405"}, 1},
		{dur, map[string]string{"route": "/ingest", "method": "POST", "code_class": "2xx"}, 2},
		{dur, map[string]string{"route": "/ingest", "method": "POST", "code_class": "4xx"}, 1},
		{dur, map[string]string{"route": "/spans", "method": "GET", "code_class": "4xx"}, 2},
		{"logline_http_requests_in_flight", nil, 1}, // this scrape
		{"logline_ledger_spans_appended_total", nil, 3},
		{"logline_ledger_spans_duplicate_total", nil, 1},
		{"logline_ledger_spans_rejected_total", nil, 0},
		{"logline_ledger_receipts_issued_total", nil, 4}, // a duplicate gets its original's receipt
		{"logline_ledger_backlog_spans", nil, 0},
		{"logline_ledger_append_errors_total", nil, 0},
		{"logline_ledger_entries", nil, float64(e.store.Size())},
	} {
		if got, _, ok := series(mfs, tc.name, tc.labels); !ok || got != tc.want {
			t.Errorf("%s%v = %v (present %v), want %v", tc.name, tc.labels, got, ok, tc.want)
		}
	}
	if e.store.Size() != 3 {
		t.Errorf("store size %d, want 3", e.store.Size())
	}
	// Every span submitted went through a commit batch; the appends were
	// timed once per Store.Append call (2 single ones, 1 or 2 for NDJSON).
	if n, sum, _ := series(mfs, "logline_ledger_batch_spans", nil); n < 1 || sum != 4 {
		t.Errorf("batch_spans: %v batches holding %v spans, want ≥ 1 holding 4", n, sum)
	}
	if n, sum, _ := series(mfs, "logline_trajectories_close_latency_seconds", nil); n != 4 || sum != 7.5 {
		t.Errorf("close_latency_seconds: %v observations summing %vs, want 4 summing 7.5s", n, sum)
	}
	if n, sum, _ := series(mfs, "logline_ledger_append_duration_seconds", nil); n < 3 || n > 4 || sum <= 0 {
		t.Errorf("append_duration_seconds: %v observations summing %vs, want 3 or 4 and a positive time", n, sum)
	}
	for _, raw := range []string{"m1", "route-x7", "BREW"} {
		if strings.Contains(text, raw) {
			t.Errorf("the exposition contains %q from a request: labels must be patterns", raw)
		}
	}
	for _, name := range []string{"go_goroutines", "process_resident_memory_bytes"} {
		if mfs[name] == nil {
			t.Errorf("no %s in the exposition", name)
		}
	}
}

// TestMetricsPanicCounted: a handler panic answered 500 by the middleware
// is still measured, and the in-flight gauge comes back down.
func TestMetricsPanicCounted(t *testing.T) {
	boom := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") })
	e, _ := newMetricsEnv(t, func(c *Config) {
		c.Access.Routes = map[string]http.Handler{"GET /auth/login": boom}
		c.Logger = slog.New(slog.DiscardHandler) // the panic is logged at Error
	})
	if resp, _ := e.get("/auth/login", nil); resp.StatusCode != http.StatusInternalServerError {
		t.Fatalf("panicking handler: %d, want 500", resp.StatusCode)
	}
	mfs, _ := scrape(t, e, "admin-acme")
	if got, _, _ := series(mfs, "logline_http_requests_total", map[string]string{"route": "/auth/login", "method": "GET", "code": "500"}); got != 1 {
		t.Errorf("500 of /auth/login counted %v times, want 1", got)
	}
	if got, _, _ := series(mfs, "logline_http_requests_in_flight", nil); got != 1 {
		t.Errorf("in flight during the scrape: %v, want 1 (the scrape)", got)
	}
}

// TestMetricsNotConfigured: without Config.Metrics, GET /metrics is 501
// and nothing else changes.
func TestMetricsNotConfigured(t *testing.T) {
	e := newEnv(t, nil)
	resp, body := e.get("/metrics", nil)
	if resp.StatusCode != http.StatusNotImplemented {
		t.Fatalf("GET /metrics without Metrics: %d %s, want 501", resp.StatusCode, body)
	}
	if p := decodeProblem(t, resp, body); p.Code != codeNotImplemented {
		t.Errorf("problem %+v, want not_implemented", p)
	}
	if resp, body := e.postJSON("/ingest", spanJSON(nil), nil); resp.StatusCode != http.StatusCreated {
		t.Errorf("ingest without metrics: %d %s", resp.StatusCode, body)
	}
}

// dashboard is the part of a Grafana dashboard JSON model the test reads.
type dashboard struct {
	Inputs []struct {
		Name     string `json:"name"`
		Type     string `json:"type"`
		PluginID string `json:"pluginId"`
	} `json:"__inputs"`
	Title  string           `json:"title"`
	UID    string           `json:"uid"`
	Panels []dashboardPanel `json:"panels"`
}

type dashboardPanel struct {
	Title      string           `json:"title"`
	Type       string           `json:"type"`
	Datasource *dashboardDS     `json:"datasource"`
	Targets    []dashboardQuery `json:"targets"`
	Panels     []dashboardPanel `json:"panels"` // a collapsed row's
}

type dashboardDS struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type dashboardQuery struct {
	Expr       string       `json:"expr"`
	RefID      string       `json:"refId"`
	Datasource *dashboardDS `json:"datasource"`
}

// TestDashboardMatchesMetrics: deploy/grafana/logline.json parses, takes
// its Prometheus data source from the ${DS_PROMETHEUS} input, and every
// metric its queries use is one GET /metrics exposes after traffic, with
// the labels that metric has; every logline_ metric has a panel.
func TestDashboardMatchesMetrics(t *testing.T) {
	raw, err := os.ReadFile(dashboardPath)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("%s: %v", dashboardPath, err)
	}
	if d.Title == "" || d.UID == "" {
		t.Errorf("dashboard title %q uid %q: want both", d.Title, d.UID)
	}
	if !slices.ContainsFunc(d.Inputs, func(in struct {
		Name     string `json:"name"`
		Type     string `json:"type"`
		PluginID string `json:"pluginId"`
	}) bool {
		return in.Name == "DS_PROMETHEUS" && in.Type == "datasource" && in.PluginID == "prometheus"
	}) {
		t.Errorf("__inputs %+v: want the DS_PROMETHEUS data source input", d.Inputs)
	}

	// Traffic that makes every labelled series appear.
	e, _ := newMetricsEnv(t, nil)
	admin := map[string]string{"Authorization": "Bearer admin-acme"}
	if resp, body := e.postJSON("/ingest", spanJSON(map[string]any{"id": "d1"}), admin); resp.StatusCode != http.StatusCreated {
		t.Fatalf("ingest: %d %s", resp.StatusCode, body)
	}
	e.get("/spans", nil)
	mfs, _ := scrape(t, e, "admin-acme")
	labels := map[string][]string{} // exposed series name → its label names
	for name, mf := range mfs {
		var ls []string
		if ms := mf.GetMetric(); len(ms) > 0 {
			for _, lp := range ms[0].GetLabel() {
				ls = append(ls, lp.GetName())
			}
		}
		labels[name] = ls
		if mf.GetType() == dto.MetricType_HISTOGRAM {
			labels[name+"_bucket"] = append(slices.Clone(ls), "le")
			labels[name+"_sum"] = ls
			labels[name+"_count"] = ls
		}
	}

	metricRef := regexp.MustCompile(`\b((?:logline|go|process)_[a-z0-9_]+)\s*(\{[^}]*\})?`)
	matcher := regexp.MustCompile(`([a-z_]+)\s*(?:=~|!~|!=|=)`)
	byClause := regexp.MustCompile(`\b(?:by|without)\s*\(([^)]*)\)`)
	used := map[string]bool{}
	var walk func(ps []dashboardPanel)
	queries := 0
	walk = func(ps []dashboardPanel) {
		for _, p := range ps {
			walk(p.Panels)
			if p.Type == "row" {
				continue
			}
			if p.Datasource == nil || p.Datasource.UID != "${DS_PROMETHEUS}" {
				t.Errorf("panel %q: datasource %+v, want uid ${DS_PROMETHEUS}", p.Title, p.Datasource)
			}
			if len(p.Targets) == 0 {
				t.Errorf("panel %q has no query", p.Title)
			}
			for _, q := range p.Targets {
				queries++
				refs := metricRef.FindAllStringSubmatch(q.Expr, -1)
				if len(refs) == 0 {
					t.Errorf("panel %q query %s uses no LogLine metric: %s", p.Title, q.RefID, q.Expr)
				}
				// Prometheus adds the target labels job and instance.
				exprLabels := map[string]bool{"le": true, "job": true, "instance": true}
				for _, ref := range refs {
					name := ref[1]
					ls, ok := labels[name]
					if !ok {
						t.Errorf("panel %q: %s is not exposed by GET /metrics", p.Title, name)
						continue
					}
					used[strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, "_bucket"), "_sum"), "_count")] = true
					for _, l := range ls {
						exprLabels[l] = true
					}
					for _, m := range matcher.FindAllStringSubmatch(ref[2], -1) {
						if !exprLabels[m[1]] && !slices.Contains(ls, m[1]) {
							t.Errorf("panel %q: %s has no label %q (it has %v)", p.Title, name, m[1], ls)
						}
					}
				}
				for _, by := range byClause.FindAllStringSubmatch(q.Expr, -1) {
					for _, l := range strings.Split(by[1], ",") {
						if l = strings.TrimSpace(l); l != "" && !exprLabels[l] {
							t.Errorf("panel %q: groups by %q, which none of its metrics has", p.Title, l)
						}
					}
				}
			}
		}
	}
	walk(d.Panels)
	if queries == 0 {
		t.Fatal("the dashboard has no queries")
	}
	for name := range mfs {
		if strings.HasPrefix(name, "logline_") && !used[name] {
			t.Errorf("%s is exposed but no panel shows it", name)
		}
	}
}

// BenchmarkMiddlewareMetrics measures what the metrics cost per request:
// GET /healthz through the whole handler chain, without and with
// Config.Metrics.
func BenchmarkMiddlewareMetrics(b *testing.B) {
	for _, on := range []bool{false, true} {
		b.Run(fmt.Sprintf("metrics=%v", on), func(b *testing.B) {
			e := newEnv(b, func(c *Config) {
				if on {
					reg, err := metrics.New(metrics.Config{})
					if err != nil {
						b.Fatal(err)
					}
					c.Metrics = reg
				}
			})
			h := e.srv.Handler()
			req := httptest.NewRequest("GET", "/healthz", nil)
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				if w.Code != http.StatusOK {
					b.Fatalf("status %d", w.Code)
				}
			}
		})
	}
}

// BenchmarkIngestMetrics posts one span per request from 16 goroutines
// (group commit) through a real HTTP server and the segment store,
// without and with metrics (the gateway's middleware and the store's
// Observer): the ingest path the metrics must not slow down.
func BenchmarkIngestMetrics(b *testing.B) {
	for _, on := range []bool{false, true} {
		b.Run(fmt.Sprintf("metrics=%v", on), func(b *testing.B) {
			var reg *metrics.Registry
			cfg := segment.Config{Dir: b.TempDir(), Logger: slog.New(slog.DiscardHandler)}
			if on {
				var err error
				if reg, err = metrics.New(metrics.Config{}); err != nil {
					b.Fatal(err)
				}
				cfg.Observer = reg.Ledger()
			}
			st, err := segment.Open(context.Background(), cfg)
			if err != nil {
				b.Fatal(err)
			}
			e := newEnvWith(b, st, st, func(c *Config) { c.Metrics = reg })
			e.ts.Client().Transport.(*http.Transport).MaxIdleConnsPerHost = 256
			var n atomic.Int64
			b.ReportAllocs()
			b.SetParallelism(16)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					body := spanJSON(map[string]any{"id": fmt.Sprintf("bm-%d", n.Add(1))})
					resp, err := e.ts.Client().Post(e.ts.URL+"/ingest", "application/json", strings.NewReader(body))
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusCreated {
						b.Errorf("status %d, want 201", resp.StatusCode)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "spans/s")
		})
	}
}
