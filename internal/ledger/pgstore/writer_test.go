package pgstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/logline/logline/internal/ledger"
	"github.com/logline/logline/internal/ledger/ledgertest"
	"github.com/logline/logline/internal/span"
)

// TestPipelinedReappends runs many appenders at once, so that flights are
// built on the plan of the one still committing, and mixes re-appends of
// committed spans (which a flight takes for new until the insert finds
// them: it is rebuilt, and the flight after it too) and content conflicts
// into the batches. Every outcome must be what a serial store answers and
// the ledger must verify.
func TestPipelinedReappends(t *testing.T) {
	url := newLedgerDB(t)
	s := openStore(t, Config{URL: url, MaxBatchSpans: 64})
	defer s.Close()
	ctx := context.Background()
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	mk := func(i int, what string) *span.Span {
		return ledgertest.MustSpan(t, ledgertest.Simple(fmt.Sprintf("t%d", i%5), fmt.Sprintf("p%d", i), 0, what, t0.Add(time.Duration(i)*time.Second)))
	}
	const clients, rounds, per = 8, 12, 16
	var (
		mu    sync.Mutex
		first = map[string]ledger.Result{} // id → result of its first append
		wg    sync.WaitGroup
	)
	for c := range clients {
		wg.Go(func() {
			for r := range rounds {
				base := (c*rounds + r) * per
				var batch []*span.Span
				for i := range per {
					batch = append(batch, mk(base+i, "x"))
				}
				if r > 0 {
					prev := base - per
					batch = append(batch, mk(prev, "x"), mk(prev+1, "changed"))
				}
				outs, err := s.Append(ctx, batch)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				for i, o := range outs {
					id := batch[i].ID
					switch {
					case i < per && (o.Err != nil || o.Result.Duplicate):
						t.Errorf("new span %s: got %+v", id, o)
					case i == per && (o.Err != nil || !o.Result.Duplicate || o.Result.LogIndex != first[id].LogIndex):
						t.Errorf("re-append of %s: got %+v, want a duplicate of log index %d", id, o, first[id].LogIndex)
					case i == per+1 && !errors.Is(o.Err, ledger.ErrConflict):
						t.Errorf("changed re-append of %s: got %+v, want a conflict", id, o)
					case i < per:
						first[id] = o.Result
					}
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if want := uint64(clients * rounds * per); s.Size() != want {
		t.Fatalf("size %d, want %d", s.Size(), want)
	}
	rep, err := Verify(ctx, url, VerifyOptions{})
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	if rep.Entries != s.Size() || rep.Root != s.Checkpoint().Root {
		t.Fatalf("verify: %d entries, root %x; the store has %d, %x", rep.Entries, rep.Root, s.Size(), s.Checkpoint().Root)
	}
}
