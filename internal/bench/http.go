package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// target is the server the HTTP sections talk to.
type target struct {
	base string // "http://host:port", no trailing slash
	hc   *http.Client
	// token, when set, is sent as "Authorization: Bearer token".
	token string
}

// authorize adds the target's bearer token to req.
func (t *target) authorize(req *http.Request) {
	if t.token != "" {
		req.Header.Set("Authorization", "Bearer "+t.token)
	}
}

// ndSummary is the last line of an NDJSON ingest response.
type ndSummary struct {
	Summary *struct {
		Lines      int             `json:"lines"`
		Accepted   int             `json:"accepted"`
		Duplicates int             `json:"duplicates"`
		Rejected   int             `json:"rejected"`
		Error      json.RawMessage `json:"error"`
	} `json:"summary"`
}

// postNDJSON sends one NDJSON body and checks that every line was
// accepted. It returns how many spans were stored.
func (t *target) postNDJSON(ctx context.Context, r io.Reader, contentLength int64) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.base+"/ingest", r)
	if err != nil {
		return 0, err
	}
	req.ContentLength = contentLength
	req.Header.Set("Content-Type", "application/x-ndjson")
	t.authorize(req)
	resp, err := t.hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return 0, fmt.Errorf("POST /ingest (NDJSON): %s: %s", resp.Status, bytes.TrimSpace(b))
	}
	br := bufio.NewReaderSize(resp.Body, 64<<10)
	var last, firstBad []byte
	for {
		line, err := br.ReadSlice('\n')
		if len(bytes.TrimSpace(line)) > 0 {
			if firstBad == nil && bytes.Contains(line, []byte(`"ok":false`)) {
				firstBad = bytes.Clone(line)
			}
			last = append(last[:0], line...)
		}
		if err == bufio.ErrBufferFull {
			continue // an over-long line; only the summary matters
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, fmt.Errorf("POST /ingest (NDJSON): reading results: %w", err)
		}
	}
	var sum ndSummary
	if err := json.Unmarshal(last, &sum); err != nil || sum.Summary == nil {
		return 0, fmt.Errorf("POST /ingest (NDJSON): no summary line at the end of the response (last line %.200q)", last)
	}
	s := sum.Summary
	if s.Rejected > 0 || len(s.Error) > 0 {
		return s.Accepted, fmt.Errorf("POST /ingest (NDJSON): %d of %d lines rejected (first: %.300s; error: %s)", s.Rejected, s.Lines, bytes.TrimSpace(firstBad), s.Error)
	}
	return s.Accepted + s.Duplicates, nil
}

// ingestBodies posts bodies from `clients` concurrent clients, each taking
// the next body, until all are sent or the deadline passes. prefix is the
// number of spans in the leading bodies that were all stored (the spans
// a reader may look for).
func ingestBodies(ctx context.Context, t *target, name string, bodies []body, clients, batch int, deadline time.Time) (res Throughput, prefix int) {
	res = Throughput{Name: name, Clients: clients, Batch: batch}
	stored := make([]bool, len(bodies)) // each element written by one goroutine
	var spans, bytesSent atomic.Int64
	seconds, partial, firstErr := fanOut(ctx, clients, len(bodies), deadline, func(ctx context.Context, i int) error {
		b := bodies[i]
		n, err := t.postNDJSON(ctx, bytes.NewReader(b.data), int64(len(b.data)))
		if err != nil {
			return err
		}
		if n != b.lines {
			return fmt.Errorf("POST /ingest (NDJSON): %d of %d lines stored", n, b.lines)
		}
		stored[i] = true
		spans.Add(int64(n))
		bytesSent.Add(int64(len(b.data)))
		return nil
	})
	res.Seconds = seconds
	res.Spans, res.Bytes = int(spans.Load()), bytesSent.Load()
	res.Partial = partial
	res.SpansPerSec = rate(float64(res.Spans), res.Seconds)
	res.MBPerSec = rate(mb(res.Bytes), res.Seconds)
	if firstErr != nil {
		res.Error = firstErr.Error()
	}
	for i, ok := range stored {
		if !ok {
			break
		}
		prefix += bodies[i].lines
	}
	return res, prefix
}

