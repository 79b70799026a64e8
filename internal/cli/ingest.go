package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/logline/logline/internal/client"
)

const (
	// DefaultIngestBatch is how many lines one ingest request carries.
	DefaultIngestBatch = 5000
	// maxBatchBytes cuts a batch early so a request stays well below the
	// server's default body limit (32 MiB).
	maxBatchBytes = 16 << 20
	// maxShownRejections is how many rejected lines are listed.
	maxShownRejections = 20
	// firstRetryDelay doubles after each retry, up to maxRetryDelay.
	firstRetryDelay = 200 * time.Millisecond
	maxRetryDelay   = 5 * time.Second
)

type ingestOptions struct {
	serverFlags
	tenant  string
	batch   int
	retries int
	json    bool
}

func (a *app) newIngest() *cobra.Command {
	var o ingestOptions
	cmd := &cobra.Command{
		Use:   "ingest FILE|-",
		Short: "Append the spans of an NDJSON file to the ledger",
		Long: `Append the spans of an NDJSON file (or standard input) to the ledger
through POST /ingest, --batch lines per request. The file is streamed,
never loaded whole.

Each line gets the server's verdict: accepted, duplicate (that exact span
was already stored) or rejected. Rejected lines are listed on standard
error with their file line number and the server's problem detail (the
first 20, then a count); a summary follows on standard output (--json for
a JSON summary). The exit code is 1 if any line was rejected.

Requests that fail to reach the server, break off, or meet a server that
is shutting down are retried (--retries). That is safe: a re-appended
identical span is a duplicate, and spans without an id get ids derived
from an X-Idempotency-Key that is a hash of the file's identity (path,
size, modification time), the batch size, the batch number and the
batch's bytes, so a retried batch stores nothing twice. Standard input
gets a random identity per run.

A progress bar is drawn on standard error when it is a terminal.`,
		Example: `  logline ingest spans.ndjson
  logline ingest --server http://10.0.0.5:8420 --tenant acme spans.ndjson
  generate-spans | logline ingest - --json`,
		Args: exactArgs(1),
		RunE: run(func(cmd *cobra.Command, args []string) error {
			return a.ingest(cmd.Context(), o, args[0])
		}),
	}
	o.serverFlags.register(cmd)
	f := cmd.Flags()
	f.StringVar(&o.tenant, "tenant", "", "require every span to belong to this tenant")
	f.IntVar(&o.batch, "batch", DefaultIngestBatch, "lines per request")
	f.IntVar(&o.retries, "retries", 5, "retries of a batch after a connection error or an unavailable server")
	f.BoolVar(&o.json, "json", false, "print the summary as JSON")
	return cmd
}

// rejection is one rejected input line.
type rejection struct {
	Line    int    `json:"line"`
	Code    string `json:"code,omitempty"`
	Pointer string `json:"pointer,omitempty"`
	Detail  string `json:"detail"`
}

// ingestSummary is what ingest reports (--json prints it as is).
type ingestSummary struct {
	Source         string      `json:"source"`
	Server         string      `json:"server"`
	Lines          int         `json:"lines"`
	Accepted       int         `json:"accepted"`
	Duplicates     int         `json:"duplicates"`
	Rejected       int         `json:"rejected"`
	Batches        int         `json:"batches"`
	Retries        int         `json:"retries"`
	Seconds        float64     `json:"seconds"`
	SpansPerSecond float64     `json:"spans_per_second"`
	RejectedLines  []rejection `json:"rejected_lines,omitempty"` // the first 20
	MoreRejected   int         `json:"more_rejected,omitempty"`  // rejected lines not listed
	Error          string      `json:"error,omitempty"`          // why ingest stopped early
}

func (s *ingestSummary) reject(r rejection) {
	s.Rejected++
	if len(s.RejectedLines) < maxShownRejections {
		s.RejectedLines = append(s.RejectedLines, r)
	} else {
		s.MoreRejected++
	}
}

// ingestBatch is one request's worth of input lines.
type ingestBatch struct {
	no       int         // batch number, from 0
	body     []byte      // the non-blank lines, each ending in "\n"
	lines    []int       // lines[k] is the file line number of request line k+1
	local    []rejection // lines rejected before sending (too long)
	consumed int64       // input bytes consumed through this batch
}

