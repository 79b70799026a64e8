package segment_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/logline/logline/internal/ledger"
	"github.com/logline/logline/internal/ledger/ledgertest"
	"github.com/logline/logline/internal/ledger/segment"
	"github.com/logline/logline/internal/span"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func openDir(t *testing.T, dir string, mod ...func(*segment.Config)) *segment.Store {
	t.Helper()
	cfg := segment.Config{Dir: dir, Now: func() time.Time { return t0 }}
	for _, m := range mod {
		m(&cfg)
	}
	s, err := segment.Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("open %s: %v", dir, err)
	}
	return s
}

func TestConformance(t *testing.T) { runConformance(t) }

// TestConformanceSmallSegments runs the suite with segments rotated after
// every batch, so reads cross segment boundaries everywhere.
func TestConformanceSmallSegments(t *testing.T) {
	runConformance(t, func(c *segment.Config) { c.SegmentSize = 1 })
}

// runConformance runs the ledgertest suite on stores opened with mod.
func runConformance(t *testing.T, mod ...func(*segment.Config)) {
	dirs := map[ledger.Store]string{}
	ledgertest.Run(t, ledgertest.Backend{
		Open: func(t *testing.T) ledger.Store {
			dir := t.TempDir()
			s := openDir(t, dir, mod...)
			dirs[s] = dir
			return s
		},
		Reopen: func(t *testing.T, s ledger.Store) ledger.Store {
			dir := dirs[s]
			if err := s.Close(); err != nil {
				t.Fatalf("close: %v", err)
			}
			ns := openDir(t, dir, mod...)
			dirs[ns] = dir
			return ns
		},
	})
}

func fill(t *testing.T, s ledger.Store, n int, prefix string) {
	t.Helper()
	for i := 0; i < n; i++ {
		sp := ledgertest.MustSpan(t, ledgertest.Simple(fmt.Sprint("t", i%3), fmt.Sprintf("%s%d", prefix, i), 0, fmt.Sprint("thing:", i%5), t0.Add(time.Duration(i)*time.Second)))
		outs, err := s.Append(context.Background(), []*span.Span{sp})
		if err != nil || outs[0].Err != nil {
			t.Fatalf("append: %v %v", err, outs)
		}
	}
}

// stoppedLedger fills a new ledger with n spans (ids prefix0…), closes it
// and returns its directory and last segment file.
func stoppedLedger(t *testing.T, n int, prefix string) (dir, seg string) {
	t.Helper()
	dir = t.TempDir()
	s := openDir(t, dir)
	fill(t, s, n, prefix)
	if err := s.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	return dir, lastSegment(t, dir)
}

func lastSegment(t *testing.T, dir string) string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "ledger", "segments", "*.ndjson"))
	if err != nil || len(m) == 0 {
		t.Fatalf("no segments: %v", err)
	}
	return m[len(m)-1]
}

func appendFile(t *testing.T, path string, data []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

func TestTornTail(t *testing.T) {
	// Build a reference batch line that was never committed.
	ref := t.TempDir()
	rs := openDir(t, ref)
	fill(t, rs, 6, "e")
	rs.Close()
	refData, err := os.ReadFile(lastSegment(t, ref))
	if err != nil {
		t.Fatal(err)
	}
	refLines := bytes.SplitAfter(refData, []byte("\n"))
	lastBatch := bytes.Join(refLines[len(refLines)-3:len(refLines)-1], nil) // entry + commit of the 6th span

	cases := []struct {
		name string
		tail func(entry []byte) []byte
	}{
		{"partial line", func(e []byte) []byte { return e[:len(e)/2] }},
		{"entry without commit", func(e []byte) []byte { return bytes.SplitAfter(e, []byte("\n"))[0] }},
		{"entry and partial commit", func(e []byte) []byte { return e[:len(e)-10] }},
		{"zeros", func(e []byte) []byte { return make([]byte, 4096) }},
		{"zeros then commit line", func(e []byte) []byte {
			parts := bytes.SplitAfter(e, []byte("\n"))
			return append(make([]byte, len(parts[0])), parts[1]...)
		}},
		{"garbage", func(e []byte) []byte { return []byte("{\"not json\n\x00\x01") }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir, seg := stoppedLedger(t, 5, "e")
			before, _ := os.ReadFile(seg)
			appendFile(t, seg, tc.tail(lastBatch))

			if _, err := segment.Verify(context.Background(), dir, segment.VerifyOptions{}); err != nil {
				t.Fatalf("verify with a torn tail: got %v, want success with a warning", err)
			}
			s := openDir(t, dir)
			if s.Size() != 5 {
				t.Fatalf("got size %d, want 5", s.Size())
			}
			after, _ := os.ReadFile(seg)
			if !bytes.Equal(before, after) {
				t.Fatalf("torn tail not cut: file is %d bytes, want %d", len(after), len(before))
			}
			fill(t, s, 1, "more")
			s.Close()
			rep, err := segment.Verify(context.Background(), dir, segment.VerifyOptions{})
			if err != nil || rep.Entries != 6 || rep.TornTail != "" || !rep.IndexChecked {
				t.Fatalf("verify after recovery: got %+v, %v; want 6 entries, clean", rep, err)
			}
		})
	}
}