// ingestSplit is ingestBodies through several servers at once: the
// bodies and the clients are split evenly between targets, and the rate
// is of all of them together.
func ingestSplit(ctx context.Context, targets []*target, name string, bodies []body, clients, batch int, deadline time.Time) Throughput {
	res := Throughput{Name: name, Clients: clients, Batch: batch}
	parts := make([]Throughput, len(targets))
	var wg sync.WaitGroup
	for i, t := range targets {
		lo, hi := i*len(bodies)/len(targets), (i+1)*len(bodies)/len(targets)
		wg.Go(func() {
			parts[i], _ = ingestBodies(ctx, t, name, bodies[lo:hi], max(1, clients/len(targets)), batch, deadline)
		})
	}
	wg.Wait()
	for _, p := range parts {
		res.Spans += p.Spans
		res.Bytes += p.Bytes
		res.Seconds = max(res.Seconds, p.Seconds)
		res.Partial = res.Partial || p.Partial
		if res.Error == "" {
			res.Error = p.Error
		}
	}
	res.SpansPerSec = rate(float64(res.Spans), res.Seconds)
	res.MBPerSec = rate(mb(res.Bytes), res.Seconds)
	return res
}

// postOne sends one span as application/json and wants 201.
func (t *target) postOne(ctx context.Context, line []byte) error {
	status, b, err := t.postSingle(ctx, line)
	if err != nil {
		return err
	}
	if status != http.StatusCreated {
		return fmt.Errorf("POST /ingest: %d %s: %.300s", status, http.StatusText(status), bytes.TrimSpace(b))
	}
	return nil
}

// postSingle sends one span as application/json and returns the status
// and the start of the body.
func (t *target) postSingle(ctx context.Context, line []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.base+"/ingest", bytes.NewReader(line))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	t.authorize(req)
	resp, err := t.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	return resp.StatusCode, b, nil
}

// get fetches path and wants 200; the body is read and dropped. It
// returns the body length.
func (t *target) get(ctx context.Context, path string) (int64, error) {
	resp, err := t.open(ctx, path)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	return io.Copy(io.Discard, resp.Body)
}

// timedLoop runs n operations from `clients` goroutines, timing each, until
// done or the deadline. op gets the operation number.
func timedLoop(ctx context.Context, clients, n int, deadline time.Time, op func(ctx context.Context, i int) error) Latency {
	res := Latency{Clients: clients}
	durs := make([]time.Duration, n)
	seconds, partial, firstErr := fanOut(ctx, clients, n, deadline, func(ctx context.Context, i int) error {
		t0 := time.Now()
		if err := op(ctx, i); err != nil {
			return err
		}
		durs[i] = time.Since(t0)
		return nil
	})
	res.Seconds = seconds
	// Operations were handed out in order, so the completed ones are
	// exactly those with a duration.
	got := durs[:0]
	for _, d := range durs {
		if d > 0 {
			got = append(got, d)
		}
	}
	res.Requests = len(got)
	res.PerSec = rate(float64(res.Requests), res.Seconds)
	res.Partial = partial
	latencyOf(&res, got)
	if firstErr != nil {
		res.Error = firstErr.Error()
	}
	return res
}

// ingestLatency posts n single spans from `clients` concurrent clients
// after a short untimed warm-up.
func ingestLatency(ctx context.Context, t *target, c *corpus, d ids, clients, n int, deadline time.Time) Latency {
	kind := "l" + strconv.Itoa(clients) + "-"
	warm := c.lines(d, "w"+strconv.Itoa(clients)+"-", clients)
	lines := c.lines(d, kind, n)
	wl := timedLoop(ctx, clients, len(warm), deadline, func(ctx context.Context, i int) error { return t.postOne(ctx, warm[i]) })
	if wl.Error != "" {
		return Latency{Clients: clients, Error: "warm-up: " + wl.Error}
	}
	return timedLoop(ctx, clients, n, deadline, func(ctx context.Context, i int) error { return t.postOne(ctx, lines[i]) })
}

