package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/logline/logline/internal/ledger"
	"github.com/logline/logline/internal/span"
)

// Problem codes the gateway itself produces. The span package's decode
// codes (malformed_json, invalid_field, …) are passed through unchanged.
const (
	codeTooLarge          = "too_large" // also a span.Error code
	codeBodyTooLarge      = "body_too_large"
	codeTenantMismatch    = "tenant_mismatch"
	codeConflict          = "conflict"
	codeNotFound          = "not_found"
	codeAmbiguousID       = "ambiguous_id"
	codeBadCursor         = "bad_cursor"
	codeUnavailable       = "unavailable"
	codeInternal          = "internal"
	codeMissingParameter  = "missing_parameter"
	codeInvalidParameter  = "invalid_parameter"
	codeInvalidHeader     = "invalid_header"
	codeUnsupportedMedia  = "unsupported_media_type"
	codeUnknownRoute      = "unknown_route"
	codeMethodNotAllowed  = "method_not_allowed"
	codeBadRequest        = "bad_request"
	codeOutOfRange        = "out_of_range"
	codeNotImplemented    = "not_implemented"
	codeUnauthorized      = "unauthorized"
	codeForbidden         = "forbidden"
	codeTooManyRequests   = "too_many_requests"
	codeReserved          = "reserved"
	problemTypePrefix     = "https://logline.dev/problems/"
	problemContentType    = "application/problem+json"
	internalErrorDetail   = "internal error; the server log has the cause"
	unavailableDetail     = "the ledger is not available; retry later"
	shuttingDownDetail    = "the server is shutting down; retry later"
	bodyTooLargeDetailFmt = "request body is larger than %d bytes"
)

// statusOf is the one place where a problem code gets its HTTP status.
// Codes it does not know are client errors (400): every span decode code
// except too_large is one.
func statusOf(code string) int {
	switch code {
	case codeTooLarge, codeBodyTooLarge:
		return http.StatusRequestEntityTooLarge
	case codeTenantMismatch, codeForbidden, codeReserved:
		return http.StatusForbidden
	case codeUnauthorized:
		return http.StatusUnauthorized
	case codeTooManyRequests:
		return http.StatusTooManyRequests
	case codeValidationFailed, codeCloseRuleFailed:
		return http.StatusUnprocessableEntity
	case codeConflict, codeAmbiguousID:
		return http.StatusConflict
	case codeNotFound, codeUnknownRoute:
		return http.StatusNotFound
	case codeMethodNotAllowed:
		return http.StatusMethodNotAllowed
	case codeUnsupportedMedia:
		return http.StatusUnsupportedMediaType
	case codeUnavailable:
		return http.StatusServiceUnavailable
	case codeInternal:
		return http.StatusInternalServerError
	case codeNotImplemented:
		return http.StatusNotImplemented
	case codeOutOfRange:
		return http.StatusBadRequest
	default:
		return http.StatusBadRequest
	}
}

// Problem is an RFC 9457 problem detail. Besides the standard members it
// carries the machine-readable code, an RFC 6901 pointer to the bad field,
// the NDJSON line number, the name of a bad query parameter or header, and
// the byte offset of a decode error.
type Problem struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail,omitempty"`
	Code      string `json:"code"`
	Pointer   string `json:"pointer,omitempty"`
	Line      int    `json:"line,omitempty"`
	Parameter string `json:"parameter,omitempty"`
	Header    string `json:"header,omitempty"`
	// Offset is the byte offset in the span (or NDJSON line) where a
	// decode error was detected, when known.
	Offset *int `json:"offset,omitempty"`
	// RetryAfter, when set, is sent as the Retry-After header (and
	// retry_after_ms) with a 429.
	RetryAfter   time.Duration `json:"-"`
	RetryAfterMS int64         `json:"retry_after_ms,omitempty"`
}

// newProblem fills type, title and status from the code.
func newProblem(code, detail string) *Problem {
	return &Problem{
		Type:   problemTypePrefix + strings.ReplaceAll(code, "_", "-"),
		Title:  titleOf(code),
		Status: statusOf(code),
		Detail: detail,
		Code:   code,
	}
}

// titleOf turns "invalid_field" into "Invalid field".
func titleOf(code string) string {
	if code == "" {
		return ""
	}
	words := strings.Split(code, "_")
	for i, w := range words {
		// Acronyms keep their case: "Malformed JSON", "Invalid UTF-8", "Ambiguous ID".
		switch w {
		case "json":
			words[i] = "JSON"
		case "utf8":
			words[i] = "UTF-8"
		case "id":
			words[i] = "ID"
		}
	}
	t := strings.Join(words, " ")
	if c := t[0]; c >= 'a' && c <= 'z' {
		t = string(c-'a'+'A') + t[1:]
	}
	return t
}