func TestCorruptionRefusesToOpen(t *testing.T) {
	cases := []struct {
		name string
		// mutate returns the offset it damaged.
		mutate func(t *testing.T, data []byte) (out []byte, offset int)
		offset bool // the error must name the damaged line's offset
	}{
		{"flipped byte in who", func(t *testing.T, d []byte) ([]byte, int) {
			i := bytes.Index(d, []byte(`"who":"user:ana"`)) + 9
			d[i] ^= 0x01
			return d, lineStart(d, i)
		}, true},
		{"flipped byte in received_at", func(t *testing.T, d []byte) ([]byte, int) {
			i := bytes.Index(d, []byte(`"received_at":"2026`)) + 16
			d[i] = '1'
			return d, lineStart(d, i)
		}, false},
		{"deleted line", func(t *testing.T, d []byte) ([]byte, int) {
			lines := bytes.SplitAfter(d, []byte("\n"))
			off := len(lines[0]) + len(lines[1])
			return bytes.Join(append(lines[:2:2], lines[3:]...), nil), off
		}, false},
		{"swapped lines", func(t *testing.T, d []byte) ([]byte, int) {
			lines := bytes.SplitAfter(d, []byte("\n"))
			lines[0], lines[2] = lines[2], lines[0]
			return bytes.Join(lines, nil), 0
		}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir, seg := stoppedLedger(t, 10, "c")
			data, _ := os.ReadFile(seg)
			data, off := tc.mutate(t, data)
			if err := os.WriteFile(seg, data, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := segment.Open(context.Background(), segment.Config{Dir: dir})
			var ce *segment.CorruptError
			if !errors.As(err, &ce) || !errors.Is(err, ledger.ErrCorrupt) {
				t.Fatalf("open: got %v, want a CorruptError", err)
			}
			if ce.File != seg {
				t.Fatalf("got file %s, want %s", ce.File, seg)
			}
			if tc.offset && ce.Offset != int64(off) {
				t.Fatalf("got offset %d, want %d (%v)", ce.Offset, off, err)
			}
			if _, err := segment.Verify(context.Background(), dir, segment.VerifyOptions{}); !errors.As(err, &ce) {
				t.Fatalf("verify: got %v, want a CorruptError", err)
			}
		})
	}
}

func lineStart(d []byte, i int) int {
	return bytes.LastIndexByte(d[:i], '\n') + 1
}

func TestCorruptionInSealedSegment(t *testing.T) {
	dir := t.TempDir()
	small := func(c *segment.Config) { c.SegmentSize = 1 }
	s := openDir(t, dir, small)
	fill(t, s, 6, "s")
	s.Close()
	seg := segment.SegmentPath(dir, 2)
	data, _ := os.ReadFile(seg)
	i := bytes.Index(data, []byte(`"this":"thing:`)) + 8
	data[i] = 'T'
	os.WriteFile(seg, data, 0o644)
	_, err := segment.Open(context.Background(), segment.Config{Dir: dir, SegmentSize: 1})
	var ce *segment.CorruptError
	if !errors.As(err, &ce) || ce.File != seg || ce.Offset != 0 {
		t.Fatalf("got %v, want a CorruptError naming %s offset 0", err, seg)
	}
	if !strings.Contains(err.Error(), seg) {
		t.Fatalf("error %q does not name the file", err)
	}
}

