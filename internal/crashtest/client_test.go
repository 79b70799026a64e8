package crashtest

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
	"os"
	"strconv"
	"sync"
	"time"
)

const (
	// requestTimeout bounds one ingest request (a 10 MB batch included).
	requestTimeout = 60 * time.Second
	// readTimeout bounds one GET.
	readTimeout = 10 * time.Second
	// streamTimeout bounds one full read of the stream.
	streamTimeout = 2 * time.Minute
	// corpusPath is the public corpus, relative to this package.
	corpusPath = "../../../shared/corpus/receipt.ndjson"
	// corpusLines is how many corpus lines the workload draws from.
	corpusLines = 400
)

// tenants of generated spans; corpus spans keep their own (t_receipt).
var tenants = []string{"acme", "bakery", "films", "contracts"}

// key names one stored version: ids are unique per tenant.
type key struct {
	tenant, id string
	seq        uint64
}

func (k key) String() string { return fmt.Sprintf("%s/%s#%d", k.tenant, k.id, k.seq) }

// batch is one request of the workload: the exact body (a retry sends the
// same bytes) and the key of each line.
type batch struct {
	name   string // for messages: c<round>-<client>-<n>…
	ndjson bool   // application/x-ndjson, else one span as application/json
	body   []byte
	keys   []key
	// trickle > 0 sends the body trickle lines at a time with a pause
	// between writes (a slow client), instead of all at once.
	trickle int
	pause   time.Duration
}

// bodyReader returns the request body of b.
func (b *batch) bodyReader(ctx context.Context) io.Reader {
	if b.trickle <= 0 {
		return bytes.NewReader(b.body)
	}
	pr, pw := io.Pipe()
	go func() {
		rest := b.body
		for len(rest) > 0 {
			n := 0
			for range b.trickle {
				nl := bytes.IndexByte(rest[n:], '\n')
				if nl < 0 {
					n = len(rest)
					break
				}
				n += nl + 1
			}
			if _, err := pw.Write(rest[:n]); err != nil {
				return
			}
			rest = rest[n:]
			select {
			case <-time.After(b.pause):
			case <-ctx.Done():
				pw.CloseWithError(ctx.Err())
				return
			}
		}
		pw.Close()
	}()
	return pr
}

// result is one line of an NDJSON ingest response, or a single-span
// response.
type result struct {
	Line      int             `json:"line"`
	OK        *bool           `json:"ok"`
	ID        string          `json:"id"`
	Seq       uint64          `json:"seq"`
	Tenant    string          `json:"tenant"`
	LogIndex  *uint64         `json:"log_index"`
	CurrHash  string          `json:"curr_hash"`
	PrevHash  string          `json:"prev_hash"`
	Duplicate bool            `json:"duplicate"`
	Error     json.RawMessage `json:"error"`
	Summary   *summary        `json:"summary"`
}

type summary struct {
	Lines      int             `json:"lines"`
	Accepted   int             `json:"accepted"`
	Duplicates int             `json:"duplicates"`
	Rejected   int             `json:"rejected"`
	Error      json.RawMessage `json:"error"`
}

// problem is the part of an RFC 9457 problem the tests look at.
type problem struct {
	Status int    `json:"status"`
	Code   string `json:"code"`
	Detail string `json:"detail"`
}

// outcome is what one ingest request got back.
type outcome struct {
	status  int            // HTTP status; 0 when no response arrived
	results map[int]result // by line number (1 for a single span)
	summary *summary       // the NDJSON summary line, nil when cut off
	prob    *problem       // a problem+json response
	err     error          // transport error (no response, or a cut body)
}

// complete reports whether every line of b got its answer.
func (o *outcome) complete(b *batch) bool {
	if o.err != nil || o.status == 0 {
		return false
	}
	if b.ndjson {
		return o.summary != nil && len(o.results) == len(b.keys)
	}
	return len(o.results) == 1 || o.prob != nil
}

// send posts b and collects every answer that arrives, even when the
// response is cut off half-way (the server was killed): the result lines
// read before the cut are acknowledgements.
func send(ctx context.Context, c *http.Client, base string, b *batch) *outcome {
	return sendWatch(ctx, c, base, b, nil)
}

