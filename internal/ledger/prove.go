package ledger

import (
	"fmt"

	"golang.org/x/mod/sumdb/tlog"
)

// ProveInclusion returns the leaf hash of entry index and its RFC 6962
// inclusion proof in the tree of the given size, read from r: the stored
// hashes of golang.org/x/mod/sumdb/tlog's layout, which both stores keep.
// The caller checks the range first (CheckInclusion).
func ProveInclusion(r tlog.HashReader, index, size uint64) ([32]byte, [][32]byte, error) {
	leaf, err := r.ReadHashes([]int64{tlog.StoredHashIndex(0, int64(index))})
	if err != nil {
		return [32]byte{}, nil, err
	}
	p, err := tlog.ProveRecord(int64(size), int64(index), r)
	if err != nil {
		return [32]byte{}, nil, fmt.Errorf("inclusion proof of %d in %d: %w", index, size, err)
	}
	return leaf[0], hashesOf(p), nil
}

// ProveConsistency returns the RFC 6962 proof that the tree of size from
// is a prefix of the tree of size to, read from r. The proof from an empty
// tree, or between equal sizes, is empty. The caller checks the range
// first (CheckConsistency).
func ProveConsistency(r tlog.HashReader, from, to uint64) ([][32]byte, error) {
	if from == 0 || from == to {
		return [][32]byte{}, nil
	}
	p, err := tlog.ProveTree(int64(to), int64(from), r)
	if err != nil {
		return nil, fmt.Errorf("consistency proof %d → %d: %w", from, to, err)
	}
	return hashesOf(p), nil
}

func hashesOf(hs []tlog.Hash) [][32]byte {
	out := make([][32]byte, len(hs))
	for i, h := range hs {
		out[i] = h
	}
	return out
}