func TestFsyncErrorStopsWriter(t *testing.T) {
	dir := t.TempDir()
	var fail atomic.Bool
	s := openDir(t, dir, func(c *segment.Config) {
		*c = segment.WithSyncFunc(*c, func(f *os.File) error {
			if fail.Load() {
				return errors.New("injected EIO")
			}
			return f.Sync()
		})
	})
	fill(t, s, 3, "ok")
	fail.Store(true)
	_, err := s.Append(context.Background(), []*span.Span{ledgertest.MustSpan(t, ledgertest.Simple("a", "lost", 0, "x", t0))})
	if !errors.Is(err, ledger.ErrClosed) {
		t.Fatalf("append with failing fsync: got %v, want ErrClosed", err)
	}
	fail.Store(false)
	// No retry: the writer stays stopped even though fsync works again.
	_, err = s.Append(context.Background(), []*span.Span{ledgertest.MustSpan(t, ledgertest.Simple("a", "later", 0, "x", t0))})
	if !errors.Is(err, ledger.ErrClosed) {
		t.Fatalf("append after fsync failure: got %v, want ErrClosed", err)
	}
	if s.Size() != 3 {
		t.Fatalf("got size %d, want 3 (nothing unsynced published)", s.Size())
	}
	if err := s.Ready(); err == nil {
		t.Fatal("Ready: got nil, want the writer error")
	}
	if err := s.Close(); err == nil || !strings.Contains(err.Error(), "injected EIO") {
		t.Fatalf("close: got %v, want the fsync error", err)
	}
	// After a restart the unacknowledged batch may or may not be there
	// (its bytes reached the page cache); either way the ledger verifies.
	s = openDir(t, dir)
	defer s.Close()
	if n := s.Size(); n != 3 && n != 4 {
		t.Fatalf("after restart: got size %d, want 3 or 4", n)
	}
	fill(t, s, 1, "again")
}

