package pgstore

import (
	"context"
	"crypto/sha256"
	"fmt"
	"sync"

	"github.com/jackc/pgx/v5"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/logline/logline/internal/ledger"
)

// The Merkle tree lives in ledger.tree_hash_runs as golang.org/x/mod/
// sumdb/tlog's stored hashes (about two per entry): a row holds up to
// runHashes consecutive stored hashes, from stored-hash index first on,
// written by the commit transaction that adds them. A stored hash covers
// a complete subtree and never changes once committed, so every node may
// cache them freely.

var emptyRoot = sha256.Sum256(nil)

// hashCacheEntries bounds the cache: 2^18 hashes, about 20 MB.
const hashCacheEntries = 1 << 18

// hashCache keeps committed stored hashes in memory. When full it starts
// over: the hashes proofs need most (the upper levels) come back first.
type hashCache struct {
	mu sync.RWMutex // guards m
	m  map[int64]tlog.Hash
}

func newHashCache() *hashCache { return &hashCache{m: make(map[int64]tlog.Hash)} }

func (c *hashCache) get(idx int64) (tlog.Hash, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	h, ok := c.m[idx]
	return h, ok
}

func (c *hashCache) add(idx int64, h tlog.Hash) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= hashCacheEntries {
		c.m = make(map[int64]tlog.Hash)
	}
	c.m[idx] = h
}

// runHashes is the most stored hashes one row of ledger.tree_hash_runs
// holds (2 KiB, kept in the row).
const runHashes = 64

const (
	insertRunsSQL = `INSERT INTO ledger.tree_hash_runs (first, hashes) SELECT * FROM unnest($1::bigint[], $2::bytea[])`
	// readRunsSQL finds, for each stored-hash index, the run holding it:
	// the last one starting at or before it.
	readRunsSQL = `SELECT r.first, r.hashes FROM unnest($1::bigint[]) AS k(idx)
		CROSS JOIN LATERAL (SELECT first, hashes FROM ledger.tree_hash_runs
			WHERE first <= k.idx ORDER BY first DESC LIMIT 1) r`
)

// hashRuns cuts consecutive stored hashes, from index first on, into the
// rows of ledger.tree_hash_runs.
func hashRuns(first int64, hashes []tlog.Hash) (firsts []int64, runs [][]byte) {
	for i := 0; i < len(hashes); i += runHashes {
		run := make([]byte, 0, min(runHashes, len(hashes)-i)*32)
		for _, h := range hashes[i:min(i+runHashes, len(hashes))] {
			run = append(run, h[:]...)
		}
		firsts, runs = append(firsts, first+int64(i)), append(runs, run)
	}
	return firsts, runs
}

// hashRun is consecutive stored hashes, from index first on.
type hashRun struct {
	first  int64
	hashes []tlog.Hash
}

func (r *hashRun) get(idx int64) (tlog.Hash, bool) {
	if r == nil || idx < r.first || idx-r.first >= int64(len(r.hashes)) {
		return tlog.Hash{}, false
	}
	return r.hashes[idx-r.first], true
}

// queryer runs a query: a connection or a transaction.
type queryer interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// hashReader reads stored hashes: first overlay (hashes of a batch not
// committed yet), then pending (those of the batch before it, not
// committed yet either), then the cache, then the database through q
// (a transaction begun lazily by begin when nil). Hashes read from the database are
// cached; overlay and pending hashes never are (they may not commit).
type hashReader struct {
	ctx     context.Context
	cache   *hashCache
	overlay *hashRun
	pending *hashRun
	q       queryer
	begin   func() (pgx.Tx, error)
	tx      pgx.Tx  // begun by begin, for the caller to end
	read    []int64 // when non-nil, every index asked for is appended
}

