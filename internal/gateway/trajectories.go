package gateway

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/logline/logline/internal/derive"
	"github.com/logline/logline/internal/ledger"
	"github.com/logline/logline/internal/span"
)

// The trajectory routes read the derived spans the data plane appends
// (internal/derive, docs/http-api.md#trajectories): every derived span
// of a trajectory has its id as trace_id, so GET /trajectories/{id} is
// one indexed query (all of its pages); the closed, quality and
// candidate spans carry the `this` of the span that opened the
// trajectory, as does its first edge, so GET /trajectories?this= is one
// indexed query too, plus one GET /trajectories/{id} read for each
// trajectory of its page. Only spans written by the data plane (who
// derive.Who) are read: a client's span that merely looks derived is
// ignored.

// Page sizes of the trajectory routes. A page of GET /trajectories
// carries, for each trajectory, at most span_limit of its edges
// (defaultListEdges, at most maxListEdges), and limit × span_limit may
// not exceed maxListEdgesTotal: one answer holds at most that many edges
// (about 110 bytes of JSON each), whatever the thing's history. The
// defaults fit with any limit, so a request valid before span_limit
// existed still is.
const (
	defaultTrajectoryEdges = 1000
	maxTrajectoryEdges     = 10000
	defaultTrajectoryList  = 100
	maxTrajectoryList      = 1000
	defaultListEdges       = 100
	maxListEdges           = 1000
	maxListEdgesTotal      = maxTrajectoryList * defaultListEdges
)

// Trajectory states.
const (
	stateOpen   = "open"
	stateClosed = "closed"
)

// trajectoryView is the answer of GET /trajectories/{id}, and the
// trajectory member of each entry of GET /trajectories?this=.
// SpansTruncated says that edges follow those in Spans (NextCursor reads
// them): Spans is never cut silently.
type trajectoryView struct {
	ID             string          `json:"trajectory_id"`
	This           string          `json:"this"`
	State          string          `json:"state"`
	Reason         string          `json:"reason,omitempty"`
	Spans          []edgeView      `json:"spans"`
	SpanCount      int             `json:"span_count"`
	SpansTruncated bool            `json:"spans_truncated,omitempty"`
	Score          *int            `json:"score,omitempty"`
	Components     *componentsView `json:"components,omitempty"`
	Candidate      *candidateView  `json:"candidate,omitempty"`
	FirstWhen      string          `json:"first_when,omitempty"`
	LastWhen       string          `json:"last_when,omitempty"`
	NextCursor     string          `json:"next_cursor,omitempty"`
}

// edgeView is one linked span of a trajectory: its position, the span
// linked, that span's `when` as written, and the log index of the edge
// (the trajectory_edge entry itself).
type edgeView struct {
	Position  int    `json:"position"`
	SrcSpanID string `json:"src_span_id"`
	When      string `json:"when"`
	LogIndex  uint64 `json:"log_index"`
}

type componentsView struct {
	Mass         int `json:"mass"`
	Persistence  int `json:"persistence"`
	Verification int `json:"verification"`
}

type candidateView struct {
	Score     int `json:"score"`
	Threshold int `json:"threshold"`
}

// trajectorySummary is one trajectory of GET /trajectories?this=: the
// summary members it always had (from the spans about this), and
// Trajectory, what GET /trajectories/{id}?limit=<span_limit> answers for
// it. The trajectory is nested, not merged, because two members would
// clash: the summary's candidate is a flag, the trajectory's an object.
type trajectorySummary struct {
	ID         string          `json:"trajectory_id"`
	State      string          `json:"state"`
	Reason     string          `json:"reason,omitempty"`
	SpanCount  int             `json:"span_count"`
	Score      *int            `json:"score,omitempty"`
	Candidate  bool            `json:"candidate,omitempty"`
	FirstWhen  string          `json:"first_when,omitempty"`
	LastWhen   string          `json:"last_when,omitempty"`
	Trajectory *trajectoryView `json:"trajectory"`

	opened uint64   // log index of its first edge: the listing's order and cursor
	span   timeSpan // of the edges seen
}

