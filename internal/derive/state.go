package derive

import (
	"container/heap"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"
)

// stateVersion is the version of the encoded state.
const stateVersion = 1

// ErrState is wrapped by UnmarshalState's errors: the bytes are not a
// state this build reads.
var ErrState = errors.New("derive: bad state")

// The encoded state: everything Apply depends on, so that an Engine
// restored from it derives exactly what the saved one would have.
type stateJSON struct {
	Version int          `json:"version"`
	Tenants []tenantJSON `json:"tenants"`
	Stats   statsJSON    `json:"stats"`
}

type tenantJSON struct {
	Name         string           `json:"name"`
	Mark         *time.Time       `json:"watermark,omitempty"`
	Trajectories []trajectoryJSON `json:"open"`
	Hist         []int64          `json:"hist"` // 101 counts
	Horizon      time.Duration    `json:"horizon,omitempty"`
	Recent       []scoredJSON     `json:"recent,omitempty"` // the horizon's scores, oldest first
	Closed       int64            `json:"closed,omitempty"`
	Candidates   int64            `json:"candidates,omitempty"`
}

type trajectoryJSON struct {
	ID        string    `json:"id"`
	Key       string    `json:"key"`
	This      string    `json:"this"`
	N         int       `json:"n"`
	First     time.Time `json:"first"`
	Last      time.Time `json:"last"`
	Signed    int       `json:"signed"`
	Confirmed int       `json:"confirmed"`
	Deadline  time.Time `json:"deadline"`
	Reason    string    `json:"reason"`
}

type scoredJSON struct {
	At    time.Time `json:"at"`
	Score int       `json:"score"`
}

type statsJSON struct {
	Spans        int64            `json:"spans"`
	Linked       int64            `json:"linked"`
	Opened       int64            `json:"opened"`
	Closed       map[string]int64 `json:"closed"`
	Scores       []int64          `json:"scores"`
	Candidates   int64            `json:"candidates"`
	Derived      int64            `json:"derived"`
	NotLinked    int64            `json:"not_linked"`
	ExceptionHit int64            `json:"exception_hit"`
	NoKey        int64            `json:"no_key"`
}

// MarshalState encodes the engine's state: deterministic (tenants by
// name, trajectories by key), so equal states encode to equal bytes.
func (e *Engine) MarshalState() ([]byte, error) {
	st := stateJSON{Version: stateVersion, Stats: statsJSON{
		Spans: e.stats.Spans, Linked: e.stats.Linked, Opened: e.stats.Opened, Closed: e.stats.Closed,
		Scores: e.stats.Scores[:], Candidates: e.stats.Candidates, Derived: e.stats.Derived,
		NotLinked: e.stats.NotLinked, ExceptionHit: e.stats.ExceptionHit, NoKey: e.stats.NoKey,
	}}
	for _, name := range slices.Sorted(maps.Keys(e.tenants)) {
		t := e.tenants[name]
		tj := tenantJSON{Name: name, Hist: t.meter.hist[:], Horizon: t.meter.horizon, Trajectories: []trajectoryJSON{},
			Closed: t.closed, Candidates: t.candidates}
		if t.hasMark {
			m := t.mark
			tj.Mark = &m
		}
		for _, k := range slices.Sorted(maps.Keys(t.open)) {
			tr := t.open[k]
			tj.Trajectories = append(tj.Trajectories, trajectoryJSON{
				ID: tr.id, Key: tr.key, This: tr.this, N: tr.n, First: tr.first, Last: tr.last,
				Signed: tr.signed, Confirmed: tr.confirmed, Deadline: tr.deadline, Reason: tr.reason,
			})
		}
		for _, s := range t.meter.fifo[t.meter.head:] {
			tj.Recent = append(tj.Recent, scoredJSON{At: s.at, Score: s.score})
		}
		st.Tenants = append(st.Tenants, tj)
	}
	return json.Marshal(st)
}

// UnmarshalState replaces the engine's state with one MarshalState
// encoded. On error the engine is unchanged.
func (e *Engine) UnmarshalState(data []byte) error {
	var st stateJSON
	if err := json.Unmarshal(data, &st); err != nil {
		return fmt.Errorf("%w: %v", ErrState, err)
	}
	if st.Version != stateVersion {
		return fmt.Errorf("%w: version %d (this build reads %d)", ErrState, st.Version, stateVersion)
	}
	if len(st.Stats.Scores) != 101 {
		return fmt.Errorf("%w: %d score counts, want 101", ErrState, len(st.Stats.Scores))
	}
	tenants := map[string]*tenantState{}
	for _, tj := range st.Tenants {
		if tj.Name == "" || tenants[tj.Name] != nil {
			return fmt.Errorf("%w: tenant %q missing or repeated", ErrState, tj.Name)
		}
		if len(tj.Hist) != 101 {
			return fmt.Errorf("%w: tenant %s: %d histogram counts, want 101", ErrState, tj.Name, len(tj.Hist))
		}
		t := &tenantState{name: tj.Name, open: map[string]*trajectory{}, closed: tj.Closed, candidates: tj.Candidates}
		if tj.Mark != nil {
			t.mark, t.hasMark = tj.Mark.UTC(), true
		}
		for _, x := range tj.Trajectories {
			if x.ID == "" || x.N <= 0 || t.open[x.Key] != nil || (x.Reason != ReasonTimeout && x.Reason != ReasonWindow) {
				return fmt.Errorf("%w: tenant %s: bad open trajectory %q", ErrState, tj.Name, x.ID)
			}
			tr := &trajectory{id: x.ID, key: x.Key, this: x.This, n: x.N, first: x.First.UTC(), last: x.Last.UTC(),
				signed: x.Signed, confirmed: x.Confirmed, deadline: x.Deadline.UTC(), reason: x.Reason}
			t.open[x.Key] = tr
			heap.Push(&t.heap, tr)
		}
		var n int64
		for i, c := range tj.Hist {
			if c < 0 {
				return fmt.Errorf("%w: tenant %s: negative count", ErrState, tj.Name)
			}
			t.meter.hist[i] = c
			n += c
		}
		t.meter.n = n
		t.meter.horizon = tj.Horizon
		for _, s := range tj.Recent {
			if s.Score < 0 || s.Score > 100 {
				return fmt.Errorf("%w: tenant %s: score %d", ErrState, tj.Name, s.Score)
			}
			t.meter.fifo = append(t.meter.fifo, scored{at: s.At.UTC(), score: s.Score})
		}
		tenants[tj.Name] = t
	}
	e.tenants = tenants
	e.stats = Stats{
		Spans: st.Stats.Spans, Linked: st.Stats.Linked, Opened: st.Stats.Opened, Closed: maps.Clone(st.Stats.Closed),
		Candidates: st.Stats.Candidates, Derived: st.Stats.Derived, NotLinked: st.Stats.NotLinked,
		ExceptionHit: st.Stats.ExceptionHit, NoKey: st.Stats.NoKey,
	}
	if e.stats.Closed == nil {
		e.stats.Closed = map[string]int64{}
	}
	copy(e.stats.Scores[:], st.Stats.Scores)
	return nil
}

