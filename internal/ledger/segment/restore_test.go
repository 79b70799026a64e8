package segment_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/logline/logline/internal/ledger"
	"github.com/logline/logline/internal/ledger/ledgertest"
	"github.com/logline/logline/internal/ledger/segment"
	"github.com/logline/logline/internal/span"
)

// ledgerLines fills a ledger with n spans in batches of various sizes and
// returns its entry lines in log order and its Merkle root.
func ledgerLines(t *testing.T, n int) ([][]byte, [32]byte) {
	t.Helper()
	s := openDir(t, t.TempDir())
	defer s.Close()
	ctx := context.Background()
	for i, size := 0, 1; i < n; size = size%5 + 1 {
		var batch []*span.Span
		for j := 0; j < size && i < n; j++ {
			batch = append(batch, ledgertest.MustSpan(t, ledgertest.Simple(fmt.Sprint("t", i%3), fmt.Sprint("r", i), 0, fmt.Sprint("thing:", i%5), t0)))
			i++
		}
		if _, err := s.Append(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	var lines [][]byte
	if err := s.ReadRaw(ctx, 0, s.Size(), func(_ uint64, line []byte) error {
		lines = append(lines, bytes.Clone(line))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return lines, s.Checkpoint().Root
}

func linesOf(lines [][]byte) func() ([]byte, error) {
	i := 0
	return func() ([]byte, error) {
		if i == len(lines) {
			return nil, io.EOF
		}
		i++
		return lines[i-1], nil
	}
}

// segmentFiles returns the name and content of every segment of dir.
func segmentFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "ledger", "segments", "*"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(p)] = b
	}
	return out
}

func TestRestoreDeterministic(t *testing.T) {
	lines, root := ledgerLines(t, 60)
	ctx := context.Background()
	opts := segment.RestoreOptions{SegmentSize: 4096, BatchEntries: 7}
	var dirs []string
	for range 2 {
		dir := t.TempDir()
		var progress []uint64
		o := opts
		o.Progress = func(n uint64) { progress = append(progress, n) }
		res, err := segment.Restore(ctx, dir, linesOf(lines), o)
		if err != nil {
			t.Fatal(err)
		}
		if res.Entries != 60 || res.Root != root || res.Segments < 3 {
			t.Fatalf("got %+v, want 60 entries, root %x, several segments", res, root)
		}
		if want := []uint64{7, 14, 21, 28, 35, 42, 49, 56, 60}; !slices.Equal(progress, want) {
			t.Errorf("progress %v, want %v", progress, want)
		}
		rep, err := segment.Verify(ctx, dir, segment.VerifyOptions{})
		if err != nil || !rep.IndexChecked || rep.Entries != 60 || [32]byte(rep.Root) != root || rep.TornTail != "" {
			t.Fatalf("verify restored ledger: %+v, %v", rep, err)
		}
		dirs = append(dirs, dir)
	}
	a, b := segmentFiles(t, dirs[0]), segmentFiles(t, dirs[1])
	if len(a) != len(b) {
		t.Fatalf("got %d and %d segments", len(a), len(b))
	}
	for name, data := range a {
		if !bytes.Equal(data, b[name]) {
			t.Errorf("segment %s differs between two restores", name)
		}
	}
	ia, ib := dumpIndex(t, dirs[0]), dumpIndex(t, dirs[1])
	if len(ia) != len(ib) {
		t.Fatalf("got %d and %d index keys", len(ia), len(ib))
	}
	for k, v := range ia {
		if ib[k] != v {
			t.Fatalf("index key %q differs between two restores", k)
		}
	}
	// Every commit line closes a batch of 7 entries (the last one fewer).
	commits := 0
	for _, data := range a {
		commits += bytes.Count(data, []byte(`{"commit":`))
	}
	if commits != 9 {
		t.Errorf("got %d commit lines, want 9", commits)
	}

	// The restored ledger opens and continues: new entries chain on.
	s := openDir(t, dirs[0], func(c *segment.Config) { c.SegmentSize = 4096 })
	defer s.Close()
	if s.Size() != 60 || s.Checkpoint().Root != root {
		t.Fatalf("reopened: size %d root %x", s.Size(), s.Checkpoint().Root)
	}
	sp := ledgertest.MustSpan(t, ledgertest.Simple("t1", "after", 0, "thing:x", t0))
	outs, err := s.Append(ctx, []*span.Span{sp})
	if err != nil || outs[0].Err != nil {
		t.Fatalf("append: %v %v", err, outs)
	}
	last, err := span.ParseEntry(lines[58]) // log index 58 is tenant t1's last entry
	if err != nil {
		t.Fatal(err)
	}
	if outs[0].Result.LogIndex != 60 || outs[0].Result.PrevHash != last.Hash {
		t.Errorf("appended at %d with prev_hash %s, want 60 and %s", outs[0].Result.LogIndex, outs[0].Result.PrevHash, last.Hash)
	}
}

func TestRestoreRefuses(t *testing.T) {
	lines, _ := ledgerLines(t, 12)
	ctx := context.Background()
	swapped := slices.Clone(lines)
	swapped[4], swapped[5] = swapped[5], swapped[4]
	for _, tt := range []struct {
		name  string
		lines [][]byte
		index int64 // log index a *CorruptError must name; -1 for another error
	}{
		{"swapped lines", swapped, 4},
		{"missing line", slices.Delete(slices.Clone(lines), 3, 4), 3},
		{"commit line", append(slices.Clone(lines[:2]), []byte(`{"commit":{"root":"00","size":1}}`)), -1},
		{"newline inside", append(slices.Clone(lines[:2]), []byte("{}\n{}")), -1},
		{"empty line", append(slices.Clone(lines[:2]), nil), -1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := segment.Restore(ctx, t.TempDir(), linesOf(tt.lines), segment.RestoreOptions{})
			if err == nil {
				t.Fatal("restore succeeded")
			}
			var ce *segment.CorruptError
			if tt.index >= 0 && (!errors.As(err, &ce) || ce.Index != tt.index || !errors.Is(err, ledger.ErrCorrupt)) {
				t.Errorf("got %v, want a corrupt ledger at log index %d", err, tt.index)
			}
		})
	}
	t.Run("ledger present", func(t *testing.T) {
		dir, _ := stoppedLedger(t, 2, "x")
		if _, err := segment.Restore(ctx, dir, linesOf(lines), segment.RestoreOptions{}); !errors.Is(err, segment.ErrNotEmpty) {
			t.Errorf("got %v, want ErrNotEmpty", err)
		}
	})
	t.Run("next fails", func(t *testing.T) {
		boom := errors.New("boom")
		_, err := segment.Restore(ctx, t.TempDir(), func() ([]byte, error) { return nil, boom }, segment.RestoreOptions{})
		if !errors.Is(err, boom) {
			t.Errorf("got %v, want the error of next", err)
		}
	})
	t.Run("empty log", func(t *testing.T) {
		dir := t.TempDir()
		res, err := segment.Restore(ctx, dir, linesOf(nil), segment.RestoreOptions{})
		if err != nil || res.Entries != 0 || res.Segments != 1 {
			t.Fatalf("got %+v, %v", res, err)
		}
		s := openDir(t, dir)
		defer s.Close()
		if s.Size() != 0 {
			t.Errorf("size %d", s.Size())
		}
	})
}
