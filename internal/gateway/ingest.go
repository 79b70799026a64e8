package gateway

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/logline/logline/internal/auth/quota"
	"github.com/logline/logline/internal/derive"
	"github.com/logline/logline/internal/ledger"
	"github.com/logline/logline/internal/span"
)

const (
	// lineQueue is how many read lines may wait for the batcher.
	lineQueue = 128
	// batchLinger is how long the batcher waits for more lines before it
	// hands a partial batch on (a client that sends slowly still gets its
	// results promptly).
	batchLinger = 2 * time.Millisecond
	// placeholderID stands in for an id while a span is decoded only to
	// learn its tenant.
	placeholderID = "s_00000000000000000000000000"
	// drainGrace bounds how long an NDJSON ingest stopped by a shutdown
	// waits for a blocked body read, and then reads and drops the rest of
	// the body (see ingestNDJSON).
	drainGrace = time.Second
)

// ingestMode is what the Content-Type of an ingest request asks for.
type ingestMode int

const (
	modeSingle ingestMode = iota
	modeNDJSON
	modeUnsupported
)

// ingestModeOf reads the Content-Type: application/json (or none) is one
// span; application/x-ndjson and its synonyms are a stream of spans.
func ingestModeOf(contentType string) ingestMode {
	if contentType == "" {
		return modeSingle
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return modeUnsupported
	}
	switch mt {
	case "application/json":
		return modeSingle
	case "application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines", "application/jsonlines":
		return modeNDJSON
	}
	return modeUnsupported
}

// ingestParams are the request-wide inputs of an append.
type ingestParams struct {
	tenant string // ?tenant=, "" when absent
	key    string // X-Idempotency-Key, "" when absent
	proof  bool   // ?proof=1: receipts carry their inclusion proof
}

func parseIngestParams(r *http.Request) (ingestParams, error) {
	var p ingestParams
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return p, newProblem(codeInvalidParameter, "query string: "+err.Error())
	}
	if vs, ok := q["proof"]; ok {
		switch {
		case len(vs) == 1 && (vs[0] == "1" || vs[0] == "true"):
			p.proof = true
		case len(vs) == 1 && (vs[0] == "0" || vs[0] == "false" || vs[0] == ""):
		default:
			return p, paramProblem(codeInvalidParameter, "proof", "proof must be one of 1, true, 0, false")
		}
	}
	if vs, ok := q["tenant"]; ok {
		p.tenant = vs[0]
		if len(vs) > 1 || !span.ValidTenant(p.tenant) {
			return p, paramProblem(codeInvalidParameter, "tenant", "tenant must be one value matching [a-z0-9_-]{1,64}")
		}
	}
	if vs := r.Header.Values(idempotencyHeader); len(vs) > 0 {
		p.key = vs[0]
		if len(vs) > 1 || !validToken(p.key) {
			return p, newProblem(codeInvalidHeader, idempotencyHeader+" must be one value of 1-128 characters [A-Za-z0-9._:~-]").withHeader(idempotencyHeader)
		}
	}
	return p, nil
}

