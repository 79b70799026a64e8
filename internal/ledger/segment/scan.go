package segment

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/transparency-dev/merkle/compact"

	"github.com/logline/logline/internal/ledger"
	"github.com/logline/logline/internal/span"
)

// maxLine bounds one segment line. Spans are limited far below it.
const maxLine = 1 << 20

// position is a byte position in the segment sequence.
type position struct {
	seg uint32
	off int64
}

func (p position) less(q position) bool {
	return p.seg < q.seg || (p.seg == q.seg && p.off < q.off)
}

// CorruptError names the first byte of acknowledged data that fails
// verification. It wraps ledger.ErrCorrupt.
type CorruptError struct {
	File   string
	Offset int64
	Index  int64 // log index of the bad entry, -1 if unknown
	Reason string
}

func (e *CorruptError) Error() string {
	idx := ""
	if e.Index >= 0 {
		idx = fmt.Sprintf(" (log index %d)", e.Index)
	}
	return fmt.Sprintf("corrupt ledger: %s at offset %d%s: %s", e.File, e.Offset, idx, e.Reason)
}

func (e *CorruptError) Unwrap() error { return ledger.ErrCorrupt }

// scannedEntry is one entry line of a confirmed batch.
type scannedEntry struct {
	entry *span.Entry // nil when the scanner did not parse it
	loc   location
	leaf  [32]byte
}

// scannedBatch is a batch whose commit line verified.
type scannedBatch struct {
	first   uint64 // log index of its first entry
	entries []scannedEntry
	end     position // just after its commit line
}

// tornTail describes an unacknowledged tail the scanner found.
type tornTail struct {
	seg    uint32
	cutAt  int64 // new size of the segment
	size   int64 // size before the cut
	reason string
}

// scanner walks the segments from the first byte, recomputing the Merkle
// tree and checking every commit line. Entries at or after parseFrom are
// parsed and fully verified (hash, signature, log index, tenant chain);
// earlier ones are only hashed into the tree, which the commit roots check.
type scanner struct {
	dir       string
	parseFrom position
	// durable is the end of the data known to have been acknowledged (the
	// index's high-water mark): damage before it is always corruption.
	durable  position
	chain    map[string]span.Hash // tenant chain heads; must hold the heads at parseFrom
	onBatch  func(*scannedBatch) error
	progress func(bytes int64)
	// rootsAt, when set, names tree sizes whose roots are recorded in
	// roots as the scan passes them (Verify's checkpoint check).
	rootsAt map[uint64]bool
	roots   map[uint64][32]byte

	tree *compact.Range
	size uint64
	end  position // end of the last confirmed batch
}

func newScanner(dir string, parseFrom position, chain map[string]span.Hash) *scanner {
	if chain == nil {
		chain = make(map[string]span.Hash)
	}
	return &scanner{dir: dir, parseFrom: parseFrom, durable: parseFrom, chain: chain, tree: treeFactory.NewEmptyRange(0), end: position{seg: 1}}
}

// scanAll scans every segment. It returns the torn tail of the last segment,
// if any (not yet cut), or a *CorruptError.
func (sc *scanner) scanAll(ctx context.Context, segs []uint32) (*tornTail, error) {
	for i, seg := range segs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		torn, err := sc.scanSegment(seg, i == len(segs)-1)
		if err != nil || torn != nil {
			return torn, err
		}
	}
	return nil, nil
}

