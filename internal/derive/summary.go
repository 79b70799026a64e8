package derive

import (
	"maps"
	"math"
)

// Summary is what a run of the data plane derived, for people and
// scripts (`logline quality simulate`).
type Summary struct {
	Spans            int64            `json:"spans"`
	Linked           int64            `json:"linked"`
	NotLinked        int64            `json:"not_linked"`
	Trajectories     int64            `json:"trajectories"`
	Closed           map[string]int64 `json:"closed"` // by reason
	DerivedSpans     int64            `json:"derived_spans"`
	Scores           ScoreSummary     `json:"scores"`
	Candidates       int64            `json:"candidates"`
	CandidatePercent float64          `json:"candidate_percent"` // of scored trajectories
}

// ScoreSummary describes the scores given: count, mean and nearest-rank
// percentiles (-1 when none).
type ScoreSummary struct {
	Count int64   `json:"count"`
	Mean  float64 `json:"mean"`
	P50   int     `json:"p50"`
	P95   int     `json:"p95"`
	P99   int     `json:"p99"`
}

// Summarize turns an Engine's counters into a Summary.
func Summarize(s Stats) Summary {
	out := Summary{
		Spans: s.Spans, Linked: s.Linked, NotLinked: s.NotLinked, Trajectories: s.Opened,
		Closed: maps.Clone(s.Closed), DerivedSpans: s.Derived, Candidates: s.Candidates,
	}
	m := meter{hist: s.Scores}
	var sum int64
	for v, n := range s.Scores {
		m.n += n
		sum += int64(v) * n
	}
	out.Scores = ScoreSummary{Count: m.n, P50: m.quantile(0.50), P95: m.quantile(0.95), P99: m.quantile(0.99)}
	if m.n > 0 {
		out.Scores.Mean = math.Round(float64(sum)/float64(m.n)*100) / 100
		out.CandidatePercent = math.Round(float64(s.Candidates)/float64(m.n)*10000) / 100
	}
	return out
}
