package tlog

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/mod/sumdb/note"
)

func TestGuard(t *testing.T) {
	dir := t.TempDir()
	tree := newTree(10)
	root := func(n uint64) [32]byte { return h32(t, tree.HashAt(n)) }
	fork := newTree(6)
	fork.AppendData([]byte("forged"))
	forkRoot := h32(t, fork.HashAt(7))

	steps := []struct {
		name string
		size uint64
		root [32]byte
		want error
	}{
		{"first", 5, root(5), nil},
		{"same again", 5, root(5), nil},
		{"same size, other root", 5, root(6), ErrConflict},
		{"smaller", 4, root(4), ErrRollback},
		{"larger", 7, root(7), nil},
		{"fork of the signed size", 7, forkRoot, ErrConflict},
		{"empty tree after growth", 0, EmptyRoot(), ErrRollback},
	}
	g, err := OpenGuard(dir, testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, ok := g.Last(); ok {
		t.Fatal("fresh guard has a last tree")
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if err := g.Check(st.size, st.root); !errors.Is(err, st.want) || (err == nil) != (st.want == nil) {
				t.Errorf("Check: got %v, want %v", err, st.want)
			}
			if err := g.Advance(st.size, st.root); !errors.Is(err, st.want) || (err == nil) != (st.want == nil) {
				t.Errorf("Advance: got %v, want %v", err, st.want)
			}
		})
	}

	// After a restart the same refusals hold, and Sign refuses too.
	signer, verifier, _ := newKey(t, testOrigin, 1)
	g2, err := OpenGuard(dir, testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	if size, r, ok := g2.Last(); !ok || size != 7 || r != root(7) {
		t.Fatalf("after reload: got %d %x %v, want 7 %x", size, r, ok, root(7))
	}
	for _, st := range []struct {
		size uint64
		root [32]byte
		want error
	}{
		{7, forkRoot, ErrConflict},
		{6, root(6), ErrRollback},
		{7, root(7), nil},
		{9, root(9), nil},
		{8, root(8), ErrRollback},
	} {
		msg, err := g2.Sign(signer, st.size, st.root)
		if !errors.Is(err, st.want) || (err == nil) != (st.want == nil) {
			t.Fatalf("Sign(%d): got %v, want %v", st.size, err, st.want)
		}
		if err != nil {
			if msg != nil {
				t.Errorf("Sign(%d) refused but returned a checkpoint", st.size)
			}
			continue
		}
		cp, err := ParseCheckpoint(msg, note.VerifierList(verifier), testOrigin)
		if err != nil || cp.Size != st.size || cp.Root != st.root {
			t.Errorf("Sign(%d): got %+v, %v", st.size, cp, err)
		}
	}
	other, _, _ := newKey(t, "other.example/log", 2)
	if _, err := g2.Sign(other, 10, root(10)); !errors.Is(err, ErrWrongOrigin) {
		t.Errorf("Sign with another log's key: got %v, want ErrWrongOrigin", err)
	}
	if size, _, _ := g2.Last(); size != 9 {
		t.Errorf("refused Sign moved the guard to %d", size)
	}
}

func TestGuardAdvanceConsistent(t *testing.T) {
	tree := newTree(20)
	fork := newTree(8)
	for i := 8; i < 20; i++ {
		fork.AppendData([]byte{byte(i)})
	}
	proof := func(tr interface {
		ConsistencyProof(uint64, uint64) ([][]byte, error)
	}, a, b uint64) [][32]byte {
		p, err := tr.ConsistencyProof(a, b)
		if err != nil {
			t.Fatal(err)
		}
		return hashes32(t, p)
	}
	g, err := OpenGuard(t.TempDir(), testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.AdvanceConsistent(10, h32(t, tree.HashAt(10)), nil); err != nil {
		t.Fatalf("first tree: %v", err)
	}
	if err := g.AdvanceConsistent(15, h32(t, tree.HashAt(15)), proof(tree, 10, 15)); err != nil {
		t.Fatalf("extension: %v", err)
	}
	err = g.AdvanceConsistent(20, h32(t, fork.HashAt(20)), proof(fork, 15, 20))
	if !errors.Is(err, ErrConflict) || !errors.Is(err, ErrInvalidProof) {
		t.Fatalf("fork: got %v, want ErrConflict and ErrInvalidProof", err)
	}
	if err := g.AdvanceConsistent(20, h32(t, tree.HashAt(20)), proof(tree, 10, 20)); !errors.Is(err, ErrConflict) {
		t.Fatalf("proof from the wrong size: got %v, want ErrConflict", err)
	}
	if size, _, _ := g.Last(); size != 15 {
		t.Fatalf("got size %d, want 15", size)
	}
}

func TestOpenGuardErrors(t *testing.T) {
	dir := t.TempDir()
	g, err := OpenGuard(dir, testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Advance(1, LeafHash(nil)); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenGuard(dir, "other.example/log"); !errors.Is(err, ErrWrongOrigin) {
		t.Errorf("other origin: got %v, want ErrWrongOrigin", err)
	}
	path := filepath.Join(dir, GuardFile)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("got mode %o, want 600", fi.Mode().Perm())
	}
	for _, bad := range []string{"", "{", `{"origin":"logline.example/ledger","size":1,"root":"AAAA"}`, `{"origin":"logline.example/ledger","size":1,"root":"bjQLnP+zepicpUTmu3gKLHiQHT+zNzh2hRGjBhevoB0=","x":1}`} {
		writeTestFile(t, path, bad)
		if _, err := OpenGuard(dir, testOrigin); !errors.Is(err, ErrCorruptKeys) {
			t.Errorf("state %q: got %v, want ErrCorruptKeys", bad, err)
		}
	}
}
