package segment

import (
	"context"
	"errors"
	"fmt"
	"math/bits"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/logline/logline/internal/ledger"
)

// The Merkle tree is kept in the index as golang.org/x/mod/sumdb/tlog's
// stored hashes: key n/<storage index u64> → 32-byte hash, about two per
// entry. Proofs and tree heads read O(log n) of them. They are written by
// the indexer in the same Pebble batch as the entries' other keys, so the
// tree in the index always covers exactly the indexed entries; reindex
// rebuilds them from the segments like every other key.

const pfxTree = 'n'

func treeKey(storageIndex int64) []byte { return appendU64(prefix(pfxTree), uint64(storageIndex)) }

// treeHashes reads stored hashes from the index, consulting overlay first
// (hashes of the batch being built, not committed yet), then cache.
type treeHashes struct {
	db      pebble.Reader
	overlay map[int64]tlog.Hash
	cache   *hashCache // nil: no cache
}

func (r treeHashes) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, idx := range indexes {
		if h, ok := r.overlay[idx]; ok {
			out[i] = h
			continue
		}
		if h, ok := r.cache.get(idx); ok {
			out[i] = h
			continue
		}
		v, closer, err := r.db.Get(treeKey(idx))
		if err != nil {
			if errors.Is(err, pebble.ErrNotFound) {
				return nil, fmt.Errorf("%w: stored hash %d is missing from the index", ledger.ErrCorrupt, idx)
			}
			return nil, fmt.Errorf("read stored hash %d: %w", idx, err)
		}
		if len(v) != len(out[i]) {
			closer.Close()
			return nil, fmt.Errorf("%w: stored hash %d has %d bytes", ledger.ErrCorrupt, idx, len(v))
		}
		copy(out[i][:], v)
		closer.Close()
		r.cache.add(idx, out[i])
	}
	return out, nil
}

// hashCacheEntries bounds the hash cache: 2^18 hashes, about 20 MB with
// the map's overhead.
const hashCacheEntries = 1 << 18

// hashCache keeps stored Merkle hashes of the upper tree levels in memory.
// A stored hash covers a complete subtree and never changes once written,
// so entries are never invalidated. Every inclusion proof needs about
// log2(n) hashes and the upper ones are shared by all proofs: with the
// levels from 3 up cached, a proof in a tree of a million entries reads
// three or four hashes from Pebble instead of twenty-one.
type hashCache struct {
	gen atomic.Pointer[cacheGen]
}

// cacheGen is the cache for one lowest cached level. When the log grows
// enough to raise the level, a new generation replaces it, so the bound
// always holds the upper levels of the current tree.
type cacheGen struct {
	level int
	m     sync.Map // int64 stored hash index → tlog.Hash
	n     atomic.Int64
}

func newHashCache() *hashCache {
	c := new(hashCache)
	c.gen.Store(new(cacheGen))
	return c
}

// grow adapts the cached levels to a log of size entries: levels from L
// up hold about 2·size/2^L hashes, kept below hashCacheEntries.
func (c *hashCache) grow(size uint64) {
	level := max(0, bits.Len64(size)-bits.Len64(hashCacheEntries)+2)
	if g := c.gen.Load(); level > g.level {
		c.gen.CompareAndSwap(g, &cacheGen{level: level})
	}
}

func (c *hashCache) get(idx int64) (tlog.Hash, bool) {
	if c == nil {
		return tlog.Hash{}, false
	}
	v, ok := c.gen.Load().m.Load(idx)
	if !ok {
		return tlog.Hash{}, false
	}
	return v.(tlog.Hash), true
}

func (c *hashCache) add(idx int64, h tlog.Hash) {
	if c == nil {
		return
	}
	g := c.gen.Load()
	if g.n.Load() >= hashCacheEntries {
		return
	}
	if level, _ := tlog.SplitStoredHashIndex(idx); level < g.level {
		return
	}
	if _, loaded := g.m.LoadOrStore(idx, h); !loaded {
		g.n.Add(1)
	}
}

// addTreeHashes adds to b the stored hashes of the entries with the given
// leaf hashes, the first of which has log index first.
func addTreeHashes(db pebble.Reader, b *pebble.Batch, first uint64, leaves [][32]byte) error {
	r := treeHashes{db: db, overlay: make(map[int64]tlog.Hash, 2*len(leaves))}
	for i, leaf := range leaves {
		n := int64(first) + int64(i)
		hashes, err := tlog.StoredHashesForRecordHash(n, tlog.Hash(leaf), r)
		if err != nil {
			return fmt.Errorf("merkle tree at %d: %w", n, err)
		}
		base := tlog.StoredHashIndex(0, n)
		for j, h := range hashes {
			idx := base + int64(j)
			r.overlay[idx] = h
			if err := b.Set(treeKey(idx), h[:], nil); err != nil {
				return err
			}
		}
	}
	return nil
}

var _ ledger.Prover = (*Store)(nil)

// Checkpoint returns the latest checkpoint.
func (s *Store) Checkpoint() ledger.Checkpoint {
	if c := s.checkpoint.Load(); c != nil {
		return *c
	}
	return ledger.Checkpoint{Root: [32]byte(rootOf(treeFactory.NewEmptyRange(0)))}
}

// setCheckpoint signs (when configured) and records the tree head.
func (s *Store) setCheckpoint(size uint64, root [32]byte) error {
	c := &ledger.Checkpoint{Size: size, Root: root}
	if s.cfg.SignCheckpoint != nil {
		note, err := s.cfg.SignCheckpoint(size, root)
		if err != nil {
			return fmt.Errorf("sign checkpoint of size %d: %w", size, err)
		}
		c.Note = note
	}
	s.checkpoint.Store(c)
	return nil
}

func (s *Store) proofReader() treeHashes {
	s.hashes.grow(s.Size())
	return treeHashes{db: s.db, cache: s.hashes}
}

// TreeHash returns the root of the tree of the given size.
func (s *Store) TreeHash(ctx context.Context, size uint64) ([32]byte, error) {
	if err := ctx.Err(); err != nil {
		return [32]byte{}, err
	}
	if err := ledger.CheckTreeSize(size, s.Size()); err != nil {
		return [32]byte{}, err
	}
	h, err := tlog.TreeHash(int64(size), s.proofReader())
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
	return ledger.ProveInclusion(s.proofReader(), index, size)
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
	return ledger.ProveConsistency(s.proofReader(), from, to)
}
