package dataplane

import (
	"maps"

	"github.com/logline/logline/internal/derive"
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
