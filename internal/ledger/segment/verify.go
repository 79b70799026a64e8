package segment

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/logline/logline/internal/span"
)

// VerifyOptions control Verify.
type VerifyOptions struct {
	// Progress, when set, is called with bytes scanned so far and the total.
	Progress func(done, total int64)
	// TreeSizes asks for the Merkle roots of these tree sizes (e.g. the
	// sizes of archived checkpoints); VerifyReport.Roots has those the
	// log reaches.
	TreeSizes []uint64
}

// VerifyReport says what Verify checked.
type VerifyReport struct {
	Segments int
	Bytes    int64
	Entries  uint64
	Signed   uint64
	Tenants  int
	Root     []byte // Merkle root over all entries
	// Roots holds the root of each VerifyOptions.TreeSizes size that is
	// at most Entries.
	Roots map[uint64][32]byte
	// TornTail describes unacknowledged bytes after the last commit line
	// (cut on the next open); empty when there are none.
	TornTail string
	// IndexChecked is false when the index could not be opened (missing,
	// or in use by a running server); IndexNote says why.
	IndexChecked bool
	IndexNote    string
	// Unindexed counts entries past the index's high-water mark (normal
	// after a crash: the next start replays them into the index).
	Unindexed uint64
}

// IndexError is an index entry that disagrees with the segments.
type IndexError struct {
	Key    string
	Index  int64
	Reason string
}

func (e *IndexError) Error() string {
	return fmt.Sprintf("index disagrees with segments at log index %d (key %s): %s", e.Index, e.Key, e.Reason)
}

// Verify checks a data directory without modifying it: every line of every
// segment (canonical form, curr_hash, signature, log index, tenant chain),
// every commit root, and — when the index can be opened — that every index
// entry agrees with the segments and that no extra index entries exist. It
// returns a *CorruptError or *IndexError for the first problem found.
func Verify(ctx context.Context, dir string, opts VerifyOptions) (VerifyReport, error) {
	var rep VerifyReport
	segs, err := listSegments(dir)
	if err != nil {
		return rep, err
	}
	rep.Segments = len(segs)
	var total int64
	for _, n := range segs {
		st, err := os.Stat(segmentPath(dir, n))
		if err != nil {
			return rep, fmt.Errorf("stat segment: %w", err)
		}
		total += st.Size()
	}
	rep.Bytes = total

	var db *pebble.DB
	if _, err := os.Stat(indexDir(dir)); err != nil {
		rep.IndexNote = "no index directory"
	} else if db, err = openIndex(dir, true, 0); err != nil {
		rep.IndexNote = fmt.Sprintf("index not checked: %v", err)
		db = nil
	} else {
		defer db.Close()
		rep.IndexChecked = true
	}

	// The index covers a prefix of the log (it lags after a crash; the
	// next open replays the rest). Only that prefix is compared, and its
	// end is the durable watermark: damage before it is corruption even
	// in the last batch.
	var st indexState
	if db != nil {
		var ok bool
		if st, ok, err = readIndexState(db); err != nil {
			return rep, err
		} else if !ok {
			st = indexState{}
		}
	}
	sc := newScanner(dir, position{}, nil)
	sc.durable = st.end
	if len(opts.TreeSizes) > 0 {
		sc.rootsAt = make(map[uint64]bool, len(opts.TreeSizes))
		sc.roots = make(map[uint64][32]byte, len(opts.TreeSizes))
		for _, n := range opts.TreeSizes {
			if n == 0 {
				sc.roots[0] = [32]byte(rootOf(treeFactory.NewEmptyRange(0)))
			}
			sc.rootsAt[n] = true
		}
		rep.Roots = sc.roots
	}
	var done int64
	if opts.Progress != nil {
		sc.progress = func(n int64) {
			done += n
			opts.Progress(done, total)
		}
	}
	counts := map[byte]int{}
	var (
		coveredEnd    position
		coveredRoot   = [32]byte(rootOf(treeFactory.NewEmptyRange(0)))
		coveredChains = map[string]span.Hash{}
	)
	sc.onBatch = func(b *scannedBatch) error {
		for i := range b.entries {
			if b.entries[i].entry.Signed {
				rep.Signed++
			}
		}
		end := b.first + uint64(len(b.entries))
		if db == nil || end > st.size {
			rep.Unindexed += uint64(len(b.entries))
			return nil
		}
		if err := checkBatchIndex(db, b, counts); err != nil {
			return err
		}
		if end == st.size {
			coveredEnd = b.end
			coveredRoot = [32]byte(rootOf(sc.tree))
			maps.Copy(coveredChains, sc.chain)
		}
		return nil
	}
	torn, err := sc.scanAll(ctx, segs)
	if err != nil {
		return rep, err
	}
	if torn != nil {
		rep.TornTail = fmt.Sprintf("%s: %d unacknowledged bytes after offset %d (%s)",
			segmentPath(dir, torn.seg), torn.size-torn.cutAt, torn.cutAt, torn.reason)
	}
	rep.Entries = sc.size
	rep.Tenants = len(sc.chain)
	rep.Root = rootOf(sc.tree)
	if db != nil {
		if st.size > sc.size {
			return rep, &IndexError{Key: "m/state", Index: int64(st.size), Reason: fmt.Sprintf("the index covers %d entries, the segments hold %d", st.size, sc.size)}
		}
		if err := checkIndexTotals(db, st, coveredEnd, coveredChains, counts); err != nil {
			return rep, err
		}
		if err := checkIndexTree(db, st.size, coveredRoot); err != nil {
			return rep, err
		}
		if rep.Unindexed > 0 {
			rep.IndexNote = fmt.Sprintf("the index covers %d of %d entries; the rest is replayed into it on the next start", st.size, sc.size)
		}
	}
	return rep, nil
}