func (a *app) ingest(ctx context.Context, o ingestOptions, arg string) error {
	if o.batch < 1 {
		return usageErrorf("--batch must be at least 1")
	}
	if o.retries < 0 {
		return usageErrorf("--retries must not be negative")
	}
	c, err := a.client(o.serverFlags)
	if err != nil {
		return err
	}
	r, name, closeIn, err := a.openInput(arg)
	if err != nil {
		return err
	}
	defer closeIn()
	identity, total, err := inputIdentity(r, arg)
	if err != nil {
		return ioErrorf("ingest: %w", err)
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	batches := make(chan *ingestBatch, 1)
	readErr := make(chan error, 1)
	go func() {
		defer close(batches)
		readErr <- readBatches(ctx, newLineReader(r, maxInputLine), o.batch, batches)
	}()

	sum := ingestSummary{Source: name, Server: c.BaseURL()}
	bar := newProgress(a.io.Err, a.io.ErrTTY, total, "ingest", true)
	start := time.Now()
	var runErr error
	for b := range batches {
		for _, rej := range b.local {
			sum.Lines++
			sum.reject(rej)
		}
		if len(b.lines) > 0 {
			key := idempotencyKey(identity, o.batch, b)
			if err := a.sendBatch(ctx, c, o, b, key, &sum); err != nil {
				runErr = err
				cancel()
				break
			}
			sum.Batches++
		}
		bar.set(b.consumed)
	}
	for range batches { // let the reader finish
	}
	if err := <-readErr; err != nil && runErr == nil && !errors.Is(err, context.Canceled) {
		runErr = ioErrorf("ingest: read %s: %w", name, err)
	}
	bar.done()
	elapsed := time.Since(start)
	sum.Seconds = elapsed.Seconds()
	sum.SpansPerSecond = rate(sum.Lines, elapsed)
	if runErr != nil {
		runErr = classify(runErr)
		sum.Error = runErr.Error()
	}

	// Lines rejected before sending come first within their batch.
	sort.SliceStable(sum.RejectedLines, func(i, j int) bool { return sum.RejectedLines[i].Line < sum.RejectedLines[j].Line })
	for _, rej := range sum.RejectedLines {
		fmt.Fprintf(a.io.Err, "%s:%d: %s\n", name, rej.Line, rej.describe())
	}
	if sum.MoreRejected > 0 {
		fmt.Fprintf(a.io.Err, "%s: … and %d more rejected line(s)\n", name, sum.MoreRejected)
	}
	if o.json {
		if err := writeJSON(a.io.Out, sum); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(a.io.Out, "%s: %d lines: %d accepted, %d duplicates, %d rejected in %s (%.0f spans/s)\n",
			name, sum.Lines, sum.Accepted, sum.Duplicates, sum.Rejected,
			elapsed.Round(time.Millisecond), sum.SpansPerSecond)
	}
	switch {
	case runErr != nil:
		return runErr
	case sum.Rejected > 0:
		return silentFail(ExitFailed)
	}
	return nil
}

func (r rejection) describe() string {
	s := r.Detail
	switch {
	case r.Code != "" && r.Pointer != "":
		s += " (" + r.Code + " at " + r.Pointer + ")"
	case r.Code != "":
		s += " (" + r.Code + ")"
	}
	return s
}

// readBatches splits the input into batches of at most size non-blank
// lines (and maxBatchBytes), sending each to out. Blank lines are
// skipped; lines that are too long become local rejections. The split
// depends only on the input and size, so a re-run cuts the same batches.
func readBatches(ctx context.Context, lr *lineReader, size int, out chan<- *ingestBatch) error {
	b := &ingestBatch{}
	flush := func() bool {
		b.consumed = lr.read
		select {
		case out <- b:
		case <-ctx.Done():
			return false
		}
		b = &ingestBatch{no: b.no + 1}
		return true
	}
	for {
		line, no, err := lr.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if errors.Is(err, errLineTooLong) {
			b.local = append(b.local, rejection{Line: no, Code: "too_large", Detail: err.Error()})
			continue
		}
		if err != nil {
			return err
		}
		if blank(line) {
			continue
		}
		if len(b.lines) > 0 && len(b.body)+len(line)+1 > maxBatchBytes {
			if !flush() {
				return ctx.Err()
			}
		}
		b.body = append(b.body, line...)
		b.body = append(b.body, '\n')
		b.lines = append(b.lines, no)
		if len(b.lines) == size && !flush() {
			return ctx.Err()
		}
	}
	if len(b.lines) > 0 || len(b.local) > 0 || lr.read > 0 {
		if !flush() {
			return ctx.Err()
		}
	}
	return nil
}

// lineOutcome is what is known about one request line of a batch.
type lineOutcome uint8

const (
	outcomePending lineOutcome = iota
	outcomeAccepted
	outcomeDuplicate
	outcomeRejected
)

// sendBatch sends one batch, retrying connection failures and temporary
// server problems with the same idempotency key, and adds its outcome to
// sum. Results of several attempts are merged: a line stored by an
// earlier attempt and answered as a duplicate by a retry counts as
// accepted. It returns an error only when ingest cannot go on.
func (a *app) sendBatch(ctx context.Context, c *client.Client, o ingestOptions, b *ingestBatch, key string, sum *ingestSummary) error {
	state := make([]lineOutcome, len(b.lines))
	probs := make([]*client.Problem, len(b.lines))
	delay := firstRetryDelay
	var summaryErr *client.Problem
	for attempt := 0; ; attempt++ {
		summaryErr = nil
		s, err := c.IngestNDJSON(ctx, bytes.NewReader(b.body),
			client.IngestOptions{Tenant: o.tenant, IdempotencyKey: key},
			func(r client.LineResult) error {
				k := r.Line - 1
				if k < 0 || k >= len(state) {
					return fmt.Errorf("ingest: the server answered line %d of a %d-line request", r.Line, len(state))
				}
				switch {
				case r.OK && !r.Duplicate:
					state[k] = outcomeAccepted
				case r.OK:
					if state[k] != outcomeAccepted {
						state[k] = outcomeDuplicate
					}
				case r.Error != nil && r.Error.Temporary():
					// not processed (the server stopped): retry it
				default:
					if state[k] == outcomePending {
						state[k] = outcomeRejected
						probs[k] = r.Error
					}
				}
				return nil
			})
		if err == nil && s.Error != nil {
			if s.Error.Temporary() {
				err = s.Error
			} else {
				summaryErr = s.Error
			}
		}
		if err == nil || !client.Retryable(err) {
			if err != nil {
				var p *client.Problem
				if errors.As(err, &p) && p.Status == 413 {
					return usageErrorf("ingest: the server refused batch %d as too large (%v); use a smaller --batch", b.no+1, err)
				}
				return err
			}
			break
		}
		if pendingCount(state) == 0 {
			break // every line was answered before the connection broke
		}
		if attempt >= o.retries {
			return fmt.Errorf("ingest: batch %d (lines %d-%d) failed after %d attempt(s): %w",
				b.no+1, b.lines[0], b.lines[len(b.lines)-1], attempt+1, err)
		}
		sum.Retries++
		fmt.Fprintf(a.io.Err, "ingest: batch %d: %v; retrying in %s\n", b.no+1, err, delay)
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return ctx.Err()
		}
		delay = min(2*delay, maxRetryDelay)
	}
	for k, st := range state {
		sum.Lines++
		switch st {
		case outcomeAccepted:
			sum.Accepted++
		case outcomeDuplicate:
			sum.Duplicates++
		case outcomeRejected:
			sum.reject(problemRejection(b.lines[k], probs[k]))
		default:
			p := summaryErr
			if p == nil {
				p = &client.Problem{Code: "no_result", Detail: "the server sent no result for this line"}
			}
			sum.reject(problemRejection(b.lines[k], p))
		}
	}
	return nil
}

