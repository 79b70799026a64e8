package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/logline/logline/internal/ledger/segment"
	"github.com/logline/logline/internal/span"
)

// recoveryBatch is how many spans one direct Append carries while the
// recovery data directory is built (the store's default commit batch).
const recoveryBatch = 8192

// recoveryIndexLagShare is the part of the log the index has not seen
// after the simulated crash (its unsynced writes lost).
const recoveryIndexLagShare = 10

// measureRecovery builds a data directory of n spans and times
// segment.Open three ways: after a clean close; after a simulated crash
// (torn partial line at the end of the last segment, index lagging by n/10
// entries); and with the index deleted (full rebuild).
//
// The crash is simulated in-process, as the state a crash leaves: the
// index directory is copied while the store is closed at n−lag entries,
// the last lag entries are appended, and the stale copy then replaces the
// index — exactly an index whose last writes (never fsynced, by design)
// were lost. Half of an entry line is then appended to the last segment: a
// batch torn mid-write, never acknowledged.
func measureRecovery(ctx context.Context, dir string, c *corpus, d ids, n int, deadline time.Time, log *slog.Logger) (Recovery, error) {
	r := Recovery{Spans: n, IndexLag: n / recoveryIndexLagShare}
	cfg := segment.Config{Dir: dir, Logger: log}
	indexDir := filepath.Join(dir, "ledger", "index")
	snapDir := filepath.Join(filepath.Dir(dir), filepath.Base(dir)+"-index-snapshot")

	start := time.Now()
	if err := appendDirect(ctx, cfg, c, d, 0, n-r.IndexLag, deadline); err != nil {
		return r, fmt.Errorf("build: %w", err)
	}
	buildSecs := sinceSecs(start)
	if err := copyTree(indexDir, snapDir); err != nil {
		return r, fmt.Errorf("snapshot the index: %w", err)
	}
	defer os.RemoveAll(snapDir)

	t := time.Now()
	if err := appendDirect(ctx, cfg, c, d, n-r.IndexLag, n, deadline); err != nil {
		return r, fmt.Errorf("build: %w", err)
	}
	buildSecs += sinceSecs(t)
	r.BuildSeconds = buildSecs
	r.BuildSpansPerSec = rate(float64(n), buildSecs)

	// Clean reopen.
	t = time.Now()
	st, err := segment.Open(ctx, cfg)
	if err != nil {
		return r, fmt.Errorf("clean reopen: %w", err)
	}
	r.CleanReopenSeconds = sinceSecs(t)
	got := st.Size()
	if err := st.Close(); err != nil {
		return r, err
	}
	if got != uint64(n) {
		return r, fmt.Errorf("clean reopen: %d entries, want %d", got, n)
	}

	// The crash.
	if err := os.RemoveAll(indexDir); err != nil {
		return r, err
	}
	if err := os.Rename(snapDir, indexDir); err != nil {
		return r, err
	}
	segs, err := filepath.Glob(filepath.Join(dir, "ledger", "segments", "*.ndjson"))
	if err != nil || len(segs) == 0 {
		return r, fmt.Errorf("no segment files in %s", dir)
	}
	slices.Sort(segs)
	torn, err := tearTail(segs[len(segs)-1])
	if err != nil {
		return r, fmt.Errorf("tear the last segment: %w", err)
	}
	r.TornBytes = torn
	r.Segments = len(segs)
	for _, s := range segs {
		if fi, err := os.Stat(s); err == nil {
			r.SegmentBytes += fi.Size()
		}
	}
	r.SegmentBytes -= int64(torn)

	t = time.Now()
	st, err = segment.Open(ctx, cfg)
	if err != nil {
		return r, fmt.Errorf("reopen after the crash: %w", err)
	}
	r.CrashReopenSeconds = sinceSecs(t)
	got = st.Size()
	if err := st.Close(); err != nil {
		return r, err
	}
	if got != uint64(n) {
		return r, fmt.Errorf("reopen after the crash: %d entries, want %d", got, n)
	}
	r.IndexBytes = treeSize(indexDir)

	// Losing the whole index.
	if err := os.RemoveAll(indexDir); err != nil {
		return r, err
	}
	t = time.Now()
	st, err = segment.Open(ctx, cfg)
	if err != nil {
		return r, fmt.Errorf("reopen without an index: %w", err)
	}
	r.RebuildSeconds = sinceSecs(t)
	got = st.Size()
	if err := st.Close(); err != nil {
		return r, err
	}
	if got != uint64(n) {
		return r, fmt.Errorf("reopen without an index: %d entries, want %d", got, n)
	}
	return r, nil
}

