package derive

import (
	"container/heap"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/logline/logline/internal/lll/eval"
	"github.com/logline/logline/internal/lll/ir"
)

// The entity types the data plane derives, and those it reads but never
// links (ARCHITECTURE.md §6).
const (
	TypeEdge      = "trajectory_edge"
	TypeClosed    = "trajectory_closed"
	TypeQuality   = "trajectory_quality"
	TypeCandidate = "diamond_candidate"
	TypeClock     = "clock"
	TypeAlert     = "alert"
)

// TypeShed is the record of derived spans shed under backpressure.
const TypeShed = "derivation_shed"

// TypePolicy is the record of the policy a tenant's entries are derived
// with (the data plane writes it; replay reads it).
const TypePolicy = "derivation_policy"

// Reserved reports whether a client may not write a span with this
// author and entity type: who "system:…" is the server's own, and the
// data plane's types are written by the data plane only.
func Reserved(who, entityType string) bool {
	switch entityType {
	case TypeEdge, TypeClosed, TypeQuality, TypeCandidate, TypeClock, TypeAlert, TypeShed, TypePolicy:
		return true
	}
	return strings.HasPrefix(who, "system:")
}

// Close reasons.
const (
	ReasonTimeout    = "timeout"
	ReasonWindow     = "window"
	ReasonRule       = "rule"
	ReasonEndOfInput = "end_of_input"
)

// Who is the author of every derived span.
const Who = "system:trajectory"

// Input is one ledger entry as the data plane reads it. Apply keeps none
// of its strings (it copies what it keeps), so they may alias a buffer
// the caller reuses.
type Input struct {
	Tenant     string
	ID         string
	Seq        uint64
	EntityType string // "" reads as "span"
	Who        string
	This       string
	When       time.Time // event time, UTC
	WhenText   string    // `when` as written; derived spans repeat it
	Status     string
	Confirmed  bool        // confirmed_by has at least one element
	Signed     bool        // carries a verified client signature
	Fields     eval.Fields // what key fields, exceptions and close rules read
	// ReceivedAt is a stored entry's received_at as written ("" for
	// spans not read from the ledger): the data plane measures how long
	// a close took from it. Derivation never reads it.
	ReceivedAt string
}

// Policy is what one tenant derives with, from its program and flags.
type Policy struct {
	Trajectory bool // features.trajectory: nothing is derived without it
	Diamond    bool // features.diamond: diamond candidates
	Linker     ir.TrajectoryLinker
	Meter      ir.QualityMeter
	// Perf is the derived_events_perf policy: the server's backpressure
	// (the engine itself derives everything regardless).
	Perf ir.DerivedEventsPerf
	// CloseRule reports whether a span closes its trajectory (a
	// pipeline's close_by_timeout_or_rule(COND)); nil: no rule. An
	// error stops derivation: the rule could not be evaluated.
	CloseRule func(eval.Fields) (bool, error)
}

// PolicyOf returns the policy of prog with the given flags: its
// trajectory_linker and quality_meter, and its pipelines' close rules
// (close_by_timeout_or_rule(COND), evaluated with the flags as
// features).
func PolicyOf(prog *ir.Program, trajectory, diamond bool) (*Policy, error) {
	p := &Policy{Trajectory: trajectory, Diamond: diamond, Linker: prog.TrajectoryLinker(), Meter: prog.QualityMeter(), Perf: prog.DerivedEventsPerf()}
	m, err := eval.New(prog, eval.Config{Features: eval.Features{Trajectory: trajectory, Diamond: diamond}})
	if err != nil {
		return nil, fmt.Errorf("derive: %w", err)
	}
	if m.HasCloseRules() {
		p.CloseRule = func(f eval.Fields) (bool, error) { return m.Closes(context.Background(), f) }
	}
	return p, nil
}

