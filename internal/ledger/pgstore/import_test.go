package pgstore

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/logline/logline/internal/ledger"
	"github.com/logline/logline/internal/ledger/ledgertest"
	"github.com/logline/logline/internal/span"
)

// lineSource returns Import's next over lines.
func lineSource(lines [][]byte) func() ([]byte, error) {
	i := 0
	return func() ([]byte, error) {
		if i == len(lines) {
			return nil, io.EOF
		}
		i++
		return lines[i-1], nil
	}
}

// readLines returns every entry line of the ledger at url, and its
// checkpoint rows and log keys.
func readLines(t *testing.T, url string) ([][]byte, []CheckpointRow, []string) {
	t.Helper()
	ctx := context.Background()
	s := openStore(t, Config{URL: url})
	defer s.Close()
	var lines [][]byte
	err := s.ReadRaw(ctx, 0, s.Size(), func(_ uint64, line []byte) error {
		lines = append(lines, bytes.Clone(line))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	cps, err := s.Checkpoints(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := s.LogKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return lines, cps, keys
}

func checkpointsOf(rows []CheckpointRow) []ledger.Checkpoint {
	out := make([]ledger.Checkpoint, len(rows))
	for i, r := range rows {
		out[i] = r.Checkpoint
	}
	return out
}

// TestImport copies a ledger line for line into a new database: the same
// lines, root, checkpoints (notes included) and keys; the copy verifies
// and a node continues it. A non-empty database, a bad line and a
// checkpoint of another tree are refused, leaving nothing behind.
func TestImport(t *testing.T) {
	ctx := context.Background()
	src := tamperDB(t)
	lines, cps, keys := readLines(t, src)
	srcRep, err := Verify(ctx, src, VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	opts := ImportOptions{Origin: testOrigin, VerifierKeys: keys, Checkpoints: checkpointsOf(cps), Verify: VerifyOptions{Notes: checkNotes}}

	dst := newLedgerDB(t)
	var progress []uint64
	o := opts
	o.Progress = func(n uint64) { progress = append(progress, n) }
	res, err := Import(ctx, dst, lineSource(lines), o)
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	if res.Entries != uint64(len(lines)) || res.Root != srcRep.Root || res.Verify.Root != srcRep.Root {
		t.Fatalf("import: got %d entries, root %x (verified %x); want %d, %x", res.Entries, res.Root, res.Verify.Root, len(lines), srcRep.Root)
	}
	if len(progress) == 0 || progress[len(progress)-1] != res.Entries {
		t.Errorf("progress: got %v, want it to end at %d", progress, res.Entries)
	}
	if res.Verify.Notes != srcRep.Notes || res.Verify.Checkpoints != srcRep.Checkpoints || res.Verify.Keys != len(keys) {
		t.Errorf("copy: %d checkpoints, %d notes, %d keys; want %d, %d, %d", res.Verify.Checkpoints, res.Verify.Notes, res.Verify.Keys, srcRep.Checkpoints, srcRep.Notes, len(keys))
	}
	got, gotCPs, _ := readLines(t, dst)
	if len(got) != len(lines) {
		t.Fatalf("copy holds %d lines, want %d", len(got), len(lines))
	}
	for i := range lines {
		if !bytes.Equal(got[i], lines[i]) {
			t.Fatalf("line %d differs:\n got %s\nwant %s", i, got[i], lines[i])
		}
	}
	for i := range cps {
		if gotCPs[i].Size != cps[i].Size || gotCPs[i].Root != cps[i].Root || !bytes.Equal(gotCPs[i].Note, cps[i].Note) {
			t.Fatalf("checkpoint %d: got %d %x, want %d %x", i, gotCPs[i].Size, gotCPs[i].Root, cps[i].Size, cps[i].Root)
		}
	}

	// A node continues the imported log: the next log index, the tenant's
	// chain, a later received_at.
	last, err := span.ParseEntry(lines[19]) // acme's last entry
	if err != nil {
		t.Fatal(err)
	}
	n, _ := node(t, dst, "after")
	outs, err := n.Append(ctx, []*span.Span{ledgertest.MustSpan(t, ledgertest.Simple("acme", "next", 0, "x", time.Now()))})
	if err != nil || outs[0].Err != nil {
		t.Fatalf("append after import: %v %v", err, outs)
	}
	if r := outs[0].Result; r.LogIndex != uint64(len(lines)) || r.PrevHash != last.Hash || r.ReceivedAt.Before(last.ReceivedAt) {
		t.Errorf("append after import: got log index %d, prev_hash %s, received_at %v; want %d, %s, not before %v", r.LogIndex, r.PrevHash, r.ReceivedAt, len(lines), last.Hash, last.ReceivedAt)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(ctx, dst, VerifyOptions{Notes: checkNotes}); err != nil {
		t.Fatalf("verify after an append: %v", err)
	}

	bad := make([][]byte, len(lines))
	copy(bad, lines)
	bad[5] = bytes.Replace(lines[5], []byte(`"who":"alice"`), []byte(`"who":"alicf"`), 1)
	otherRoot := checkpointsOf(cps)
	otherRoot[3].Root[0] ^= 1
	tests := []struct {
		name  string
		url   string
		lines [][]byte
		cps   []ledger.Checkpoint
		want  error
	}{
		{"not empty", dst, lines, opts.Checkpoints, ErrNotEmpty},
		{"another origin", func() string {
			u := newLedgerDB(t)
			if _, err := ClaimOrigin(ctx, u, "logline.test/other"); err != nil {
				t.Fatal(err)
			}
			return u
		}(), lines, opts.Checkpoints, ErrNotEmpty},
		{"a bad line", newLedgerDB(t), bad, opts.Checkpoints, ledger.ErrCorrupt},
		{"a line missing", newLedgerDB(t), append(append([][]byte(nil), lines[:7]...), lines[8:]...), nil, ledger.ErrCorrupt},
		{"a checkpoint of another tree", newLedgerDB(t), lines, otherRoot, ledger.ErrCorrupt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := opts
			o.Checkpoints = tt.cps
			before, err := Verify(ctx, tt.url, VerifyOptions{})
			if err != nil {
				t.Fatal(err)
			}
			_, err = Import(ctx, tt.url, lineSource(tt.lines), o)
			if !errors.Is(err, tt.want) {
				t.Fatalf("import: got %v, want %v", err, tt.want)
			}
			after, err := Verify(ctx, tt.url, VerifyOptions{})
			if err != nil || after.Entries != before.Entries || after.Origin != before.Origin || after.Keys != before.Keys {
				t.Fatalf("after a refused import: %d entries, origin %q, %d keys (%v); want %d, %q, %d as before",
					after.Entries, after.Origin, after.Keys, err, before.Entries, before.Origin, before.Keys)
			}
		})
	}
}
