// Package client talks to a LogLine server over its HTTP API
// (docs/http-api.md): NDJSON ingest with per-line results, reads by id and
// by query, and the log stream. It knows nothing about flags or terminals;
// the CLI builds on it.
package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
)

// DefaultServer is the address `logline serve` listens on by default.
const DefaultServer = "http://127.0.0.1:8420"

// Client is a LogLine API client. Its methods are safe for concurrent use.
type Client struct {
	base  *url.URL
	http  *http.Client
	ua    string
	token TokenSource // nil: requests carry no Authorization
}

// TokenSource returns the bearer token (an LLST) for the next request;
// it may cache and refresh. It must be safe for concurrent use.
type TokenSource func(ctx context.Context) (string, error)

// WithToken returns a copy of c that authenticates every request with
// the tokens ts gives (docs/auth.md).
func (c *Client) WithToken(ts TokenSource) *Client {
	cp := *c
	cp.token = ts
	return &cp
}

// New returns a client for the server at base ("http://host:port"; a bare
// "host:port" means http). hc may be nil for a client without an overall
// timeout (streams and large ingests run for as long as they need; cancel
// them with the context).
func New(base string, hc *http.Client, userAgent string) (*Client, error) {
	if base == "" {
		base = DefaultServer
	}
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	u, err := url.Parse(base)
	if err != nil {
		return nil, fmt.Errorf("server URL %q: %w", base, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("server URL %q: want http://HOST:PORT or https://HOST[:PORT]", base)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawQuery, u.Fragment = "", ""
	if hc == nil {
		hc = &http.Client{}
	}
	if userAgent == "" {
		userAgent = "logline-client"
	}
	return &Client{base: u, http: hc, ua: userAgent}, nil
}

// BaseURL returns the server URL the client talks to.
func (c *Client) BaseURL() string { return c.base.String() }

// endpoint builds the URL of the path elements with query q. Each element
// is escaped as one path segment ("a/b" stays one segment: a%2Fb).
func (c *Client) endpoint(q url.Values, elem ...string) string {
	u := *c.base
	esc := make([]string, len(elem))
	for i, e := range elem {
		esc[i] = url.PathEscape(e)
	}
	raw := strings.TrimSuffix(c.base.EscapedPath(), "/") + "/" + strings.Join(esc, "/")
	if p, err := url.PathUnescape(raw); err == nil {
		u.Path, u.RawPath = p, raw
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// do sends req and returns the response when its status is want (or any
// 2xx when want is 0). Other statuses come back as a *Problem, transport
// failures as a *ConnError.
func (c *Client) do(req *http.Request, op string, want int) (*http.Response, error) {
	req.Header.Set("User-Agent", c.ua)
	if c.token != nil {
		tok, err := c.token(req.Context())
		if err != nil {
			return nil, fmt.Errorf("%s: get a token: %w", op, err)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctxErr := req.Context().Err(); ctxErr != nil {
			return nil, ctxErr
		}
		return nil, &ConnError{Op: op, URL: c.BaseURL(), Err: err}
	}
	ok := resp.StatusCode == want || want == 0 && resp.StatusCode/100 == 2
	if !ok {
		defer resp.Body.Close()
		return nil, readProblem(resp)
	}
	return resp, nil
}

// ConnError is a failure to reach the server or a connection that broke
// before the answer was complete. Retrying an idempotent request is safe.
type ConnError struct {
	Op  string // what was being done ("ingest", "get", …)
	URL string // the server
	Err error
}

func (e *ConnError) Error() string {
	return fmt.Sprintf("%s: cannot reach LogLine at %s: %v", e.Op, e.URL, e.Err)
}

func (e *ConnError) Unwrap() error { return e.Err }

// Problem is an RFC 9457 problem as the server sends it (see
// docs/http-api.md), or one synthesized from a non-problem error response.
type Problem struct {
	Type      string `json:"type,omitempty"`
	Title     string `json:"title,omitempty"`
	Status    int    `json:"status,omitempty"`
	Detail    string `json:"detail,omitempty"`
	Code      string `json:"code,omitempty"`
	Pointer   string `json:"pointer,omitempty"`
	Line      int    `json:"line,omitempty"`
	Parameter string `json:"parameter,omitempty"`
	Header    string `json:"header,omitempty"`
	Offset    *int   `json:"offset,omitempty"`
}

func (p *Problem) Error() string {
	msg := p.Detail
	if msg == "" {
		msg = p.Title
	}
	if msg == "" {
		msg = http.StatusText(p.Status)
	}
	if p.Code != "" {
		return fmt.Sprintf("%s (%s, HTTP %d)", msg, p.Code, p.Status)
	}
	return fmt.Sprintf("%s (HTTP %d)", msg, p.Status)
}

// Temporary reports whether the same request may succeed later: the
// server is shutting down, overloaded or failing.
func (p *Problem) Temporary() bool {
	switch p.Status {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return p.Code == "unavailable"
}

// maxProblemBytes bounds how much of an error body is read.
const maxProblemBytes = 64 << 10

// readProblem turns an error response into a *Problem.
func readProblem(resp *http.Response) *Problem {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxProblemBytes))
	p := &Problem{}
	if err := json.Unmarshal(body, p); err != nil || (p.Code == "" && p.Detail == "" && p.Title == "") {
		p = &Problem{Title: http.StatusText(resp.StatusCode)}
		if s := strings.TrimSpace(string(body)); s != "" && len(s) < 500 {
			p.Detail = s
		}
	}
	p.Status = resp.StatusCode
	return p
}

// Retryable reports whether err (from any method) is worth retrying with
// the same request: a connection failure or a temporary server problem.
func Retryable(err error) bool {
	var ce *ConnError
	if errors.As(err, &ce) {
		return true
	}
	var p *Problem
	if errors.As(err, &p) {
		return p.Temporary()
	}
	return false
}

// IsNotFound reports whether err is the server's 404 not_found.
func IsNotFound(err error) bool {
	var p *Problem
	return errors.As(err, &p) && p.Status == http.StatusNotFound
}

// isConnBroken reports whether a read error means the connection broke.
func isConnBroken(err error) bool {
	var ne net.Error
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.As(err, &ne) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, syscall.ECONNRESET)
}

// Health calls GET /readyz and returns nil when the server is ready.
func (c *Client) Health(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.endpoint(nil, "readyz"), nil)
	if err != nil {
		return err
	}
	resp, err := c.do(req, "readyz", http.StatusOK)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.Body.Close()
}
