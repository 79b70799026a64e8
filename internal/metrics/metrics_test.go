package metrics

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"

	"github.com/logline/logline/internal/ledger"
)

func newRegistry(t *testing.T) *Registry {
	t.Helper()
	r, err := New(Config{})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return r
}

// sample returns the value of the series name{labels} (a counter, gauge,
// or a histogram's sample count), and whether it exists.
func sample(t *testing.T, r *Registry, name string, labels map[string]string) (float64, bool) {
	t.Helper()
	mfs, err := r.Gatherer().Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			got := map[string]string{}
			for _, lp := range m.GetLabel() {
				got[lp.GetName()] = lp.GetValue()
			}
			if len(got) != len(labels) {
				continue
			}
			for k, v := range labels {
				if got[k] != v {
					continue series
				}
			}
			return value(m), true
		}
	}
	return 0, false
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Histogram != nil:
		return float64(m.Histogram.GetSampleCount())
	case m.Untyped != nil:
		return m.Untyped.GetValue()
	}
	return 0
}

func wantSample(t *testing.T, r *Registry, name string, labels map[string]string, want float64) {
	t.Helper()
	got, ok := sample(t, r, name, labels)
	if !ok {
		t.Errorf("%s%v: no such series", name, labels)
		return
	}
	if got != want {
		t.Errorf("%s%v = %v, want %v", name, labels, got, want)
	}
}

// TestNamesFollowConventions: after every metric was touched, the
// logline_ families pass Prometheus' own linter (base units, _total on
// counters, no unit-less durations) and carry the namespace.
func TestNamesFollowConventions(t *testing.T) {
	r := newRegistry(t)
	r.HTTP().Start()
	r.HTTP().Done("GET /spans", "GET", 200, time.Millisecond)
	r.Ledger().Waiting(1)
	r.Ledger().Answered(1, time.Millisecond, []ledger.Outcome{{}}, nil)
	r.Ledger().Batch(1)
	r.Ledger().ReceiptIssued()
	if err := r.RegisterLogSize(func() uint64 { return 1 }); err != nil {
		t.Fatal(err)
	}
	mfs, err := r.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	var ours []*dto.MetricFamily
	for _, mf := range mfs {
		if strings.HasPrefix(mf.GetName(), Namespace+"_") {
			ours = append(ours, mf)
		}
	}
	if len(ours) != 12 {
		t.Errorf("%d logline_ families, want 12 (3 HTTP, 8 ledger, entries)", len(ours))
	}
	problems, err := promlint.NewWithMetricFamilies(ours).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
	for _, prefix := range []string{"go_goroutines", "process_cpu_seconds_total"} {
		found := false
		for _, mf := range mfs {
			found = found || mf.GetName() == prefix
		}
		if !found {
			t.Errorf("no %s: the Go and process collectors are missing", prefix)
		}
	}
}

func TestHTTPLabels(t *testing.T) {
	for _, tc := range []struct {
		name                         string
		pattern, method              string
		status                       int
		route, wantMethod, code, cls string
	}{
		{"created", "POST /ingest", "POST", 201, "/ingest", "POST", "201", "2xx"},
		{"path parameter stays a pattern", "GET /spans/{id}", "GET", 404, "/spans/{id}", "GET", "404", "4xx"},
		{"HEAD on a GET route", "GET /spans", "HEAD", 200, "/spans", "HEAD", "200", "2xx"},
		{"nothing written is 200", "GET /healthz", "GET", 0, "/healthz", "GET", "200", "2xx"},
		{"no route", "", "GET", 404, RouteUnmatched, "GET", "404", "4xx"},
		{"unknown method folded", "", "BREW", 405, RouteUnmatched, "other", "405", "4xx"},
		{"unauthorized", "GET /metrics", "GET", 401, "/metrics", "GET", "401", "4xx"},
		{"server error", "POST /exports", "POST", 503, "/exports", "POST", "503", "5xx"},
		{"absurd status", "GET /x", "GET", 999, "/x", "GET", "other", "other"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRegistry(t)
			h := r.HTTP()
			h.Start()
			wantSample(t, r, "logline_http_requests_in_flight", map[string]string{}, 1)
			h.Done(tc.pattern, tc.method, tc.status, 3*time.Millisecond)
			wantSample(t, r, "logline_http_requests_in_flight", map[string]string{}, 0)
			wantSample(t, r, "logline_http_requests_total", map[string]string{"route": tc.route, "method": tc.wantMethod, "code": tc.code}, 1)
			wantSample(t, r, "logline_http_request_duration_seconds", map[string]string{"route": tc.route, "method": tc.wantMethod, "code_class": tc.cls}, 1)
		})
	}
}

func TestRouteLabel(t *testing.T) {
	for pattern, want := range map[string]string{
		"GET /spans/{id}":            "/spans/{id}",
		"POST /ingest":               "/ingest",
		"GET  /double-space":         "/double-space",
		"/no-method":                 "/no-method",
		"":                           RouteUnmatched,
		"GET /.well-known/jwks.json": "/.well-known/jwks.json",
	} {
		if got := RouteLabel(pattern); got != want {
			t.Errorf("RouteLabel(%q) = %q, want %q", pattern, got, want)
		}
	}
}

