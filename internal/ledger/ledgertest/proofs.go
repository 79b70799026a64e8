package ledgertest

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"testing"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/logline/logline/internal/ledger"
	"github.com/logline/logline/internal/span"
)

// testProofs checks a Prover against an independent implementation:
// transparency-dev/merkle computes the roots from the stored lines and
// verifies every proof the store hands out.
func testProofs(t *testing.T, b Backend) {
	s := b.Open(t)
	defer s.Close()
	p, ok := s.(ledger.Prover)
	if !ok {
		t.Skip("store is not a ledger.Prover")
	}
	ctx := context.Background()
	if c := p.Checkpoint(); c.Size != 0 || c.Root != sha256.Sum256(nil) {
		t.Fatalf("empty log: got checkpoint size %d root %x, want 0 and the empty root", c.Size, c.Root)
	}
	var results []ledger.Result
	for batch := range 7 {
		var spans []*span.Span
		for i := range batch*3 + 1 {
			spans = append(spans, MustSpan(t, Simple("acme", fmt.Sprintf("m%d-%d", batch, i), 0, "x", t0)))
		}
		results = append(results, appendOK(t, s, spans...)...)
	}
	// A re-append is answered with the original leaf and a covering checkpoint.
	results = append(results, appendOK(t, s, MustSpan(t, Simple("acme", "m0-0", 0, "x", t0)))...)
	size := s.Size()
	if c := p.Checkpoint(); c.Size != size {
		t.Fatalf("got checkpoint size %d, want %d", c.Size, size)
	}
	// Independent roots for every size, from the stored lines.
	hasher := rfc6962.DefaultHasher
	fact := compact.RangeFactory{Hash: hasher.HashChildren}
	tree := fact.NewEmptyRange(0)
	roots := [][]byte{hasher.EmptyRoot()}
	var leaves [][]byte
	err := s.ReadRaw(ctx, 0, size, func(_ uint64, line []byte) error {
		leaf := hasher.HashLeaf(line)
		leaves = append(leaves, leaf)
		if err := tree.Append(leaf, nil); err != nil {
			return err
		}
		root, err := tree.GetRootHash(nil)
		roots = append(roots, root)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if c := p.Checkpoint(); string(c.Root[:]) != string(roots[size]) {
		t.Fatalf("checkpoint root %x, want %x", c.Root, roots[size])
	}
	for _, res := range results {
		if string(res.LeafHash[:]) != string(leaves[res.LogIndex]) {
			t.Fatalf("result for %s: leaf hash %x, want %x", res.ID, res.LeafHash, leaves[res.LogIndex])
		}
		c := res.Checkpoint
		if c.Size <= res.LogIndex || c.Size > size || string(c.Root[:]) != string(roots[c.Size]) {
			t.Fatalf("result for %s (log index %d): checkpoint %d %x does not cover it", res.ID, res.LogIndex, c.Size, c.Root)
		}
	}
	for n := uint64(0); n <= size; n++ {
		got, err := p.TreeHash(ctx, n)
		if err != nil || string(got[:]) != string(roots[n]) {
			t.Fatalf("TreeHash(%d): got %x, %v; want %x", n, got, err, roots[n])
		}
		for i := uint64(0); i < n; i++ {
			leaf, hashes, err := p.InclusionProof(ctx, i, n)
			if err != nil {
				t.Fatalf("InclusionProof(%d, %d): %v", i, n, err)
			}
			if string(leaf[:]) != string(leaves[i]) {
				t.Fatalf("InclusionProof(%d, %d): got leaf %x, want %x", i, n, leaf, leaves[i])
			}
			if err := proof.VerifyInclusion(hasher, i, n, leaf[:], byteSlices(hashes), roots[n]); err != nil {
				t.Fatalf("inclusion of %d in %d does not verify: %v", i, n, err)
			}
		}
		for m := uint64(1); m <= n; m++ {
			hashes, err := p.ConsistencyProof(ctx, m, n)
			if err != nil {
				t.Fatalf("ConsistencyProof(%d, %d): %v", m, n, err)
			}
			if err := proof.VerifyConsistency(hasher, m, n, byteSlices(hashes), roots[m], roots[n]); err != nil {
				t.Fatalf("consistency %d → %d does not verify: %v", m, n, err)
			}
		}
	}
	for _, tc := range []struct {
		name string
		call func() error
	}{
		{"inclusion index = size", func() error { _, _, err := p.InclusionProof(ctx, size, size); return err }},
		{"inclusion beyond the log", func() error { _, _, err := p.InclusionProof(ctx, 0, size+1); return err }},
		{"consistency backwards", func() error { _, err := p.ConsistencyProof(ctx, 3, 2); return err }},
		{"consistency beyond the log", func() error { _, err := p.ConsistencyProof(ctx, 1, size+1); return err }},
		{"tree beyond the log", func() error { _, err := p.TreeHash(ctx, size+1); return err }},
	} {
		if err := tc.call(); !errors.Is(err, ledger.ErrRange) {
			t.Errorf("%s: got %v, want ErrRange", tc.name, err)
		}
	}
	// The tree survives a reopen.
	s = b.Reopen(t, s)
	p = s.(ledger.Prover)
	if c := p.Checkpoint(); c.Size != size || string(c.Root[:]) != string(roots[size]) {
		t.Fatalf("after reopen: checkpoint %d %x, want %d %x", c.Size, c.Root, size, roots[size])
	}
	if _, hashes, err := p.InclusionProof(ctx, size/2, size); err != nil || proof.VerifyInclusion(hasher, size/2, size, leaves[size/2], byteSlices(hashes), roots[size]) != nil {
		t.Fatalf("inclusion after reopen: %v", err)
	}
	s.Close()
}

func byteSlices(hs [][32]byte) [][]byte {
	out := make([][]byte, len(hs))
	for i := range hs {
		out[i] = hs[i][:]
	}
	return out
}