// checkBatchIndex checks the index keys of one batch and counts them.
func checkBatchIndex(db *pebble.DB, b *scannedBatch, counts map[byte]int) error {
	get := func(key []byte, idx uint64) ([]byte, error) {
		v, closer, err := db.Get(key)
		if errors.Is(err, pebble.ErrNotFound) {
			return nil, &IndexError{Key: fmt.Sprintf("%q", key), Index: int64(idx), Reason: "missing"}
		}
		if err != nil {
			return nil, fmt.Errorf("read index: %w", err)
		}
		defer closer.Close()
		return bytes.Clone(v), nil
	}
	checkLoc := func(key []byte, idx uint64, want location) error {
		v, err := get(key, idx)
		if err != nil {
			return err
		}
		loc, _, err := decodeLocation(v)
		if err != nil || loc != want {
			return &IndexError{Key: fmt.Sprintf("%q", key), Index: int64(idx), Reason: fmt.Sprintf("points to %+v, the entry is at %+v", loc, want)}
		}
		return nil
	}
	if err := checkLoc(batchKey(b.first), b.first, b.entries[0].loc); err != nil {
		return err
	}
	counts[pfxBatch]++
	for i := range b.entries {
		se := &b.entries[i]
		e := se.entry
		idx := b.first + uint64(i)
		ie := newIndexedEntry(&e.Span, se.loc, se.leaf)
		v, err := get(idKey(ie.id, ie.tenant, ie.seq), idx)
		if err != nil {
			return err
		}
		iv, err := decodeIDValue(v)
		if err != nil || iv.index != idx || iv.loc != se.loc || iv.hash != e.Hash {
			return &IndexError{Key: fmt.Sprintf("id %q seq %d", ie.id, ie.seq), Index: int64(idx), Reason: "id entry does not match the segment"}
		}
		counts[pfxID]++
		for _, kind := range []byte{pfxTenant, pfxThis, pfxType, pfxTrace, pfxWhen} {
			k := secondaryKey(nil, kind, &ie, idx)
			if k == nil {
				continue
			}
			if err := checkLoc(k, idx, se.loc); err != nil {
				return err
			}
			counts[kind]++
		}
	}
	return nil
}