// Stats counts what an Engine did.
type Stats struct {
	Spans        int64            // inputs applied
	Linked       int64            // inputs linked into a trajectory
	Opened       int64            // trajectories opened
	Closed       map[string]int64 // trajectories closed, by reason
	Scores       [101]int64       // scores given, by value
	Candidates   int64            // diamond candidates
	Derived      int64            // derived spans emitted
	NotLinked    int64            // inputs of tenants with trajectories on that were not linked
	ExceptionHit int64            // of which: an exception matched
	NoKey        int64            // of which: a key field was missing
}

// Engine derives from the spans of any number of tenants. It is not
// safe for concurrent use: one goroutine applies the ledger in order.
type Engine struct {
	policy  func(tenant string) *Policy
	tenants map[string]*tenantState
	stats   Stats
	buf     []byte // scratch for ids
}

// New returns an Engine reading each tenant's policy from policy (nil:
// the tenant derives nothing). The policy may change between calls —
// the data plane uses the one in force when a span is applied.
func New(policy func(tenant string) *Policy) *Engine {
	return &Engine{policy: policy, tenants: map[string]*tenantState{}, stats: Stats{Closed: map[string]int64{}}}
}

// Stats returns a copy of the counters.
func (e *Engine) Stats() Stats {
	s := e.stats
	s.Closed = maps.Clone(e.stats.Closed)
	return s
}

// Open reports the number of open trajectories of tenant.
func (e *Engine) Open(tenant string) int {
	if t := e.tenants[tenant]; t != nil {
		return len(t.open)
	}
	return 0
}

// Quantile returns tenant's q-quantile (0 < q ≤ 1) of the scores the
// meter holds, nearest rank, and how many it holds; -1 when none.
func (e *Engine) Quantile(tenant string, q float64) (score int, n int64) {
	t := e.tenants[tenant]
	if t == nil {
		return -1, 0
	}
	return t.meter.quantile(q), t.meter.n
}

// tenantState is one tenant's derivation state.
type tenantState struct {
	name    string
	mark    time.Time // watermark: the latest event time seen
	hasMark bool
	open    map[string]*trajectory // by key
	heap    deadlines
	meter   meter

	closed     int64 // trajectories closed
	candidates int64 // diamond candidates flagged
}

// trajectory is an open trajectory.
type trajectory struct {
	id        string
	key       string
	this      string // of the span that opened it
	n         int
	first     time.Time
	last      time.Time
	signed    int // spans with a verified signature
	confirmed int // spans confirmed (confirmed_by and status "confirmed")
	deadline  time.Time
	reason    string // of the deadline: timeout or window
	idx       int    // in the heap
}

func (tr *trajectory) setDeadline(l ir.TrajectoryLinker) {
	win := tr.first.Add(l.Window)
	idle := tr.last.Add(l.CloseTimeout)
	if !idle.Before(win) {
		tr.deadline, tr.reason = win, ReasonWindow
	} else {
		tr.deadline, tr.reason = idle, ReasonTimeout
	}
}

