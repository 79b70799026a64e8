package tlog

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/tlog"
)

// memHashes is an in-memory x/mod/sumdb/tlog hash storage.
type memHashes []tlog.Hash

func (m memHashes) ReadHashes(idx []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(idx))
	for i, x := range idx {
		out[i] = m[x]
	}
	return out, nil
}

// buildTlog stores leaves with x/mod/sumdb/tlog.
func buildTlog(t testing.TB, leaves [][]byte) memHashes {
	t.Helper()
	var m memHashes
	for i, l := range leaves {
		hs, err := tlog.StoredHashes(int64(i), l, m)
		if err != nil {
			t.Fatal(err)
		}
		m = append(m, hs...)
	}
	return m
}

// TestRFC6962Vectors checks x/mod/sumdb/tlog, as used here, against the
// RFC 6962 reference vectors published with transparency-dev/merkle
// (testonly/constants.go, from Certificate Transparency).
func TestRFC6962Vectors(t *testing.T) {
	leaves := []string{"", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"}
	roots := []string{
		"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
		"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
		"aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
		"d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
		"4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
		"76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
		"ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
		"5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
	}
	data := make([][]byte, len(leaves))
	for i, l := range leaves {
		data[i], _ = hex.DecodeString(l)
	}
	m := buildTlog(t, data)
	if got := hex.EncodeToString(func() []byte { r := EmptyRoot(); return r[:] }()); got != roots[0] {
		t.Errorf("EmptyRoot: got %s, want %s", got, roots[0])
	}
	for n := 0; n <= len(leaves); n++ {
		th, err := tlog.TreeHash(int64(n), m)
		if err != nil {
			t.Fatal(err)
		}
		if got := hex.EncodeToString(th[:]); got != roots[n] {
			t.Errorf("root of size %d: got %s, want %s", n, got, roots[n])
		}
		for i := 0; i < n; i++ {
			p, err := tlog.ProveRecord(int64(n), int64(i), m)
			if err != nil {
				t.Fatal(err)
			}
			if err := VerifyInclusion(LeafHash(data[i]), uint64(i), uint64(n), toArrays(p), th); err != nil {
				t.Errorf("inclusion %d/%d: %v", i, n, err)
			}
		}
	}
}

func toArrays[H ~[32]byte](hs []H) [][32]byte {
	out := make([][32]byte, len(hs))
	for i, h := range hs {
		out[i] = [32]byte(h)
	}
	return out
}

// TestLeafHashIsRFC6962 checks LeafHash and tlog.RecordHash against
// transparency-dev's RFC 6962 hasher, and tlog's tree hashes against
// transparency-dev's on random trees.
func TestLeafHashIsRFC6962(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for n := 1; n <= 100; n++ {
		leaves := make([][]byte, n)
		for i := range leaves {
			leaves[i] = make([]byte, r.IntN(100))
			for j := range leaves[i] {
				leaves[i][j] = byte(r.Uint32())
			}
			want := rfc6962.DefaultHasher.HashLeaf(leaves[i])
			if got := LeafHash(leaves[i]); string(got[:]) != string(want) {
				t.Fatalf("LeafHash(%x): got %x, want %x", leaves[i], got, want)
			}
			if got := tlog.RecordHash(leaves[i]); string(got[:]) != string(want) {
				t.Fatalf("tlog.RecordHash(%x): got %x, want %x", leaves[i], got, want)
			}
		}
		m := buildTlog(t, leaves)
		th, err := tlog.TreeHash(int64(n), m)
		if err != nil {
			t.Fatal(err)
		}
		ref := newTreeOf(leaves)
		if got, want := th[:], ref.Hash(); string(got) != string(want) {
			t.Fatalf("size %d: tlog root %x, merkle root %x", n, got, want)
		}
		// Proofs from x/mod/sumdb/tlog verify with transparency-dev's verifier.
		i := r.IntN(n)
		p, err := tlog.ProveRecord(int64(n), int64(i), m)
		if err != nil {
			t.Fatal(err)
		}
		lh := LeafHash(leaves[i])
		if err := proof.VerifyInclusion(rfc6962.DefaultHasher, uint64(i), uint64(n), lh[:], toSlices(p), th[:]); err != nil {
			t.Fatalf("tlog proof %d/%d rejected by merkle: %v", i, n, err)
		}
		old := 1 + r.IntN(n)
		tp, err := tlog.ProveTree(int64(n), int64(old), m)
		if err != nil {
			t.Fatal(err)
		}
		oldRoot, _ := tlog.TreeHash(int64(old), m)
		if err := proof.VerifyConsistency(rfc6962.DefaultHasher, uint64(old), uint64(n), toSlices(tp), oldRoot[:], th[:]); err != nil {
			t.Fatalf("tlog proof %d→%d rejected by merkle: %v", old, n, err)
		}
	}
}

func toSlices[H ~[32]byte](hs []H) [][]byte {
	out := make([][]byte, len(hs))
	for i := range hs {
		out[i] = hs[i][:]
	}
	return out
}

// TestProofsFromMerkle verifies proofs built by transparency-dev/merkle
// with VerifyInclusion and VerifyConsistency, and checks that every
// tampering is refused.
func TestProofsFromMerkle(t *testing.T) {
	const max = 40
	tree := newTree(max)
	for size := uint64(1); size <= max; size++ {
		root := h32(t, tree.HashAt(size))
		for index := uint64(0); index < size; index++ {
			p, err := tree.InclusionProof(index, size)
			if err != nil {
				t.Fatal(err)
			}
			pr := hashes32(t, p)
			leaf := h32(t, tree.LeafHash(index))
			if err := VerifyInclusion(leaf, index, size, pr, root); err != nil {
				t.Fatalf("inclusion %d/%d: %v", index, size, err)
			}
			for _, bad := range inclusionTampers(leaf, index, size, pr, root) {
				err := VerifyInclusion(bad.leaf, bad.index, bad.size, bad.proof, bad.root)
				if !errors.Is(err, ErrInvalidProof) && !errors.Is(err, ErrProofRange) {
					t.Fatalf("inclusion %d/%d, %s: got %v, want a refusal", index, size, bad.name, err)
				}
			}
		}
		for old := uint64(0); old <= size; old++ {
			var pr [][32]byte
			if old > 0 {
				p, err := tree.ConsistencyProof(old, size)
				if err != nil {
					t.Fatal(err)
				}
				pr = hashes32(t, p)
			}
			oldRoot := h32(t, tree.HashAt(old))
			if err := VerifyConsistency(old, size, pr, oldRoot, root); err != nil {
				t.Fatalf("consistency %d→%d: %v", old, size, err)
			}
			for _, bad := range consistencyTampers(old, size, pr, oldRoot, root) {
				if err := VerifyConsistency(bad.old, bad.size, bad.proof, bad.oldRoot, bad.root); !errors.Is(err, ErrInvalidProof) && !errors.Is(err, ErrProofRange) {
					t.Fatalf("consistency %d→%d, %s: got %v, want a refusal", old, size, bad.name, err)
				}
			}
		}
	}
}

type inclusionCase struct {
	name        string
	leaf        [32]byte
	index, size uint64
	proof       [][32]byte
	root        [32]byte
}

func inclusionTampers(leaf [32]byte, index, size uint64, p [][32]byte, root [32]byte) []inclusionCase {
	flip := func(h [32]byte) [32]byte { h[7] ^= 1; return h }
	cs := []inclusionCase{
		{"leaf", flip(leaf), index, size, p, root},
		{"root", leaf, index, size, p, flip(root)},
		{"index+1", leaf, index + 1, size, p, root},
		// Not "size+1 with the same root": for some shapes the same path
		// hashes to the same value (leaf 0 of 3 and of 4). The checkpoint
		// binds root to size, so that is no weakness.
		{"extra hash", leaf, index, size, append(clone(p), leaf), root},
		{"extra hash first", leaf, index, size, append([][32]byte{leaf}, p...), root},
	}
	if index > 0 {
		cs = append(cs, inclusionCase{"index-1", leaf, index - 1, size, p, root})
	}
	if len(p) > 0 {
		cs = append(cs, inclusionCase{"hash dropped", leaf, index, size, p[:len(p)-1], root})
		for i := range p {
			q := clone(p)
			q[i] = flip(q[i])
			cs = append(cs, inclusionCase{"hash flipped", leaf, index, size, q, root})
		}
	}
	if len(p) > 1 {
		q := clone(p)
		q[0], q[1] = q[1], q[0]
		cs = append(cs, inclusionCase{"hashes swapped", leaf, index, size, q, root})
	}
	return cs
}

type consistencyCase struct {
	name          string
	old, size     uint64
	proof         [][32]byte
	oldRoot, root [32]byte
}

func consistencyTampers(old, size uint64, p [][32]byte, oldRoot, root [32]byte) []consistencyCase {
	flip := func(h [32]byte) [32]byte { h[0] ^= 0x80; return h }
	cs := []consistencyCase{
		{"old root", old, size, p, flip(oldRoot), root},
		{"extra hash", old, size, append(clone(p), root), oldRoot, root},
		{"sizes swapped", size + 1, size, p, oldRoot, root},
	}
	// As for inclusion, not "new size+1 with the same roots" (1→3 and 1→4
	// share a proof shape); the checkpoint binds each root to its size.
	if old > 0 {
		// With old == 0 nothing about the new root can be checked.
		cs = append(cs, consistencyCase{"new root", old, size, p, oldRoot, flip(root)})
	}
	for i := range p {
		q := clone(p)
		q[i] = flip(q[i])
		cs = append(cs, consistencyCase{"hash flipped", old, size, q, oldRoot, root})
	}
	if len(p) > 0 {
		cs = append(cs, consistencyCase{"hash dropped", old, size, p[:len(p)-1], oldRoot, root})
	}
	return cs
}

func clone(p [][32]byte) [][32]byte { return append([][32]byte(nil), p...) }

func TestVerifyEdgeCases(t *testing.T) {
	empty := EmptyRoot()
	one := LeafHash([]byte("a"))
	tests := []struct {
		name string
		err  error
		want error
	}{
		{"inclusion in empty tree", VerifyInclusion(one, 0, 0, nil, empty), ErrProofRange},
		{"index = size", VerifyInclusion(one, 3, 3, nil, one), ErrProofRange},
		{"size ≥ 2^63", VerifyInclusion(one, 0, math.MaxInt64+1, nil, one), ErrProofRange},
		{"single leaf", VerifyInclusion(one, 0, 1, nil, one), nil},
		{"single leaf, extra hash", VerifyInclusion(one, 0, 1, [][32]byte{one}, one), ErrInvalidProof},
		{"consistency 0→0", VerifyConsistency(0, 0, nil, empty, empty), nil},
		{"consistency 0→0, other root", VerifyConsistency(0, 0, nil, one, one), ErrInvalidProof},
		{"consistency 0→1", VerifyConsistency(0, 1, nil, empty, one), nil},
		{"consistency 0→1, bad old root", VerifyConsistency(0, 1, nil, one, one), ErrInvalidProof},
		{"consistency 0→1, proof", VerifyConsistency(0, 1, [][32]byte{one}, empty, one), ErrInvalidProof},
		{"consistency 1→1", VerifyConsistency(1, 1, nil, one, one), nil},
		{"consistency 1→1, roots differ", VerifyConsistency(1, 1, nil, one, empty), ErrInvalidProof},
		{"consistency 1→1, proof", VerifyConsistency(1, 1, [][32]byte{one}, one, one), ErrInvalidProof},
		{"consistency 2→1", VerifyConsistency(2, 1, nil, one, one), ErrProofRange},
		{"consistency to 2^63", VerifyConsistency(1, math.MaxInt64+1, nil, one, one), ErrProofRange},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !errors.Is(tt.err, tt.want) || (tt.err == nil) != (tt.want == nil) {
				t.Fatalf("got %v, want %v", tt.err, tt.want)
			}
		})
	}
	if sha256.Sum256(nil) != empty {
		t.Fatal("EmptyRoot is not SHA-256 of the empty string")
	}
}