// derivedPayload is the data member of a derived span (derive.Derived's
// AppendJSON): which members are set depends on the entity type.
type derivedPayload struct {
	TrajectoryID string          `json:"trajectory_id"`
	Position     int             `json:"position"`
	SrcSpanID    string          `json:"src_span_id"`
	Reason       string          `json:"reason"`
	Spans        int             `json:"spans"`
	Score        int             `json:"score"`
	Components   *componentsView `json:"components"`
	Threshold    int             `json:"threshold"`
}

// derivedOf returns the payload of e when it is a span the data plane
// derived (who derive.Who, one of the derived types, trace_id and
// data.trajectory_id agreeing); false for anything else.
func derivedOf(e *span.Entry) (derivedPayload, bool) {
	var d derivedPayload
	switch e.EntityType {
	case derive.TypeEdge, derive.TypeClosed, derive.TypeQuality, derive.TypeCandidate:
	default:
		return d, false
	}
	if e.Who != derive.Who || e.TraceID == "" {
		return d, false
	}
	raw, ok := e.Field("data")
	if !ok || json.Unmarshal(raw, &d) != nil || d.TrajectoryID != e.TraceID {
		return d, false
	}
	if e.EntityType == derive.TypeEdge && (d.Position < 1 || d.SrcSpanID == "") {
		return d, false
	}
	return d, true
}