func (p *Problem) withPointer(ptr string) *Problem { p.Pointer = ptr; return p }
func (p *Problem) withParameter(n string) *Problem { p.Parameter = n; return p }
func (p *Problem) withHeader(name string) *Problem { p.Header = name; return p }
func (p *Problem) withLine(line int) *Problem      { p.Line = line; return p }
func (p *Problem) Error() string                   { return p.Code + ": " + p.Detail }
func paramProblem(code, name, detail string) *Problem {
	return newProblem(code, detail).withParameter(name)
}

// problemFor maps any error the gateway meets to a problem. Store
// sentinels and span decode errors keep their meaning; anything else is an
// internal error whose cause is logged (with the request's attributes) and
// never sent.
func (s *Server) problemFor(ctx context.Context, err error) *Problem {
	var p *Problem
	if errors.As(err, &p) {
		cp := *p
		return &cp
	}
	var se *span.Error
	if errors.As(err, &se) {
		p := newProblem(se.Code, se.Detail).withPointer(se.Pointer)
		if se.Offset >= 0 {
			off := se.Offset
			p.Offset = &off
		}
		return p
	}
	switch {
	case errors.Is(err, ledger.ErrConflict):
		return conflictProblem(err)
	case errors.Is(err, ledger.ErrNotFound), errors.Is(err, errOtherTenant):
		return newProblem(codeNotFound, "no span with that id")
	case errors.Is(err, ledger.ErrAmbiguous):
		return newProblem(codeAmbiguousID, "the id exists in several tenants; name one with ?tenant=")
	case errors.Is(err, ledger.ErrBadCursor):
		return paramProblem(codeBadCursor, "cursor", "cursor was not issued by this server")
	case errors.Is(err, ledger.ErrRange):
		return newProblem(codeOutOfRange, "a log index or tree size is outside the log")
	case errors.Is(err, ledger.ErrClosed):
		return newProblem(codeUnavailable, unavailableDetail)
	case errors.Is(err, ledger.ErrOverloaded):
		return overloadProblem(err)
	case errors.Is(err, errShuttingDown):
		return newProblem(codeUnavailable, shuttingDownDetail)
	case errors.Is(err, context.Canceled) && ctx.Err() != nil:
		// The client went away: nobody will read this, nothing to log.
		return newProblem(codeBadRequest, "the request was canceled")
	}
	s.log.ErrorContext(ctx, "gateway: internal error", "err", err)
	return newProblem(codeInternal, internalErrorDetail)
}

// overloadProblem turns a wrapped ledger.ErrOverloaded into a 429 with
// Retry-After (a second when the error does not say). Its detail is the
// OverloadError's text, "<reason>; retry in <time>", as the quotas'
// 429s say it.
func overloadProblem(err error) *Problem {
	detail, retry := "the server is overloaded; retry later", time.Second
	var oe *ledger.OverloadError
	if errors.As(err, &oe) {
		if oe.RetryAfter > 0 {
			retry = oe.RetryAfter
		}
		detail = (&ledger.OverloadError{Reason: oe.Reason, RetryAfter: retry}).Error()
	}
	p := newProblem(codeTooManyRequests, detail)
	p.RetryAfter, p.RetryAfterMS = retry, retry.Milliseconds()
	return p
}

// conflictProblem turns a wrapped ledger.ErrConflict into a 409 whose detail
// is the store's message (written for users) and whose pointer is /seq when
// the conflict is about the version number rather than the content.
func conflictProblem(err error) *Problem {
	detail := strings.TrimPrefix(err.Error(), ledger.ErrConflict.Error()+": ")
	p := newProblem(codeConflict, detail)
	var ce *ledger.ConflictError
	if errors.As(err, &ce) && ce.Kind == ledger.SeqConflict {
		p.Pointer = "/" + span.FieldSeq
	}
	return p
}

// writeProblem sends p as application/problem+json.
func writeProblem(w http.ResponseWriter, p *Problem) {
	body, err := json.Marshal(p)
	if err != nil { // cannot happen: only strings and ints
		body = []byte(`{"type":"` + problemTypePrefix + `internal","title":"Internal","status":500,"code":"internal"}`)
	}
	h := w.Header()
	h.Set("Content-Type", problemContentType)
	h.Set("Content-Length", strconv.Itoa(len(body)+1))
	h.Set("X-Content-Type-Options", "nosniff")
	if p.RetryAfter > 0 {
		h.Set("Retry-After", strconv.FormatInt(int64((p.RetryAfter+time.Second-1)/time.Second), 10))
	}
	h.Del("Trailer")
	w.WriteHeader(p.Status)
	_, _ = w.Write(append(body, '\n'))
}

// writeError maps err and sends it.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	p := s.problemFor(r.Context(), err)
	if p.Status >= 500 {
		s.log.LogAttrs(r.Context(), slog.LevelWarn, "gateway: request failed",
			slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.Int("status", p.Status), slog.String("code", p.Code))
	}
	writeProblem(w, p)
}