func dumpIndex(t *testing.T, dir string) map[string]string {
	t.Helper()
	db, err := pebble.Open(filepath.Join(dir, "ledger", "index"), &pebble.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	it, err := db.NewIter(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	kv := map[string]string{}
	for it.First(); it.Valid(); it.Next() {
		kv[string(it.Key())] = string(it.Value())
	}
	return kv
}

func TestReindexIdentical(t *testing.T) {
	dir := t.TempDir()
	s := openDir(t, dir, func(c *segment.Config) { c.SegmentSize = 2048 })
	fill(t, s, 40, "r")
	ctx := context.Background()
	var batch []*span.Span
	for i := range 30 {
		batch = append(batch, ledgertest.MustSpan(t, fmt.Sprintf(`{"id":"b%d","tenant":"t1","who":"w","did":"d","this":"x\u0000y","when":"2026-01-01T00:00:00-03:00","trace_id":"tr","entity_type":"order"}`, i)))
	}
	if _, err := s.Append(ctx, batch); err != nil {
		t.Fatal(err)
	}
	s.Close()
	before := dumpIndex(t, dir)
	n, _, err := segment.Reindex(ctx, segment.Config{Dir: dir})
	if err != nil || n != 70 {
		t.Fatalf("reindex: got %d, %v; want 70 entries", n, err)
	}
	after := dumpIndex(t, dir)
	if len(before) != len(after) {
		t.Fatalf("got %d index keys after reindex, want %d", len(after), len(before))
	}
	for k, v := range before {
		if after[k] != v {
			t.Fatalf("key %q differs after reindex", k)
		}
	}
	// A deleted index is rebuilt on open.
	if err := os.RemoveAll(filepath.Join(dir, "ledger", "index")); err != nil {
		t.Fatal(err)
	}
	s = openDir(t, dir)
	if s.Size() != 70 {
		t.Fatalf("after losing the index: got size %d, want 70", s.Size())
	}
	if e, err := s.Get(ctx, "t1", "b7", -1); err != nil || e.This != "x\x00y" {
		t.Fatalf("get after rebuild: %v %v", e, err)
	}
	s.Close()
	rebuilt := dumpIndex(t, dir)
	for k, v := range before {
		if rebuilt[k] != v {
			t.Fatalf("key %q differs after rebuild on open", k)
		}
	}
}

func TestVerifyDetectsIndexDamage(t *testing.T) {
	dir := t.TempDir()
	s := openDir(t, dir)
	fill(t, s, 10, "v")
	s.Close()
	db, err := pebble.Open(filepath.Join(dir, "ledger", "index"), &pebble.Options{})
	if err != nil {
		t.Fatal(err)
	}
	it, _ := db.NewIter(&pebble.IterOptions{LowerBound: []byte("h/"), UpperBound: []byte("h0")})
	it.First()
	key := bytes.Clone(it.Key())
	it.Close()
	db.Delete(key, pebble.Sync)
	db.Close()
	_, err = segment.Verify(context.Background(), dir, segment.VerifyOptions{})
	var ie *segment.IndexError
	if !errors.As(err, &ie) {
		t.Fatalf("got %v, want an IndexError", err)
	}
}

func TestUnexpectedFileInSegments(t *testing.T) {
	dir := t.TempDir()
	s := openDir(t, dir)
	s.Close()
	os.WriteFile(filepath.Join(dir, "ledger", "segments", "00000003.ndjson"), nil, 0o644)
	if _, err := segment.Open(context.Background(), segment.Config{Dir: dir}); err == nil || !strings.Contains(err.Error(), "00000002.ndjson is missing") {
		t.Fatalf("got %v, want a missing-segment error", err)
	}
}

func mustDecode(t testing.TB, js string) *span.Span { return ledgertest.MustSpan(t, js) }

func spanSlice(s ...*span.Span) []*span.Span { return s }

func TestFlippedByteInLastBatch(t *testing.T) {
	dir, seg := stoppedLedger(t, 4, "l")
	data, _ := os.ReadFile(seg)
	i := bytes.LastIndex(data, []byte(`"who":"user:ana"`)) + 9
	data[i] ^= 0x01
	os.WriteFile(seg, data, 0o644)
	want := int64(lineStart(data, i))
	var ce *segment.CorruptError
	if _, err := segment.Verify(context.Background(), dir, segment.VerifyOptions{}); !errors.As(err, &ce) || ce.Offset != want {
		t.Fatalf("verify: got %v, want a CorruptError at offset %d (the batch was acknowledged: the index covers it)", err, want)
	}
	if _, err := segment.Open(context.Background(), segment.Config{Dir: dir}); !errors.As(err, &ce) || ce.Offset != want {
		t.Fatalf("open: got %v, want a CorruptError at offset %d", err, want)
	}
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	if err := os.CopyFS(to, os.DirFS(from)); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyWithLaggingIndex(t *testing.T) {
	dir := t.TempDir()
	s := openDir(t, dir)
	fill(t, s, 5, "a")
	s.Close()
	old := filepath.Join(t.TempDir(), "index")
	copyDir(t, filepath.Join(dir, "ledger", "index"), old)
	s = openDir(t, dir)
	fill(t, s, 7, "b")
	s.Close()
	// As after a crash that lost the unsynced tail of the index.
	if err := os.RemoveAll(filepath.Join(dir, "ledger", "index")); err != nil {
		t.Fatal(err)
	}
	copyDir(t, old, filepath.Join(dir, "ledger", "index"))
	rep, err := segment.Verify(context.Background(), dir, segment.VerifyOptions{})
	if err != nil || rep.Entries != 12 || rep.Unindexed != 7 || !rep.IndexChecked {
		t.Fatalf("verify: got %+v, %v; want 12 entries, 7 unindexed", rep, err)
	}
	s = openDir(t, dir)
	if s.Size() != 12 {
		t.Fatalf("open replays the tail: got size %d, want 12", s.Size())
	}
	if _, err := s.Get(context.Background(), "t0", "b6", -1); err != nil {
		t.Fatalf("replayed entry: %v", err)
	}
	s.Close()
	rep, err = segment.Verify(context.Background(), dir, segment.VerifyOptions{})
	if err != nil || rep.Unindexed != 0 {
		t.Fatalf("verify after replay: %+v, %v", rep, err)
	}
}

func TestVerifyAfterRotation(t *testing.T) {
	dir := t.TempDir()
	s := openDir(t, dir, func(c *segment.Config) { c.SegmentSize = 1 })
	fill(t, s, 5, "r")
	s.Close()
	rep, err := segment.Verify(context.Background(), dir, segment.VerifyOptions{})
	if err != nil || rep.Entries != 5 || rep.Segments != 6 {
		t.Fatalf("got %+v, %v; want 5 entries in 6 segments (the last one empty)", rep, err)
	}
}

// A whole, well-formed line with a wrong hash cannot come from a torn write,
// so it is refused even in the last batch with no index to prove the batch
// was acknowledged. Malformed damage there is cut as a torn tail.
func TestLastBatchWithoutIndex(t *testing.T) {
	cases := []struct {
		name    string
		damage  func(d []byte, line int) []byte
		refused bool
	}{
		{"flipped byte in who", func(d []byte, line int) []byte {
			i := line + bytes.Index(d[line:], []byte(`"who":"user:ana"`)) + 9
			d[i] ^= 0x01
			return d
		}, true},
		{"zeroed bytes", func(d []byte, line int) []byte {
			for i := line + 10; i < line+40; i++ {
				d[i] = 0
			}
			return d
		}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir, seg := stoppedLedger(t, 4, "x")
			os.RemoveAll(filepath.Join(dir, "ledger", "index"))
			data, _ := os.ReadFile(seg)
			lines := bytes.SplitAfter(data, []byte("\n"))
			last := len(data) - len(lines[len(lines)-2]) - len(lines[len(lines)-3])
			os.WriteFile(seg, tc.damage(data, last), 0o644)
			st, err := segment.Open(context.Background(), segment.Config{Dir: dir})
			var ce *segment.CorruptError
			if tc.refused {
				if !errors.As(err, &ce) || ce.Offset != int64(last) {
					t.Fatalf("got %v, want a CorruptError at offset %d", err, last)
				}
				return
			}
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			defer st.Close()
			if st.Size() != 3 {
				t.Fatalf("got size %d, want 3 (the torn last batch cut)", st.Size())
			}
		})
	}
}

// TestCheckpointsNeverConflict signs through Config.SignCheckpoint across
// appends, a failed fsync, a torn tail and reopens, and checks that no two
// signatures ever cover one size with different roots, that only durable
// trees are signed, and that the published checkpoint is the signed one.
func TestCheckpointsNeverConflict(t *testing.T) {
	dir := t.TempDir()
	signed := map[uint64][32]byte{}
	var failSync atomic.Bool
	cfg := func(c *segment.Config) {
		c.SignCheckpoint = func(size uint64, root [32]byte) ([]byte, error) {
			if prev, ok := signed[size]; ok && prev != root {
				t.Errorf("size %d signed with root %x and again with %x", size, prev, root)
			}
			signed[size] = root
			return fmt.Appendf(nil, "note %d %x\n", size, root), nil
		}
		*c = segment.WithSyncFunc(*c, func(f *os.File) error {
			if failSync.Load() {
				return errors.New("injected EIO")
			}
			return f.Sync()
		})
	}
	s := openDir(t, dir, cfg)
	if c := s.Checkpoint(); string(c.Note) != fmt.Sprintf("note 0 %x\n", c.Root) {
		t.Fatalf("checkpoint on open: %+v", c)
	}
	fill(t, s, 5, "a")
	failSync.Store(true)
	if _, err := s.Append(context.Background(), spanSlice(mustDecode(t, ledgertest.Simple("t0", "lost", 0, "x", t0)))); err == nil {
		t.Fatal("append with a failing fsync succeeded")
	}
	if _, ok := signed[6]; ok {
		t.Fatal("the tree of a batch whose fsync failed was signed")
	}
	s.Close()
	failSync.Store(false)
	s = openDir(t, dir, cfg)
	fill(t, s, 3, "b")
	c := s.Checkpoint()
	if c.Size != s.Size() || signed[c.Size] != c.Root {
		t.Fatalf("published checkpoint %d %x is not the signed one", c.Size, c.Root)
	}
	s.Close()
	appendFile(t, lastSegment(t, dir), []byte(`{"curr_hash":"torn`))
	s = openDir(t, dir, cfg)
	fill(t, s, 2, "c")
	s.Close()
	if len(signed) < 8 {
		t.Fatalf("got %d signed sizes, want one per batch", len(signed))
	}
}

// A segment truncated at a batch boundary parses cleanly, but the index
// proves the cut entries were acknowledged: refuse, naming them.
func TestTruncatedSegmentRefused(t *testing.T) {
	dir, seg := stoppedLedger(t, 6, "t")
	data, _ := os.ReadFile(seg)
	lines := bytes.SplitAfter(data, []byte("\n"))
	cut := len(data) - len(lines[len(lines)-2]) - len(lines[len(lines)-3]) // drop the last batch
	if err := os.Truncate(seg, int64(cut)); err != nil {
		t.Fatal(err)
	}
	_, err := segment.Open(context.Background(), segment.Config{Dir: dir})
	var ce *segment.CorruptError
	if !errors.As(err, &ce) || ce.Index != 5 || !strings.Contains(ce.Reason, "entries 5..5 are missing") {
		t.Fatalf("got %v, want a CorruptError naming entry 5 as missing", err)
	}
	// reindex accepts the segments as they are.
	if n, _, err := segment.Reindex(context.Background(), segment.Config{Dir: dir}); err != nil || n != 5 {
		t.Fatalf("reindex: %d, %v", n, err)
	}
	s := openDir(t, dir)
	defer s.Close()
	if s.Size() != 5 {
		t.Fatalf("after reindex: size %d, want 5", s.Size())
	}
}

// TestReceivedAtMonotone: a wall clock that steps back never makes
// received_at decrease in log order, within a run and across a reopen.
func TestReceivedAtMonotone(t *testing.T) {
	dir := t.TempDir()
	clock := []time.Time{t0.Add(time.Hour), t0, t0.Add(2 * time.Hour), t0.Add(-time.Hour)}
	tick := 0
	now := func() time.Time { c := clock[min(tick, len(clock)-1)]; tick++; return c }
	s := openDir(t, dir, func(c *segment.Config) { c.Now = now })
	fill(t, s, 3, "a")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openDir(t, dir, func(c *segment.Config) { c.Now = now }) // clock now at t0-1h
	fill(t, s, 2, "b")
	defer s.Close()
	want := []time.Time{t0.Add(time.Hour), t0.Add(time.Hour), t0.Add(2 * time.Hour), t0.Add(2 * time.Hour), t0.Add(2 * time.Hour)}
	var got []time.Time
	if err := s.Read(context.Background(), 0, 10, func(e *span.Entry) error {
		got = append(got, e.ReceivedAt)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("got %d entries, want %d", len(got), len(want))
	}
	for i := range want {
		if !got[i].Equal(want[i]) {
			t.Errorf("entry %d: received_at %s, want %s", i, got[i], want[i])
		}
	}
}

// TestVerifyTreeSizes: Verify reports the roots of requested tree sizes —
// inside batches too — equal to the store's own tree heads.
func TestVerifyTreeSizes(t *testing.T) {
	dir := t.TempDir()
	s := openDir(t, dir)
	var batch []*span.Span
	for i := range 7 {
		batch = append(batch, mustDecode(t, ledgertest.Simple("t", fmt.Sprint("v", i), 0, "x", t0)))
	}
	if _, err := s.Append(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	fill(t, s, 3, "w")
	want := map[uint64][32]byte{}
	for _, n := range []uint64{0, 1, 4, 7, 9, 10} {
		root, err := s.TreeHash(context.Background(), n)
		if err != nil {
			t.Fatal(err)
		}
		want[n] = root
	}
	s.Close()
	rep, err := segment.Verify(context.Background(), dir, segment.VerifyOptions{TreeSizes: []uint64{0, 1, 4, 7, 9, 10, 11, 500}})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Roots) != len(want) {
		t.Fatalf("got roots of %d sizes, want %d: %v", len(rep.Roots), len(want), rep.Roots)
	}
	for n, root := range want {
		if rep.Roots[n] != root {
			t.Errorf("size %d: root %x, want %x", n, rep.Roots[n], root)
		}
	}
}
