package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/logline/logline/internal/derive"
	"github.com/logline/logline/internal/span"
)

// Limits of POST /quality/dryrun.
const (
	// maxDryRunDerived is the most derived spans an answer with
	// spans=1 carries; the summary counts them all.
	maxDryRunDerived = 10000
	// maxDryRunRange is the most log entries a range may cover.
	maxDryRunRange = 1_000_000
)

// codeCloseRuleFailed: the tenant's close rule could not be evaluated on
// a span of the dry run.
const codeCloseRuleFailed = "close_rule_failed"

// dryRunResult is the answer of POST /quality/dryrun.
type dryRunResult struct {
	Tenant  string         `json:"tenant"`
	Diamond bool           `json:"diamond"`
	Range   *dryRunRange   `json:"range,omitempty"`
	Summary derive.Summary `json:"summary"`
	// Derived is the JSON array of derived spans (spans=1 only).
	Derived   rawJSON `json:"derived_spans,omitempty"`
	Truncated *bool   `json:"truncated,omitempty"`
}

// dryRunRange says which part of the log a range dry run read.
type dryRunRange struct {
	From    uint64 `json:"from"`
	To      uint64 `json:"to"`
	Entries int64  `json:"entries"` // the tenant's entries given to the data plane
}

// rawJSON is JSON text written as is (nil: omitted).
type rawJSON []byte

func (r rawJSON) MarshalJSON() ([]byte, error) { return r, nil }

// dryRun is one run of the data plane over a request's spans.
type dryRun struct {
	engine    *derive.Engine
	withSpans bool
	derived   []byte // the derived spans kept, comma-separated
	kept      int
	truncated bool
}

func newDryRun(p *derive.Policy, withSpans bool) *dryRun {
	return &dryRun{engine: derive.New(func(string) *derive.Policy { return p }), withSpans: withSpans}
}

func (d *dryRun) emit(x *derive.Derived) {
	if !d.withSpans {
		return
	}
	if d.kept == maxDryRunDerived {
		d.truncated = true
		return
	}
	if d.kept > 0 {
		d.derived = append(d.derived, ',')
	}
	d.derived = x.AppendJSON(d.derived)
	d.kept++
}

// finish closes what is still open (reason end_of_input, as `logline
// quality simulate` does) and returns the answer.
func (d *dryRun) finish(tenant string, p *derive.Policy) *dryRunResult {
	d.engine.Finish(d.emit)
	res := &dryRunResult{Tenant: tenant, Diamond: p.Diamond, Summary: derive.Summarize(d.engine.Stats())}
	if d.withSpans {
		res.Derived = append(append(rawJSON{'['}, d.derived...), ']')
		res.Truncated = &d.truncated
	}
	return res
}

// handleDryRun serves POST /quality/dryrun: the data plane over NDJSON
// spans of the request's tenant (the body), or over a range of that
// tenant's ledger entries (from, to), with the tenant's policy in force;
// nothing is stored.
func (s *Server) handleDryRun(w http.ResponseWriter, r *http.Request) {
	if s.dryRunPolicy == nil {
		writeProblem(w, newProblem(codeNotImplemented, "this server runs no data plane (gateway.Config.DataPlanePolicy is not set)"))
		return
	}
	p, err := parseParams(r.URL.RawQuery)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	tenant, err := p.tenant(false)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if pr := principalOf(r.Context()); pr != nil {
		// A token runs over its own tenant only, as an append does.
		if tenant != "" && tenant != pr.Tenant {
			writeProblem(w, newProblem(codeTenantMismatch,
				fmt.Sprintf("the request tenant %q is not the token's tenant", tenant)).withParameter("tenant"))
			return
		}
		tenant = pr.Tenant
	} else if tenant == "" {
		writeProblem(w, paramProblem(codeMissingParameter, "tenant", "the tenant parameter is required: the tenant whose policy runs"))
		return
	}
	var diamond *bool
	if _, ok := p.q["diamond"]; ok {
		d, err := p.bool("diamond")
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		diamond = &d
	}
	withSpans, err := p.bool("spans")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	_, hasFrom := p.q["from"]
	_, hasTo := p.q["to"]
	rangeMode := hasFrom || hasTo
	var from, to uint64
	if rangeMode {
		if from, to, err = s.dryRunBounds(p); err != nil {
			s.writeError(w, r, err)
			return
		}
		if r.ContentLength != 0 {
			var one [1]byte
			if n, _ := io.ReadFull(r.Body, one[:]); n > 0 {
				writeProblem(w, paramProblem(codeInvalidParameter, "from",
					"from and to run over a range of the ledger: send them without a body (or send spans without them)"))
				return
			}
		}
	} else {
		if ingestModeOf(r.Header.Get("Content-Type")) != modeNDJSON {
			writeProblem(w, newProblem(codeUnsupportedMedia,
				"POST /quality/dryrun takes NDJSON spans (Content-Type: application/x-ndjson), or no body with from and to"))
			return
		}
		if r.ContentLength > s.maxBody {
			writeProblem(w, newProblem(codeBodyTooLarge, fmt.Sprintf(bodyTooLargeDetailFmt, s.maxBody)))
			return
		}
	}
	policy, err := s.dryRunPolicy(tenant, diamond)
	if err != nil {
		s.writeError(w, r, fmt.Errorf("dry run: policy of tenant %q: %w", tenant, err))
		return
	}
	run := newDryRun(policy, withSpans)
	var res *dryRunResult
	if rangeMode {
		var entries int64
		if entries, err = s.dryRunLedger(r.Context(), run, tenant, from, to); err != nil {
			s.writeError(w, r, err)
			return
		}
		res = run.finish(tenant, policy)
		res.Range = &dryRunRange{From: from, To: to, Entries: entries}
	} else {
		body := http.MaxBytesReader(rootWriter(w), r.Body, s.maxBody)
		if err := s.dryRunBody(r.Context(), run, tenant, body); err != nil {
			s.writeError(w, r, err)
			return
		}
		res = run.finish(tenant, policy)
	}
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	s.writeJSON(w, r, res)
}