func (s *Server) handleIngest(w http.ResponseWriter, r *http.Request) {
	p, err := parseIngestParams(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if pr := principalOf(r.Context()); pr != nil {
		// A token appends to its own tenant only (every span is checked
		// against p.tenant in decodeSpan).
		if p.tenant != "" && p.tenant != pr.Tenant {
			writeProblem(w, newProblem(codeTenantMismatch,
				fmt.Sprintf("the request tenant %q is not the token's tenant", p.tenant)).withParameter("tenant"))
			return
		}
		p.tenant = pr.Tenant
	}
	mode := ingestModeOf(r.Header.Get("Content-Type"))
	if mode == modeUnsupported {
		writeProblem(w, newProblem(codeUnsupportedMedia,
			"Content-Type must be application/json (one span) or application/x-ndjson (one span per line)"))
		return
	}
	if r.ContentLength > s.maxBody {
		writeProblem(w, newProblem(codeBodyTooLarge, fmt.Sprintf(bodyTooLargeDetailFmt, s.maxBody)))
		return
	}
	// The root writer lets MaxBytesReader mark the connection for closing
	// when the limit is hit (it does not look through wrappers).
	r.Body = http.MaxBytesReader(rootWriter(w), r.Body, s.maxBody)
	if pr := principalOf(r.Context()); pr != nil && s.access.Quotas != nil {
		// Bytes are charged as they are read: a tenant over its byte
		// rate is slowed down, not cut off.
		r.Body = readCloser{s.access.Quotas.Reader(r.Context(), pr.Tenant, quotaRole(pr), r.Body), r.Body}
	}
	if mode == modeNDJSON {
		s.ingestNDJSON(w, r, p)
		return
	}
	s.ingestSingle(w, r, p)
}

// decodeSpan decodes one span sent by a client and checks it against the
// request's tenant. A span without an id gets a fresh one, or with an
// idempotency key the id derived from (tenant, key, line).
func (s *Server) decodeSpan(data []byte, p ingestParams, lineNo int) (*span.Span, error) {
	opts := span.DecodeOptions{Limits: s.limits, NewID: s.nextID}
	var sp *span.Span
	var err error
	switch {
	case p.key == "":
		sp, err = span.Decode(data, opts)
	case p.tenant != "":
		opts.NewID = func() string { return idempotentID(p.tenant, p.key, lineNo) }
		sp, err = span.Decode(data, opts)
	default:
		// The derived id needs the span's tenant: learn it first, then
		// decode again with the right id (only spans without an id).
		needID := false
		opts.NewID = func() string { needID = true; return placeholderID }
		sp, err = span.Decode(data, opts)
		if err == nil && needID {
			tenant := sp.Tenant
			opts.NewID = func() string { return idempotentID(tenant, p.key, lineNo) }
			sp, err = span.Decode(data, opts)
		}
	}
	if err != nil {
		return nil, err
	}
	if derive.Reserved(sp.Who, sp.EntityType) {
		if strings.HasPrefix(sp.Who, "system:") {
			return nil, newProblem(codeReserved,
				fmt.Sprintf("who %q: authors system:… are the server's own", sp.Who)).withPointer("/" + span.FieldWho)
		}
		return nil, newProblem(codeReserved,
			fmt.Sprintf("entity_type %q is written by the data plane only", sp.EntityType)).withPointer("/" + span.FieldEntityType)
	}
	if p.tenant != "" && sp.Tenant != p.tenant {
		return nil, newProblem(codeTenantMismatch,
			fmt.Sprintf("span tenant %q is not the request tenant %q", sp.Tenant, p.tenant)).withPointer("/" + span.FieldTenant)
	}
	return sp, nil
}

func (s *Server) ingestSingle(w http.ResponseWriter, r *http.Request, p ingestParams) {
	data, err := io.ReadAll(io.LimitReader(r.Body, int64(s.maxLine)+1))
	if err != nil {
		s.writeError(w, r, bodyReadProblem(err, s.maxBody))
		return
	}
	if len(data) > s.maxLine {
		writeProblem(w, newProblem(codeTooLarge,
			fmt.Sprintf("span is larger than %d bytes", s.limits.MaxSpanBytes)))
		return
	}
	sp, err := s.decodeSpan(data, p, 1)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	prob, warnings := s.validate(r.Context(), sp)
	if prob != nil {
		writeProblem(w, prob)
		return
	}
	if pr := principalOf(r.Context()); pr != nil && s.access.Quotas != nil {
		if d := s.access.Quotas.Allow(pr.Tenant, quotaRole(pr), quota.Cost{Spans: 1}); !d.OK {
			s.denied(pr.Tenant, "quota "+d.Dimension)
			quota.WriteTooMany(w, d)
			return
		}
	}
	outs, err := s.store.Append(r.Context(), []*span.Span{sp})
	if err == nil && len(outs) != 1 {
		err = fmt.Errorf("store answered %d outcomes for 1 span", len(outs))
	}
	if err == nil {
		err = outs[0].Err
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	res := outs[0].Result
	if !res.Duplicate {
		s.countIngest(res.Tenant, 1)
	}
	body := appendResult(nil, 0, &res, s.receipts(r, p), warnings)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	status := http.StatusCreated
	if res.Duplicate {
		status = http.StatusOK
	}
	h.Set("Location", spanLocation(&res))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// waitSpanQuota takes n spans from the token's span buckets before a
// batch of an NDJSON body is appended, waiting (backpressure) while they
// refill; a wait longer than the quota allows, or the request's end,
// is an error that stops the body with 429.
func (s *Server) waitSpanQuota(ctx context.Context, n int) error {
	pr := principalOf(ctx)
	if pr == nil || s.access.Quotas == nil {
		return nil
	}
	if err := s.access.Quotas.Wait(ctx, pr.Tenant, quotaRole(pr), quota.Cost{Spans: int64(n)}); err != nil {
		var le *quota.LimitError
		if errors.As(err, &le) {
			s.denied(pr.Tenant, "quota spans")
			return newProblem(codeTooManyRequests, le.Error())
		}
		return err
	}
	return nil
}

// countIngest adds n newly stored spans to tenant's usage.
func (s *Server) countIngest(tenant string, n uint64) {
	if s.usage != nil {
		s.usage.AddIngestSpans(tenant, n)
	}
}

// readCloser reads through a wrapper and closes the original body.
type readCloser struct {
	io.Reader
	io.Closer
}

// spanLocation is the URL path of one stored version.
func spanLocation(res *ledger.Result) string {
	return "/spans/" + url.PathEscape(res.ID) + "?tenant=" + url.QueryEscape(res.Tenant) + "&seq=" + strconv.FormatUint(res.Seq, 10)
}

// bodyReadProblem explains why the body could not be read.
func bodyReadProblem(err error, maxBody int64) *Problem {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return newProblem(codeBodyTooLarge, fmt.Sprintf(bodyTooLargeDetailFmt, maxBody))
	}
	return newProblem(codeBadRequest, "the request body could not be read to its end")
}

// appendResult writes the JSON result of one stored span plus "\n". With
// lineNo > 0 it is an NDJSON result line (with "line" and "ok").
func appendResult(b []byte, lineNo int, res *ledger.Result, rc *receiptCtx, warnings []string) []byte {
	b = append(b, '{')
	if lineNo > 0 {
		b = append(b, `"line":`...)
		b = strconv.AppendInt(b, int64(lineNo), 10)
		b = append(b, `,"ok":true,`...)
	}
	b = append(b, `"id":`...)
	b = appendJSONString(b, res.ID)
	b = append(b, `,"seq":`...)
	b = strconv.AppendUint(b, res.Seq, 10)
	b = append(b, `,"tenant":`...)
	b = appendJSONString(b, res.Tenant)
	b = append(b, `,"log_index":`...)
	b = strconv.AppendUint(b, res.LogIndex, 10)
	b = append(b, `,"curr_hash":"`...)
	b = hex.AppendEncode(b, res.Hash[:])
	b = append(b, `","prev_hash":"`...)
	b = hex.AppendEncode(b, res.PrevHash[:])
	b = append(b, `","received_at":"`...)
	b = res.ReceivedAt.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","duplicate":`...)
	b = strconv.AppendBool(b, res.Duplicate)
	b = appendWarnings(b, warnings)
	if rc != nil {
		b = rc.s.appendReceipt(rc.ctx, b, res, rc)
	}
	return append(b, "}\n"...)
}

// receiptCtx says how result lines get their receipts (nil: none).
type receiptCtx struct {
	s     *Server
	ctx   context.Context
	kid   string
	proof bool // ?proof=1: add the inclusion proof

	ndjson bool // send each checkpoint note once (see receipt.go)

	// Only the request's appending goroutine uses these.
	note     []byte // the last checkpoint note, JSON-encoded
	noteSize uint64 // its tree size
	noteSent uint64 // size of the note last written into a receipt
}

func (s *Server) receipts(r *http.Request, p ingestParams) *receiptCtx {
	return &receiptCtx{s: s, ctx: r.Context(), kid: s.activeKeyID(), proof: p.proof}
}

// appendJSONString appends s as a JSON string.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendErrorLine writes a rejected NDJSON line: {"line":N,"ok":false,"error":{…}}.
func appendErrorLine(b []byte, p *Problem) []byte {
	pj, _ := json.Marshal(p)
	b = append(b, `{"line":`...)
	b = strconv.AppendInt(b, int64(p.Line), 10)
	b = append(b, `,"ok":false,"error":`...)
	b = append(b, pj...)
	return append(b, "}\n"...)
}

// ndSummary is the last line of an NDJSON ingest response. Refused
// counts the rejected lines the server refused under load (the data
// plane's backpressure: too_many_requests with retry_after_ms); they are
// among Rejected.
type ndSummary struct {
	Lines      int      `json:"lines"`
	Accepted   int      `json:"accepted"`
	Duplicates int      `json:"duplicates"`
	Rejected   int      `json:"rejected"`
	Refused    int      `json:"refused,omitempty"`
	Error      *Problem `json:"error,omitempty"`
}

// ndItem is one non-blank NDJSON line on its way through the pipeline.
type ndItem struct {
	no       int
	data     []byte     // the line; dropped once decoded
	sp       *span.Span // decoded span, nil when prob is set
	prob     *Problem   // why the line is rejected
	warnings []string   // failed "warn" validator rules
}

// ingestNDJSON appends a stream of spans with bounded memory. Three
// stages run concurrently: a reader splits the body into lines; a batcher
// groups them (up to NDJSONBatch lines or batchBytes) and decodes each
// batch with DecodeWorkers goroutines; this goroutine appends each batch
// with one Store.Append call and writes its result lines, in input order,
// as soon as the batch is durable. Channels between the stages are
// bounded, so a slow store or a slow client pushes back on the reader.
//
// An append refused under load (ledger.ErrOverloaded: nothing of its
// batch stored) ends the ingest. If nothing was answered yet — so
// nothing of the request was stored — the answer is a plain 429 problem
// with Retry-After, and the client retries the whole body; otherwise the
// batch's lines get that 429 as their result, counted in the summary's
// refused, and the summary carries it as its error.
func (s *Server) ingestNDJSON(w http.ResponseWriter, r *http.Request, p ingestParams) {
	s.begin()
	defer s.end()

	rc := http.NewResponseController(w)
	_ = rc.EnableFullDuplex() // read the body while answering (HTTP/1.1)
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("X-Content-Type-Options", "nosniff")

	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()

	items := make(chan ndItem, lineQueue)
	batches := make(chan []ndItem, 1)
	var readErr error // set by the reader goroutine; read only after wg.Wait
	var wg sync.WaitGroup
	wg.Go(func() { readErr = s.readLines(ctx, r.Body, items) })
	wg.Go(func() { s.batchAndDecode(ctx, p, items, batches) })
	wg.Go(func() {
		// On shutdown, unblock a reader waiting for a stalled client: the
		// lines read so far are answered, the summary says why it stopped.
		// A reader whose client is sending sees the shutdown at its next
		// line (readLines) well before the deadline, and leaves the body
		// readable for the drain below.
		select {
		case <-s.stopping:
			_ = rc.SetReadDeadline(time.Now().Add(drainGrace))
		case <-ctx.Done():
		}
	})

	var sum ndSummary
	var out []byte
	wrote := false       // a chunk of the answer went out: the status is 200
	var refused *Problem // an overload before anything was answered: the whole answer
	rcpt := s.receipts(r, p)
	rcpt.ndjson = true
	// stop ends the pipeline early; the read deadline unblocks a reader
	// waiting on the client (the connection is closed after the reply).
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cancel()
			_ = rc.SetReadDeadline(time.Now())
		}
	}
	for batch := range batches {
		if stopped {
			continue // drain
		}
		out = out[:0]
		var spans []*span.Span
		for i := range batch {
			if batch[i].prob == nil {
				spans = append(spans, batch[i].sp)
			}
		}
		var outs []ledger.Outcome
		var err error
		if len(spans) > 0 {
			err = s.waitSpanQuota(ctx, len(spans))
		}
		if len(spans) > 0 && err == nil {
			// Lines already read are appended even if the client goes
			// away or the server shuts down mid-body: an append is all
			// or nothing per span and idempotent on retry, and a
			// cancelled context must not turn read lines into errors.
			outs, err = s.store.Append(context.WithoutCancel(ctx), spans)
			if err == nil && len(outs) != len(spans) {
				err = fmt.Errorf("store answered %d outcomes for %d spans", len(outs), len(spans))
			}
		}
		var fatal *Problem
		if err != nil {
			fatal = s.problemFor(ctx, err)
			overloaded := errors.Is(err, ledger.ErrOverloaded)
			if overloaded && !wrote {
				refused = fatal
				stop()
				continue
			}
			if overloaded {
				sum.Refused += len(spans)
			}
			sum.Error = fatal
		}
		k := 0
		for i := range batch {
			it := &batch[i]
			prob := it.prob
			if prob == nil {
				if fatal != nil {
					cp := *fatal
					prob = cp.withLine(it.no)
				} else if o := outs[k]; o.Err != nil {
					prob = s.problemFor(ctx, o.Err).withLine(it.no)
				} else {
					out = appendResult(out, it.no, &o.Result, rcpt, it.warnings)
					if o.Result.Duplicate {
						sum.Duplicates++
					} else {
						sum.Accepted++
						s.countIngest(o.Result.Tenant, 1)
					}
				}
				k++
			}
			sum.Lines++
			if prob != nil {
				sum.Rejected++
				out = appendErrorLine(out, prob)
			}
		}
		wrote = true
		if !s.writeChunk(w, rc, out) {
			stop()
			continue
		}
		if fatal != nil {
			stop()
		}
	}
	cancel()
	wg.Wait()
	if stopped || readErr != nil {
		closeAfterReply(w)
	}
	if refused != nil {
		// Nothing was stored: one problem for the whole request.
		writeProblem(w, refused)
		s.log.LogAttrs(r.Context(), slog.LevelInfo, "gateway: NDJSON ingest refused under load",
			slog.String("code", refused.Code), slog.Duration("retry_after", refused.RetryAfter))
		return
	}

	if sum.Error == nil && readErr != nil {
		out = out[:0]
		var re *readError
		var mbe *http.MaxBytesError
		switch {
		case errors.As(readErr, &mbe) && errors.As(readErr, &re):
			sum.Error = newProblem(codeBodyTooLarge, fmt.Sprintf(bodyTooLargeDetailFmt, s.maxBody))
			cp := *sum.Error
			out = appendErrorLine(out, cp.withLine(re.No))
			sum.Lines++
			sum.Rejected++
		case errors.Is(readErr, errShuttingDown) || s.isStopping() && !stopped:
			sum.Error = newProblem(codeUnavailable, shuttingDownDetail)
		case stopped || r.Context().Err() != nil:
			// the client went away or we stopped: nobody to tell
		default:
			s.log.DebugContext(r.Context(), "gateway: reading NDJSON body", "err", readErr)
			sum.Error = newProblem(codeBadRequest, "the request body could not be read to its end")
		}
		if len(out) > 0 {
			s.writeChunk(w, rc, out)
		}
	}
	line, _ := json.Marshal(struct {
		Summary *ndSummary `json:"summary"`
	}{&sum})
	s.writeChunk(w, rc, append(line, '\n'))
	if errors.Is(readErr, errShuttingDown) {
		// The body was left unread at a line boundary. Closing a
		// connection with unread input sends a TCP reset, which makes the
		// client's kernel drop whatever of this answer it has not read
		// yet — a slow client would lose results of spans that are
		// stored. Read and drop the rest of the body first, for a moment.
		_ = rc.SetReadDeadline(time.Now().Add(drainGrace))
		_, _ = io.Copy(io.Discard, r.Body)
	}
	if sum.Error != nil {
		s.log.LogAttrs(r.Context(), slog.LevelInfo, "gateway: NDJSON ingest ended early",
			slog.String("code", sum.Error.Code), slog.Int("lines", sum.Lines))
	}
}

