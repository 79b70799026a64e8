package export

import (
	"bytes"
	"context"
	"fmt"
	"slices"

	xtlog "golang.org/x/mod/sumdb/tlog"

	"github.com/logline/logline/internal/span"
	"github.com/logline/logline/internal/tlog"
)

// Inclusion proofs of many leaves against one tree.
//
// Asking the store for every proof costs O(log n) index reads each (about
// 40 µs on the reference machine, 25k proofs/s). A dense export does
// better: the log is cut into aligned blocks of blockSize leaves, each a
// node of the RFC 6962 tree (the last, partial one too: it is on the
// tree's right edge), and a leaf's audit path is its path inside its block
// followed by the block's path in the whole tree. For a block holding at
// least localThreshold exported records, the block's leaves are read raw
// (a sequential read), its subtree is built in memory with x/mod's tlog,
// and the store is asked for one proof only, whose upper part every record
// of the block shares. Sparse blocks ask the store for each proof.
const (
	blockBits      = 10
	blockSize      = 1 << blockBits
	localThreshold = 32
)

// record is one record of a bundle on its way out.
type record struct {
	role string
	e    *span.Entry
}

// prover computes the inclusion proofs of records against the tree of
// size size.
type prover struct {
	src  Source
	size uint64

	// Reused per block.
	mem    memHashes
	leaves [][32]byte
}

// memHashes is an in-memory tlog storage: the stored hashes of one block,
// by storage index.
type memHashes []xtlog.Hash

func (m *memHashes) ReadHashes(indexes []int64) ([]xtlog.Hash, error) {
	out := make([]xtlog.Hash, len(indexes))
	for i, x := range indexes {
		if x < 0 || x >= int64(len(*m)) {
			return nil, fmt.Errorf("stored hash %d is not in the block", x)
		}
		out[i] = (*m)[x]
	}
	return out, nil
}

// proofs returns the inclusion proof of every record of recs, which all
// lie in one block and come in log order.
func (p *prover) proofs(ctx context.Context, recs []record) ([]tlog.InclusionProof, error) {
	if len(recs) < localThreshold {
		return p.remote(ctx, recs)
	}
	return p.local(ctx, recs)
}

// remote asks the store for each proof.
func (p *prover) remote(ctx context.Context, recs []record) ([]tlog.InclusionProof, error) {
	out := make([]tlog.InclusionProof, len(recs))
	for i, r := range recs {
		leaf, hashes, err := p.src.InclusionProof(ctx, r.e.LogIndex, p.size)
		if err != nil {
			return nil, fmt.Errorf("inclusion proof of log index %d in tree %d: %w", r.e.LogIndex, p.size, err)
		}
		if leaf != tlog.LeafHash(r.e.Line) {
			return nil, fmt.Errorf("%w: log index %d: the tree's leaf hash is not the hash of the stored line", ErrSource, r.e.LogIndex)
		}
		out[i] = tlog.InclusionProof{Index: r.e.LogIndex, Size: p.size, LeafHash: leaf, Hashes: hashes}
	}
	return out, nil
}

// local builds the block's subtree from its raw lines and asks the store
// for one proof.
func (p *prover) local(ctx context.Context, recs []record) ([]tlog.InclusionProof, error) {
	lo := recs[0].e.LogIndex &^ (blockSize - 1)
	hi := min(lo+blockSize, p.size)
	p.leaves = p.leaves[:0]
	next := 0 // the next record whose line is compared with the raw line
	err := p.src.ReadRaw(ctx, lo, hi, func(idx uint64, line []byte) error {
		if idx != lo+uint64(len(p.leaves)) {
			return fmt.Errorf("%w: read log index %d, want %d", ErrSource, idx, lo+uint64(len(p.leaves)))
		}
		if next < len(recs) && recs[next].e.LogIndex == idx {
			if !bytes.Equal(line, recs[next].e.Line) {
				return fmt.Errorf("%w: log index %d reads differently by query and by position", ErrSource, idx)
			}
			next++
		}
		p.leaves = append(p.leaves, tlog.LeafHash(line))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read log indexes %d to %d: %w", lo, hi, err)
	}
	if uint64(len(p.leaves)) != hi-lo || next != len(recs) {
		return nil, fmt.Errorf("%w: read %d entries of [%d, %d), the log has them", ErrSource, len(p.leaves), lo, hi)
	}
	p.mem = p.mem[:0]
	for i, leaf := range p.leaves {
		hs, err := xtlog.StoredHashesForRecordHash(int64(i), xtlog.Hash(leaf), &p.mem)
		if err != nil {
			return nil, fmt.Errorf("block tree at %d: %w", lo+uint64(i), err)
		}
		p.mem = append(p.mem, hs...)
	}
	inner := func(idx uint64) ([][32]byte, error) {
		if hi-lo == blockSize {
			// A complete block is a perfect tree: the path is the sibling
			// at each level, read straight from its stored hashes
			// (ProveRecord finds the same ones, slower).
			out := make([][32]byte, blockBits)
			n := int64(idx - lo)
			for level := range blockBits {
				out[level] = p.mem[xtlog.StoredHashIndex(level, n>>level^1)]
			}
			return out, nil
		}
		path, err := xtlog.ProveRecord(int64(hi-lo), int64(idx-lo), &p.mem)
		if err != nil {
			return nil, fmt.Errorf("block proof of %d: %w", idx, err)
		}
		out := make([][32]byte, len(path))
		for i, h := range path {
			out[i] = h
		}
		return out, nil
	}

	// The store's proof of the first record: its lower part must be the
	// path the block gives (so the block is the store's subtree), its
	// upper part is shared by the whole block.
	first := recs[0].e.LogIndex
	leaf, full, err := p.src.InclusionProof(ctx, first, p.size)
	if err != nil {
		return nil, fmt.Errorf("inclusion proof of log index %d in tree %d: %w", first, p.size, err)
	}
	path, err := inner(first)
	if err != nil {
		return nil, err
	}
	if leaf != p.leaves[first-lo] || len(full) < len(path) || !slices.Equal(full[:len(path)], path) {
		return nil, fmt.Errorf("%w: the tree of log indexes %d to %d differs from the store's", ErrSource, lo, hi)
	}
	upper := full[len(path):]

	out := make([]tlog.InclusionProof, len(recs))
	for i, r := range recs {
		idx := r.e.LogIndex
		if i > 0 {
			if path, err = inner(idx); err != nil {
				return nil, err
			}
		}
		out[i] = tlog.InclusionProof{Index: idx, Size: p.size, LeafHash: p.leaves[idx-lo], Hashes: append(path, upper...)}
	}
	return out, nil
}
