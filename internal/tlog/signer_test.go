package tlog_test

import (
	"crypto/sha256"
	"errors"
	"testing"
	"time"

	"github.com/logline/logline/internal/tlog"
)

func TestGuardedSigner(t *testing.T) {
	dir := t.TempDir()
	keys, err := tlog.LoadOrCreateKeys(dir, "logline.test/ledger", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	guard, err := tlog.OpenGuard(dir, keys.Origin())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	g := tlog.NewGuardedSigner(keys, guard, time.Second, func() time.Time { return now })
	root := func(n byte) [32]byte { return sha256.Sum256([]byte{n}) }
	recorded := func() uint64 {
		size, _, _ := guard.Last()
		return size
	}
	steps := []struct {
		advance time.Duration
		size    uint64
		want    uint64 // size recorded in the guard afterwards
	}{
		{0, 1, 1},                      // first signature after start: recorded
		{100 * time.Millisecond, 2, 1}, // within the interval: not rewritten
		{500 * time.Millisecond, 3, 1},
		{500 * time.Millisecond, 4, 4}, // a second later: rewritten
	}
	for _, st := range steps {
		now = now.Add(st.advance)
		note, err := g.Sign(st.size, root(byte(st.size)))
		if err != nil || len(note) == 0 {
			t.Fatalf("sign size %d: %v", st.size, err)
		}
		if _, err := tlog.ParseCheckpoint(note, keys.Verifiers(), keys.Origin()); err != nil {
			t.Fatalf("size %d: the note does not verify: %v", st.size, err)
		}
		if got := recorded(); got != st.want {
			t.Fatalf("after signing size %d: guard records %d, want %d", st.size, got, st.want)
		}
	}
	// A tree that contradicts the record is refused.
	if _, err := g.Sign(4, root(99)); !errors.Is(err, tlog.ErrConflict) {
		t.Fatalf("conflicting root: got %v, want ErrConflict", err)
	}
	if _, err := g.Sign(3, root(3)); !errors.Is(err, tlog.ErrRollback) {
		t.Fatalf("smaller tree: got %v, want ErrRollback", err)
	}
}
