package client

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strconv"
)

// maxVerifyBytes bounds the verification answers (keys, notes, proofs).
const maxVerifyBytes = 1 << 20

// getBytes GETs path elements with query q and returns the body of a 200.
func (c *Client) getBytes(ctx context.Context, op string, q url.Values, elem ...string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.endpoint(q, elem...), nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.do(req, op, http.StatusOK)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxVerifyBytes))
	if err != nil {
		return nil, &ConnError{Op: op, URL: c.BaseURL(), Err: err}
	}
	return b, nil
}

// LogKey returns the text of GET /log/key: the log's verifier keys, one
// per line, the active one first.
func (c *Client) LogKey(ctx context.Context) ([]byte, error) {
	return c.getBytes(ctx, "log key", nil, "log", "key")
}

// Checkpoint returns the latest signed checkpoint note (GET /checkpoint).
func (c *Client) Checkpoint(ctx context.Context) ([]byte, error) {
	return c.getBytes(ctx, "checkpoint", nil, "checkpoint")
}

// InclusionProof returns the JSON of GET /proof/inclusion?index=&size=.
func (c *Client) InclusionProof(ctx context.Context, index, size uint64) ([]byte, error) {
	q := url.Values{"index": {strconv.FormatUint(index, 10)}, "size": {strconv.FormatUint(size, 10)}}
	return c.getBytes(ctx, "inclusion proof", q, "proof", "inclusion")
}

// ConsistencyProof returns the JSON of GET /proof/consistency?from=&to=.
func (c *Client) ConsistencyProof(ctx context.Context, from, to uint64) ([]byte, error) {
	q := url.Values{"from": {strconv.FormatUint(from, 10)}, "to": {strconv.FormatUint(to, 10)}}
	return c.getBytes(ctx, "consistency proof", q, "proof", "consistency")
}