// Apply derives from one ledger entry, calling emit for each derived
// span in order. The Derived passed to emit is reused after emit
// returns.
func (e *Engine) Apply(in *Input, emit func(*Derived)) error {
	e.stats.Spans++
	p := e.policy(in.Tenant)
	if p == nil || !p.Trajectory {
		return nil
	}
	t := e.tenants[in.Tenant]
	if t == nil {
		t = &tenantState{name: strings.Clone(in.Tenant), open: map[string]*trajectory{}}
		e.tenants[t.name] = t
	}
	own := linkable(in)
	if !own && in.EntityType != TypeClock {
		// The data plane's spans and other system spans (auth events,
		// written at wall-clock time) are not the tenant's timeline:
		// only its own spans and clock spans move time.
		return nil
	}
	if !t.hasMark || in.When.After(t.mark) {
		t.mark, t.hasMark = in.When, true
		e.expire(t, p, in, emit)
	}
	if !own {
		return nil
	}
	key, ok, err := e.key(p, in)
	if err != nil || !ok {
		e.stats.NotLinked++
		return err
	}
	closeNow := false
	if p.CloseRule != nil {
		if closeNow, err = p.CloseRule(in.Fields); err != nil {
			return fmt.Errorf("derive: close rule on span %s: %w", in.ID, err)
		}
	}
	e.stats.Linked++
	tr := t.open[key]
	if tr != nil && tr.deadline.Before(in.When) {
		// The span is past its key's trajectory's deadline, which the
		// watermark has not passed: a span older than the watermark
		// (history ingested after a clock span, or late spans). By
		// event time the trajectory ended before this span: it closes,
		// caused by the span, as the watermark would have closed it,
		// and the span opens a new one.
		e.close(t, p, tr, tr.reason, in.ID, in.Seq, in.WhenText, in.When, emit)
		tr = nil
	}
	if tr == nil {
		e.stats.Opened++
		key = strings.Clone(key)
		tr = &trajectory{id: e.trajectoryID(in), key: key, this: strings.Clone(in.This), first: in.When, last: in.When}
		t.open[key] = tr
		tr.setDeadline(p.Linker)
		heap.Push(&t.heap, tr)
	} else {
		if in.When.Before(tr.first) {
			tr.first = in.When
		}
		if in.When.After(tr.last) {
			tr.last = in.When
		}
		tr.setDeadline(p.Linker)
		heap.Fix(&t.heap, tr.idx)
	}
	tr.n++
	if in.Signed {
		tr.signed++
	}
	if in.Confirmed && in.Status == "confirmed" {
		tr.confirmed++
	}
	d := Derived{Type: TypeEdge, Tenant: in.Tenant, TrajectoryID: tr.id, When: in.WhenText,
		CauseID: in.ID, causeSeq: in.Seq, Position: tr.n, SrcSpanID: in.ID, This: in.This}
	e.emit(&d, emit)
	if closeNow {
		e.close(t, p, tr, ReasonRule, in.ID, in.Seq, in.WhenText, in.When, emit)
	}
	return nil
}

// Skip counts a span its caller knows Apply would ignore — one the data
// plane wrote itself (a derived span, an alert, a shed record; not a
// clock span, which moves time) — without reading it: the same as
// Apply on it.
func (e *Engine) Skip() { e.stats.Spans++ }

// linkable reports whether a span may be linked: the data plane's own
// spans never are.
func linkable(in *Input) bool {
	switch in.EntityType {
	case TypeEdge, TypeClosed, TypeQuality, TypeCandidate, TypeClock, TypeAlert:
		return false
	}
	return !strings.HasPrefix(in.Who, "system:")
}

// key returns a span's trajectory key; false when it is not linked (a
// key field missing, an exception matching).
func (e *Engine) key(p *Policy, in *Input) (string, bool, error) {
	for _, ex := range p.Linker.Exceptions {
		field, pat, _ := strings.Cut(ex, ":")
		if _, str, ok := lookup(in, field); ok && ir.MatchGlob(pat, str) {
			e.stats.ExceptionHit++
			return "", false, nil
		}
	}
	fields := p.Linker.KeyFields
	if len(fields) == 1 {
		raw, _, ok := lookup(in, fields[0])
		if !ok {
			e.stats.NoKey++
			return "", false, nil
		}
		return raw, true, nil
	}
	var b strings.Builder
	for i, f := range fields {
		raw, _, ok := lookup(in, f)
		if !ok {
			e.stats.NoKey++
			return "", false, nil
		}
		if i > 0 {
			b.WriteByte(0) // JSON texts never hold a raw NUL
		}
		b.WriteString(raw)
	}
	return b.String(), true, nil
}

// lookup reads a key field: the text that keys it (the value of this
// and who, the JSON text of any other) and the string exceptions match
// (a JSON string's value, or the JSON text). Absent and null are not
// there.
func lookup(in *Input, path string) (key, str string, ok bool) {
	switch path {
	case "this":
		return in.This, in.This, in.This != ""
	case "who":
		return in.Who, in.Who, in.Who != ""
	}
	if in.Fields == nil {
		return "", "", false
	}
	raw, ok := eval.Lookup(in.Fields, path)
	if !ok || raw == "null" {
		return "", "", false
	}
	return raw, eval.StringValue(raw), true
}

