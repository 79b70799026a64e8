package metrics

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/logline/logline/internal/ledger"
)

// Ledger holds the append path's metrics (v8 §20 ledger.*) and is the
// ledger.Observer a store reports to:
//
//	logline_ledger_append_duration_seconds   histogram  submit → durable answer, per append request
//	logline_ledger_append_errors_total       counter    appends that failed (not the caller giving up)
//	logline_ledger_batch_spans               histogram  spans per group commit
//	logline_ledger_backlog_spans             gauge      spans submitted and not answered yet
//	logline_ledger_spans_appended_total      counter    spans newly written to the log
//	logline_ledger_spans_duplicate_total     counter    idempotent re-appends (answered with the original)
//	logline_ledger_spans_rejected_total      counter    spans refused one by one (seq or content conflicts)
//	logline_ledger_receipts_issued_total     counter    receipts handed out by the gateway
//
// plus logline_ledger_entries (Registry.RegisterLogSize). None has a
// tenant label: tenants are not a bounded set, and GET /metrics/public
// keeps per-tenant counts. Its methods are safe for concurrent use.
type Ledger struct {
	appendDur prometheus.Histogram
	errs      prometheus.Counter
	batch     prometheus.Histogram
	backlog   prometheus.Gauge
	appended  prometheus.Counter
	duplicate prometheus.Counter
	rejected  prometheus.Counter
	receipts  prometheus.Counter
}

var _ ledger.Observer = (*Ledger)(nil)

func newLedger() *Ledger {
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Subsystem: "ledger", Name: name, Help: help})
	}
	return &Ledger{
		appendDur: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: Namespace, Subsystem: "ledger", Name: "append_duration_seconds",
			Help: "Time from submitting an append request to the store's queue until the writer answered it durably (queue wait, write, fsync, index), one observation per request.",
			// An fdatasync takes from ~100 µs (NVMe) to tens of ms; a
			// PostgreSQL commit a few ms; a full queue adds its wait.
			Buckets: []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10},
		}),
		errs: counter("append_errors_total", "Append requests that failed (store closed or stopped, write or commit error); a caller giving up (context ended) is not counted."),
		batch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: Namespace, Subsystem: "ledger", Name: "batch_spans",
			Help:    "Spans the writer took from the queue for one group commit (one write and fsync, or one transaction).",
			Buckets: prometheus.ExponentialBuckets(1, 2, 14), // 1 … 8192, the largest batch
		}),
		backlog: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: Namespace, Subsystem: "ledger", Name: "backlog_spans",
			Help: "Spans submitted for appending and not answered yet: waiting for room in the queue, queued, or being committed.",
		}),
		appended:  counter("spans_appended_total", "Spans newly written to the log (durable)."),
		duplicate: counter("spans_duplicate_total", "Spans re-appended with the content already stored: answered with the original, nothing written."),
		rejected:  counter("spans_rejected_total", "Spans the store refused one by one (a seq or content conflict, or an error looking up their versions)."),
		receipts:  counter("receipts_issued_total", "Receipts (v8 §16) handed out for appended spans."),
	}
}

func (l *Ledger) collectors() []prometheus.Collector {
	return []prometheus.Collector{l.appendDur, l.errs, l.batch, l.backlog, l.appended, l.duplicate, l.rejected, l.receipts}
}

// Waiting implements ledger.Observer.
func (l *Ledger) Waiting(spans int) { l.backlog.Add(float64(spans)) }

// Answered implements ledger.Observer.
func (l *Ledger) Answered(spans int, wait time.Duration, out []ledger.Outcome, err error) {
	l.backlog.Sub(float64(spans))
	if err != nil {
		if !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
			l.errs.Inc()
		}
		return
	}
	l.appendDur.Observe(wait.Seconds())
	var appended, duplicate, rejected int
	for i := range out {
		switch {
		case out[i].Err != nil:
			rejected++
		case out[i].Result.Duplicate:
			duplicate++
		default:
			appended++
		}
	}
	// Add(0) costs an atomic load: skip it.
	if appended > 0 {
		l.appended.Add(float64(appended))
	}
	if duplicate > 0 {
		l.duplicate.Add(float64(duplicate))
	}
	if rejected > 0 {
		l.rejected.Add(float64(rejected))
	}
}

// Batch implements ledger.Observer.
func (l *Ledger) Batch(spans int) { l.batch.Observe(float64(spans)) }

// ReceiptIssued counts one receipt handed out.
func (l *Ledger) ReceiptIssued() { l.receipts.Inc() }