// TenantStats is one tenant's data plane at a glance (v8 §18, §20:
// quality.pXX.current, trajectory.active, …).
type TenantStats struct {
	Open       int   // trajectories open
	Closed     int64 // trajectories closed
	Candidates int64 // diamond candidates flagged
	Scores     int64 // scores the meter holds (all, or within the horizon)
	P50        int   // quantiles of those scores, -1 when none
	P95        int
	P99        int
	Threshold  int // the score a trajectory closing now would need to be a candidate; -1 while too few samples
	// Target is the tenant's quality_meter percentile_target (96 for
	// "p96"; 0 without a policy) and PTarget the quantile of the scores
	// there (-1 when none): quality.p<Target>.current.
	Target  float64
	PTarget int
}

// TargetName is the v8 name of the quantile at the tenant's percentile
// target, "quality.p96.current" for p96; "" without one.
func (s TenantStats) TargetName() string {
	if s.Target <= 0 {
		return ""
	}
	return "quality.p" + strconv.FormatFloat(s.Target, 'f', -1, 64) + ".current"
}

// Figure is the figure of that v8 name (ir.MetricNames but the
// server-wide dataplane.backlog) and whether it has a value: quantiles
// and the threshold are -1 and false until there are scores enough, the
// candidate share false until a trajectory closed.
func (s TenantStats) Figure(name string) (float64, bool) {
	if name != "" && name == s.TargetName() {
		return float64(s.PTarget), s.PTarget >= 0
	}
	switch name {
	case "trajectory.active":
		return float64(s.Open), true
	case "trajectory.closed_total":
		return float64(s.Closed), true
	case "quality.score_count":
		return float64(s.Scores), true
	case "quality.candidates_total":
		return float64(s.Candidates), true
	case "quality.candidate_share":
		if s.Closed == 0 {
			return 0, false
		}
		return float64(s.Candidates) / float64(s.Closed), true
	case "quality.p50.current":
		return float64(s.P50), s.P50 >= 0
	case "quality.p95.current":
		return float64(s.P95), s.P95 >= 0
	case "quality.p99.current":
		return float64(s.P99), s.P99 >= 0
	case "quality.threshold.current":
		return float64(s.Threshold), s.Threshold >= 0
	}
	return 0, false
}

// TenantStats reports tenant's figures; false when it has no state.
func (e *Engine) TenantStats(tenant string) (TenantStats, bool) {
	t := e.tenants[tenant]
	if t == nil {
		return TenantStats{}, false
	}
	s := TenantStats{Open: len(t.open), Closed: t.closed, Candidates: t.candidates, Scores: t.meter.n,
		P50: t.meter.quantile(0.50), P95: t.meter.quantile(0.95), P99: t.meter.quantile(0.99), Threshold: -1}
	if p := e.policy(tenant); p != nil {
		if th, ok := t.meter.threshold(p.Meter); ok {
			s.Threshold = th
		}
		if p.Meter.PercentileTarget > 0 {
			s.Target, s.PTarget = p.Meter.PercentileTarget, t.meter.quantile(p.Meter.PercentileTarget/100)
		}
	}
	return s, true
}

// NextDeadline returns the earliest deadline among tenant's open
// trajectories: a span (or clock span) later than it closes one.
func (e *Engine) NextDeadline(tenant string) (time.Time, bool) {
	t := e.tenants[tenant]
	if t == nil || len(t.heap) == 0 {
		return time.Time{}, false
	}
	return t.heap[0].deadline, true
}

// Watermark returns tenant's watermark: the latest event time applied.
func (e *Engine) Watermark(tenant string) (time.Time, bool) {
	t := e.tenants[tenant]
	if t == nil {
		return time.Time{}, false
	}
	return t.mark, t.hasMark
}

// Tenants returns the tenants the engine holds state for, sorted.
func (e *Engine) Tenants() []string { return slices.Sorted(maps.Keys(e.tenants)) }
