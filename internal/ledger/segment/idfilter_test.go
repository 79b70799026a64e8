package segment_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/logline/logline/internal/ledger"
	"github.com/logline/logline/internal/ledger/ledgertest"
	"github.com/logline/logline/internal/ledger/segment"
	"github.com/logline/logline/internal/span"
)

// The conformance suite once with a tiny id filter built before the first
// append (it fills and is rebuilt larger over and over, so both its "no"
// and its "maybe" answer are exercised), and once without a filter.
func TestConformanceIDFilter(t *testing.T) {
	for name, mod := range map[string]func(*segment.Config){
		"tiny filter": func(c *segment.Config) { *c = segment.WithIDFilter(*c, 2, true) },
		"no filter":   func(c *segment.Config) { *c = segment.WithoutIDFilter(*c) },
	} {
		t.Run(name, func(t *testing.T) { runConformance(t, mod) })
	}
}

// TestIDFilterKnowsStoredIDs: after a reopen, the filter built from the
// index answers for ids stored before (duplicates, conflicts and the seq
// rule as without it), new ids skip the index lookup, and it grows past
// its capacity without losing an id.
func TestIDFilterKnowsStoredIDs(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openDir(t, dir)
	fill(t, s, 200, "a")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	filtered := func(c *segment.Config) { *c = segment.WithIDFilter(*c, 16, true) }
	s = openDir(t, dir, filtered)
	stored := func(i int) *span.Span {
		return ledgertest.MustSpan(t, ledgertest.Simple(fmt.Sprint("t", i%3), fmt.Sprintf("a%d", i), 0, fmt.Sprint("thing:", i%5), t0.Add(time.Duration(i)*time.Second)))
	}
	one := func(sp *span.Span) ledger.Outcome {
		t.Helper()
		outs, err := s.Append(ctx, []*span.Span{sp})
		if err != nil {
			t.Fatalf("append %s: %v", sp.ID, err)
		}
		return outs[0]
	}
	for _, tc := range []struct {
		name string
		sp   *span.Span
		dup  bool
		kind ledger.ConflictKind
	}{
		{"stored span again", stored(5), true, 0},
		{"stored id, other content", ledgertest.MustSpan(t, ledgertest.Simple("t2", "a5", 0, "other", t0)), false, ledger.ContentConflict},
		{"next version of a stored id", ledgertest.MustSpan(t, ledgertest.Simple("t2", "a5", 1, "thing:0", t0)), false, 0},
		{"a gap after a stored id", ledgertest.MustSpan(t, ledgertest.Simple("t1", "a7", 2, "thing:2", t0)), false, ledger.SeqConflict},
		{"stored id in another tenant", ledgertest.MustSpan(t, ledgertest.Simple("t0", "a5", 0, "thing:0", t0)), false, 0},
		{"new id", ledgertest.MustSpan(t, ledgertest.Simple("t0", "n0", 0, "thing:0", t0)), false, 0},
		{"new id, seq 1", ledgertest.MustSpan(t, ledgertest.Simple("t0", "n1", 1, "thing:0", t0)), false, ledger.SeqConflict},
	} {
		o := one(tc.sp)
		var ce *ledger.ConflictError
		switch {
		case tc.kind != 0:
			if !errors.As(o.Err, &ce) || ce.Kind != tc.kind {
				t.Errorf("%s: %v, want a conflict of kind %v", tc.name, o.Err, tc.kind)
			}
			if tc.name == "new id, seq 1" && ce != nil && ce.Latest != -1 {
				t.Errorf("%s: latest %d, want -1 (no version stored)", tc.name, ce.Latest)
			}
		case o.Err != nil:
			t.Errorf("%s: %v", tc.name, o.Err)
		case o.Result.Duplicate != tc.dup:
			t.Errorf("%s: duplicate %v, want %v", tc.name, o.Result.Duplicate, tc.dup)
		}
	}

	// 2,000 new ids: the filter (sized 400 at open) is rebuilt twice; new
	// ids are answered without the index, but for its false positives.
	before := s.IndexLookups()
	fill(t, s, 2000, "b")
	if n := s.IndexLookups() - before; n > 100 {
		t.Errorf("2,000 new ids took %d index lookups, want few (the filter's false positives)", n)
	}
	// Every id, old or new, is still known: each comes back a duplicate.
	for i := 0; i < 200; i++ {
		if o := one(stored(i)); o.Err != nil || !o.Result.Duplicate {
			t.Fatalf("a%d again: %+v", i, o)
		}
	}
	for i := 0; i < 2000; i++ {
		sp := ledgertest.MustSpan(t, ledgertest.Simple(fmt.Sprint("t", i%3), fmt.Sprintf("b%d", i), 0, fmt.Sprint("thing:", i%5), t0.Add(time.Duration(i)*time.Second)))
		if o := one(sp); o.Err != nil || !o.Result.Duplicate {
			t.Fatalf("b%d again: %+v", i, o)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// Without the filter, every new id is looked up.
	s = openDir(t, dir, func(c *segment.Config) { *c = segment.WithoutIDFilter(*c) })
	defer s.Close()
	before = s.IndexLookups()
	fill(t, s, 100, "c")
	if n := s.IndexLookups() - before; n < 100 {
		t.Errorf("without the filter 100 new ids took %d lookups, want 100", n)
	}
}
