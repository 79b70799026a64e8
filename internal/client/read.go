package client

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
)

// maxEntryBytes bounds one stored entry read back (spans are ≤ 64 KiB by
// default; this leaves room for larger configured limits).
const maxEntryBytes = 16 << 20

// Get returns the stored entry of id, byte for byte (GET /spans/{id}).
// tenant "" lets the server pick the only tenant holding id; seq < 0
// means the latest version. A missing span is a *Problem with status 404
// (see IsNotFound).
func (c *Client) Get(ctx context.Context, id, tenant string, seq int64) ([]byte, error) {
	q := url.Values{}
	if tenant != "" {
		q.Set("tenant", tenant)
	}
	if seq >= 0 {
		q.Set("seq", strconv.FormatInt(seq, 10))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.endpoint(q, "spans", id), nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.do(req, "get", http.StatusOK)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxEntryBytes))
	if err != nil {
		return nil, &ConnError{Op: "get", URL: c.BaseURL(), Err: err}
	}
	return b, nil
}

// Query selects spans of one tenant (GET /spans). Empty fields do not
// filter; Since and Until are RFC 3339.
type Query struct {
	Tenant     string
	This       string
	Who        string
	Did        string
	EntityType string
	TraceID    string
	Since      string
	Until      string
	Cursor     string
	Limit      int // 0 = the server's default (100); max 1000
}

// Page is one page of query results: stored entries byte for byte, in log
// order, and the cursor of the next page ("" on the last page).
type Page struct {
	Spans      []json.RawMessage `json:"spans"`
	NextCursor string            `json:"next_cursor,omitempty"`
}

// Query returns one page of q.
func (c *Client) Query(ctx context.Context, q Query) (Page, error) {
	v := url.Values{}
	for _, f := range []struct{ k, v string }{
		{"tenant", q.Tenant}, {"this", q.This}, {"who", q.Who}, {"did", q.Did},
		{"entity_type", q.EntityType}, {"trace_id", q.TraceID},
		{"since", q.Since}, {"until", q.Until}, {"cursor", q.Cursor},
	} {
		if f.v != "" {
			v.Set(f.k, f.v)
		}
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.endpoint(v, "spans"), nil)
	if err != nil {
		return Page{}, err
	}
	resp, err := c.do(req, "query", http.StatusOK)
	if err != nil {
		return Page{}, err
	}
	defer resp.Body.Close()
	var p Page
	dec := json.NewDecoder(io.LimitReader(resp.Body, 1<<30))
	if err := dec.Decode(&p); err != nil {
		if isConnBroken(err) {
			return Page{}, &ConnError{Op: "query", URL: c.BaseURL(), Err: err}
		}
		return Page{}, fmt.Errorf("query: malformed response: %w", err)
	}
	return p, nil
}