// appendDirect opens the store, appends spans [from, to) with
// segment.Store.Append in batches of recoveryBatch from GOMAXPROCS
// goroutines (decoding in parallel, commits grouped), and closes it.
func appendDirect(ctx context.Context, cfg segment.Config, c *corpus, d ids, from, to int, deadline time.Time) (err error) {
	st, err := segment.Open(ctx, cfg)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, st.Close()) }()
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	nb := (to - from + recoveryBatch - 1) / recoveryBatch
	var next atomic.Int64
	var errOnce sync.Once
	var firstErr error
	fail := func(e error) { errOnce.Do(func() { firstErr = e; cancel() }) }
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			var line []byte
			spans := make([]*span.Span, 0, recoveryBatch)
			for {
				b := int(next.Add(1) - 1)
				if b >= nb || ctx.Err() != nil {
					return
				}
				lo := from + b*recoveryBatch
				hi := min(to, lo+recoveryBatch)
				spans = spans[:0]
				for i := lo; i < hi; i++ {
					line = c.appendLine(line[:0], d.id("r", i), i)
					s, err := span.Decode(line, span.DecodeOptions{})
					if err != nil {
						fail(fmt.Errorf("decode span %d: %w", i, err))
						return
					}
					spans = append(spans, s)
				}
				outs, err := st.Append(ctx, spans)
				if err != nil {
					fail(err)
					return
				}
				for i, o := range outs {
					if o.Err != nil {
						fail(fmt.Errorf("append span %d: %w", lo+i, o.Err))
						return
					}
				}
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		if errors.Is(firstErr, context.DeadlineExceeded) {
			return fmt.Errorf("time limit reached while building %d spans: %w", to-from, firstErr)
		}
		return firstErr
	}
	return ctx.Err()
}

// tearTail appends the first half of the segment's last entry line, with
// no newline: the start of a batch whose write the crash cut short.
func tearTail(path string) (int, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	// The last lines are: …, an entry, a commit line. Read enough of the
	// end to hold both.
	const window = 256 << 10
	off := max(0, fi.Size()-window)
	buf := make([]byte, fi.Size()-off)
	if _, err := f.ReadAt(buf, off); err != nil && err != io.EOF {
		return 0, err
	}
	lines := splitLines(buf)
	var entry []byte
	for i := len(lines) - 1; i >= 0; i-- {
		if l := lines[i]; len(l) > 0 && !isCommitLine(l) {
			entry = l
			break
		}
	}
	if entry == nil {
		return 0, errors.New("no entry line near the end")
	}
	half := entry[:len(entry)/2]
	if _, err := f.WriteAt(half, fi.Size()); err != nil {
		return 0, err
	}
	return len(half), f.Sync()
}

func splitLines(b []byte) [][]byte {
	var out [][]byte
	for len(b) > 0 {
		i := slices.Index(b, '\n')
		if i < 0 {
			out = append(out, b)
			break
		}
		out = append(out, b[:i])
		b = b[i+1:]
	}
	return out
}

// isCommitLine mirrors the segment format (internal/ledger/segment doc.go):
// commit lines start with {"commit":.
func isCommitLine(l []byte) bool {
	const p = `{"commit":`
	return len(l) >= len(p) && string(l[:len(p)]) == p
}

// copyTree copies the regular files under src to dst.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		out := filepath.Join(dst, rel)
		if de.IsDir() {
			return os.MkdirAll(out, 0o755)
		}
		if !de.Type().IsRegular() {
			return nil
		}
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		w, err := os.Create(out)
		if err != nil {
			return err
		}
		if _, err := io.Copy(w, in); err != nil {
			w.Close()
			return err
		}
		return w.Close()
	})
}

// treeSize is the total size of the regular files under dir.
func treeSize(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, de fs.DirEntry, err error) error {
		if err == nil && de.Type().IsRegular() {
			if fi, err := de.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}