func (sc *scanner) scanSegment(seg uint32, last bool) (*tornTail, error) {
	path := segmentPath(sc.dir, seg)
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open segment: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat segment: %w", err)
	}
	r := bufio.NewReaderSize(f, maxLine)

	var (
		off        int64
		batchStart int64
		pending    []scannedEntry
		leaves     [][]byte
		overlay    = map[string]span.Hash{} // chain updates of the pending batch
		reported   int64
	)
	// bad classifies a failed line; intact is true when the line is whole
	// and well-formed but wrong (a crash tears or zeroes bytes, it never
	// writes a well-formed entry with a wrong hash), which is corruption
	// wherever it is.
	bad := func(at int64, index int64, reason string, intact bool) (*tornTail, error) {
		return sc.classify(f, path, seg, last, st.Size(), batchStart, at, index, reason, intact, false)
	}
	for {
		line, err := r.ReadSlice('\n')
		if len(line) == 0 && err == io.EOF {
			break
		}
		if err != nil {
			reason := "incomplete last line (no newline)"
			if errors.Is(err, bufio.ErrBufferFull) {
				reason = fmt.Sprintf("line longer than %d bytes", maxLine)
			} else if err != io.EOF {
				return nil, fmt.Errorf("read %s at offset %d: %w", path, off, err)
			}
			return bad(off, -1, reason, false)
		}
		content := line[:len(line)-1]
		lineEnd := off + int64(len(line))
		if isCommitLine(content) {
			root, size, err := parseCommitLine(content)
			if err != nil {
				return bad(off, -1, err.Error(), false)
			}
			if want := sc.size + uint64(len(pending)); size != want {
				return bad(off, -1, fmt.Sprintf("commit line says size %d, the log has %d entries", size, want), false)
			}
			tree := cloneRange(sc.tree)
			for i, l := range leaves {
				if err := tree.Append(l, nil); err != nil {
					return nil, fmt.Errorf("merkle append: %w", err)
				}
				if n := sc.size + uint64(i) + 1; sc.rootsAt[n] {
					sc.roots[n] = [32]byte(rootOf(tree))
				}
			}
			if got := rootOf(tree); !bytes.Equal(got, root[:]) {
				return sc.classify(f, path, seg, last, st.Size(), batchStart, off, -1,
					fmt.Sprintf("entries %d..%d do not match the commit root", sc.size, size-1), true, true)
			}
			b := &scannedBatch{first: sc.size, entries: pending, end: position{seg, lineEnd}}
			sc.tree, sc.size, sc.end = tree, size, b.end
			for t, h := range overlay {
				sc.chain[t] = h
			}
			clear(overlay)
			if sc.onBatch != nil {
				if err := sc.onBatch(b); err != nil {
					return nil, err
				}
			}
			pending, leaves = nil, nil
			batchStart = lineEnd
		} else {
			idx := sc.size + uint64(len(pending))
			se := scannedEntry{loc: location{seg: seg, off: off, n: len(content)}}
			if !(position{seg, off}).less(sc.parseFrom) {
				e, err := span.ParseEntry(bytes.Clone(content))
				if err != nil {
					return bad(off, int64(idx), err.Error(), !tornShape(err))
				}
				if e.LogIndex != idx {
					return bad(off, int64(idx), fmt.Sprintf("log_index is %d, want %d", e.LogIndex, idx), true)
				}
				prev, ok := overlay[e.Tenant]
				if !ok {
					prev = sc.chain[e.Tenant]
				}
				if e.PrevHash != prev {
					return bad(off, int64(idx), fmt.Sprintf("prev_hash %s breaks the chain of tenant %q (want %s)", e.PrevHash, e.Tenant, prev), true)
				}
				overlay[e.Tenant] = e.Hash
				se.entry = e
			}
			leaf := leafHash(content)
			se.leaf = [32]byte(leaf)
			pending = append(pending, se)
			leaves = append(leaves, leaf)
		}
		off = lineEnd
		if sc.progress != nil && off-reported >= 1<<20 {
			sc.progress(off - reported)
			reported = off
		}
	}
	if sc.progress != nil {
		sc.progress(off - reported)
	}
	if len(pending) > 0 {
		// Entries with no commit line after them were never acknowledged.
		return bad(batchStart, int64(sc.size), fmt.Sprintf("%d entries (log index %d to %d) without a commit line: the segment ends inside a batch",
			len(pending), sc.size, sc.size+uint64(len(pending))-1), false)
	}
	return nil, nil
}