// sendWatch is send that calls progress (when not nil) after each NDJSON
// result line with the number of results so far.
func sendWatch(ctx context.Context, c *http.Client, base string, b *batch, progress func(results int)) *outcome {
	o := &outcome{results: map[int]result{}}
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/ingest", b.bodyReader(ctx))
	if err != nil {
		o.err = err
		return o
	}
	if b.ndjson {
		req.Header.Set("Content-Type", "application/x-ndjson")
	} else {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Do(req)
	if err != nil {
		o.err = err
		return o
	}
	defer resp.Body.Close()
	o.status = resp.StatusCode
	if !b.ndjson || resp.StatusCode != http.StatusOK {
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			o.err = fmt.Errorf("read response (status %d): %w", resp.StatusCode, err)
			return o
		}
		switch resp.StatusCode {
		case http.StatusOK, http.StatusCreated:
			var r result
			if err := json.Unmarshal(body, &r); err != nil {
				o.err = fmt.Errorf("single-span response %q: %w", body, err)
				return o
			}
			r.Line = 1
			o.results[1] = r
		default:
			o.prob = new(problem)
			if err := json.Unmarshal(body, o.prob); err != nil {
				o.err = fmt.Errorf("status %d with body %q", resp.StatusCode, body)
			}
		}
		return o
	}
	br := bufio.NewReaderSize(resp.Body, 64<<10)
	for {
		line, err := br.ReadBytes('\n')
		if err != nil {
			// A partial last line is no answer.
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			o.err = fmt.Errorf("NDJSON response cut after %d results: %w", len(o.results), err)
			return o
		}
		var r result
		if err := json.Unmarshal(line, &r); err != nil {
			o.err = fmt.Errorf("NDJSON result line %q: %w", line, err)
			return o
		}
		if r.Summary != nil {
			o.summary = r.Summary
			if rest, _ := io.ReadAll(br); len(bytes.TrimSpace(rest)) > 0 {
				o.err = fmt.Errorf("data after the summary line: %q", rest)
			}
			return o
		}
		if r.Line < 1 || r.Line > len(b.keys) {
			o.err = fmt.Errorf("result for line %d of a %d-line batch", r.Line, len(b.keys))
			return o
		}
		if _, dup := o.results[r.Line]; dup {
			o.err = fmt.Errorf("two results for line %d", r.Line)
			return o
		}
		o.results[r.Line] = r
		if progress != nil {
			progress(len(o.results))
		}
	}
}

// workload generates the spans of the tests.
type workload struct {
	corpus [][]byte // corpus lines to re-id
}

func newWorkload(t interface{ Fatalf(string, ...any) }) *workload {
	return &workload{corpus: loadCorpus(t)}
}

var corpusOnce = sync.OnceValues(func() ([][]byte, error) {
	f, err := os.Open(corpusPath)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var lines [][]byte
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() && len(lines) < corpusLines {
		if len(bytes.TrimSpace(sc.Bytes())) > 0 {
			lines = append(lines, bytes.Clone(sc.Bytes()))
		}
	}
	return lines, sc.Err()
})

func loadCorpus(t interface{ Fatalf(string, ...any) }) [][]byte {
	lines, err := corpusOnce()
	if err != nil {
		t.Fatalf("corpus %s: %v", corpusPath, err)
	}
	if len(lines) == 0 {
		t.Fatalf("corpus %s: no lines", corpusPath)
	}
	return lines
}

// padding is random text that generated spans take their padding from.
var padding = func() string {
	r := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, 8<<10)
	for i := range b {
		b[i] = byte('a' + r.IntN(26))
	}
	return string(b)
}()

// genSpan returns one generated span of about size bytes (at least ~220).
func genSpan(r *rand.Rand, id, tenant string, n, size int) []byte {
	b := make([]byte, 0, size+64)
	b = append(b, `{"id":`...)
	b = strconv.AppendQuote(b, id)
	b = append(b, `,"tenant":`...)
	b = strconv.AppendQuote(b, tenant)
	b = append(b, `,"who":"user-`...)
	b = strconv.AppendInt(b, int64(r.IntN(1000)), 10)
	b = append(b, `","did":"`...)
	b = append(b, [...]string{"ordered", "paid", "shipped", "signed", "baked", "confirmed"}[r.IntN(6)]...)
	b = append(b, `","this":"order:`...)
	b = strconv.AppendInt(b, int64(r.IntN(5000)), 10)
	b = append(b, `","when":"`...)
	when := time.Date(2026, 11, 25, 14, 0, 0, 0, time.FixedZone("", 3600)).Add(time.Duration(n) * time.Millisecond)
	b = when.AppendFormat(b, "2006-01-02T15:04:05.000-07:00")
	b = append(b, `","status":"confirmed","data":{"n":`...)
	b = strconv.AppendInt(b, int64(n), 10)
	b = append(b, `,"pad":"`...)
	if need := min(size-len(b)-3, len(padding)/2); need > 0 {
		off := r.IntN(len(padding) - need)
		b = append(b, padding[off:off+need]...)
	}
	return append(b, `"}}`...)
}

