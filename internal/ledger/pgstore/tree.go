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

// The Merkle tree lives in ledger.tree_hashes as golang.org/x/mod/sumdb/
// tlog's stored hashes (idx → 32-byte hash, about two per entry), written
// by the commit transaction that adds the entries. A stored hash covers a
// complete subtree and never changes once committed, so every node may
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

// hashReader reads stored hashes: first overlay (hashes of a batch not
// committed yet), then the cache, then the database through tx (begun
// lazily by begin when nil). Hashes read from the database are cached;
// overlay hashes never are (the batch may not commit).
type hashReader struct {
	ctx     context.Context
	cache   *hashCache
	overlay map[int64]tlog.Hash
	tx      pgx.Tx
	begin   func() (pgx.Tx, error)
	read    []int64 // when non-nil, every index asked for is appended
}

func (r *hashReader) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	var missing []int64
	for i, idx := range indexes {
		if h, ok := r.overlay[idx]; ok {
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
	if r.tx == nil {
		tx, err := r.begin()
		if err != nil {
			return nil, err
		}
		r.tx = tx
	}
	rows, err := r.tx.Query(r.ctx, "SELECT idx, hash FROM ledger.tree_hashes WHERE idx = ANY($1)", missing)
	if err != nil {
		return nil, fmt.Errorf("read stored hashes: %w", err)
	}
	var (
		idx  int64
		hash []byte
	)
	_, err = pgx.ForEachRow(rows, []any{&idx, &hash}, func() error {
		if len(hash) != 32 {
			return fmt.Errorf("%w: stored hash %d has %d bytes", ledger.ErrCorrupt, idx, len(hash))
		}
		r.cache.add(idx, tlog.Hash(hash))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read stored hashes: %w", err)
	}
	for i, idx := range indexes {
		if _, ok := r.overlay[idx]; ok {
			continue
		}
		h, ok := r.cache.get(idx)
		if !ok {
			return nil, fmt.Errorf("%w: stored hash %d is missing from ledger.tree_hashes", ledger.ErrCorrupt, idx)
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
		leaf  []tlog.Hash
		proof tlog.RecordProof
	)
	err := s.withHashes(ctx, func(r tlog.HashReader) error {
		var err error
		if leaf, err = r.ReadHashes([]int64{tlog.StoredHashIndex(0, int64(index))}); err != nil {
			return err
		}
		if proof, err = tlog.ProveRecord(int64(size), int64(index), r); err != nil {
			return fmt.Errorf("inclusion proof of %d in %d: %w", index, size, err)
		}
		return nil
	})
	if err != nil {
		return [32]byte{}, nil, err
	}
	return leaf[0], hashesOf(proof), nil
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
		return [][32]byte{}, nil
	}
	var proof tlog.TreeProof
	err := s.withHashes(ctx, func(r tlog.HashReader) error {
		var err error
		if proof, err = tlog.ProveTree(int64(to), int64(from), r); err != nil {
			return fmt.Errorf("consistency proof %d → %d: %w", from, to, err)
		}
		return nil
	})
	return hashesOf(proof), err
}

func hashesOf(hs []tlog.Hash) [][32]byte {
	out := make([][32]byte, len(hs))
	for i, h := range hs {
		out[i] = h
	}
	return out
}