// expire closes, in deadline order, every open trajectory of t whose
// deadline is before the watermark; in caused it.
func (e *Engine) expire(t *tenantState, p *Policy, in *Input, emit func(*Derived)) {
	for len(t.heap) > 0 {
		tr := t.heap[0]
		if !tr.deadline.Before(t.mark) {
			return
		}
		e.close(t, p, tr, tr.reason, in.ID, in.Seq, in.WhenText, in.When, emit)
	}
}

// close closes tr: trajectory_closed, trajectory_quality and, when it
// qualifies, diamond_candidate, all caused by the span causeID.
func (e *Engine) close(t *tenantState, p *Policy, tr *trajectory, reason, causeID string, causeSeq uint64, when string, at time.Time, emit func(*Derived)) {
	heap.Remove(&t.heap, tr.idx)
	delete(t.open, tr.key)
	e.stats.Closed[reason]++
	t.closed++
	d := Derived{Type: TypeClosed, Tenant: t.name, TrajectoryID: tr.id, This: tr.this, When: when, CauseID: causeID, causeSeq: causeSeq,
		Reason: reason, Spans: tr.n}
	e.emit(&d, emit)

	c := Score(p.Meter, p.Linker.Window, tr.n, tr.last.Sub(tr.first), tr.signed, tr.confirmed)
	e.stats.Scores[c.Score]++
	d = Derived{Type: TypeQuality, Tenant: t.name, TrajectoryID: tr.id, This: tr.this, When: when, CauseID: causeID, causeSeq: causeSeq,
		Score: c.Score, Components: c}
	e.emit(&d, emit)

	t.meter.configure(p.Meter.Horizon)
	t.meter.evict(at)
	if th, ok := t.meter.threshold(p.Meter); ok && p.Diamond && c.Score >= th {
		e.stats.Candidates++
		t.candidates++
		d = Derived{Type: TypeCandidate, Tenant: t.name, TrajectoryID: tr.id, This: tr.this, When: when, CauseID: causeID, causeSeq: causeSeq,
			Score: c.Score, Threshold: th}
		e.emit(&d, emit)
	}
	t.meter.add(at, c.Score)
}

func (e *Engine) emit(d *Derived, emit func(*Derived)) {
	d.ID = e.derivedID(d)
	e.stats.Derived++
	emit(d)
}

// Finish closes every open trajectory with reason end_of_input (tenants
// in name order, trajectories in deadline order), at each tenant's
// watermark. For offline runs: a server never finishes.
func (e *Engine) Finish(emit func(*Derived)) {
	for _, name := range slices.Sorted(maps.Keys(e.tenants)) {
		t := e.tenants[name]
		p := e.policy(name)
		if p == nil || !p.Trajectory {
			continue
		}
		when := t.mark.Format(time.RFC3339Nano)
		for len(t.heap) > 0 {
			tr := t.heap[0]
			e.close(t, p, tr, ReasonEndOfInput, "end_of_input", 0, when, t.mark, emit)
		}
	}
}

// deadlines is a min-heap of open trajectories by (deadline, id).
type deadlines []*trajectory

func (h deadlines) Len() int { return len(h) }
func (h deadlines) Less(i, j int) bool {
	if !h[i].deadline.Equal(h[j].deadline) {
		return h[i].deadline.Before(h[j].deadline)
	}
	return h[i].id < h[j].id
}
func (h deadlines) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].idx, h[j].idx = i, j
}
func (h *deadlines) Push(x any) {
	tr := x.(*trajectory)
	tr.idx = len(*h)
	*h = append(*h, tr)
}
func (h *deadlines) Pop() any {
	old := *h
	tr := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	tr.idx = -1
	return tr
}
