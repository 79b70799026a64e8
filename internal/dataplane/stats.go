package dataplane

import (
	"maps"
	"time"

	"github.com/logline/logline/internal/derive"
	"github.com/logline/logline/internal/span"
)

// Figures is what the data plane has derived, for metrics: the worker's
// Status plus the engine's counters, all tenants together, and each
// tenant's figures. Published after every batch and tick.
type Figures struct {
	Status
	Closed      map[string]int64 // trajectories closed, by reason
	Scores      [101]int64       // scores given, by value
	Candidates  int64
	NotLinked   int64
	TenantStats map[string]derive.TenantStats
}

// publish refreshes the figures Figures and Quality read.
func (w *Worker) publish() {
	st := w.eng.Stats()
	f := &Figures{Closed: st.Closed, Scores: st.Scores, Candidates: st.Candidates, NotLinked: st.NotLinked,
		TenantStats: map[string]derive.TenantStats{}}
	for _, t := range w.eng.Tenants() {
		if ts, ok := w.eng.TenantStats(t); ok {
			f.TenantStats[t] = ts
		}
	}
	w.mu.Lock()
	f.Status = w.status
	w.figures = f
	w.mu.Unlock()
}

// LastCloseLatency is how long the latest trajectory close of tenant
// stored since the server started took (trajectory.close_latency_ms);
// false when there was none.
func (w *Worker) LastCloseLatency(tenant string) (time.Duration, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	d, ok := w.lastClose[tenant]
	return d, ok
}

// pendingClose is a trajectory_closed span waiting to be stored: its
// place in the pending spans and when the ledger received its cause.
type pendingClose struct {
	index    int
	received time.Time
}

// noteClose notes sp, the trajectory_closed span just added to pending,
// caused by w.cause, for the close latency.
func (w *Worker) noteClose(sp *span.Span) {
	if w.cause == nil || w.cause.ReceivedAt == "" || w.cause.Tenant != sp.Tenant {
		return
	}
	t, ok := span.ParseRFC3339(w.cause.ReceivedAt)
	if !ok {
		return
	}
	w.closes = append(w.closes, pendingClose{index: len(w.pending) - 1, received: t})
}

// closeLatencyBounds are the upper bounds, in seconds, of the close
// latency histogram's buckets (then +Inf).
var closeLatencyBounds = [...]float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300}

// LatencyHistogram counts durations in the buckets of
// CloseLatencyBounds.
type LatencyHistogram struct {
	Counts [len(closeLatencyBounds) + 1]uint64 // per bucket, not cumulative; the last is over every bound
	Count  uint64
	Sum    float64 // seconds
}

// CloseLatencyBounds returns the buckets' upper bounds, in seconds.
func CloseLatencyBounds() []float64 { return closeLatencyBounds[:] }

func (h *LatencyHistogram) observe(d time.Duration) {
	s := d.Seconds()
	i := 0
	for i < len(closeLatencyBounds) && s > closeLatencyBounds[i] {
		i++
	}
	h.Counts[i]++
	h.Count++
	h.Sum += s
}

// Figures returns the latest published figures (a copy).
func (w *Worker) Figures() Figures {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.figures == nil {
		return Figures{Status: w.status, Closed: map[string]int64{}, TenantStats: map[string]derive.TenantStats{}}
	}
	f := *w.figures
	f.Status = w.status
	f.Closed = maps.Clone(f.Closed)
	f.TenantStats = maps.Clone(f.TenantStats)
	return f
}

// Quality returns tenant's figures (quality.pXX.current, trajectories
// open, …); false when the data plane has nothing for it.
func (w *Worker) Quality(tenant string) (derive.TenantStats, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.figures == nil {
		return derive.TenantStats{}, false
	}
	ts, ok := w.figures.TenantStats[tenant]
	return ts, ok
}