func TestLedgerObserver(t *testing.T) {
	conflict := &ledger.ConflictError{Kind: ledger.SeqConflict, ID: "a", Seq: 3, Latest: 1}
	for _, tc := range []struct {
		name                                   string
		spans                                  int
		out                                    []ledger.Outcome
		err                                    error
		appended, duplicate, rejected, errs, n float64 // n: append_duration observations
	}{
		{"all new", 3, []ledger.Outcome{{}, {}, {}}, nil, 3, 0, 0, 0, 1},
		{"mixed", 4, []ledger.Outcome{{}, {Result: ledger.Result{Duplicate: true}}, {Err: conflict}, {}}, nil, 2, 1, 1, 0, 1},
		{"store stopped", 2, nil, fmt.Errorf("append: %w", ledger.ErrClosed), 0, 0, 0, 1, 0},
		{"caller gave up", 2, nil, context.Canceled, 0, 0, 0, 0, 0},
		{"caller deadline", 1, nil, fmt.Errorf("wrapped: %w", context.DeadlineExceeded), 0, 0, 0, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRegistry(t)
			l := r.Ledger()
			l.Waiting(tc.spans)
			wantSample(t, r, "logline_ledger_backlog_spans", map[string]string{}, float64(tc.spans))
			l.Answered(tc.spans, 2*time.Millisecond, tc.out, tc.err)
			wantSample(t, r, "logline_ledger_backlog_spans", map[string]string{}, 0)
			wantSample(t, r, "logline_ledger_spans_appended_total", map[string]string{}, tc.appended)
			wantSample(t, r, "logline_ledger_spans_duplicate_total", map[string]string{}, tc.duplicate)
			wantSample(t, r, "logline_ledger_spans_rejected_total", map[string]string{}, tc.rejected)
			wantSample(t, r, "logline_ledger_append_errors_total", map[string]string{}, tc.errs)
			wantSample(t, r, "logline_ledger_append_duration_seconds", map[string]string{}, tc.n)
		})
	}
}

// TestLedgerHistogramBuckets: an observation lands in the bucket of its
// value (seconds, not milliseconds; spans, not requests).
func TestLedgerHistogramBuckets(t *testing.T) {
	r := newRegistry(t)
	r.Ledger().Waiting(1)
	r.Ledger().Answered(1, 3*time.Millisecond, []ledger.Outcome{{}}, nil)
	r.Ledger().Batch(100)
	mfs, err := r.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	cum := func(name string, le float64) uint64 {
		for _, mf := range mfs {
			if mf.GetName() != name {
				continue
			}
			for _, b := range mf.GetMetric()[0].GetHistogram().GetBucket() {
				if b.GetUpperBound() == le {
					return b.GetCumulativeCount()
				}
			}
		}
		t.Fatalf("%s has no bucket le=%v", name, le)
		return 0
	}
	for _, tc := range []struct {
		name string
		le   float64
		want uint64
	}{
		{"logline_ledger_append_duration_seconds", 0.0025, 0},
		{"logline_ledger_append_duration_seconds", 0.005, 1},
		{"logline_ledger_batch_spans", 64, 0},
		{"logline_ledger_batch_spans", 128, 1},
		{"logline_ledger_batch_spans", 8192, 1},
	} {
		if got := cum(tc.name, tc.le); got != tc.want {
			t.Errorf("%s bucket le=%v holds %d, want %d", tc.name, tc.le, got, tc.want)
		}
	}
}

func TestRegisterLogSize(t *testing.T) {
	r := newRegistry(t)
	size := uint64(7)
	if err := r.RegisterLogSize(func() uint64 { return size }); err != nil {
		t.Fatal(err)
	}
	wantSample(t, r, "logline_ledger_entries", map[string]string{}, 7)
	size = 9
	wantSample(t, r, "logline_ledger_entries", map[string]string{}, 9)
	if err := r.RegisterLogSize(func() uint64 { return 0 }); err == nil {
		t.Error("a second RegisterLogSize succeeded: two series of one name")
	}
	if err := r.RegisterLogSize(nil); err == nil {
		t.Error("RegisterLogSize(nil) succeeded")
	}
}

// TestRegisterOtherCollectors: another part of LogLine adds its metrics
// and they are served; a name already taken is refused.
func TestRegisterOtherCollectors(t *testing.T) {
	r := newRegistry(t)
	active := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: Namespace, Subsystem: "trajectory", Name: "active", Help: "test"})
	if err := r.Register(active); err != nil {
		t.Fatal(err)
	}
	active.Set(5)
	wantSample(t, r, "logline_trajectory_active", map[string]string{}, 5)
	clash := prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Subsystem: "ledger", Name: "spans_appended_total", Help: "clash"})
	if err := r.Register(clash); err == nil {
		t.Error("Register(a taken name) succeeded")
	}
	same := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: Namespace, Subsystem: "trajectory", Name: "active", Help: "test"})
	var are prometheus.AlreadyRegisteredError
	if err := r.Register(same); !errors.As(err, &are) {
		t.Errorf("Register(the same metric twice) = %v, want AlreadyRegisteredError", err)
	}
}

func TestHandlerServesText(t *testing.T) {
	r := newRegistry(t)
	r.Ledger().ReceiptIssued()
	srv := httptest.NewServer(r.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("status %d, Content-Type %q; want 200 text/plain", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, want := range []string{
		"\nlogline_ledger_receipts_issued_total 1\n",
		"# TYPE logline_ledger_append_duration_seconds histogram\n",
		"\ngo_goroutines ",
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("the exposition lacks %q", want)
		}
	}
}