// rootWriter unwraps middleware writers down to the server's own.
func rootWriter(w http.ResponseWriter) http.ResponseWriter {
	for {
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			return w
		}
		w = u.Unwrap()
	}
}

// closeAfterReply makes the server close the connection once the response
// is done, for an NDJSON ingest that stopped before the end of its body.
// Reusing such a connection would read the rest of the body as the next
// request, and with full duplex enabled the server may even panic on it
// (golang/go#68560). The only public way to ask for this after the headers
// are sent is a MaxBytesReader over the server's writer hitting its limit:
// that is documented to tell the server to close the connection.
func closeAfterReply(w http.ResponseWriter) {
	var one [1]byte
	_, _ = http.MaxBytesReader(rootWriter(w), io.NopCloser(bytes.NewReader(one[:])), 0).Read(one[:])
}

// writeChunk writes b and flushes it within the stream write timeout. It
// reports whether the client took it.
func (s *Server) writeChunk(w http.ResponseWriter, rc *http.ResponseController, b []byte) bool {
	_ = rc.SetWriteDeadline(time.Now().Add(s.writeTimeout))
	if len(b) > 0 {
		if _, err := w.Write(b); err != nil {
			return false
		}
	}
	if err := rc.Flush(); err != nil {
		return false
	}
	return true
}

