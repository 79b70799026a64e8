package tlog

import (
	"fmt"
	"math"

	"golang.org/x/mod/sumdb/tlog"
)

// VerifyInclusion checks that proof shows the leaf with hash leafHash at
// position index of the tree of the given size with root hash root. The
// proof is the RFC 6962 / RFC 9162 audit path (sibling hashes from the leaf
// up). The tree math is x/mod/sumdb/tlog.CheckRecord's.
//
// Errors wrap ErrProofRange (index ≥ size, or size ≥ 2^63) or
// ErrInvalidProof; both name the index.
func VerifyInclusion(leafHash [32]byte, index, size uint64, proof [][32]byte, root [32]byte) error {
	if index >= size || size > math.MaxInt64 {
		return fmt.Errorf("verify inclusion of leaf %d in tree of size %d: %w", index, size, ErrProofRange)
	}
	p := make(tlog.RecordProof, len(proof))
	for i, h := range proof {
		p[i] = tlog.Hash(h)
	}
	if err := tlog.CheckRecord(p, int64(size), tlog.Hash(root), int64(index), tlog.Hash(leafHash)); err != nil {
		return fmt.Errorf("verify inclusion of leaf %d in tree of size %d: %w: %w", index, size, ErrInvalidProof, err)
	}
	return nil
}

// VerifyConsistency checks that proof shows the tree of size oldSize with
// root oldRoot to be a prefix of the tree of size newSize with root newRoot
// (RFC 6962 / RFC 9162 consistency proof). The tree math is
// x/mod/sumdb/tlog.CheckTree's.
//
// Equal sizes need an empty proof and equal roots. The empty tree (oldSize
// 0, whose root must be EmptyRoot) is a prefix of every tree, with an empty
// proof; nothing is then learned about newRoot.
//
// Errors wrap ErrProofRange (oldSize > newSize, or newSize ≥ 2^63) or
// ErrInvalidProof.
func VerifyConsistency(oldSize, newSize uint64, proof [][32]byte, oldRoot, newRoot [32]byte) error {
	if oldSize > newSize || newSize > math.MaxInt64 {
		return fmt.Errorf("verify consistency of tree size %d with size %d: %w", oldSize, newSize, ErrProofRange)
	}
	fail := func(why string) error {
		return fmt.Errorf("verify consistency of tree size %d with size %d: %w: %s", oldSize, newSize, ErrInvalidProof, why)
	}
	switch {
	case oldSize == newSize:
		if len(proof) != 0 {
			return fail("equal sizes need an empty proof")
		}
		if oldRoot != newRoot {
			return fail("same size, different root hashes")
		}
		if oldSize == 0 && oldRoot != EmptyRoot() {
			return fail("empty tree with a root other than the empty-tree hash")
		}
		return nil
	case oldSize == 0:
		if len(proof) != 0 {
			return fail("the empty tree needs an empty proof")
		}
		if oldRoot != EmptyRoot() {
			return fail("empty tree with a root other than the empty-tree hash")
		}
		return nil
	}
	p := make(tlog.TreeProof, len(proof))
	for i, h := range proof {
		p[i] = tlog.Hash(h)
	}
	if err := tlog.CheckTree(p, int64(newSize), tlog.Hash(newRoot), int64(oldSize), tlog.Hash(oldRoot)); err != nil {
		return fmt.Errorf("verify consistency of tree size %d with size %d: %w: %w", oldSize, newSize, ErrInvalidProof, err)
	}
	return nil
}