// corpusSpan returns a corpus line with its id replaced by id.
func (w *workload) corpusSpan(r *rand.Rand, id string) ([]byte, string, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(w.corpus[r.IntN(len(w.corpus))], &m); err != nil {
		return nil, "", err
	}
	var tenant string
	if err := json.Unmarshal(m["tenant"], &tenant); err != nil {
		return nil, "", fmt.Errorf("corpus tenant: %w", err)
	}
	m["id"], _ = json.Marshal(id)
	b, err := json.Marshal(m)
	return b, tenant, err
}

// batchSize draws the size of an NDJSON batch: mostly small, sometimes up
// to 500 lines.
func batchSize(r *rand.Rand) int {
	switch p := r.IntN(10); {
	case p < 4:
		return 1 + r.IntN(10)
	case p < 8:
		return 10 + r.IntN(91)
	default:
		return 100 + r.IntN(401)
	}
}

// newBatch builds one request of round/client: a single span (JSON) or an
// NDJSON batch of n spans, ids c<round>-<client>-<seq>, a few of them
// re-id'd corpus lines. spanSize is the size of generated spans.
func (w *workload) newBatch(r *rand.Rand, round, client int, next *int, ndjson bool, n, spanSize int) (*batch, error) {
	b := &batch{ndjson: ndjson, name: fmt.Sprintf("c%d-%d-%d", round, client, *next)}
	if !ndjson {
		n = 1
	}
	for range n {
		id := fmt.Sprintf("c%d-%d-%d", round, client, *next)
		var line []byte
		var tenant string
		if r.IntN(50) == 0 {
			var err error
			if line, tenant, err = w.corpusSpan(r, id); err != nil {
				return nil, err
			}
		} else {
			tenant = tenants[r.IntN(len(tenants))]
			line = genSpan(r, id, tenant, *next, spanSize)
		}
		*next++
		b.body = append(b.body, line...)
		if ndjson {
			b.body = append(b.body, '\n')
		}
		b.keys = append(b.keys, key{tenant: tenant, id: id})
	}
	return b, nil
}

// getSpan reads GET /spans/{id}?tenant=T&seq=N: the stored entry bytes.
func getSpan(ctx context.Context, c *http.Client, base string, k key) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, readTimeout)
	defer cancel()
	u := base + "/spans/" + url.PathEscape(k.id) + "?tenant=" + url.QueryEscape(k.tenant) + "&seq=" + strconv.FormatUint(k.seq, 10)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, body, err
}

// readStream reads GET /ledger/stream from cursor on and calls fn with
// each line (without "\n"; valid only during the call) until the end of
// the log: a stream that ends early (a cut-off subscriber) is resumed, and
// the read is done only when a request from the next cursor has nothing.
func readStream(ctx context.Context, c *http.Client, base string, cursor uint64, fn func(line []byte) error) error {
	ctx, cancel := context.WithTimeout(ctx, streamTimeout)
	defer cancel()
	for {
		n, err := readStreamOnce(ctx, c, base, cursor, fn)
		if err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		cursor += n
	}
}

func readStreamOnce(ctx context.Context, c *http.Client, base string, cursor uint64, fn func(line []byte) error) (uint64, error) {
	u := base + "/ledger/stream?cursor=" + strconv.FormatUint(cursor, 10)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return 0, fmt.Errorf("GET %s: status got %d, want 200: %s", u, resp.StatusCode, b)
	}
	br := bufio.NewReaderSize(resp.Body, 1<<20)
	var n uint64
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			return n, fmt.Errorf("GET %s: line longer than %d bytes", u, br.Size())
		}
		if err == io.EOF && len(line) == 0 {
			return n, nil
		}
		if err != nil {
			return n, fmt.Errorf("GET %s: after %d lines: %w (partial line %.80q)", u, n, err, line)
		}
		if err := fn(line[:len(line)-1]); err != nil {
			return n, err
		}
		n++
	}
}
