package backup

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	"github.com/logline/logline/internal/span"
	"github.com/logline/logline/internal/tlog"
)

// VerifyOptions control Verify.
type VerifyOptions struct {
	// Workers is how many goroutines parse entries; default GOMAXPROCS.
	Workers int
	// Progress, when set, is called with the entries verified so far and
	// the total.
	Progress func(done, total uint64)
}

// Report says what Verify checked.
type Report struct {
	Origin      string
	Size        uint64
	Root        [32]byte
	Chunks      int
	Bytes       int64 // bytes of entry lines
	Checkpoints int
	Keys        int    // verifier keys in log.key
	Signed      uint64 // entries with a client signature
	Tenants     int
	// Checkpoint is the latest checkpoint note, verified with log.key; its
	// size and root are Size and Root.
	Checkpoint tlog.Checkpoint
	Note       []byte // its signed note
}

// Verify checks a backup completely without changing it: backup.json is
// well-formed and consistent; log.key holds the log's verifier keys; every
// checkpoint note verifies with them and names the size backup.json gives
// it; every chunk is whole (its lines, byte count and SHA-256); every line
// is a stored entry whose canonical form, curr_hash and client signature
// hold (span.ParseEntry); log indexes are dense from 0; every tenant's
// prev_hash chain links; and the Merkle root at the size of every
// checkpoint is that checkpoint's root — the last one's being backup.json's.
//
// The first problem, in log order, is returned as an *Error (wrapping
// ErrInvalid) naming the file, the line and the log index when one applies.
func Verify(ctx context.Context, dir string, opts VerifyOptions) (Report, error) {
	b, err := openBackup(dir)
	if err != nil {
		return Report{}, err
	}
	return b.verifyEntries(ctx, opts)
}

// backupDir is a backup whose backup.json, log.key and checkpoint notes
// were checked (openBackup); its entries are not yet.
type backupDir struct {
	dir   string
	st    *State
	keys  tlog.LogKeys
	cps   []tlog.Checkpoint // parallel to st.Checkpoints
	notes [][]byte
}

func (b *backupDir) latest() (tlog.Checkpoint, []byte) {
	return b.cps[len(b.cps)-1], b.notes[len(b.notes)-1]
}

// openBackup reads and checks everything of a backup but its entries.
func openBackup(dir string) (*backupDir, error) {
	if fi, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("backup %s: %w", dir, err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("backup %s: not a directory: %w", dir, ErrNotBackup)
	}
	st, err := loadState(dir)
	if err != nil {
		return nil, err
	}
	if st == nil {
		return nil, invalid(StateFile, 0, -1, "missing: %s holds no completed backup", dir)
	}
	b := &backupDir{dir: dir, st: st}
	data, err := os.ReadFile(filepath.Join(dir, KeyFile))
	if err != nil {
		return nil, invalid(KeyFile, 0, -1, "%v", err)
	}
	if b.keys, err = tlog.ParseLogKeys(data); err != nil {
		return nil, invalid(KeyFile, 0, -1, "%v", err)
	}
	if b.keys.Origin != st.Origin {
		return nil, invalid(KeyFile, 0, -1, "keys of the log %q, backup.json says %q", b.keys.Origin, st.Origin)
	}
	for _, ref := range st.Checkpoints {
		note, err := readNote(filepath.Join(dir, ref.File))
		if err != nil {
			return nil, invalid(ref.File, 0, -1, "%v", err)
		}
		cp, err := tlog.ParseCheckpoint(note, b.keys.Verifiers, st.Origin)
		if err != nil {
			return nil, invalid(ref.File, 0, -1, "does not verify with log.key: %v", err)
		}
		if cp.Size != ref.Size {
			return nil, invalid(ref.File, 0, -1, "is the checkpoint of size %d, backup.json names it as the one of size %d", cp.Size, ref.Size)
		}
		b.cps = append(b.cps, cp)
		b.notes = append(b.notes, note)
	}
	if cp, _ := b.latest(); cp.Root != st.Root {
		return nil, invalid(StateFile, 0, -1, "root %s, the checkpoint of size %d signs %s", b64(st.Root), st.Size, b64(cp.Root))
	}
	return b, nil
}

// readNote reads a checkpoint note, bounded as tlog bounds it.
func readNote(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	note, err := io.ReadAll(io.LimitReader(f, tlog.MaxCheckpointSize+1))
	if err != nil {
		return nil, err
	}
	if len(note) > tlog.MaxCheckpointSize {
		return nil, fmt.Errorf("larger than %d bytes", tlog.MaxCheckpointSize)
	}
	return note, nil
}

// lineBatch is a run of consecutive entry lines on their way through the
// parse workers. Batches are consumed in log order.
type lineBatch struct {
	file      string
	firstLine int    // line number of the first line in file
	first     uint64 // log index of the first line
	data      []byte // the lines, back to back
	ends      []int  // end of each line in data
	parsed    []parsedLine
	err       error // the reader's error after these lines
	done      chan struct{}
}

// invalid is the *Error of the i-th line of the batch.
func (lb *lineBatch) invalid(i int, format string, args ...any) error {
	return invalid(lb.file, lb.firstLine+i, int64(lb.first)+int64(i), format, args...)
}

type parsedLine struct {
	entry *span.Entry
	leaf  [32]byte
	err   error
}

const (
	batchLines = 512
	batchBytes = 1 << 20
)

