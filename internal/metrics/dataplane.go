package metrics

import (
	"errors"
	"slices"

	"github.com/prometheus/client_golang/prometheus"
)

// DataPlaneFigures is what the data plane reports at each scrape
// (docs/quality.md): its worker's progress and the engine's counters,
// all tenants together (per-tenant figures are in GET /metrics/public).
type DataPlaneFigures struct {
	Cursor     uint64 // next log index the worker applies
	Head       uint64 // the ledger's size when it last looked
	Derived    int64  // derived spans appended (since the server started)
	Duplicates int64  // derived spans found already stored (after a restart)
	Conflicts  int64  // derived spans stored with other content
	Clocks     int64  // clock spans appended
	Shed       int64  // derived spans shed under backpressure
	Open       int    // trajectories open
	Closed     map[string]int64
	Scores     [101]int64 // scores given, by value
	Candidates int64
	// CloseLatency is how long trajectory closes took to be stored after
	// the ledger received their cause: counts per bucket (not
	// cumulative) of the upper bounds CloseLatencyBounds (seconds), the
	// last bucket over every bound; sum in seconds.
	CloseLatencyBounds []float64
	CloseLatencyCounts []uint64
	CloseLatencySum    float64
}

// dataPlane is the collector reading DataPlaneFigures at every scrape:
//
//	logline_dataplane_backlog_entries        gauge    entries appended, not yet applied by the data plane
//	logline_dataplane_cursor                 gauge    the next log index it applies
//	logline_dataplane_derived_spans_total    counter  derived spans appended
//	logline_dataplane_duplicate_spans_total  counter  derived spans found already stored
//	logline_dataplane_conflict_spans_total   counter  derived spans stored with other content
//	logline_dataplane_clock_spans_total      counter  clock spans appended for idle tenants
//	logline_dataplane_shed_spans_total       counter  derived spans shed (derived_events_perf)
//	logline_trajectories_active              gauge    trajectories open (v8 trajectory.active)
//	logline_trajectories_closed_total        counter  by reason (v8 trajectory.closed_total)
//	logline_trajectories_close_latency_seconds histogram cause received → close stored (v8 trajectory.close_latency_ms)
//	logline_quality_score                    histogram of the scores given, 0–100 (v8 quality.score_count, pXX)
//	logline_quality_candidates_total         counter  diamond candidates (v8 quality.candidates_total)
type dataPlane struct {
	read                                                         func() DataPlaneFigures
	backlog, cursor, derived, dups, conflicts, clocks, shed, act *prometheus.Desc
	closed, closeLatency, score, candidates                      *prometheus.Desc
}

func newDataPlane(read func() DataPlaneFigures) *dataPlane {
	d := func(sub, name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(Namespace, sub, name), help, labels, nil)
	}
	return &dataPlane{
		read:      read,
		backlog:   d("dataplane", "backlog_entries", "Entries appended but not yet applied by the data plane (its derivation queue)."),
		cursor:    d("dataplane", "cursor", "The next log index the data plane applies."),
		derived:   d("dataplane", "derived_spans_total", "Derived spans the data plane appended."),
		dups:      d("dataplane", "duplicate_spans_total", "Derived spans the data plane found already stored (re-derived after a restart)."),
		conflicts: d("dataplane", "conflict_spans_total", "Derived spans already stored with other content (a policy changed across a restart)."),
		clocks:    d("dataplane", "clock_spans_total", "Clock spans appended for idle tenants with trajectories past their deadline."),
		shed:      d("dataplane", "shed_spans_total", "Derived spans shed under policy derived_events_perf (shed_derived)."),
		act:       d("trajectories", "active", "Trajectories open, all tenants."),
		closed:    d("trajectories", "closed_total", "Trajectories closed, by reason.", "reason"),
		closeLatency: d("trajectories", "close_latency_seconds",
			"How long trajectory closes took to be stored after the ledger received the entry that closed them."),
		score:      d("quality", "score", "Quality scores given to closed trajectories (0–100)."),
		candidates: d("quality", "candidates_total", "Diamond candidates flagged."),
	}
}

func (c *dataPlane) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.backlog, c.cursor, c.derived, c.dups, c.conflicts, c.clocks, c.shed, c.act, c.closed, c.closeLatency, c.score, c.candidates} {
		ch <- d
	}
}

func (c *dataPlane) Collect(ch chan<- prometheus.Metric) {
	f := c.read()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	backlog := uint64(0)
	if f.Head > f.Cursor {
		backlog = f.Head - f.Cursor
	}
	gauge(c.backlog, float64(backlog))
	gauge(c.cursor, float64(f.Cursor))
	counter(c.derived, float64(f.Derived))
	counter(c.dups, float64(f.Duplicates))
	counter(c.conflicts, float64(f.Conflicts))
	counter(c.clocks, float64(f.Clocks))
	counter(c.shed, float64(f.Shed))
	gauge(c.act, float64(f.Open))
	// Every reason, so that a rate over a reason never starts from a
	// missing series.
	for _, r := range slices.Sorted(func(yield func(string) bool) {
		seen := map[string]bool{}
		for _, r := range []string{"timeout", "window", "rule", "end_of_input"} {
			seen[r] = true
			if !yield(r) {
				return
			}
		}
		for r := range f.Closed {
			if !seen[r] && !yield(r) {
				return
			}
		}
	}) {
		counter(c.closed, float64(f.Closed[r]), r)
	}
	c.collectCloseLatency(ch, f)
	buckets := map[float64]uint64{}
	var count uint64
	var sum float64
	for v, n := range f.Scores {
		count += uint64(n)
		sum += float64(v) * float64(n)
	}
	var cum uint64
	for v, n := range f.Scores {
		cum += uint64(n)
		if (v+1)%10 == 0 || v == 100 {
			// Buckets le 9, 19, …, 99, 100: integer scores.
			buckets[float64(v)] = cum
		}
	}
	ch <- prometheus.MustNewConstHistogram(c.score, count, sum, buckets)
	counter(c.candidates, float64(f.Candidates))
}

// collectCloseLatency sends the close latency histogram; none when the
// figures have no buckets.
func (c *dataPlane) collectCloseLatency(ch chan<- prometheus.Metric, f DataPlaneFigures) {
	if len(f.CloseLatencyBounds) == 0 || len(f.CloseLatencyCounts) != len(f.CloseLatencyBounds)+1 {
		return
	}
	buckets := make(map[float64]uint64, len(f.CloseLatencyBounds))
	var cum uint64
	for i, b := range f.CloseLatencyBounds {
		cum += f.CloseLatencyCounts[i]
		buckets[b] = cum
	}
	cum += f.CloseLatencyCounts[len(f.CloseLatencyBounds)]
	ch <- prometheus.MustNewConstHistogram(c.closeLatency, cum, f.CloseLatencySum, buckets)
}

// RegisterDataPlane exposes the data plane's figures, read at every
// scrape. Call it once, when the data plane runs.
func (r *Registry) RegisterDataPlane(read func() DataPlaneFigures) error {
	if read == nil {
		return errors.New("metrics: RegisterDataPlane: nil read")
	}
	return r.Register(newDataPlane(read))
}
