package client

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"strconv"
)

// NextCursorTrailer is the trailer that tells a stream reader where to
// resume (docs/http-api.md).
const NextCursorTrailer = "Logline-Next-Cursor"

// StreamOptions select a stream (GET /ledger/stream).
type StreamOptions struct {
	Cursor uint64 // first log index to send
	Tenant string // "" = every tenant
	Follow bool   // stay open and send new entries as they are committed
}

// StreamEnd says how a stream response ended.
type StreamEnd struct {
	// Next is the log index to resume at, from the Logline-Next-Cursor
	// trailer; HasNext is false when the trailer did not arrive (the
	// connection broke), then resume after the last entry received.
	Next    uint64
	HasNext bool
}

// Stream reads stored entries from opts.Cursor on and calls fn with each
// one (the exact stored line, valid only during the call). It returns
// when the server ends the response (the end of the log without Follow;
// a shutdown or a slow-reader cut-off otherwise), when fn fails, or when
// ctx is done. A broken connection is a *ConnError; the StreamEnd it
// returns is still meaningful.
func (c *Client) Stream(ctx context.Context, opts StreamOptions, fn func(line []byte) error) (StreamEnd, error) {
	q := url.Values{}
	if opts.Cursor > 0 {
		q.Set("cursor", strconv.FormatUint(opts.Cursor, 10))
	}
	if opts.Tenant != "" {
		q.Set("tenant", opts.Tenant)
	}
	if opts.Follow {
		q.Set("follow", "1")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.endpoint(q, "ledger", "stream"), nil)
	if err != nil {
		return StreamEnd{}, err
	}
	req.Header.Set("Accept", "application/x-ndjson")
	resp, err := c.do(req, "stream", http.StatusOK)
	if err != nil {
		return StreamEnd{}, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 256<<10), maxEntryBytes)
	sc.Split(scanEntryLines)
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) == 0 {
			continue
		}
		if err := fn(line); err != nil {
			return StreamEnd{}, err
		}
	}
	if err := sc.Err(); err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return StreamEnd{}, ctxErr
		}
		return StreamEnd{}, &ConnError{Op: "stream", URL: c.BaseURL(), Err: err}
	}
	var end StreamEnd
	if s := resp.Trailer.Get(NextCursorTrailer); s != "" {
		if n, err := strconv.ParseUint(s, 10, 64); err == nil {
			end = StreamEnd{Next: n, HasNext: true}
		}
	}
	if !end.HasNext && ctx.Err() != nil {
		return end, ctx.Err()
	}
	return end, nil
}

// scanEntryLines splits a stream into its lines, like bufio.ScanLines but
// byte for byte (no "\r" dropped) and never returning bytes after the last
// newline: the server ends every entry with one, so such bytes are an
// entry the connection broke inside of. They end the scan with
// io.ErrUnexpectedEOF, and the reader resumes after the last complete entry
// (docs/http-api.md).
func scanEntryLines(data []byte, atEOF bool) (int, []byte, error) {
	if i := bytes.IndexByte(data, '\n'); i >= 0 {
		return i + 1, data[:i], nil
	}
	if atEOF && len(data) > 0 {
		return 0, nil, io.ErrUnexpectedEOF
	}
	return 0, nil, nil
}
