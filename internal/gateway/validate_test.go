package gateway

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/logline/logline/internal/span"
)

// TestValidatorsInIngest: a rejecting verdict refuses the span (422,
// naming the validator and rule, per line in NDJSON) and stores nothing;
// a warning stores it and reports the warning in the result; a validator
// that cannot run refuses with 503 rather than storing unchecked.
func TestValidatorsInIngest(t *testing.T) {
	validate := func(_ context.Context, sp *span.Span) ([]Verdict, error) {
		switch sp.Who {
		case "rejected":
			return []Verdict{{Validator: "shape", Rule: `require field "status"`, Message: "field status is missing", Reject: true}}, nil
		case "warned":
			return []Verdict{{Validator: "style", Rule: `when len(who) > 3`, Message: "condition is false"}}, nil
		case "broken":
			return nil, errors.New("step budget exhausted")
		}
		return nil, nil
	}
	e := newEnv(t, func(c *Config) { c.Validate = validate })
	sp := func(id, who string) string {
		return spanJSON(map[string]any{"id": id, "tenant": "acme", "who": who})
	}
	resp, body := e.postJSON("/ingest", sp("a", "rejected"), nil)
	if p := decodeProblem(t, resp, body); resp.StatusCode != http.StatusUnprocessableEntity || p.Code != codeValidationFailed ||
		!strings.Contains(p.Detail, "shape") || !strings.Contains(p.Detail, `require field "status"`) {
		t.Errorf("rejected span: %d %+v", resp.StatusCode, p)
	}
	resp, body = e.postJSON("/ingest", sp("b", "warned"), nil)
	if resp.StatusCode != http.StatusCreated || !strings.Contains(string(body), `"warnings":["validator style: when len(who) \u003e 3: condition is false"]`) &&
		!strings.Contains(string(body), `"warnings":["validator style: when len(who) > 3: condition is false"]`) {
		t.Errorf("warned span: %d %s", resp.StatusCode, body)
	}
	resp, body = e.postJSON("/ingest", sp("c", "broken"), nil)
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("validators failing: %d %s, want 503", resp.StatusCode, body)
	}
	nd := e.postNDJSON("/ingest", strings.NewReader(sp("d", "ok")+"\n"+sp("e", "rejected")+"\n"+sp("f", "warned")+"\n"), nil)
	if nd.Summary.Accepted != 2 || nd.Summary.Rejected != 1 {
		t.Errorf("NDJSON: %+v", nd.Summary)
	}
	if st := e.store.Size(); st != 3 { // b, d, f
		t.Errorf("stored %d entries, want 3 (rejected and unchecked spans stored nothing)", st)
	}
}