// classify decides whether a bad line at offset at is a torn, unacknowledged
// tail (returned for the caller to cut) or corruption of acknowledged data.
// intact says the bad line is whole and well-formed (see scanSegment);
// rootMismatch that it is a commit line whose root the entries before it do
// not produce.
func (sc *scanner) classify(f *os.File, path string, seg uint32, last bool, fileSize, batchStart, at, index int64, reason string, intact, rootMismatch bool) (*tornTail, error) {
	corrupt := func(why string) error {
		ce := &CorruptError{File: path, Offset: at, Index: index, Reason: why}
		if rootMismatch {
			// A commit root that does not match: name the first line of the
			// batch that does not verify, if parsing finds one; otherwise
			// the batch as a whole.
			if o, idx, r := locateBadLine(f, batchStart, at, sc.size); o >= 0 {
				ce.Offset, ce.Index, ce.Reason = o, idx, r
			} else {
				ce.Offset = batchStart
			}
		}
		return ce
	}
	if (position{seg, at}).less(sc.durable) {
		return nil, corrupt(reason + " (below the durable watermark)")
	}
	if !last {
		return nil, corrupt(reason + " (in a sealed segment)")
	}
	if intact {
		return nil, corrupt(reason)
	}
	// Damage confined to the final batch of the last segment is a torn write
	// that was never acknowledged: batches are written one at a time and
	// the next one starts only after the previous one is on disk. Any
	// commit line after the damage that is not the last line of the file
	// proves a later batch was written, so the damage was acknowledged.
	commits, lastIsCommit, err := commitsAfter(f, at)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if commits > 1 || (commits == 1 && !lastIsCommit) {
		return nil, corrupt(reason)
	}
	return &tornTail{seg: seg, cutAt: batchStart, size: fileSize, reason: fmt.Sprintf("%s at offset %d", reason, at)}, nil
}

// tornShape reports whether a parse error is of the kind a torn write
// leaves (bytes cut off or zeroed), as opposed to a whole line whose content
// is wrong.
func tornShape(err error) bool {
	var se *span.Error
	if !errors.As(err, &se) {
		return true
	}
	switch se.Code {
	case span.CodeMalformedJSON, span.CodeInvalidUTF8:
		return true
	}
	return false
}

// commitsAfter counts the commit lines that start after offset at and
// reports whether the file ends with one.
func commitsAfter(f *os.File, at int64) (n int, lastIsCommit bool, err error) {
	r := bufio.NewReaderSize(io.NewSectionReader(f, at, 1<<62), maxLine)
	first := true
	for {
		line, err := r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// Skip the rest of an over-long line.
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = r.ReadSlice('\n')
			}
			lastIsCommit = false
			first = false
			continue
		}
		if len(line) == 0 && err == io.EOF {
			return n, lastIsCommit, nil
		}
		complete := err == nil
		if err != nil && err != io.EOF {
			return 0, false, err
		}
		if !first && complete && isCommitLine(line[:len(line)-1]) {
			if _, _, perr := parseCommitLine(line[:len(line)-1]); perr == nil {
				n++
				lastIsCommit = true
				first = false
				continue
			}
		}
		first = false
		lastIsCommit = false
		if !complete {
			return n, false, nil
		}
	}
}

// locateBadLine parses the lines of a batch [start, end) and returns the
// offset, log index and reason of the first one that fails verification, or
// -1 when every line parses.
func locateBadLine(f *os.File, start, end int64, firstIndex uint64) (int64, int64, string) {
	r := bufio.NewReaderSize(io.NewSectionReader(f, start, end-start), maxLine)
	off := start
	idx := firstIndex
	for {
		line, err := r.ReadSlice('\n')
		if len(line) == 0 || err != nil {
			return -1, -1, ""
		}
		content := line[:len(line)-1]
		e, perr := span.ParseEntry(bytes.Clone(content))
		switch {
		case perr != nil:
			return off, int64(idx), perr.Error()
		case e.LogIndex != idx:
			return off, int64(idx), fmt.Sprintf("log_index is %d, want %d", e.LogIndex, idx)
		}
		off += int64(len(line))
		idx++
	}
}
