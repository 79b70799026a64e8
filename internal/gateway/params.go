package gateway

import (
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/logline/logline/internal/ledger"
	"github.com/logline/logline/internal/span"
)

// Query limits of GET /spans.
const (
	defaultQueryLimit = 100
	maxQueryLimit     = 1000
)

// params reads query parameters, rejecting repeated ones: every parameter
// of this API takes one value.
type params struct{ q url.Values }

func parseParams(rawQuery string) (params, error) {
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return params{}, newProblem(codeInvalidParameter, "query string: "+err.Error())
	}
	return params{q}, nil
}

// get returns the single value of name ("" and false when absent).
func (p params) get(name string) (string, bool, error) {
	vs, ok := p.q[name]
	if !ok {
		return "", false, nil
	}
	if len(vs) > 1 {
		return "", false, paramProblem(codeInvalidParameter, name, name+" is given more than once")
	}
	return vs[0], true, nil
}

// str is get for free-form string filters; an empty value means absent.
func (p params) str(name string) (string, error) {
	v, _, err := p.get(name)
	return v, err
}

// tenant reads the tenant parameter; required says whether it must be there.
func (p params) tenant(required bool) (string, error) {
	v, ok, err := p.get("tenant")
	if err != nil {
		return "", err
	}
	if !ok || v == "" {
		if required {
			return "", paramProblem(codeMissingParameter, "tenant", "the tenant parameter is required")
		}
		return "", nil
	}
	if !span.ValidTenant(v) {
		return "", paramProblem(codeInvalidParameter, "tenant", "tenant must match [a-z0-9_-]{1,64}")
	}
	return v, nil
}

// uint reads a non-negative integer parameter, def when absent or empty.
func (p params) uint(name string, def uint64) (uint64, error) {
	v, ok, err := p.get(name)
	if err != nil || !ok || v == "" {
		return def, err
	}
	return parseUint(name, v)
}

// seq reads the seq parameter of a span lookup: -1 when absent or empty.
func (p params) seq() (int64, error) {
	v, ok, err := p.get("seq")
	if err != nil || !ok || v == "" {
		return -1, err
	}
	n, err := parseUint("seq", v)
	if err != nil {
		return -1, err
	}
	if n > 1<<53 {
		return -1, paramProblem(codeInvalidParameter, "seq", "seq is out of range")
	}
	return int64(n), nil
}

func parseUint(name, v string) (uint64, error) {
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, paramProblem(codeInvalidParameter, name, name+" must be a non-negative integer, got "+strconv.Quote(v))
	}
	return n, nil
}

// time reads an RFC 3339 timestamp (zero when absent). A "+" of an offset
// that arrived unencoded (and so decoded as a space) is put back.
func (p params) time(name string) (time.Time, error) {
	v, ok, err := p.get(name)
	if err != nil || !ok || v == "" {
		return time.Time{}, err
	}
	t, perr := time.Parse(time.RFC3339Nano, v)
	if perr != nil && strings.Contains(v, " ") {
		t, perr = time.Parse(time.RFC3339Nano, strings.ReplaceAll(v, " ", "+"))
	}
	if perr != nil {
		return time.Time{}, paramProblem(codeInvalidParameter, name, name+" must be an RFC 3339 timestamp with offset, got "+strconv.Quote(v))
	}
	return t, nil
}

// bool reads a flag: 1/true/yes or 0/false/no (absent or empty is false).
func (p params) bool(name string) (bool, error) {
	v, ok, err := p.get(name)
	if err != nil || !ok {
		return false, err
	}
	switch strings.ToLower(v) {
	case "1", "true", "yes", "on":
		return true, nil
	case "", "0", "false", "no", "off":
		return false, nil
	}
	return false, paramProblem(codeInvalidParameter, name, name+" must be 1 or 0, got "+strconv.Quote(v))
}

// parseQuery builds a ledger.Query from the parameters of GET /spans.
// The tenant parameter is required when tenantRequired (without a token,
// which names the tenant).
func parseQuery(rawQuery string, tenantRequired bool) (ledger.Query, error) {
	var q ledger.Query
	p, err := parseParams(rawQuery)
	if err != nil {
		return q, err
	}
	if q.Tenant, err = p.tenant(tenantRequired); err != nil {
		return q, err
	}
	for _, f := range []struct {
		name string
		dst  *string
	}{
		{"this", &q.This}, {"who", &q.Who}, {"did", &q.Did},
		{"entity_type", &q.EntityType}, {"trace_id", &q.TraceID}, {"cursor", &q.Cursor},
	} {
		if *f.dst, err = p.str(f.name); err != nil {
			return q, err
		}
	}
	if q.Since, err = p.time("since"); err != nil {
		return q, err
	}
	if q.Until, err = p.time("until"); err != nil {
		return q, err
	}
	if !q.Since.IsZero() && !q.Until.IsZero() && q.Until.Before(q.Since) {
		return q, paramProblem(codeInvalidParameter, "until", "until must not be before since")
	}
	limit, err := p.uint("limit", defaultQueryLimit)
	if err != nil {
		return q, err
	}
	if limit < 1 || limit > maxQueryLimit {
		return q, paramProblem(codeInvalidParameter, "limit", "limit must be between 1 and 1000")
	}
	q.Limit = int(limit)
	return q, nil
}

// streamParams are the inputs of GET /ledger/stream.
type streamParams struct {
	cursor uint64 // first log index to send
	tenant string // "" = every tenant
	follow bool
	sse    bool
}

// parseStream reads the stream parameters. For SSE a Last-Event-ID header
// (sent by EventSource on reconnect) wins over cursor: the stream resumes
// right after that event.
func parseStream(rawQuery, accept, lastEventID string) (streamParams, error) {
	var sp streamParams
	p, err := parseParams(rawQuery)
	if err != nil {
		return sp, err
	}
	if sp.cursor, err = p.uint("cursor", 0); err != nil {
		return sp, err
	}
	if sp.tenant, err = p.tenant(false); err != nil {
		return sp, err
	}
	if sp.follow, err = p.bool("follow"); err != nil {
		return sp, err
	}
	sp.sse = acceptsEventStream(accept)
	if sp.sse && lastEventID != "" {
		id, err := strconv.ParseUint(strings.TrimSpace(lastEventID), 10, 64)
		if err != nil || id == ^uint64(0) {
			return sp, newProblem(codeInvalidHeader, "Last-Event-ID must be a log index").withHeader("Last-Event-ID")
		}
		sp.cursor = id + 1
	}
	return sp, nil
}

// acceptsEventStream reports whether an Accept header asks for
// text/event-stream (with a non-zero quality).
func acceptsEventStream(accept string) bool {
	for part := range strings.SplitSeq(accept, ",") {
		mt, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(mt), "text/event-stream") {
			continue
		}
		for prm := range strings.SplitSeq(params, ";") {
			k, v, _ := strings.Cut(strings.TrimSpace(prm), "=")
			if strings.EqualFold(k, "q") {
				if q, err := strconv.ParseFloat(v, 64); err == nil && q == 0 {
					return false
				}
			}
		}
		return true
	}
	return false
}