// dryRunBounds reads from and to: from defaults to 0 and must be inside
// the log; to defaults to the log's size and is clamped to it.
func (s *Server) dryRunBounds(p params) (from, to uint64, err error) {
	size := s.store.Size()
	if from, err = p.uint("from", 0); err != nil {
		return 0, 0, err
	}
	if to, err = p.uint("to", size); err != nil {
		return 0, 0, err
	}
	to = min(to, size)
	switch {
	case from > size:
		return 0, 0, paramProblem(codeOutOfRange, "from", fmt.Sprintf("from %d is beyond the end of the log (%d entries)", from, size))
	case to < from:
		return 0, 0, paramProblem(codeOutOfRange, "to", fmt.Sprintf("to %d is before from %d", to, from))
	case to-from > maxDryRunRange:
		return 0, 0, paramProblem(codeInvalidParameter, "to", fmt.Sprintf("a range covers at most %d log entries; split it", maxDryRunRange))
	}
	return from, to, nil
}

// dryRunBody runs the data plane over the NDJSON spans of body, every
// one of which must be of tenant. The first bad line refuses the whole
// request with a problem naming it. Spans without an id get
// "dryrun-<line>", so the same body always derives the same ids.
func (s *Server) dryRunBody(ctx context.Context, run *dryRun, tenant string, body io.Reader) error {
	lr := newLineReader(body, s.maxLine)
	lines := 0
	for {
		ln, err := lr.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var re *readError
			p := bodyReadProblem(err, s.maxBody)
			if errors.As(err, &re) {
				p = p.withLine(re.No)
			}
			return p
		}
		if ln.TooLong {
			return newProblem(codeTooLarge,
				fmt.Sprintf("line is longer than %d bytes (spans are limited to %d)", s.maxLine, s.limits.MaxSpanBytes)).withLine(ln.No)
		}
		no := ln.No
		sp, err := span.Decode(ln.Data, span.DecodeOptions{Limits: s.limits, NewID: func() string { return "dryrun-" + strconv.Itoa(no) }})
		if err != nil {
			return s.problemFor(ctx, err).withLine(no)
		}
		if sp.Tenant != tenant {
			return newProblem(codeTenantMismatch,
				fmt.Sprintf("span tenant %q is not the request tenant %q", sp.Tenant, tenant)).withPointer("/" + span.FieldTenant).withLine(no)
		}
		if err := run.engine.Apply(derive.FromSpan(sp), run.emit); err != nil {
			return newProblem(codeCloseRuleFailed, err.Error()).withLine(no)
		}
		lines++
	}
	if lines == 0 {
		return newProblem(codeBadRequest, "the body holds no spans: send NDJSON spans, or no body with from and to")
	}
	return nil
}

// dryRunLedger runs the data plane over tenant's entries with from <=
// log_index < to, skipping the spans the data plane derived (its
// output, not its input). It returns how many entries it applied.
func (s *Server) dryRunLedger(ctx context.Context, run *dryRun, tenant string, from, to uint64) (int64, error) {
	var n int64
	err := s.store.Read(ctx, from, to, func(e *span.Entry) error {
		if e.Tenant != tenant {
			return nil
		}
		switch e.EntityType {
		case derive.TypeEdge, derive.TypeClosed, derive.TypeQuality, derive.TypeCandidate:
			return nil
		}
		if err := run.engine.Apply(derive.FromSpan(&e.Span), run.emit); err != nil {
			return newProblem(codeCloseRuleFailed, fmt.Sprintf("log index %d: %v", e.LogIndex, err))
		}
		n++
		if n%4096 == 0 {
			return ctx.Err()
		}
		return nil
	})
	return n, err
}