// verifyEntries reads every chunk and checks every entry (see Verify):
// one goroutine reads lines, workers parse them, and the caller's
// goroutine checks order, chains and roots.
func (b *backupDir) verifyEntries(ctx context.Context, opts VerifyOptions) (Report, error) {
	st := b.st
	rep := Report{Origin: st.Origin, Size: st.Size, Root: st.Root, Chunks: len(st.Chunks), Checkpoints: len(st.Checkpoints), Keys: len(b.keys.Keys)}
	rep.Checkpoint, rep.Note = b.latest()
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	work := make(chan *lineBatch, 2*workers)
	order := make(chan *lineBatch, 4*workers)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Go(func() { b.readBatches(ctx, work, order) })
	for range workers {
		wg.Go(func() {
			for lb := range work {
				lb.parsed = make([]parsedLine, len(lb.ends))
				start := 0
				for i, end := range lb.ends {
					line := lb.data[start:end]
					e, err := span.ParseEntry(line)
					lb.parsed[i] = parsedLine{entry: e, leaf: tlog.LeafHash(line), err: err}
					start = end
				}
				close(lb.done)
			}
		})
	}

	tree := treeFactory.NewEmptyRange(0)
	chains := map[string]span.Hash{}
	// Each checkpoint's root is compared once the tree reaches its size,
	// after the batch's reading problems (a chunk's SHA-256 names the file,
	// a root mismatch only the checkpoint).
	type rootAt struct {
		cp   int
		root [32]byte
		idx  int64
	}
	var roots []rootAt
	cpNext := 0
	takeRoots := func(idx int64) {
		for cpNext < len(b.cps) && b.cps[cpNext].Size == tree.End() {
			roots = append(roots, rootAt{cpNext, rangeRoot(tree), idx})
			cpNext++
		}
	}
	checkRoots := func() error {
		for _, r := range roots {
			if want := b.cps[r.cp].Root; r.root != want {
				return invalid(st.Checkpoints[r.cp].File, 0, r.idx, "the backup's entries [0, %d) give root %s, this checkpoint signs %s",
					b.cps[r.cp].Size, b64(r.root), b64(want))
			}
		}
		roots = roots[:0]
		return nil
	}
	takeRoots(-1)
	if err := checkRoots(); err != nil {
		return rep, err
	}
	for lb := range order {
		select {
		case <-lb.done:
		case <-ctx.Done():
			return rep, ctx.Err()
		}
		start := 0
		for i, p := range lb.parsed {
			idx := lb.first + uint64(i)
			if p.err != nil {
				return rep, lb.invalid(i, "%v", p.err)
			}
			e := p.entry
			if e.LogIndex != idx {
				return rep, lb.invalid(i, "log_index is %d, want %d (lines deleted, duplicated or out of order)", e.LogIndex, idx)
			}
			if prev := chains[e.Tenant]; e.PrevHash != prev {
				return rep, lb.invalid(i, "prev_hash %s breaks the chain of tenant %q (want %s)", e.PrevHash, e.Tenant, prev)
			}
			chains[e.Tenant] = e.Hash
			if e.Signed {
				rep.Signed++
			}
			if err := tree.Append(p.leaf[:], nil); err != nil {
				return rep, fmt.Errorf("merkle append: %w", err)
			}
			takeRoots(int64(idx))
			rep.Bytes += int64(lb.ends[i]-start) + 1
			start = lb.ends[i]
		}
		if lb.err != nil {
			return rep, lb.err
		}
		if err := checkRoots(); err != nil {
			return rep, err
		}
		if opts.Progress != nil {
			opts.Progress(tree.End(), st.Size)
		}
	}
	if err := ctx.Err(); err != nil {
		return rep, err
	}
	if tree.End() != st.Size || cpNext != len(b.cps) {
		// The reader checks every chunk's line count, so this cannot happen.
		return rep, fmt.Errorf("verified %d entries, the backup holds %d", tree.End(), st.Size)
	}
	rep.Tenants = len(chains)
	return rep, nil
}

// readBatches reads the chunks into batches and hands each to the workers
// and, in order, to the consumer. A reading problem ends the batch of the
// lines before it.
func (b *backupDir) readBatches(ctx context.Context, work, order chan<- *lineBatch) {
	defer close(order)
	defer close(work)
	r := newChunkReader(b.dir, b.st.Chunks)
	defer r.close()
	var lb *lineBatch
	send := func() bool {
		for _, ch := range []chan<- *lineBatch{order, work} {
			select {
			case ch <- lb:
			case <-ctx.Done():
				return false
			}
		}
		lb = nil
		return true
	}
	for {
		line, err := r.next()
		if err != nil {
			if lb == nil {
				lb = &lineBatch{done: make(chan struct{})}
			}
			if err != io.EOF {
				lb.err = err
			}
			send()
			return
		}
		// A batch is sent only once the next line is read: the last batch
		// of a chunk then carries the chunk's own problems (its size and
		// SHA-256, checked at its end), ahead of anything after it.
		file, n, idx := r.where()
		if lb != nil && (lb.file != file || len(lb.ends) == batchLines || len(lb.data) >= batchBytes) {
			if !send() {
				return
			}
		}
		if lb == nil {
			lb = &lineBatch{file: file, firstLine: n, first: idx, data: make([]byte, 0, 256<<10), done: make(chan struct{})}
		}
		lb.data = append(lb.data, line...)
		lb.ends = append(lb.ends, len(lb.data))
	}
}