// readLines is the reader stage: it sends every non-blank line (copied)
// to items and closes it. It returns why it stopped early: a *readError
// from the body, errShuttingDown, or ctx's error; nil at the end of the
// body.
func (s *Server) readLines(ctx context.Context, body io.Reader, items chan<- ndItem) error {
	defer close(items)
	lr := newLineReader(body, s.maxLine)
	for {
		if s.isStopping() {
			return errShuttingDown
		}
		ln, err := lr.next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
		it := ndItem{no: ln.No}
		if ln.TooLong {
			it.prob = newProblem(codeTooLarge,
				fmt.Sprintf("line is longer than %d bytes (spans are limited to %d)", s.maxLine, s.limits.MaxSpanBytes)).withLine(ln.No)
		} else {
			it.data = bytes.Clone(ln.Data)
		}
		select {
		case items <- it:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// batchAndDecode is the batcher stage: it groups lines into batches,
// decodes each in parallel and sends it on, closing batches at the end.
func (s *Server) batchAndDecode(ctx context.Context, p ingestParams, items <-chan ndItem, batches chan<- []ndItem) {
	defer close(batches)
	linger := time.NewTimer(batchLinger)
	defer linger.Stop()
	for {
		batch, more := s.collectBatch(ctx, items, linger)
		if len(batch) > 0 {
			s.decodeBatch(ctx, batch, p)
			select {
			case batches <- batch:
			case <-ctx.Done():
				return
			}
		}
		if !more {
			return
		}
	}
}

// collectBatch takes the next batch of lines: it blocks for the first one,
// then takes more while they come within batchLinger, up to NDJSONBatch
// lines or batchBytes. more is false once items is closed (or ctx done).
func (s *Server) collectBatch(ctx context.Context, items <-chan ndItem, linger *time.Timer) (batch []ndItem, more bool) {
	select {
	case it, ok := <-items:
		if !ok {
			return nil, false
		}
		batch = append(make([]ndItem, 0, min(s.batch, 64)), it)
	case <-ctx.Done():
		return nil, false
	}
	size := len(batch[0].data)
	linger.Reset(batchLinger)
	for len(batch) < s.batch && size < s.batchBytes {
		select {
		case it, ok := <-items:
			if !ok {
				return batch, false
			}
			batch = append(batch, it)
			size += len(it.data)
		default:
			select {
			case it, ok := <-items:
				if !ok {
					return batch, false
				}
				batch = append(batch, it)
				size += len(it.data)
			case <-linger.C:
				return batch, true
			case <-ctx.Done():
				return batch, false
			}
		}
	}
	return batch, true
}

// decodeBatch decodes the lines of batch with up to DecodeWorkers
// goroutines. Each item is written by exactly one goroutine.
func (s *Server) decodeBatch(ctx context.Context, batch []ndItem, p ingestParams) {
	n := min(s.workers, len(batch))
	if n <= 1 {
		for i := range batch {
			s.decodeItem(ctx, &batch[i], p)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(batch) {
					return
				}
				s.decodeItem(ctx, &batch[i], p)
			}
		})
	}
	wg.Wait()
}

// decodeItem decodes one line. A panic in the decoder rejects the line
// instead of killing the process (it runs outside the request goroutine).
func (s *Server) decodeItem(ctx context.Context, it *ndItem, p ingestParams) {
	if it.prob != nil {
		return
	}
	defer func() {
		it.data = nil
		if v := recover(); v != nil {
			s.log.ErrorContext(ctx, "gateway: decoder panic", "line", it.no, "panic", v)
			it.sp = nil
			it.prob = newProblem(codeInternal, internalErrorDetail).withLine(it.no)
		}
	}()
	sp, err := s.decodeSpan(it.data, p, it.no)
	if err != nil {
		it.prob = s.problemFor(ctx, err).withLine(it.no)
		return
	}
	prob, warnings := s.validate(ctx, sp)
	if prob != nil {
		it.prob = prob.withLine(it.no)
		return
	}
	it.sp, it.warnings = sp, warnings
}