func (r *hashReader) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	var missing []int64
	for i, idx := range indexes {
		if h, ok := r.overlay.get(idx); ok {
			out[i] = h
		} else if h, ok := r.pending.get(idx); ok {
			out[i] = h
		} else if h, ok := r.cache.get(idx); ok {
			out[i] = h
		} else {
			missing = append(missing, idx)
		}
	}
	if r.read != nil {
		r.read = append(r.read, indexes...)
	}
	if len(missing) == 0 {
		return out, nil
	}
	if r.q == nil {
		tx, err := r.begin()
		if err != nil {
			return nil, err
		}
		r.q, r.tx = tx, tx
	}
	rows, err := r.q.Query(r.ctx, readRunsSQL, missing)
	if err != nil {
		return nil, fmt.Errorf("read stored hashes: %w", err)
	}
	var (
		first  int64
		hashes []byte
		read   = make(map[int64]tlog.Hash, len(missing))
	)
	_, err = pgx.ForEachRow(rows, []any{&first, &hashes}, func() error {
		if len(hashes) == 0 || len(hashes)%32 != 0 {
			return fmt.Errorf("%w: the stored-hash run at %d has %d bytes", ledger.ErrCorrupt, first, len(hashes))
		}
		for j := 0; j < len(hashes); j += 32 {
			idx, h := first+int64(j/32), tlog.Hash(hashes[j:j+32])
			read[idx] = h
			r.cache.add(idx, h)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read stored hashes: %w", err)
	}
	for i, idx := range indexes {
		if _, ok := r.overlay.get(idx); ok {
			continue
		}
		if _, ok := r.pending.get(idx); ok {
			continue
		}
		h, ok := read[idx]
		if !ok {
			h, ok = r.cache.get(idx)
		}
		if !ok {
			return nil, fmt.Errorf("%w: stored hash %d is missing from ledger.tree_hash_runs", ledger.ErrCorrupt, idx)
		}
		out[i] = h
	}
	return out, nil
}

// withHashes runs fn with a reader over the committed tree; a transaction
// (system scope, read only) is opened only if the cache misses.
func (s *Store) withHashes(ctx context.Context, fn func(tlog.HashReader) error) error {
	if s.isClosed() {
		return ledger.ErrClosed
	}
	r := &hashReader{ctx: ctx, cache: s.hashes}
	r.begin = func() (pgx.Tx, error) {
		tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly})
		if err != nil {
			return nil, fmt.Errorf("read stored hashes: %w", err)
		}
		if _, err := tx.Exec(ctx, setupSQL, s.setupArgs(systemScope)...); err != nil {
			tx.Rollback(ctx) //nolint:errcheck // the setup error is the one to report
			return nil, fmt.Errorf("postgres session setup: %w", err)
		}
		return tx, nil
	}
	err := fn(r)
	if r.tx != nil {
		// Read only: rollback and commit are the same; rollback also
		// ends a transaction a failed query aborted.
		r.tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck
	}
	return err
}

// TreeHash returns the root of the tree of the given size.
func (s *Store) TreeHash(ctx context.Context, size uint64) ([32]byte, error) {
	if err := ctx.Err(); err != nil {
		return [32]byte{}, err
	}
	if err := ledger.CheckTreeSize(size, s.Size()); err != nil {
		return [32]byte{}, err
	}
	var h tlog.Hash
	err := s.withHashes(ctx, func(r tlog.HashReader) error {
		var err error
		h, err = tlog.TreeHash(int64(size), r)
		return err
	})
	return h, err
}

// InclusionProof proves entry index is in the tree of the given size.
func (s *Store) InclusionProof(ctx context.Context, index, size uint64) ([32]byte, [][32]byte, error) {
	if err := ctx.Err(); err != nil {
		return [32]byte{}, nil, err
	}
	if err := ledger.CheckInclusion(index, size, s.Size()); err != nil {
		return [32]byte{}, nil, err
	}
	var (
		leaf  [32]byte
		proof [][32]byte
	)
	err := s.withHashes(ctx, func(r tlog.HashReader) error {
		var err error
		leaf, proof, err = ledger.ProveInclusion(r, index, size)
		return err
	})
	if err != nil {
		return [32]byte{}, nil, err
	}
	return leaf, proof, nil
}

// ConsistencyProof proves the tree of size from is a prefix of the tree of
// size to. The proof from an empty tree, or between equal sizes, is empty.
func (s *Store) ConsistencyProof(ctx context.Context, from, to uint64) ([][32]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := ledger.CheckConsistency(from, to, s.Size()); err != nil {
		return nil, err
	}
	if from == 0 || from == to {
		return [][32]byte{}, nil // no hashes to read
	}
	var proof [][32]byte
	err := s.withHashes(ctx, func(r tlog.HashReader) error {
		var err error
		proof, err = ledger.ProveConsistency(r, from, to)
		return err
	})
	return proof, err
}