// randomGets reads n random spans among the first `among` of id kind.
func randomGets(ctx context.Context, t *target, c *corpus, d ids, kind string, among, clients, n int, deadline time.Time) Latency {
	return timedLoop(ctx, clients, n, deadline, func(ctx context.Context, _ int) error {
		k := rand.IntN(among)
		_, err := t.get(ctx, "/spans/"+url.PathEscape(d.id(kind, k))+"?tenant="+url.QueryEscape(c.tenant(k)))
		return err
	})
}

// queryPages follows GET /spans pages of tenant from the start, at most
// maxPages of them.
func queryPages(ctx context.Context, t *target, tenant string, pageSize, maxPages int, deadline time.Time, r *Reads) error {
	r.PageSize = pageSize
	start := time.Now()
	defer func() {
		r.PageSeconds = sinceSecs(start)
		r.PagesPerSec = rate(float64(r.Pages), r.PageSeconds)
		r.PageSpansPerSec = rate(float64(r.PageSpans), r.PageSeconds)
	}()
	cursor := ""
	for r.Pages < maxPages {
		if time.Now().After(deadline) {
			r.PagePartial = true
			return nil
		}
		q := url.Values{"tenant": {tenant}, "limit": {strconv.Itoa(pageSize)}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		var page struct {
			Spans      []json.RawMessage `json:"spans"`
			NextCursor string            `json:"next_cursor"`
		}
		if err := t.getJSON(ctx, "/spans?"+q.Encode(), &page); err != nil {
			return err
		}
		r.Pages++
		r.PageSpans += len(page.Spans)
		if page.NextCursor == "" {
			return nil
		}
		cursor = page.NextCursor
	}
	return nil
}

// open GETs path and returns the response when it is a 200; any other
// status is an error quoting the start of the body.
func (t *target) open(ctx context.Context, path string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.base+path, nil)
	if err != nil {
		return nil, err
	}
	t.authorize(req)
	resp, err := t.hc.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return nil, fmt.Errorf("GET %s: %s: %.300s", path, resp.Status, bytes.TrimSpace(b))
	}
	return resp, nil
}

func (t *target) getJSON(ctx context.Context, path string, v any) error {
	resp, err := t.open(ctx, path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	return nil
}

// streamAll reads GET /ledger/stream from cursor 0 to the current end (no
// follow), counting entries and bytes, until the deadline.
func streamAll(ctx context.Context, t *target, deadline time.Time) Throughput {
	res := Throughput{Name: "stream", Clients: 1}
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	start := time.Now()
	err := func() error {
		resp, err := t.open(ctx, "/ledger/stream?cursor=0")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		buf := make([]byte, 256<<10)
		for {
			n, err := resp.Body.Read(buf)
			res.Bytes += int64(n)
			res.Spans += bytes.Count(buf[:n], []byte{'\n'})
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
		}
	}()
	res.Seconds = sinceSecs(start)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) && time.Now().After(deadline) {
			res.Partial = true
		} else {
			res.Error = err.Error()
		}
	}
	res.SpansPerSec = rate(float64(res.Spans), res.Seconds)
	res.MBPerSec = rate(mb(res.Bytes), res.Seconds)
	return res
}

// fanOut runs op(ctx, i) for every i in [0, n) from `clients` goroutines,
// each taking the next i, until all are done, the deadline passes (partial)
// or an op fails (the first error cancels the rest and is returned). It
// returns the wall time in seconds.
func fanOut(ctx context.Context, clients, n int, deadline time.Time, op func(ctx context.Context, i int) error) (seconds float64, partial bool, firstErr error) {
	var next atomic.Int64
	var late atomic.Bool
	var errOnce sync.Once
	ctx, cancel := context.WithDeadline(ctx, deadline.Add(time.Minute))
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if time.Now().After(deadline) {
					late.Store(true)
					return
				}
				if err := op(ctx, i); err != nil {
					errOnce.Do(func() { firstErr = err; cancel() })
					return
				}
			}
		})
	}
	wg.Wait()
	return sinceSecs(start), late.Load(), firstErr
}
