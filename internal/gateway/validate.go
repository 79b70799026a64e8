package gateway

import (
	"context"
	"strings"

	"github.com/logline/logline/internal/span"
)

// Validation: a tenant's .lll validators run on every span before it is
// appended (docs/lll.md, "Statements"). The gateway knows only the
// verdicts; the programs and their hot reload live elsewhere (serve
// wires Config.Validate).

// Verdict is one failed validator rule for a span.
type Verdict struct {
	Validator string // the validator's name
	Rule      string // the rule as written, e.g. require field "when" as "rfc3339"
	Message   string // why the span fails it
	Reject    bool   // on_fail "reject": the span is refused; else it is stored with a warning
}

// ValidateFunc runs the validators of sp's tenant. An error (a program
// out of its step budget, a canceled request) refuses the span with 503:
// a span is never stored unchecked.
type ValidateFunc func(ctx context.Context, sp *span.Span) ([]Verdict, error)

// codeValidationFailed is the problem of a span a validator rejects.
const codeValidationFailed = "validation_failed"

// validate runs the tenant's validators on sp: a problem when one rejects
// it, else the warnings of the failed "warn" rules (nil when none).
func (s *Server) validate(ctx context.Context, sp *span.Span) (*Problem, []string) {
	if s.validateFn == nil {
		return nil, nil
	}
	verdicts, err := s.validateFn(ctx, sp)
	if err != nil {
		s.log.WarnContext(ctx, "gateway: validators did not run", "tenant", sp.Tenant, "id", sp.ID, "err", err)
		return newProblem(codeUnavailable, "the tenant's validators could not run; retry later"), nil
	}
	var warnings []string
	for _, v := range verdicts {
		msg := "validator " + v.Validator + ": " + v.Rule + ": " + v.Message
		if v.Reject {
			return newProblem(codeValidationFailed, msg), nil
		}
		warnings = append(warnings, msg)
	}
	return nil, warnings
}

// appendWarnings appends `,"warnings":[…]` to a result line being built.
func appendWarnings(b []byte, warnings []string) []byte {
	if len(warnings) == 0 {
		return b
	}
	b = append(b, `,"warnings":[`...)
	for i, w := range warnings {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, strings.TrimSpace(w))
	}
	return append(b, ']')
}