// checkIndexTotals checks that the index holds no keys beyond those the
// covered segments explain, and that its state and chain heads match.
func checkIndexTotals(db *pebble.DB, st indexState, coveredEnd position, chains map[string]span.Hash, counts map[byte]int) error {
	for _, p := range []byte{pfxBatch, pfxID, pfxTenant, pfxThis, pfxType, pfxTrace, pfxWhen} {
		n, err := countPrefix(db, prefix(p))
		if err != nil {
			return err
		}
		if n != counts[p] {
			return &IndexError{Key: string(p) + "/", Index: -1, Reason: fmt.Sprintf("%d keys, the indexed entries explain %d", n, counts[p])}
		}
	}
	if st.size > 0 && st.end != coveredEnd {
		return &IndexError{Key: "m/state", Index: int64(st.size), Reason: fmt.Sprintf("says %d entries end at %+v, the segments put the end of entry %d at %+v", st.size, st.end, st.size-1, coveredEnd)}
	}
	stored, err := readChains(db)
	if err != nil {
		return err
	}
	if len(stored) != len(chains) {
		return &IndexError{Key: "c/", Index: -1, Reason: fmt.Sprintf("%d chain heads, the indexed entries have %d tenants", len(stored), len(chains))}
	}
	for t, h := range chains {
		if stored[t] != h {
			return &IndexError{Key: fmt.Sprintf("c/%s", t), Index: -1, Reason: fmt.Sprintf("chain head %s, the segments say %s", stored[t], h)}
		}
	}
	return nil
}

// checkIndexTree checks that the index holds exactly the stored Merkle
// hashes of a tree of size entries, and that they give the root the
// segments give.
func checkIndexTree(db *pebble.DB, size uint64, root [32]byte) error {
	n, err := countPrefix(db, prefix(pfxTree))
	if err != nil {
		return err
	}
	if want := tlog.StoredHashCount(int64(size)); int64(n) != want {
		return &IndexError{Key: "n/", Index: -1, Reason: fmt.Sprintf("%d stored Merkle hashes, a tree of %d entries has %d", n, size, want)}
	}
	got, err := tlog.TreeHash(int64(size), treeHashes{db: db})
	if err != nil {
		return &IndexError{Key: "n/", Index: -1, Reason: err.Error()}
	}
	if got != root {
		return &IndexError{Key: "n/", Index: int64(size), Reason: fmt.Sprintf("the stored Merkle hashes give root %x, the segments %x", got[:], root[:])}
	}
	return nil
}

func countPrefix(db *pebble.DB, p []byte) (int, error) {
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: p, UpperBound: prefixEnd(p)})
	if err != nil {
		return 0, fmt.Errorf("read index: %w", err)
	}
	defer it.Close()
	n := 0
	for it.First(); it.Valid(); it.Next() {
		n++
	}
	return n, it.Error()
}

// Reindex rebuilds the index of a stopped store from its segments. It holds
// the index lock throughout, so it refuses to run beside a server. The
// result is identical, key for key, to the index the server built.
func Reindex(ctx context.Context, cfg Config) (entries uint64, took time.Duration, err error) {
	start := time.Now()
	cfg.fill()
	db, err := openIndex(cfg.Dir, false, cfg.IndexCacheBytes)
	if err != nil {
		return 0, 0, err
	}
	s := &Store{cfg: cfg, log: cfg.Logger, db: db}
	defer func() { err = closeAll(err, db) }()
	if err := s.resetIndex(); err != nil {
		return 0, 0, err
	}
	segs, err := listSegments(cfg.Dir)
	if err != nil {
		return 0, 0, err
	}
	sc, torn, err := s.scan(ctx, segs, position{}, map[string]span.Hash{})
	if err != nil {
		return 0, 0, err
	}
	if torn != nil {
		cfg.Logger.Warn("torn tail left in place; it is cut when the server next opens the ledger", "reason", torn.reason)
	}
	if err := db.Flush(); err != nil {
		return 0, 0, fmt.Errorf("flush index: %w", err)
	}
	return sc.size, time.Since(start), nil
}