func pendingCount(state []lineOutcome) int {
	n := 0
	for _, s := range state {
		if s == outcomePending {
			n++
		}
	}
	return n
}

// problemRejection describes a rejected line from the server's problem.
func problemRejection(line int, p *client.Problem) rejection {
	if p == nil {
		return rejection{Line: line, Detail: "rejected without a reason"}
	}
	detail := p.Detail
	if detail == "" {
		detail = p.Title
	}
	return rejection{Line: line, Code: p.Code, Pointer: p.Pointer, Detail: detail}
}

// inputIdentity names the input for idempotency keys, and returns its
// size when known (-1 otherwise). A regular file is identified by its
// absolute path, size and modification time, so re-running the same
// ingest of an unchanged file sends the same keys; anything else gets a
// random identity (retries within one run are still idempotent).
func inputIdentity(r io.Reader, arg string) (string, int64, error) {
	if f, ok := r.(*os.File); ok && arg != "-" {
		st, err := f.Stat()
		if err != nil {
			return "", -1, err
		}
		if st.Mode().IsRegular() {
			abs, err := filepath.Abs(arg)
			if err != nil {
				abs = arg
			}
			return "file:" + abs + "|" + strconv.FormatInt(st.Size(), 10) + "|" +
				strconv.FormatInt(st.ModTime().UnixNano(), 10), st.Size(), nil
		}
	}
	var nonce [16]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return "", -1, err
	}
	return "stream:" + hex.EncodeToString(nonce[:]), -1, nil
}

// idempotencyKey is the X-Idempotency-Key of a batch: a hash of the
// input's identity, the batch size, the batch number and the batch bytes.
func idempotencyKey(identity string, batchSize int, b *ingestBatch) string {
	body := sha256.Sum256(b.body)
	h := sha256.New()
	fmt.Fprintf(h, "logline-ingest-v1|%s|%d|%d|", identity, batchSize, b.no)
	h.Write(body[:])
	return "ingest-" + hex.EncodeToString(h.Sum(nil))[:48]
}
