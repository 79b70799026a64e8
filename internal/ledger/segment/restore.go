package segment

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"

	"github.com/transparency-dev/merkle/compact"

	"github.com/logline/logline/internal/durable"
)

// RestoreOptions configure Restore. The zero value works.
type RestoreOptions struct {
	// SegmentSize starts a new segment once the active one passes it, as
	// Config.SegmentSize does; default 64 MiB.
	SegmentSize int64
	// BatchEntries is the number of entries each commit line covers (the
	// last batch may hold fewer); default 8192, the writer's largest batch.
	BatchEntries int
	// IndexCacheBytes sizes the index's block cache while it is built.
	IndexCacheBytes int64
	Logger          *slog.Logger
	// Progress, when set, is called after every batch with the number of
	// entries written so far.
	Progress func(entries uint64)
}

// RestoreResult says what Restore wrote.
type RestoreResult struct {
	Entries  uint64
	Root     [32]byte // Merkle root over all entries
	Segments int
	Bytes    int64 // segment bytes, commit lines included
}

// ErrNotEmpty is returned by Restore for a directory that already holds a
// ledger.
var ErrNotEmpty = errors.New("the directory already holds a ledger")

// Restore writes a new ledger into dir from entry lines and builds its
// index: the inverse of reading the log from index 0. next returns the
// entry lines in log order, each without its newline (Restore copies it
// before calling next again), and io.EOF after the last one.
//
// The segments are a function of the lines and the options alone: every
// BatchEntries entries are followed by a commit line, a new segment starts
// after the batch that passes SegmentSize, exactly as the writer rotates.
// Restoring the same lines twice gives byte-identical segments and a
// key-for-key identical index. Each segment is fsynced before the next is
// created (and the directory after each create); the index is then built
// by the path Reindex takes, which parses and verifies every entry (hash,
// signature, log_index, tenant chain): a line that does not belong at its
// position fails with a *CorruptError.
//
// dir/ledger must not exist or be empty (ErrNotEmpty otherwise). On error,
// what was written is left for the caller to remove.
func Restore(ctx context.Context, dir string, next func() ([]byte, error), opts RestoreOptions) (RestoreResult, error) {
	var res RestoreResult
	cfg := Config{Dir: dir, SegmentSize: opts.SegmentSize, IndexCacheBytes: opts.IndexCacheBytes, Logger: opts.Logger}
	cfg.fill()
	batchEntries := opts.BatchEntries
	if batchEntries <= 0 {
		batchEntries = 8192
	}
	for _, d := range []string{segmentsDir(dir), indexDir(dir)} {
		ents, err := os.ReadDir(d)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return res, fmt.Errorf("restore: %w", err)
		}
		if len(ents) > 0 {
			return res, fmt.Errorf("restore into %s: %w", d, ErrNotEmpty)
		}
	}
	if err := durable.MkdirAll(segmentsDir(dir), 0o755); err != nil {
		return res, fmt.Errorf("restore: create data dir: %w", err)
	}
	w := &restoreWriter{dir: dir, segmentSize: cfg.SegmentSize, tree: treeFactory.NewEmptyRange(0)}
	if err := w.create(1); err != nil {
		return res, err
	}
	defer w.close()
	for done := false; !done; {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		n := 0
		for n < batchEntries {
			line, err := next()
			if err == io.EOF {
				done = true
				break
			}
			if err != nil {
				return res, err
			}
			if err := w.add(line); err != nil {
				return res, err
			}
			n++
		}
		if n > 0 {
			if err := w.commit(); err != nil {
				return res, err
			}
			if opts.Progress != nil {
				opts.Progress(w.size)
			}
		}
	}
	if err := w.finish(); err != nil {
		return res, err
	}
	res = RestoreResult{Entries: w.size, Root: [32]byte(rootOf(w.tree)), Segments: int(w.seg), Bytes: w.bytes}
	entries, _, err := Reindex(ctx, cfg)
	if err != nil {
		return res, fmt.Errorf("restore: build the index: %w", err)
	}
	if entries != res.Entries {
		return res, fmt.Errorf("restore: the index covers %d entries, %d were written", entries, res.Entries)
	}
	return res, nil
}

// restoreWriter writes the segments of Restore.
type restoreWriter struct {
	dir         string
	segmentSize int64

	f     *os.File
	seg   uint32
	off   int64 // size of the active segment
	buf   []byte
	tree  *compact.Range
	size  uint64 // entries committed or pending
	bytes int64
}

// add appends an entry line to the pending batch.
func (w *restoreWriter) add(line []byte) error {
	switch {
	case len(line) == 0:
		return fmt.Errorf("restore: entry %d is empty", w.size)
	case bytes.IndexByte(line, '\n') >= 0:
		return fmt.Errorf("restore: entry %d holds a newline", w.size)
	case isCommitLine(line):
		return fmt.Errorf("restore: entry %d is a commit line", w.size)
	case len(line) >= maxLine:
		return fmt.Errorf("restore: entry %d is longer than %d bytes", w.size, maxLine-1)
	}
	if err := w.tree.Append(leafHash(line), nil); err != nil {
		return fmt.Errorf("restore: merkle append: %w", err)
	}
	w.buf = append(w.buf, line...)
	w.buf = append(w.buf, '\n')
	w.size++
	return nil
}

// commit writes the pending batch and its commit line in one write, and
// starts the next segment once the active one has passed the segment size.
func (w *restoreWriter) commit() error {
	w.buf = appendCommitLine(w.buf, rootOf(w.tree), w.size)
	if _, err := w.f.Write(w.buf); err != nil {
		return fmt.Errorf("restore: write %s: %w", w.f.Name(), err)
	}
	w.off += int64(len(w.buf))
	w.bytes += int64(len(w.buf))
	w.buf = w.buf[:0]
	if w.off < w.segmentSize {
		return nil
	}
	if err := w.seal(); err != nil {
		return err
	}
	return w.create(w.seg + 1)
}

func (w *restoreWriter) create(n uint32) error {
	f, err := createSegment(w.dir, n)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	w.f, w.seg, w.off = f, n, 0
	return nil
}

// seal makes the active segment durable and closes it.
func (w *restoreWriter) seal() error {
	f := w.f
	w.f = nil
	if err := fdatasync(f); err != nil {
		f.Close()
		return fmt.Errorf("restore: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("restore: close %s: %w", f.Name(), err)
	}
	return nil
}

// finish seals the last segment.
func (w *restoreWriter) finish() error { return w.seal() }

// close releases the active segment after a failure.
func (w *restoreWriter) close() {
	if w.f != nil {
		w.f.Close()
		w.f = nil
	}
}