// whenText returns the `when` of e as written.
func whenText(e *span.Entry) string {
	raw, ok := e.Field("when")
	if !ok {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return s
}

// timeSpan tracks the earliest and latest event times of some spans,
// with their `when` as written.
type timeSpan struct {
	first, last         time.Time
	firstText, lastText string
	any                 bool
}

func (ts *timeSpan) add(e *span.Entry) {
	switch {
	case !ts.any:
		ts.first, ts.last, ts.any = e.When, e.When, true
		ts.firstText = whenText(e)
		ts.lastText = ts.firstText
	case e.When.Before(ts.first):
		ts.first, ts.firstText = e.When, whenText(e)
	case e.When.After(ts.last):
		ts.last, ts.lastText = e.When, whenText(e)
	}
}

// validTrajectoryID reports whether id is a trajectory id: "t_" and 32
// lowercase hex digits (doc.go of internal/derive).
func validTrajectoryID(id string) bool {
	if len(id) != 34 || id[:2] != "t_" {
		return false
	}
	for _, c := range []byte(id[2:]) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// trajectoryTenant reads the tenant of a trajectory request: the
// token's (another one named is errOtherTenant), or without
// authentication the required tenant parameter.
func trajectoryTenant(ctx context.Context, p params) (string, error) {
	tenant, err := p.tenant(principalOf(ctx) == nil)
	if err != nil {
		return "", err
	}
	return scopeTenant(ctx, tenant)
}

// pageLimit reads the page size parameter name: def when absent, 1..max.
func pageLimit(p params, name string, def, max uint64) (int, error) {
	n, err := p.uint(name, def)
	if err != nil {
		return 0, err
	}
	if n < 1 || n > max {
		return 0, paramProblem(codeInvalidParameter, name, name+" must be between 1 and "+strconv.FormatUint(max, 10))
	}
	return int(n), nil
}

// handleTrajectory serves GET /trajectories/{id}: the trajectory with its
// edges in position order (a page of them: limit, cursor), its state,
// close reason, score, components and candidate flag.
func (s *Server) handleTrajectory(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	p, err := parseParams(r.URL.RawQuery)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	tenant, err := trajectoryTenant(r.Context(), p)
	if errors.Is(err, errOtherTenant) {
		writeProblem(w, notFoundProblem("trajectory"))
		return
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if !validTrajectoryID(id) {
		writeProblem(w, paramProblem(codeInvalidParameter, "id", "a trajectory id is t_ followed by 32 lowercase hex digits, got "+strconv.Quote(clip(id, 64))))
		return
	}
	limit, err := pageLimit(p, "limit", defaultTrajectoryEdges, maxTrajectoryEdges)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	after := 0
	if c, _, err := p.get("cursor"); err != nil {
		s.writeError(w, r, err)
		return
	} else if c != "" {
		n, err := strconv.ParseUint(c, 10, 31)
		if err != nil || n == 0 {
			writeProblem(w, paramProblem(codeBadCursor, "cursor", "cursor was not issued by this server"))
			return
		}
		after = int(n)
	}
	tv, err := s.readTrajectory(r.Context(), tenant, id, after, limit)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if tv == nil {
		writeProblem(w, notFoundProblem("trajectory"))
		return
	}
	s.writeJSON(w, r, tv)
}

// readTrajectory assembles trajectory id of tenant from every page of
// its derived spans (in log order, which is position order: the data
// plane appends a trajectory's edges as it links them). Edges after
// position after are kept, up to limit; the counts and times cover them
// all. nil when the trajectory has no derived span.
func (s *Server) readTrajectory(ctx context.Context, tenant, id string, after, limit int) (*trajectoryView, error) {
	tv := &trajectoryView{ID: id, State: stateOpen, Spans: []edgeView{}}
	found := false
	lastPos := 0 // the last edge position read: a repeat is skipped
	more := false
	var times timeSpan
	err := s.eachDerived(ctx, ledger.Query{Tenant: tenant, TraceID: id}, func(e *span.Entry, d derivedPayload) {
		found = true
		switch e.EntityType {
		case derive.TypeEdge:
			if d.Position <= lastPos {
				return
			}
			lastPos = d.Position
			if d.Position == 1 || tv.This == "" {
				tv.This = e.This
			}
			times.add(e)
			if d.Position <= after {
				return
			}
			if len(tv.Spans) == limit {
				more = true
				return
			}
			tv.Spans = append(tv.Spans, edgeView{Position: d.Position, SrcSpanID: d.SrcSpanID, When: whenText(e), LogIndex: e.LogIndex})
		case derive.TypeClosed:
			tv.State, tv.Reason, tv.SpanCount = stateClosed, d.Reason, d.Spans
			if tv.This == "" {
				tv.This = e.This
			}
		case derive.TypeQuality:
			score := d.Score
			tv.Score, tv.Components = &score, d.Components
		case derive.TypeCandidate:
			tv.Candidate = &candidateView{Score: d.Score, Threshold: d.Threshold}
		}
	})
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, nil
	}
	if tv.State == stateOpen {
		tv.SpanCount = lastPos
	}
	tv.FirstWhen, tv.LastWhen = times.firstText, times.lastText
	if more {
		tv.SpansTruncated = true
		tv.NextCursor = strconv.Itoa(tv.Spans[len(tv.Spans)-1].Position)
	}
	return tv, nil
}

// handleTrajectories serves GET /trajectories?this=: the trajectories
// opened by a span about this, newest (latest opened) first, one page
// (limit, cursor), optionally only the open or the closed ones; each
// with its summary and, as trajectory, its GET /trajectories/{id}
// answer holding its first span_limit edges.
func (s *Server) handleTrajectories(w http.ResponseWriter, r *http.Request) {
	p, err := parseParams(r.URL.RawQuery)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	tenant, err := trajectoryTenant(r.Context(), p)
	if errors.Is(err, errOtherTenant) {
		// Another tenant's things have no trajectories for this token.
		writeProblem(w, newProblem(codeNotFound, "no trajectories for that tenant"))
		return
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	this, err := p.str("this")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if this == "" {
		writeProblem(w, paramProblem(codeMissingParameter, "this", "the this parameter is required: the thing whose trajectories to list"))
		return
	}
	state, err := p.str("state")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if state != "" && state != stateOpen && state != stateClosed {
		writeProblem(w, paramProblem(codeInvalidParameter, "state", "state must be open or closed, got "+strconv.Quote(clip(state, 64))))
		return
	}
	limit, err := pageLimit(p, "limit", defaultTrajectoryList, maxTrajectoryList)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	spanLimit, err := pageLimit(p, "span_limit", defaultListEdges, maxListEdges)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if limit*spanLimit > maxListEdgesTotal {
		writeProblem(w, paramProblem(codeInvalidParameter, "span_limit", fmt.Sprintf(
			"limit × span_limit must be at most %d (one answer's edges), got %d × %d", maxListEdgesTotal, limit, spanLimit)))
		return
	}
	before := uint64(1<<64 - 1)
	if c, _, err := p.get("cursor"); err != nil {
		s.writeError(w, r, err)
		return
	} else if c != "" {
		if before, err = strconv.ParseUint(c, 10, 64); err != nil {
			writeProblem(w, paramProblem(codeBadCursor, "cursor", "cursor was not issued by this server"))
			return
		}
	}
	all, err := s.listTrajectories(r.Context(), tenant, this)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := struct {
		Trajectories []*trajectorySummary `json:"trajectories"`
		NextCursor   string               `json:"next_cursor,omitempty"`
	}{Trajectories: []*trajectorySummary{}}
	for _, ts := range all {
		if ts.opened >= before || state != "" && ts.State != state {
			continue
		}
		if len(out.Trajectories) == limit {
			out.NextCursor = strconv.FormatUint(out.Trajectories[limit-1].opened, 10)
			break
		}
		out.Trajectories = append(out.Trajectories, ts)
	}
	for _, ts := range out.Trajectories {
		// Read after the listing: a trajectory that grew or closed
		// meanwhile shows its newer state here.
		tv, err := s.readTrajectory(r.Context(), tenant, ts.ID, 0, spanLimit)
		if err == nil && tv == nil {
			err = fmt.Errorf("trajectory %s listed but not found by its id", ts.ID)
		}
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		ts.Trajectory = tv
	}
	s.writeJSON(w, r, out)
}

// listTrajectories reads every derived span about this (all pages) and
// returns the trajectories opened by a span about it — those whose first
// edge is among them — newest first.
func (s *Server) listTrajectories(ctx context.Context, tenant, this string) ([]*trajectorySummary, error) {
	byID := map[string]*trajectorySummary{}
	get := func(id string) *trajectorySummary {
		ts := byID[id]
		if ts == nil {
			ts = &trajectorySummary{ID: id, State: stateOpen}
			byID[id] = ts
		}
		return ts
	}
	opened := map[string]bool{}
	err := s.eachDerived(ctx, ledger.Query{Tenant: tenant, This: this}, func(e *span.Entry, d derivedPayload) {
		ts := get(d.TrajectoryID)
		switch e.EntityType {
		case derive.TypeEdge:
			if d.Position == 1 && !opened[ts.ID] {
				opened[ts.ID] = true
				ts.opened = e.LogIndex
			}
			ts.span.add(e)
			if ts.State == stateOpen {
				ts.SpanCount = max(ts.SpanCount, d.Position)
			}
		case derive.TypeClosed:
			ts.State, ts.Reason, ts.SpanCount = stateClosed, d.Reason, d.Spans
		case derive.TypeQuality:
			score := d.Score
			ts.Score = &score
		case derive.TypeCandidate:
			ts.Candidate = true
		}
	})
	if err != nil {
		return nil, err
	}
	out := make([]*trajectorySummary, 0, len(opened))
	for id := range opened {
		ts := byID[id]
		ts.FirstWhen, ts.LastWhen = ts.span.firstText, ts.span.lastText
		out = append(out, ts)
	}
	slices.SortFunc(out, func(a, b *trajectorySummary) int { return cmp.Compare(b.opened, a.opened) })
	return out, nil
}

// eachDerived calls fn, in log order, for every span of q (all its
// pages) that the data plane derived.
func (s *Server) eachDerived(ctx context.Context, q ledger.Query, fn func(*span.Entry, derivedPayload)) error {
	q.Limit = ledger.MaxLimit
	for {
		page, err := s.store.Query(ctx, q)
		if err != nil {
			return err
		}
		for _, e := range page.Entries {
			if d, ok := derivedOf(e); ok {
				fn(e, d)
			}
		}
		if page.Next == "" {
			return nil
		}
		q.Cursor = page.Next
	}
}

// writeJSON sends v as a 200 application/json answer.
func (s *Server) writeJSON(w http.ResponseWriter, r *http.Request, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	body = append(body, '\n')
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// clip shortens s for a problem detail.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
