package client

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
)

// IdempotencyHeader carries the key that makes server-assigned ids of a
// request deterministic (docs/http-api.md).
const IdempotencyHeader = "X-Idempotency-Key"

// IngestOptions are the request-wide inputs of an NDJSON ingest.
type IngestOptions struct {
	// Tenant, when set, is sent as ?tenant=: every span must belong to it.
	Tenant string
	// IdempotencyKey, when set, is sent as X-Idempotency-Key: a span
	// without id gets an id derived from (tenant, key, line), so sending
	// the same body with the same key again stores nothing new.
	IdempotencyKey string
}

// LineResult is the server's answer for one line of an NDJSON ingest.
// Line counts lines of the request body from 1 (blank lines keep their
// number but get no result).
type LineResult struct {
	Line       int      `json:"line"`
	OK         bool     `json:"ok"`
	ID         string   `json:"id,omitempty"`
	Seq        uint64   `json:"seq"`
	Tenant     string   `json:"tenant,omitempty"`
	LogIndex   uint64   `json:"log_index"`
	CurrHash   string   `json:"curr_hash,omitempty"`
	PrevHash   string   `json:"prev_hash,omitempty"`
	ReceivedAt string   `json:"received_at,omitempty"`
	Duplicate  bool     `json:"duplicate"`
	Error      *Problem `json:"error,omitempty"`
}

// Summary is the last line of an NDJSON ingest response. Error is set
// when the server stopped early (shutting down, body too large, …): lines
// after the last result were not processed.
type Summary struct {
	Lines      int      `json:"lines"`
	Accepted   int      `json:"accepted"`
	Duplicates int      `json:"duplicates"`
	Rejected   int      `json:"rejected"`
	Error      *Problem `json:"error,omitempty"`
}

// ErrNoSummary means the response ended before its summary line: the
// connection broke or the server stopped. Results already delivered stand;
// the rest is unknown (retry the same body with the same key).
var ErrNoSummary = errors.New("ingest response ended before its summary line")

// maxResultLine bounds one line of an ingest response.
const maxResultLine = 1 << 20

// IngestNDJSON posts body (NDJSON, one span per line) to POST /ingest and
// calls fn with every per-line result, in order, as the server streams
// them. It returns the summary line. A non-200 answer is a *Problem; a
// broken connection a *ConnError (wrapping ErrNoSummary when the response
// was cut short). If fn returns an error, IngestNDJSON stops and returns it.
func (c *Client) IngestNDJSON(ctx context.Context, body io.Reader, opts IngestOptions, fn func(LineResult) error) (Summary, error) {
	var q url.Values
	if opts.Tenant != "" {
		q = url.Values{"tenant": {opts.Tenant}}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint(q, "ingest"), body)
	if err != nil {
		return Summary{}, err
	}
	if l, ok := body.(interface{ Len() int }); ok {
		req.ContentLength = int64(l.Len())
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	req.Header.Set("Accept", "application/x-ndjson, application/problem+json")
	if opts.IdempotencyKey != "" {
		req.Header.Set(IdempotencyHeader, opts.IdempotencyKey)
	}
	resp, err := c.do(req, "ingest", http.StatusOK)
	if err != nil {
		return Summary{}, err
	}
	defer resp.Body.Close()

	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), maxResultLine)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var v struct {
			Summary *Summary `json:"summary"`
			LineResult
		}
		if err := json.Unmarshal(line, &v); err != nil {
			return Summary{}, fmt.Errorf("ingest: malformed result line %q: %w", truncate(line, 200), err)
		}
		if v.Summary != nil {
			return *v.Summary, nil
		}
		if v.Line <= 0 {
			return Summary{}, fmt.Errorf("ingest: result line without a line number: %q", truncate(line, 200))
		}
		if err := fn(v.LineResult); err != nil {
			return Summary{}, err
		}
	}
	err = sc.Err()
	if ctxErr := ctx.Err(); ctxErr != nil {
		return Summary{}, ctxErr
	}
	if err == nil || isConnBroken(err) {
		if err == nil {
			err = ErrNoSummary
		} else {
			err = fmt.Errorf("%w: %w", ErrNoSummary, err)
		}
		return Summary{}, &ConnError{Op: "ingest", URL: c.BaseURL(), Err: err}
	}
	return Summary{}, fmt.Errorf("ingest: reading results: %w", err)
}

// truncate shortens b for an error message.
func truncate(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	return string(b[:n]) + "…"
}
