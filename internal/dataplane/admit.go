package dataplane

import (
	"context"
	"errors"

	"github.com/logline/logline/internal/ledger"
	"github.com/logline/logline/internal/span"
)

// AdmittingStore is the ledger as the gateway should see it: Append asks
// the worker (Admit) for every tenant of the batch first, so
// derived_events_perf's slow_ingest holds and reject_429 refuses client
// ingest, the whole batch at once, with an error wrapping
// ledger.ErrOverloaded (a *ledger.OverloadError with Retry-After). The
// worker, and the server's own writers, append to the store itself.
type AdmittingStore struct {
	ledger.Store
	w *Worker
}

// Admitting wraps store with w's backpressure.
func Admitting(store ledger.Store, w *Worker) *AdmittingStore {
	return &AdmittingStore{Store: store, w: w}
}

// Append admits every tenant of spans, then appends them.
func (s *AdmittingStore) Append(ctx context.Context, spans []*span.Span) ([]ledger.Outcome, error) {
	var last string
	for _, sp := range spans {
		if sp.Tenant == last {
			continue
		}
		last = sp.Tenant
		if err := s.w.Admit(ctx, sp.Tenant); err != nil {
			var oe *OverloadError
			if errors.As(err, &oe) {
				return nil, &ledger.OverloadError{Reason: oe.Problem(), RetryAfter: oe.RetryAfter}
			}
			return nil, err
		}
	}
	return s.Store.Append(ctx, spans)
}
