package pgstore

import (
	"fmt"

	"golang.org/x/mod/sumdb/tlog"
)

// frontier builds the Merkle tree of a log read from index 0 in memory,
// for Verify and Import: the tlog stored hashes each entry adds (to
// compare with or write to ledger.tree_hash_runs) and the root at any size
// reached. It keeps only the hashes later entries and roots can still
// read: those of the subtrees the last prune left complete and
// unsiblinged (at most 64), plus whatever was added since.
type frontier struct {
	size   uint64
	hashes map[int64]tlog.Hash
}

func newFrontier() *frontier { return &frontier{hashes: map[int64]tlog.Hash{}} }

// ReadHashes implements tlog.HashReader over the hashes kept.
func (f *frontier) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, idx := range indexes {
		h, ok := f.hashes[idx]
		if !ok {
			return nil, fmt.Errorf("merkle frontier: stored hash %d is not kept (tree size %d)", idx, f.size)
		}
		out[i] = h
	}
	return out, nil
}

// add appends the leaf hash of entry f.size and returns the stored hashes
// it adds, which start at stored-hash index first.
func (f *frontier) add(leaf [32]byte) (first int64, hashes []tlog.Hash, err error) {
	n := int64(f.size)
	hashes, err = tlog.StoredHashesForRecordHash(n, leaf, f)
	if err != nil {
		return 0, nil, fmt.Errorf("merkle tree at %d: %w", n, err)
	}
	first = tlog.StoredHashIndex(0, n)
	for i, h := range hashes {
		f.hashes[first+int64(i)] = h
	}
	f.size++
	return first, hashes, nil
}

// root returns the root of the tree of the current size.
func (f *frontier) root() ([32]byte, error) {
	if f.size == 0 {
		return emptyRoot, nil
	}
	h, err := tlog.TreeHash(int64(f.size), f)
	if err != nil {
		return [32]byte{}, fmt.Errorf("merkle root at %d: %w", f.size, err)
	}
	return h, nil
}

// prune drops every hash but the complete subtrees of the current size
// (one per set bit), which are all that later entries and roots read.
func (f *frontier) prune() {
	keep := make(map[int64]tlog.Hash, 64)
	for level := 0; level < 64; level++ {
		if f.size>>level&1 == 1 {
			idx := tlog.StoredHashIndex(level, int64(f.size>>level)-1)
			keep[idx] = f.hashes[idx]
		}
	}
	f.hashes = keep
}
